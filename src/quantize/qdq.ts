/**
 * `int8` / `uint8`: static quantization in the QDQ format. Calibrated activations get a
 * QuantizeLinear→DequantizeLinear pair, weights are int8 (symmetric, per channel) behind a
 * DequantizeLinear, biases int32 at scale input·weight — the pattern onnxruntime fuses into QLinearConv,
 * QGemm, QLinearMatMul / MatMulIntegerToFloat. A Relu or Clip(≤0, ≥0) right after a quantized layer is
 * dropped: the output quantizer saturates at the calibrated range, which is the activation's range.
 *
 * Only operators with int8 kernels get QDQ around them; elsewhere it would only add work.
 */
import { Tensor, attr, getFloat, getInt, type Graph, type Model, type Node } from '../ir/index.js';
import { activationParams, quantizeBias, type Granularity, type QParams, type QuantType } from './qmath.js';
import { dequantizedWeight, type WeightCache } from './dequantize.js';
import { addConstant, constantValue, dropOrphans, floatConstant, snapshot, type PassResult, type SkippedNode } from './select.js';
import { quantizeEmbedding, quantizeLstm } from './dynamic.js';

export const STATIC_OP_TYPES = ['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Gather', 'LSTM'] as const;

export interface StaticOptions {
  /** Activation type: int8 (S8S8) or uint8 (U8S8); weights are int8 either way. */
  activations: QuantType;
  granularity: Granularity;
  /** 7-bit weights, for CPUs without VNNI. */
  reduceRange: boolean;
  select: (node: Node) => boolean;
}

// Measured on text_transformer (bench, 2 threads): leaving attention's two activation MatMuls float
// made int8 1.38× faster than float32 at batch 1, quantizing them only 1.23×.
const ACTIVATION_PRODUCT = 'a product of two activations (attention): left float, its Q/DQ pairs cost more than int8 saves';

interface PlannedUnit {
  node: Node;
  weightSlot?: number;
  /** Per-channel axis of the weight. */
  axis?: number;
  biasSlot?: number;
  /** A Relu/Clip after the node, folded into the output quantizer. */
  fold?: Node;
  /** The tensor whose range quantizes the output (the folded activation's output when there is one); none when left float. */
  output?: string;
}

interface Plan {
  units: PlannedUnit[];
  /** Weight-only (Gather tables) and dynamic (LSTM) layers, done as in q8. */
  embeddings: Node[];
  recurrent: Node[];
  skipped: SkippedNode[];
  /** Activation tensors that get a QDQ pair (the calibration targets). */
  tensors: string[];
}

/** Clip(min, max) with min ≤ 0 ≤ max, or Relu: what an asymmetric output quantizer can take over. */
function foldableActivation(g: Graph, node: Node): boolean {
  if (node.domain) return false;
  if (node.opType === 'Relu') return true;
  if (node.opType !== 'Clip') return false;
  const bound = (slot: number, attrName: string): number | undefined => {
    const name = node.inputs[slot];
    if (name) {
      const t = constantValue(g, name);
      return t && t.size === 1 ? t.toFloat32()[0] : undefined;
    }
    return getFloat(node, attrName, slot === 1 ? -Infinity : Infinity);
  };
  const lo = bound(1, 'min');
  const hi = bound(2, 'max');
  return lo !== undefined && hi !== undefined && lo <= 0 && hi >= 0;
}

