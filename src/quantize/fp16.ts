/**
 * float32 → float16 conversion.
 *
 * Each node of the main graph is given a precision. A node computes in float16 when its ONNX schema
 * allows it, no block list names it, its values fit float16 (from the observed ranges), and — with
 * `ops: 'auto'` — onnxruntime's CPU provider has a float16 kernel for it (ort-fp16.ts) and its group of
 * connected float16 nodes holds more arithmetic than the Casts at the group's border cost. Subgraphs
 * (If/Loop/Scan bodies) stay float32. Every other node stays float32 and Casts are put where a value
 * crosses between the two.
 *
 * Every value keeps its original name in its original type (so graph outputs and subgraph references
 * stay valid); a value also needed in the other type gets a second name (`x_fp16`), made by a Cast or,
 * for initializers, stored converted. Large float32 initializers read only by float32 nodes are stored
 * as float16 behind a Cast (onnxruntime folds it at load), so the file halves even where compute stays
 * float32.
 */
import {
  FLOAT16_MAX,
  Tensor,
  attr,
  float32ToFloat16Bits,
  getString,
  getTensorAttr,
  setAttribute,
  subgraphsOf,
  type Attribute,
  type DType,
  type Graph,
  type Model,
  type Node,
} from '../ir/index.js';
import { opSignature, slotParam, type OpSignature } from './schema.js';
import { ORT_CPU_FP16_OPS } from './ort-fp16.js';
import type { ValueFacts } from './observe.js';
import { snapshot, type QuantizedUnit } from './select.js';

export type Fp16Ops = 'auto' | 'all';

export interface Fp16Options {
  /** Graph inputs and outputs stay float32, with Casts at the boundary (default true). */
  keepIoTypes?: boolean;
  /** 'auto': float16 only where onnxruntime's CPU provider has a kernel; 'all': wherever the schema allows. */
  ops?: Fp16Ops;
  /** Operator types to keep in float32 (added to the defaults). */
  opBlockList?: string[];
  /** Node names to keep in float32. */
  nodeBlockList?: string[];
  /** Only these operator types may compute in float16 (default: any). */
  opTypes?: string[];
  /** Element type and largest magnitude of every value (see discoverValues). */
  values: Map<string, ValueFacts>;
}

export interface Fp16Report {
  ops: Fp16Ops;
  keepIoTypes: boolean;
  float16Nodes: number;
  float32Nodes: number;
  /** Why nodes stayed float32, one entry per reason. */
  keptFloat32: { reason: string; count: number; opTypes: string[] }[];
  castsAdded: number;
  tensorsConverted: number;
  /** Float values beyond ±65504 that were clamped to the largest float16. */
  clamped: number;
  /** Non-zero values too small for float16, which became 0. */
  flushedToZero: number;
}

/** Operators whose float16 results go wrong on large inputs (sums of many terms, exponentials). */
const SENSITIVE_OPS = new Set([
  'Softmax', 'LogSoftmax', 'ReduceSum', 'ReduceMean', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceProd', 'CumSum', 'Exp', 'Pow',
]);
/** Float16 nodes onnxruntime (1.30) rejects although the schema allows them. */
const RUNTIME_LIMITS: Record<string, (node: Node, g: Graph) => string | undefined> = {
  // Its ONNX function body mixes float16 data with float32 constants once onnxruntime expands it.
  MeanVarianceNormalization: () => 'onnxruntime expands it with float32 constants',
  ScatterElements: (n) => (reductionOf(n) !== 'none' ? 'onnxruntime CPU has no float16 scatter reduction' : undefined),
  ScatterND: (n) => (reductionOf(n) !== 'none' ? 'onnxruntime CPU has no float16 scatter reduction' : undefined),
  // onnxruntime's Transpose+MatMul fusion crashes (segfault) on a float16 batch transpose feeding MatMul.
  Transpose: (n, g) => (n.outputs[0] && g.consumers(n.outputs[0]).some((c) => c.opType === 'MatMul') ? 'feeds MatMul (onnxruntime crashes on float16 Transpose→MatMul)' : undefined),
};
const reductionOf = (n: Node) => getString(n, 'reduction', 'none');
/** Above 2^11 float16 cannot hold every integer: inputs that large make reductions and exponentials unreliable. */
const SENSITIVE_LIMIT = 2048;
/** Smallest positive float16 (subnormal) / 2: anything smaller in magnitude rounds to 0. */
const FLOAT16_UNDERFLOW = 2 ** -25;
/** Initializers at least this large are stored as float16 even when read in float32 (behind a Cast). */
const STORE_HALF_MIN_ELEMENTS = 64;

