/**
 * What a model is: its interface, operators, parameters, and a profile (family, control flow,
 * dynamic axes, quantization) that later stages use to choose strategies.
 */
import { walkGraphs, type Dim, type DType, type Graph, type Model, type Node, type Tensor } from '../ir/index.js';
import { modelSource } from '../io/index.js';

export type ModelFamily = 'cnn' | 'transformer' | 'recurrent' | 'mlp' | 'mixed';

export interface ValueSummary {
  name: string;
  dtype?: DType;
  shape?: Dim[];
  kind: string;
}

export interface ModelProfile {
  family: ModelFamily;
  /** Why the family was chosen, in a sentence. */
  reason: string;
  controlFlow: boolean;
  controlFlowOps: string[];
  dynamicAxes: { value: string; axis: number; dim: string | null }[];
  quantized: boolean;
  /** 'none' | 'fp16' | 'qdq' | 'qoperator' | 'dynamic' | 'weight-only', joined with '+' when mixed. */
  quantization: string;
  /** Parameter share by layer kind, 0..1. */
  parameterShare: { conv: number; matmul: number; recurrent: number; embedding: number; other: number };
  attentionBlocks: number;
}

export interface InspectReport {
  path?: string;
  sizeBytes?: number;
  externalDataBytes?: number;
  irVersion: number;
  opsets: Record<string, number>;
  producer: { name: string; version: string };
  domain: string;
  modelVersion: number;
  docString: string;
  metadata: Record<string, string>;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** Nodes in the main graph; `totalNodeCount` includes subgraphs. */
  nodeCount: number;
  totalNodeCount: number;
  opCounts: Record<string, number>;
  parameterCount: number;
  parameterBytes: number;
  parametersByDtype: Record<string, { tensors: number; count: number; bytes: number }>;
  largestInitializers: { name: string; dtype: DType; shape: number[]; bytes: number }[];
  profile: ModelProfile;
}

function summarize(g: Graph, name: string): ValueSummary {
  const t = g.valueType(name);
  if (!t) return { name, kind: 'unknown' };
  if (t.kind === 'tensor' || t.kind === 'sparse_tensor') return { name, kind: t.kind, dtype: t.dtype, shape: t.shape };
  return { name, kind: t.kind };
}