function plan(model: Model, opts: StaticOptions): Plan {
  const g = model.graph;
  const result: Plan = { units: [], embeddings: [], recurrent: [], skipped: [], tensors: [] };
  const isActivation = (v: string | undefined): v is string => Boolean(v) && !constantValue(g, v);
  for (const node of g.nodes) {
    if (!opts.select(node)) continue;
    const skip = (reason: string) => result.skipped.push({ node: node.name, opType: node.opType, reason });
    const [x, w, b] = node.inputs;
    if (node.opType === 'Gather') {
      if (floatConstant(g, x, [1, 2, 3, 4])) result.embeddings.push(node);
      continue;
    }
    if (node.opType === 'LSTM') {
      result.recurrent.push(node);
      continue;
    }
    if (!isActivation(x)) {
      skip('input 0 is not an activation');
      continue;
    }
    // Input 0 is the activation (quantized with QDQ); input 1 the weight, input 2 the bias.
    const unit: PlannedUnit = { node };
    switch (node.opType) {
      case 'Conv': {
        const wt = floatConstant(g, w, [3, 4, 5]);
        if (!wt) {
          skip('the weight is not a float constant');
          continue;
        }
        Object.assign(unit, { weightSlot: 1, axis: 0 });
        break;
      }
      case 'ConvTranspose': {
        const wt = floatConstant(g, w, [3, 4, 5]);
        if (!wt) {
          skip('the weight is not a float constant');
          continue;
        }
        // W is [C_in, C_out/group, …]: output channels are axis 1, and only per tensor when grouped.
        Object.assign(unit, { weightSlot: 1, axis: getInt(node, 'group', 1) === 1 ? 1 : undefined });
        break;
      }
      case 'Gemm': {
        if (getInt(node, 'transA', 0)) {
          skip('transA=1 is not supported');
          continue;
        }
        const wt = floatConstant(g, w, [2]);
        if (!wt) {
          skip(ACTIVATION_PRODUCT);
          continue;
        }
        Object.assign(unit, { weightSlot: 1, axis: getInt(node, 'transB', 0) ? 0 : 1 });
        break;
      }
      case 'MatMul': {
        const wt = floatConstant(g, w, [2, 3, 4]);
        if (!wt) {
          skip(ACTIVATION_PRODUCT);
          continue;
        }
        Object.assign(unit, { weightSlot: 1, axis: wt.dims.length - 1 });
        break;
      }
      default:
        continue;
    }
    if (b && unit.weightSlot !== undefined && (node.opType === 'Conv' || node.opType === 'ConvTranspose' || node.opType === 'Gemm')) {
      const bias = floatConstant(g, b, [1]);
      if (bias) unit.biasSlot = 2;
    }
    const out = node.outputs[0]!;
    const consumers = g.consumers(out);
    if (!g.isGraphOutput(out) && consumers.length === 1 && foldableActivation(g, consumers[0]!)) {
      unit.fold = consumers[0];
      unit.output = consumers[0]!.outputs[0];
    } else if (!(g.isGraphOutput(out) && (node.opType === 'MatMul' || node.opType === 'Gemm'))) {
      // A graph output of MatMul/Gemm stays float: onnxruntime computes those with float output.
      unit.output = out;
    }
    result.units.push(unit);
  }
  const tensors = new Set<string>();
  for (const u of result.units) {
    tensors.add(u.node.inputs[0]!);
    if (u.output) tensors.add(u.output);
  }
  result.tensors = [...tensors];
  return result;
}

/** The activations that static quantization of `model` will need calibrated. */
export function staticCalibrationTargets(model: Model, opts: StaticOptions): string[] {
  return plan(model, opts).tensors;
}

/** Quantizes `model` in place with the calibrated `ranges`. */
export function quantizeStatic(model: Model, ranges: Map<string, [number, number]>, opts: StaticOptions): PassResult {
  const g = model.graph;
  const opset = model.opset('') ?? 13;
  const p = plan(model, opts);
  const result: PassResult = { units: [], skipped: [...p.skipped] };
  const params = new Map<string, QParams>();
  const units = p.units.filter((u) => {
    const needed = [u.node.inputs[0]!, ...(u.output ? [u.output] : [])];
    const missing = needed.find((t) => !ranges.has(t));
    if (missing) result.skipped.push({ node: u.node.name, opType: u.node.opType, reason: `no calibrated range for '${missing}' (not a float tensor?)` });
    return !missing;
  });
  for (const u of units) {
    for (const t of [u.node.inputs[0]!, ...(u.output ? [u.output] : [])]) {
      if (!params.has(t)) params.set(t, activationParams(...ranges.get(t)!, opts.activations));
    }
  }
  const replaced: string[] = [];
  const cache: WeightCache = new Map();
  const records: { u: PlannedUnit; original: Node[]; weightSqnrDb?: number; output: string }[] = [];
  for (const u of units) {
    const { node } = u;
    const original = [snapshot(node), ...(u.fold ? [snapshot(u.fold)] : [])];
    replaced.push(...node.inputs);
    const output = u.fold ? u.fold.outputs[0]! : node.outputs[0]!;
    if (u.fold) {
      g.removeNode(u.fold);
      node.outputs[0] = u.fold.outputs[0]!;
      g.invalidate();
    }
    let weightSqnrDb: number | undefined;
    if (node.opType === 'Gemm') foldGemmScalars(g, node);
    if (u.weightSlot !== undefined) {
      const wt = floatConstant(g, node.inputs[u.weightSlot], [2, 3, 4, 5])!;
      const dq = dequantizedWeight(g, cache, opset, wt, u.axis, opts.granularity, opts.reduceRange, node, node.opType === 'Gemm');
      g.setNodeInput(node, u.weightSlot, dq.name);
      weightSqnrDb = dq.sqnrDb;
      if (u.biasSlot !== undefined) {
        const biasName = node.inputs[u.biasSlot]!;
        const bias = floatConstant(g, biasName, [1])!;
        const q = quantizeBias(bias.data as Float32Array, params.get(node.inputs[0]!)!.scale, dq.scales);
        const perChannel = dq.scales.length > 1 && opset >= 13;
        // Named after the bias; no zero point (0 by default, and int32 ones would cost 4 bytes a channel).
        const qName = addConstant(g, `${bias.name}_q`, Tensor.from('int32', [...bias.dims], q.data));
        const scale = addConstant(g, `${bias.name}_scale`, perChannel ? Tensor.from('float32', [q.scales.length], q.scales) : Tensor.from('float32', [], q.scales.slice(0, 1)));
        const dqName = g.uniqueName(`${bias.name}_dq`);
        g.addNode({ opType: 'DequantizeLinear', inputs: [qName, scale], outputs: [dqName], attributes: perChannel ? [attr.int('axis', 0)] : [] }, g.nodes.indexOf(node));
        g.setNodeInput(node, u.biasSlot, dqName);
      }
    }
    records.push({ u, original, weightSqnrDb, output });
  }
  // One QDQ pair per tensor, read by all its consumers.
  const dequantized = new Map<string, string>();
  for (const [t, qp] of params) dequantized.set(t, insertQdq(g, t, qp, opts.activations));
  for (const { u, original, weightSqnrDb, output } of records) {
    const inputs = original[0]!.inputs.map((name, slot) => (slot === 0 ? dequantized.get(name)! : name));
    const quantizedOutput = u.output ? dequantized.get(u.output)! : u.node.outputs[0]!;
    result.units.push({ node: u.node.name, opType: u.node.opType, original, inputs, output, quantizedOutput, weightSqnrDb });
  }
  for (const node of p.embeddings) {
    const inputs = [...node.inputs];
    const original = snapshot(node);
    const r = quantizeEmbedding(g, node, opts.granularity);
    if (typeof r === 'string') result.skipped.push({ node: node.name, opType: node.opType, reason: r });
    else {
      replaced.push(inputs[0]!);
      result.units.push({ node: original.name, opType: 'Gather', original: [original], inputs, output: original.outputs[0]!, ...r });
    }
  }
  for (const node of p.recurrent) {
    const original = snapshot(node);
    const r = quantizeLstm(g, node, opts.granularity, opts.reduceRange);
    if (typeof r === 'string') result.skipped.push({ node: node.name, opType: node.opType, reason: r });
    else {
      replaced.push(...original.inputs);
      result.units.push({ node: original.name, opType: 'LSTM', original: [original], output: original.outputs[0]!, ...r });
      if (model.opset('com.microsoft') === undefined) model.setOpset('com.microsoft', 1);
    }
  }
  g.topologicalSort();
  dropOrphans(g, replaced);
  return result;
}