const isFloat32 = (facts: Map<string, ValueFacts>, name: string) => facts.get(name)?.dtype === 'float32';

interface Decision {
  precision: 'fp16' | 'fp32' | 'neutral';
  reason?: string;
  sig?: OpSignature;
  /** Type parameters that become float16 in this node. */
  params?: Set<string>;
}

/**
 * Converts `model` in place. Returns the report, per node now computing in float16 where its first
 * output's float16 version lives (for the per-layer report), and every value whose producer now
 * writes it under another name.
 */
export function convertToFloat16(model: Model, opts: Fp16Options): { report: Fp16Report; units: QuantizedUnit[]; renamed: Map<string, string> } {
  const g = model.graph;
  const facts = opts.values;
  const keepIo = opts.keepIoTypes ?? true;
  const ops = opts.ops ?? 'auto';
  const opBlock = new Set(opts.opBlockList ?? []);
  const nodeBlock = new Set(opts.nodeBlockList ?? []);
  const only = opts.opTypes?.length ? new Set(opts.opTypes) : undefined;
  const report: Fp16Report = { ops, keepIoTypes: keepIo, float16Nodes: 0, float32Nodes: 0, keptFloat32: [], castsAdded: 0, tensorsConverted: 0, clamped: 0, flushedToZero: 0 };

  if ((model.opset('') ?? 13) < 6) {
    // Cast to float16 only exists from opset 6 (onnxruntime has no kernel for the older Cast).
    report.float32Nodes = g.nodes.length;
    report.keptFloat32 = [{ reason: 'opset < 6 cannot Cast to float16 (export with opset ≥ 6)', count: g.nodes.length, opTypes: [...new Set(g.nodes.map((n) => n.opType))].sort() }];
    return { report, units: [], renamed: new Map() };
  }
  constantsToInitializers(g, facts);
  g.topologicalSort();

  const decisions = new Map<Node, Decision>();
  for (const node of g.nodes) {
    const d = decide(node, model, facts, ops, opBlock, nodeBlock);
    decisions.set(node, d.precision === 'fp16' && only && !only.has(node.opType) ? { ...d, precision: 'fp32', reason: 'not in --op-types' } : d);
  }
  if (ops === 'auto') dropPointlessFloat16(g, decisions, facts);

  const reasons = new Map<string, { count: number; opTypes: Set<string> }>();
  for (const [node, d] of decisions) {
    if (d.precision === 'fp16') report.float16Nodes++;
    if (d.precision !== 'fp32') continue;
    report.float32Nodes++;
    const r = reasons.get(d.reason!) ?? { count: 0, opTypes: new Set<string>() };
    r.count++;
    r.opTypes.add(node.opType);
    reasons.set(d.reason!, r);
  }
  report.keptFloat32 = [...reasons].map(([reason, r]) => ({ reason, count: r.count, opTypes: [...r.opTypes].sort() })).sort((a, b) => b.count - a.count);

  // Graph inputs/outputs that change type when the interface is converted too.
  const halfIo = new Set<string>();
  if (!keepIo) {
    const implicit = new Set<string>();
    for (const n of g.nodes) for (const sg of subgraphsOf(n)) for (const r of sg.outerReferences()) implicit.add(r);
    for (const v of [...g.inputs, ...g.outputs]) {
      if (v.type?.kind === 'tensor' && v.type.dtype === 'float32' && !g.initializers.has(v.name) && !implicit.has(v.name)) halfIo.add(v.name);
    }
  }
  const homeType = (v: string): DType => (halfIo.has(v) ? 'float16' : facts.get(v)?.dtype ?? 'float32');

  const versions = new Map<string, Map<DType, string>>();
  const sourceNeeds = new Map<string, Map<DType, string>>();
  const isSource = (v: string) => g.constantTensor(v)?.dtype === 'float32';
  // Casts are collected and added at the end: adding them one by one would rebuild the graph index
  // after every renamed output.
  const casts: Node[] = [];
  const addCast = (from: string, to: string, dtype: DType): void => {
    casts.push({ name: g.uniqueName(`${to}_cast`), opType: 'Cast', domain: '', inputs: [from], outputs: [to], attributes: [castTo(model, dtype)] });
    report.castsAdded++;
  };
  const versionsOf = (v: string) => {
    let m = versions.get(v);
    if (!m) versions.set(v, (m = new Map()));
    return m;
  };
  for (const v of g.inputs) if (!g.initializers.has(v.name)) versionsOf(v.name).set(homeType(v.name), v.name);

  /** The name under which `v` is available as `dtype`, adding a Cast (or a converted initializer) if needed. */
  const need = (v: string, dtype: DType): string => {
    if (isSource(v)) {
      let m = sourceNeeds.get(v);
      if (!m) sourceNeeds.set(v, (m = new Map()));
      if (!m.has(dtype)) m.set(dtype, dtype === 'float32' ? v : g.uniqueName(`${v}_fp16`));
      return m.get(dtype)!;
    }
    const m = versionsOf(v);
    const have = m.get(dtype);
    if (have) return have;
    const from = m.values().next().value as string | undefined;
    if (from === undefined) return v; // produced outside this graph (outer scope): leave as is
    const name = dtype === homeType(v) ? v : g.uniqueName(`${v}_${dtype === 'float16' ? 'fp16' : 'fp32'}`);
    addCast(from, name, dtype);
    m.set(dtype, name);
    return name;
  };
  /** Any available name of `v` (for slots that accept both types without tying them to an output). */
  const anyVersion = (v: string): string => {
    if (isSource(v)) return need(v, 'float32');
    const m = versions.get(v);
    return m?.get(homeType(v)) ?? m?.values().next().value ?? v;
  };

  const units: QuantizedUnit[] = [];
  const renamed = new Map<string, string>();
  for (const node of [...g.nodes]) {
    const d = decisions.get(node)!;
    const original = snapshot(node);
    const half = d.precision === 'fp16';
    node.inputs.forEach((v, i) => {
      if (!v || !isFloat32(facts, v)) return;
      const param = d.sig ? slotParam(d.sig, i) : undefined;
      if (half && param && d.params!.has(param)) node.inputs[i] = need(v, 'float16');
      else if (param && isIndifferent(d.sig!, param, node)) node.inputs[i] = anyVersion(v);
      else node.inputs[i] = need(v, 'float32');
    });
    for (const sg of subgraphsOf(node)) for (const r of sg.outerReferences()) if (isFloat32(facts, r)) need(r, 'float32');
    let castToHalf = false;
    if (half && node.opType === 'Cast' && castsToFloat(node)) {
      setAttribute(node, castTo(model, 'float16'));
      castToHalf = true;
    }
    if (half && node.opType === 'ConstantOfShape') {
      const value = getTensorAttr(node, 'value');
      if (value?.dtype === 'float32') {
        setAttribute(node, attr.tensor('value', toHalfTensor(value, value.name, report)));
        castToHalf = true;
      }
    }
    node.outputs.forEach((v, j) => {
      if (!v) return;
      const param = d.sig ? slotParam(d.sig, j, true) : undefined;
      const becomesHalf = half && isFloat32(facts, v) && (castToHalf || (param !== undefined && d.params!.has(param)));
      const dtype: DType = becomesHalf ? 'float16' : facts.get(v)?.dtype ?? 'float32';
      const name = dtype === homeType(v) ? v : g.uniqueName(`${v}_${dtype === 'float16' ? 'fp16' : 'fp32'}`);
      if (name !== v) {
        node.outputs[j] = name;
        renamed.set(v, name);
      }
      versionsOf(v).set(dtype, name);
      if (j === 0 && becomesHalf) units.push({ node: original.name, opType: original.opType, original: [original], inputs: [], output: v, quantizedOutput: name });
    });
  }
  for (const o of g.outputs) if (facts.get(o.name)?.dtype === 'float32' || halfIo.has(o.name)) need(o.name, homeType(o.name));
  materializeSources(g, sourceNeeds, report, addCast);
  g.nodes.push(...casts);
  g.invalidate();
  for (const v of [...g.inputs, ...g.outputs]) {
    if (halfIo.has(v.name) && v.type?.kind === 'tensor') v.type = { ...v.type, dtype: 'float16' };
  }
  g.topologicalSort();
  dropStaleValueInfo(g);
  return { report, units, renamed };
}