const opKey = (n: Node) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType);

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
const CONV = new Set(['Conv', 'ConvTranspose', 'ConvInteger', 'QLinearConv', 'DeformConv']);
const MATMUL = new Set(['MatMul', 'Gemm', 'MatMulInteger', 'QLinearMatMul', 'MatMulNBits', 'FusedMatMul']);
const QDQ = new Set(['QuantizeLinear', 'DequantizeLinear']);
const QOPERATOR = new Set(['QLinearConv', 'QLinearMatMul', 'QLinearAdd', 'QLinearMul', 'QGemm', 'QLinearSigmoid', 'QLinearConcat', 'QLinearAveragePool', 'QLinearGlobalAveragePool']);
const DYNAMIC_Q = new Set(['DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'DynamicQuantizeMatMul']);
const WEIGHT_ONLY = new Set(['MatMulNBits', 'GatherBlockQuantized']);
const ATTENTION_OPS = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention']);

/** Counts Softmax nodes fed (through scale/mask arithmetic) by a MatMul and feeding a MatMul: attention. */
function countAttention(g: Graph): number {
  const passThrough = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Reshape', 'Transpose', 'Dropout']);
  const reaches = (name: string, dir: 'up' | 'down', depth: number): boolean => {
    if (depth > 6) return false;
    if (dir === 'up') {
      const p = g.producer(name);
      if (!p) return false;
      if (p.opType === 'MatMul' || p.opType === 'FusedMatMul') return true;
      return passThrough.has(p.opType) && p.inputs.some((i) => i && reaches(i, 'up', depth + 1));
    }
    return g.consumers(name).some((c) => c.opType === 'MatMul' || (passThrough.has(c.opType) && c.outputs.some((o) => reaches(o, 'down', depth + 1))));
  };
  let blocks = 0;
  for (const n of g.nodes) {
    if (ATTENTION_OPS.has(n.opType)) blocks++;
    else if (n.opType === 'Softmax' && reaches(n.inputs[0]!, 'up', 0) && reaches(n.outputs[0]!, 'down', 0)) blocks++;
  }
  return blocks;
}

/** Which kind of layer a weight feeds: follows DequantizeLinear/Cast/Transpose to the real consumer. */
function weightUse(g: Graph, name: string, depth = 0): 'conv' | 'matmul' | 'recurrent' | 'embedding' | 'other' {
  for (const c of g.consumers(name)) {
    if (CONV.has(c.opType)) return 'conv';
    if (RECURRENT.has(c.opType)) return 'recurrent';
    if (MATMUL.has(c.opType)) return 'matmul';
    if ((c.opType === 'Gather' || c.opType === 'GatherBlockQuantized') && c.inputs[0] === name) return 'embedding';
    if (depth < 3 && ['DequantizeLinear', 'Cast', 'Transpose', 'Reshape', 'Identity'].includes(c.opType)) {
      const u = weightUse(g, c.outputs[0]!, depth + 1);
      if (u !== 'other') return u;
    }
  }
  return 'other';
}

export function profileModel(model: Model): ModelProfile {
  const opSet = new Set<string>();
  const controlFlowOps = new Set<string>();
  let convNodes = 0;
  let denseNodes = 0;
  let attentionBlocks = 0;
  const share = { conv: 0, matmul: 0, recurrent: 0, embedding: 0, other: 0 };
  let floatParams = 0;
  let halfParams = 0;
  for (const { graph } of walkGraphs(model.graph)) {
    for (const n of graph.nodes) {
      opSet.add(n.opType);
      if (CONTROL_FLOW.has(n.opType)) controlFlowOps.add(n.opType);
      if (CONV.has(n.opType)) convNodes++;
      if (MATMUL.has(n.opType)) denseNodes++;
    }
    attentionBlocks += countAttention(graph);
    for (const [name, t] of graph.initializers) {
      if (t.size < 2) continue;
      share[weightUse(graph, name)] += t.size;
      if (t.dtype === 'float32') floatParams += t.size;
      if (t.dtype === 'float16') halfParams += t.size;
    }
  }
  const total = Object.values(share).reduce((a, b) => a + b, 0) || 1;
  for (const k of Object.keys(share) as (keyof typeof share)[]) share[k] = share[k] / total;

  const has = (set: Set<string>) => [...opSet].some((o) => set.has(o));
  const kinds: string[] = [];
  if (has(QDQ)) kinds.push('qdq');
  if (has(QOPERATOR)) kinds.push('qoperator');
  if (has(DYNAMIC_Q)) kinds.push('dynamic');
  if (has(WEIGHT_ONLY)) kinds.push('weight-only');
  if (halfParams > floatParams && halfParams > 0) kinds.push('fp16');
  const quantization = kinds.length ? kinds.join('+') : 'none';

  const hasConv = has(CONV);
  const hasRecurrent = has(RECURRENT);
  let family: ModelFamily;
  let reason: string;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  if (hasRecurrent && share.recurrent >= 0.3) {
    family = 'recurrent';
    reason = `${[...opSet].filter((o) => RECURRENT.has(o)).join('/')} layers hold ${pct(share.recurrent)} of the parameters`;
  } else if (attentionBlocks > 0 && share.conv < 0.5) {
    family = 'transformer';
    reason = `${attentionBlocks} attention block(s); MatMul/embedding weights hold ${pct(share.matmul + share.embedding)} of the parameters`;
  } else if (hasConv && attentionBlocks === 0 && !hasRecurrent && (share.conv >= 0.5 || convNodes >= denseNodes)) {
    // A small CNN's dense classifier head can hold most of the weights (digits_cnn: 87%), so the
    // layer count decides too: at least as many convolutions as dense layers is a CNN.
    family = 'cnn';
    reason = `${convNodes} convolution(s) and ${denseNodes} dense layer(s); convolutions hold ${pct(share.conv)} of the parameters`;
  } else if (!hasConv && !hasRecurrent && attentionBlocks === 0 && controlFlowOps.size === 0 && has(MATMUL)) {
    family = 'mlp';
    reason = `only dense layers (MatMul/Gemm), no convolution, recurrence or attention`;
  } else {
    family = 'mixed';
    const parts = [hasConv && `convolution (${pct(share.conv)})`, attentionBlocks && `${attentionBlocks} attention block(s)`, hasRecurrent && `recurrent layers (${pct(share.recurrent)})`, has(MATMUL) && `dense layers (${pct(share.matmul)})`].filter(Boolean);
    reason = parts.length ? `a mix of ${parts.join(', ')}` : 'no dominant layer kind';
  }

  const dynamicAxes: ModelProfile['dynamicAxes'] = [];
  for (const v of [...model.graph.inputs, ...model.graph.outputs]) {
    if (model.graph.initializers.has(v.name)) continue;
    const t = v.type;
    if (t?.kind !== 'tensor' || !t.shape) continue;
    t.shape.forEach((d, axis) => {
      if (typeof d !== 'number') dynamicAxes.push({ value: v.name, axis, dim: d });
    });
  }
  return {
    family,
    reason,
    controlFlow: controlFlowOps.size > 0,
    controlFlowOps: [...controlFlowOps],
    dynamicAxes,
    quantized: quantization !== 'none',
    quantization,
    parameterShare: share,
    attentionBlocks,
  };
}

export function inspectModel(model: Model): InspectReport {
  const g = model.graph;
  const opCounts: Record<string, number> = {};
  let totalNodeCount = 0;
  const byDtype: InspectReport['parametersByDtype'] = {};
  const tensors: Tensor[] = [];
  for (const { graph } of walkGraphs(g)) {
    for (const n of graph.nodes) {
      totalNodeCount++;
      opCounts[opKey(n)] = (opCounts[opKey(n)] ?? 0) + 1;
    }
    tensors.push(...graph.initializers.values());
  }
  let parameterCount = 0;
  let parameterBytes = 0;
  for (const t of tensors) {
    const e = (byDtype[t.dtype] ??= { tensors: 0, count: 0, bytes: 0 });
    e.tensors++;
    e.count += t.size;
    e.bytes += t.byteLength;
    parameterCount += t.size;
    parameterBytes += t.byteLength;
  }
  const largest = [...tensors]
    .sort((a, b) => b.byteLength - a.byteLength)
    .slice(0, 10)
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.dims, bytes: t.byteLength }));
  const src = modelSource(model);
  const opsets: Record<string, number> = {};
  for (const o of model.opsetImports) opsets[o.domain || 'ai.onnx'] = o.version;
  const sortedOps = Object.fromEntries(Object.entries(opCounts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  return {
    path: src?.path,
    sizeBytes: src ? src.sizeBytes + src.externalDataBytes : undefined,
    externalDataBytes: src?.externalDataBytes || undefined,
    irVersion: model.irVersion,
    opsets,
    producer: { name: model.producerName, version: model.producerVersion },
    domain: model.domain,
    modelVersion: model.modelVersion,
    docString: model.docString,
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])),
    inputs: g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => summarize(g, v.name)),
    outputs: g.outputs.map((v) => summarize(g, v.name)),
    nodeCount: g.nodes.length,
    totalNodeCount,
    opCounts: sortedOps,
    parameterCount,
    parameterBytes,
    parametersByDtype: byDtype,
    largestInitializers: largest,
    profile: profileModel(model),
  };
}