/** Gemm's alpha and beta folded into its constant weight and bias, so the int8 kernel sees plain A·B + C. */
function foldGemmScalars(g: Graph, node: Node): void {
  const alpha = getFloat(node, 'alpha', 1);
  const beta = getFloat(node, 'beta', 1);
  const scaleConstant = (slot: number, k: number) => {
    const t = floatConstant(g, node.inputs[slot], [0, 1, 2]);
    if (!t) return false;
    g.setNodeInput(node, slot, addConstant(g, `${node.inputs[slot]}_scaled`, Tensor.from('float32', [...t.dims], (t.data as Float32Array).map((v) => v * k))));
    return true;
  };
  if (alpha !== 1 && scaleConstant(1, alpha)) node.attributes = node.attributes.filter((a) => a.name !== 'alpha');
  if (beta !== 1 && node.inputs[2] && scaleConstant(2, beta)) node.attributes = node.attributes.filter((a) => a.name !== 'beta');
}

/**
 * QuantizeLinear→DequantizeLinear on tensor `t` (nodes get short generated names: the values carry
 * the meaning, and long node names cost bytes in every file); every reader of `t` then reads the dequantized value.
 * A graph output keeps its name on the DequantizeLinear output. Returns the name readers use.
 */
function insertQdq(g: Graph, t: string, qp: QParams, type: QuantType): string {
  const scale = addConstant(g, `${t}_scale`, Tensor.from('float32', [], new Float32Array([qp.scale])));
  const zp = addConstant(g, `${t}_zp`, type === 'int8' ? Tensor.from('int8', [], new Int8Array([qp.zeroPoint])) : Tensor.from('uint8', [], new Uint8Array([qp.zeroPoint])));
  const q = g.uniqueName(`${t}_q`);
  const readers = g.consumers(t);
  let source = t;
  let dq = g.uniqueName(`${t}_dq`);
  if (g.isGraphOutput(t)) {
    source = g.uniqueName(`${t}_float`);
    const producer = g.producer(t);
    if (producer) producer.outputs = producer.outputs.map((o) => (o === t ? source : o));
    g.invalidate();
    dq = t;
  }
  for (const r of readers) r.inputs = r.inputs.map((i) => (i === t ? dq : i));
  g.invalidate();
  g.addNode({ opType: 'QuantizeLinear', inputs: [source, scale, zp], outputs: [q] });
  g.addNode({ opType: 'DequantizeLinear', inputs: [q, scale, zp], outputs: [dq] });
  return dq;
}