/** Cast's `to`: an enum since opset 6, a type name before. */
function castTo(model: Model, dtype: DType): Attribute {
  if ((model.opset('') ?? 13) < 6) return attr.string('to', dtype === 'float16' ? 'float16' : 'float');
  return attr.int('to', dtype === 'float16' ? 10 : 1);
}

/** True when a slot's type parameter ties no output: the node reads either type (Shape, Size…). */
function isIndifferent(sig: OpSignature, param: string, node: Node): boolean {
  if (!sig.half.has(param)) return false;
  return !node.outputs.some((o, j) => o && slotParam(sig, j, true) === param);
}

function decide(node: Node, model: Model, facts: Map<string, ValueFacts>, ops: Fp16Ops, opBlock: Set<string>, nodeBlock: Set<string>): Decision {
  const floatIns = node.inputs.map((v, i) => [v, i] as const).filter(([v]) => v && isFloat32(facts, v));
  const floatOuts = node.outputs.map((v, j) => [v, j] as const).filter(([v]) => v && isFloat32(facts, v));
  if (!floatIns.length && !floatOuts.length && !(node.opType === 'Cast' || node.opType === 'ConstantOfShape')) return { precision: 'neutral' };
  const sig = opSignature(node.opType, node.domain, model.opset(node.domain) ?? 1);
  const fp32 = (reason: string): Decision => ({ precision: 'fp32', reason, sig });
  if (!sig) return fp32(`not a known ONNX operator`);
  const params = new Set<string>();
  for (const [, i] of floatIns) {
    const p = slotParam(sig, i);
    if (p && sig.half.has(p)) params.add(p);
  }
  for (const [, j] of floatOuts) {
    const p = slotParam(sig, j, true);
    if (p && sig.half.has(p)) params.add(p);
  }
  const attributeTyped = (node.opType === 'Cast' && castsToFloat(node)) || (node.opType === 'ConstantOfShape' && floatOuts.length > 0);
  // Slots whose parameter ties no output accept float16 or float32 alike: they do not make the node float.
  // Parameters that cannot be float16 (LayerNormalization's Mean output…) simply stay float32.
  const tying = [...params].filter((p) => !isIndifferent(sig, p, node));
  if (!tying.length && !attributeTyped) {
    const stuck = floatIns.some(([, i]) => !sig.half.has(slotParam(sig, i) ?? '')) || floatOuts.length > 0;
    return stuck ? fp32('the schema has no float16 for it') : { precision: 'neutral', sig, params };
  }
  if (subgraphsOf(node).length) return fp32('control flow (subgraphs stay float32)');
  if (nodeBlock.has(node.name)) return fp32('--node-block-list');
  if (opBlock.has(node.opType)) return fp32('--op-block-list');
  const runtimeLimit = RUNTIME_LIMITS[node.opType]?.(node, model.graph);
  if (runtimeLimit) return fp32(runtimeLimit);
  const range = (v: string) => facts.get(v)?.absMax ?? 0;
  if ([...floatIns, ...floatOuts].some(([v]) => range(v) > FLOAT16_MAX)) return fp32('values beyond the float16 range');
  if (SENSITIVE_OPS.has(node.opType) && floatIns.some(([v]) => range(v) > SENSITIVE_LIMIT)) {
    return fp32(`reduction/exponential with inputs beyond ±${SENSITIVE_LIMIT}`);
  }
  if (ops === 'auto' && !ORT_CPU_FP16_OPS.has(node.domain ? `${node.domain}.${node.opType}` : node.opType)) {
    return fp32('no float16 kernel in onnxruntime CPU');
  }
  return { precision: 'fp16', sig, params };
}

