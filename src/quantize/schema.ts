/**
 * Operator type signatures (from the ONNX schemas, see op-types.ts): which type parameter each input
 * and output slot uses, and which parameters accept float16.
 */
import { OP_TYPES } from './op-types.js';

export interface OpSignature {
  inputs: string[];
  outputs: string[];
  variadicInput: boolean;
  variadicOutput: boolean;
  /** Type parameters that accept both float and float16. */
  half: Set<string>;
  /** Parameters (or fixed types such as tensor(float)) that accept float but not float16. */
  floatOnly: Set<string>;
}

// Contrib operators the quantizer itself emits and that later passes (fp16 for q4f16) must understand.
const CONTRIB: Record<string, OpSignature> = {
  'com.microsoft:MatMulNBits': sig('T1,T2,T1,T3,T4,T1', 'T1', 'T1', ''),
};

function sig(inputs: string, outputs: string, half: string, floatOnly: string): OpSignature {
  const split = (s: string) => (s ? s.split(',') : []);
  const ins = split(inputs);
  const outs = split(outputs);
  return {
    inputs: ins.map((s) => s.replace('*', '')),
    outputs: outs.map((s) => s.replace('*', '')),
    variadicInput: ins.some((s) => s.endsWith('*')),
    variadicOutput: outs.some((s) => s.endsWith('*')),
    half: new Set(split(half)),
    floatOnly: new Set(split(floatOnly)),
  };
}

const cache = new Map<string, OpSignature | undefined>();

/** The signature of `opType` as of opset `version` of `domain`, or undefined for unknown operators. */
export function opSignature(opType: string, domain: string, version: number): OpSignature | undefined {
  const key = `${domain}:${opType}:${version}`;
  if (cache.has(key)) return cache.get(key);
  let result: OpSignature | undefined;
  if (domain === '' || domain === 'ai.onnx') {
    const versions = OP_TYPES[opType];
    const v = versions?.filter((e) => e[0] <= version).pop() ?? versions?.[versions.length - 1];
    if (v) result = sig(v[1], v[2], v[3], v[4]);
  } else result = CONTRIB[`${domain}:${opType}`];
  cache.set(key, result);
  return result;
}

/** The type parameter of input (or output) `slot`; the last one repeats for variadic slots. */
export function slotParam(s: OpSignature, slot: number, output = false): string | undefined {
  const list = output ? s.outputs : s.inputs;
  const variadic = output ? s.variadicOutput : s.variadicInput;
  if (slot < list.length) return list[slot];
  return variadic ? list[list.length - 1] : undefined;
}