function castsToFloat(node: Node): boolean {
  const to = node.attributes.find((a) => a.name === 'to');
  if (to?.type === 'int') return to.value === 1;
  return to?.type === 'string' && new TextDecoder().decode(to.value) === 'FLOAT';
}

/** Operators that only move or select data: float16 saves them little, so alone they do not pay for Casts. */
const DATA_MOVEMENT = new Set([
  'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND',
  'Expand', 'Tile', 'Cast', 'CastLike', 'ConstantOfShape', 'Compress', 'ReverseSequence', 'Scatter', 'ScatterElements', 'ScatterND', 'Pad',
]);

/**
 * Turns groups of float16 nodes (connected through float values) back to float32 unless they hold more
 * arithmetic nodes than the Casts they need at their border (each Cast costs about one elementwise op).
 */
function dropPointlessFloat16(g: Graph, decisions: Map<Node, Decision>, facts: Map<string, ValueFacts>): void {
  const isHalf = (n: Node | undefined): n is Node => n !== undefined && decisions.get(n)?.precision === 'fp16';
  const seen = new Set<Node>();
  for (const start of g.nodes) {
    if (!isHalf(start) || seen.has(start)) continue;
    const group: Node[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length) {
      const node = stack.pop()!;
      group.push(node);
      const neighbours = [
        ...node.inputs.filter((v) => v && isFloat32(facts, v)).map((v) => g.producer(v)),
        ...node.outputs.filter((v) => v && isFloat32(facts, v)).flatMap((v) => g.consumers(v)),
      ];
      for (const n of neighbours) if (isHalf(n) && !seen.has(n)) (seen.add(n), stack.push(n));
    }
    const members = new Set(group);
    const border = new Set<string>();
    for (const n of group) {
      for (const v of n.inputs) if (v && isFloat32(facts, v) && !g.initializers.has(v) && !members.has(g.producer(v)!)) border.add(v);
      for (const v of n.outputs) if (v && isFloat32(facts, v) && (g.isGraphOutput(v) || g.consumers(v).some((c) => !members.has(c)))) border.add(v);
    }
    const arithmetic = group.filter((n) => !DATA_MOVEMENT.has(n.opType)).length;
    if (arithmetic > border.size) continue;
    for (const n of group) decisions.set(n, { ...decisions.get(n)!, precision: 'fp32', reason: 'too little float16 work to pay for its Casts' });
  }
}

/** Float Constant nodes become initializers, so they convert like weights. */
function constantsToInitializers(g: Graph, facts: Map<string, ValueFacts>): void {
  for (const node of [...g.nodes]) {
    if (node.opType !== 'Constant' || node.domain) continue;
    const value = getTensorAttr(node, 'value');
    const out = node.outputs[0];
    if (!value || value.dtype !== 'float32' || !out || g.isGraphOutput(out)) continue;
    g.removeNode(node);
    const t = Tensor.fromBytes('float32', [...value.dims], value.bytes, out);
    g.initializers.set(out, t);
    facts.set(out, { dtype: 'float32' });
  }
}

function toHalfTensor(t: Tensor, name: string, report: Fp16Report): Tensor {
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    let x = src[i]!;
    if (x > FLOAT16_MAX || x < -FLOAT16_MAX) {
      if (Number.isFinite(x)) {
        report.clamped++;
        x = x > 0 ? FLOAT16_MAX : -FLOAT16_MAX;
      }
    } else if (x !== 0 && Math.abs(x) < FLOAT16_UNDERFLOW) report.flushedToZero++;
    out[i] = float32ToFloat16Bits(x);
  }
  report.tensorsConverted++;
  return Tensor.from('float16', [...t.dims], out, name);
}

function fitsHalf(t: Tensor): boolean {
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]!) > FLOAT16_MAX && Number.isFinite(d[i]!)) return false;
  return true;
}

/** Creates the float16 initializers asked for, and stores big float32-only weights as float16 + Cast. */
function materializeSources(g: Graph, needs: Map<string, Map<DType, string>>, report: Fp16Report, addCast: (from: string, to: string, dtype: DType) => void): void {
  for (const [v, m] of needs) {
    const t = g.initializers.get(v)!;
    const wantHalf = m.get('float16');
    const wantFloat = m.has('float32');
    const storeHalf = t.size >= STORE_HALF_MIN_ELEMENTS && fitsHalf(t);
    if (!wantHalf && !storeHalf) continue;
    const halfName = wantHalf ?? g.uniqueName(`${v}_fp16`);
    g.addInitializer(toHalfTensor(t, halfName, report));
    if (wantFloat && storeHalf) {
      g.initializers.delete(v);
      addCast(halfName, v, 'float32');
    } else if (!wantFloat) g.initializers.delete(v);
  }
}

/** value_info entries whose value no longer exists (its producer now writes the float16 name). */
function dropStaleValueInfo(g: Graph): void {
  const live = new Set<string>();
  for (const n of g.nodes) for (const o of n.outputs) live.add(o);
  for (const name of [...g.valueInfo.keys()]) if (!live.has(name)) g.valueInfo.delete(name);
}
