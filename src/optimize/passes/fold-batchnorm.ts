/**
 * BatchNormalization after a linear op folds into that op's weights and bias:
 * BN(y) = y·f + shift with f = scale/√(var+ε) and shift = bias − mean·f, per channel (axis 1).
 * Arithmetic is done in float64 and rounded once to the weights' type.
 */
import { Tensor, attr, getFloat, getInt, setAttribute, type Graph, type Node } from '../../ir/index.js';
import type { ShapeInfo } from '../../shape-inference/index.js';
import { FLOAT_TYPES, toFloat64 } from '../tensors.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { constantOf, soleConsumer } from '../rewrite.js';

interface Affine {
  /** Per-channel multiplier. */
  factor: Float64Array;
  /** Per-channel offset added after scaling. */
  shift: Float64Array;
}

/** The per-channel affine map of an inference-mode BatchNormalization with constant parameters. */
function batchNormAffine(g: Graph, bn: Node, opset: number): Affine | undefined {
  if (getInt(bn, 'training_mode', 0) !== 0 || getInt(bn, 'spatial', 1) !== 1) return undefined;
  if (opset < 7 && getInt(bn, 'is_test', 0) !== 1) return undefined;
  if (bn.outputs.slice(1).some((o) => o && g.consumers(o).length + (g.isGraphOutput(o) ? 1 : 0) > 0)) return undefined;
  const params = bn.inputs.slice(1, 5).map((n) => (n ? constantOf(g, n) : undefined));
  if (params.length !== 4 || params.some((t) => !t || !FLOAT_TYPES.has(t.dtype) || t.dims.length !== 1)) return undefined;
  const [scale, bias, mean, variance] = params.map((t) => toFloat64(t!)) as [Float64Array, Float64Array, Float64Array, Float64Array];
  const channels = scale.length;
  if ([bias, mean, variance].some((a) => a.length !== channels)) return undefined;
  const eps = getFloat(bn, 'epsilon', 1e-5);
  const factor = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    factor[c] = scale[c]! / Math.sqrt(variance[c]! + eps);
    shift[c] = bias[c]! - mean[c]! * factor[c]!;
  }
  return { factor, shift };
}

/** New weights: `w` with every element multiplied by `factor[channelOf(index)]`. */
function scaleWeights(g: Graph, w: Tensor, channelOf: (i: number) => number, factor: Float64Array): Tensor {
  const v = toFloat64(w).slice();
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * factor[channelOf(i)]!;
  return g.addInitializer(Tensor.fromFloats(w.dtype, [...w.dims], v, g.uniqueName(`${w.name || 'weight'}_bn_folded`)));
}

/** New bias: `old·factor + shift` per channel (`old` absent reads as zeros). */
function foldedBias(g: Graph, old: Tensor | undefined, like: Tensor, { factor, shift }: Affine, base: string): Tensor {
  const v = new Float64Array(factor.length);
  const b = old ? toFloat64(old) : undefined;
  for (let c = 0; c < v.length; c++) v[c] = (b ? b[c]! : 0) * factor[c]! + shift[c]!;
  return g.addInitializer(Tensor.fromFloats(old?.dtype ?? like.dtype, [v.length], v, g.uniqueName(`${base}_bn_folded`)));
}

/** Weight and optional bias of `node`, both constant and float, or undefined. */
function constantWeights(g: Graph, node: Node, w: number, b: number): { weight: Tensor; bias?: Tensor } | undefined {
  const weight = node.inputs[w] ? constantOf(g, node.inputs[w]!) : undefined;
  if (!weight || !FLOAT_TYPES.has(weight.dtype)) return undefined;
  const biasName = node.inputs[b];
  if (!biasName) return { weight };
  const bias = constantOf(g, biasName);
  return bias && FLOAT_TYPES.has(bias.dtype) ? { weight, bias } : undefined;
}

/** Edits that fold one BatchNormalization, planned with every lookup done up front. */
interface Fold {
  into: string;
  /** Rewrites the producer's weights; returns true when the BatchNormalization node itself must go. */
  apply(): boolean;
}

/** Folding into Conv / ConvTranspose; undefined when the layout does not match. */
function planConv(g: Graph, conv: Node, affine: Affine): Fold | undefined {
  const wb = constantWeights(g, conv, 1, 2);
  if (!wb) return undefined;
  const { weight, bias } = wb;
  const channels = affine.factor.length;
  const dims = weight.dims;
  if (dims.length < 3 || (bias && bias.size !== channels)) return undefined;
  const spatial = dims.slice(2).reduce((a, b) => a * b, 1);
  let channelOf: (i: number) => number;
  if (conv.opType === 'Conv') {
    if (dims[0] !== channels) return undefined;
    const perChannel = weight.size / channels;
    channelOf = (i) => Math.floor(i / perChannel);
  } else {
    // ConvTranspose weights are [C_in, M/group, k…]; output channel = group·(M/group) + m.
    const group = getInt(conv, 'group', 1);
    const [cin, mPerGroup] = [dims[0]!, dims[1]!];
    if (mPerGroup * group !== channels || cin % group !== 0) return undefined;
    const cinPerGroup = cin / group;
    channelOf = (i) => {
      const m = Math.floor(i / spatial) % mPerGroup;
      const c = Math.floor(i / (spatial * mPerGroup));
      return Math.floor(c / cinPerGroup) * mPerGroup + m;
    };
  }
  return {
    into: conv.opType,
    apply: () => {
      const biasName = conv.inputs[2] || `${conv.name}_bias`;
      conv.inputs[1] = scaleWeights(g, weight, channelOf, affine.factor).name;
      conv.inputs[2] = foldedBias(g, bias, weight, affine, biasName).name;
      return true;
    },
  };
}

/** Folding into Gemm (Y = αA·B + βC, channels are the columns of Y). */
function planGemm(g: Graph, gemm: Node, affine: Affine): Fold | undefined {
  const wb = constantWeights(g, gemm, 1, 2);
  if (!wb || wb.weight.dims.length !== 2) return undefined;
  const { weight, bias } = wb;
  const channels = affine.factor.length;
  const transB = getInt(gemm, 'transB', 0) === 1;
  const [rows, cols] = weight.dims as [number, number];
  if ((transB ? rows : cols) !== channels) return undefined;
  // C must be one value per column (or a scalar) to stay a per-channel bias.
  if (bias && !(bias.size === 1 || (bias.size === channels && bias.dims[bias.dims.length - 1] === channels))) return undefined;
  return {
    into: 'Gemm',
    apply: () => {
      const beta = getFloat(gemm, 'beta', 1);
      const c = bias ? toFloat64(bias) : undefined;
      const scaledC = new Float64Array(channels);
      for (let j = 0; j < channels; j++) scaledC[j] = c ? beta * c[c.length === 1 ? 0 : j]! : 0;
      const biasName = gemm.inputs[2] || `${gemm.name}_bias`;
      gemm.inputs[1] = scaleWeights(g, weight, transB ? (i) => Math.floor(i / cols) : (i) => i % cols, affine.factor).name;
      gemm.inputs[2] = foldedBias(g, Tensor.fromFloats(bias?.dtype ?? weight.dtype, [channels], scaledC, ''), weight, affine, biasName).name;
      setAttribute(gemm, attr.float('beta', 1));
      return true;
    },
  };
}

/** A constant [K, N] MatMul weight whose columns are the channels, for a 2-D product. */
function matmulWeight(g: Graph, matmul: Node, shapes: ShapeInfo, channels: number): Tensor | undefined {
  const w = matmul.inputs[1] ? constantOf(g, matmul.inputs[1]) : undefined;
  const a = shapes.shape(g, matmul.inputs[0]!);
  // BatchNormalization normalizes axis 1: that is the MatMul's column axis only for 2-D products.
  if (!w || !FLOAT_TYPES.has(w.dtype) || w.dims.length !== 2 || w.dims[1] !== channels || a?.length !== 2) return undefined;
  return w;
}

/** Folding into MatMul + Add(bias): scale the weight's columns, fold the bias. */
function planMatmulAdd(g: Graph, add: Node, affine: Affine, shapes: ShapeInfo): Fold | undefined {
  const slot = add.inputs.findIndex((i) => isOp(g.producer(i), 'MatMul') && soleConsumer(g, i) === add);
  if (slot < 0 || add.inputs.length !== 2) return undefined;
  const matmul = g.producer(add.inputs[slot]!)!;
  const bias = constantOf(g, add.inputs[1 - slot]!);
  const w = matmulWeight(g, matmul, shapes, affine.factor.length);
  if (!w || !bias || !FLOAT_TYPES.has(bias.dtype) || bias.size !== affine.factor.length || bias.dims[bias.dims.length - 1] !== bias.size) return undefined;
  return {
    into: 'MatMul+Add',
    apply: () => {
      matmul.inputs[1] = scaleWeights(g, w, (i) => i % w.dims[1]!, affine.factor).name;
      add.inputs[1 - slot] = foldedBias(g, bias, w, affine, add.inputs[1 - slot]!).name;
      return true;
    },
  };
}

/** A bare 2-D MatMul has no bias to absorb the shift: the BatchNormalization becomes an Add of it. */
function planMatmul(g: Graph, matmul: Node, bn: Node, affine: Affine, shapes: ShapeInfo): Fold | undefined {
  const w = matmulWeight(g, matmul, shapes, affine.factor.length);
  if (!w) return undefined;
  return {
    into: 'MatMul (+Add)',
    apply: () => {
      matmul.inputs[1] = scaleWeights(g, w, (i) => i % w.dims[1]!, affine.factor).name;
      const shift = foldedBias(g, undefined, w, affine, `${bn.name || 'batchnorm'}_shift`);
      bn.opType = 'Add';
      bn.inputs = [bn.inputs[0]!, shift.name];
      bn.attributes = [];
      return false;
    },
  };
}

export const foldBatchNorm: Pass = {
  name: 'fold-batchnorm',
  description: 'fold inference BatchNormalization into a preceding Conv, ConvTranspose, Gemm, or 2-D MatMul(+Add)',
  run(g: Graph, ctx: PassContext): number {
    // Plan every fold first, then edit: lookups never see a half-edited graph, and the graph's index is rebuilt once.
    const plans: { bn: Node; producer: Node; fold: Fold }[] = [];
    for (const bn of g.nodes) {
      if (!isOp(bn, 'BatchNormalization') || !bn.inputs[0] || !bn.outputs[0]) continue;
      const x = bn.inputs[0];
      const producer = g.producer(x);
      if (!producer || soleConsumer(g, x) !== bn || producer.outputs[0] !== x) continue;
      const affine = batchNormAffine(g, bn, ctx.opset());
      if (!affine) continue;
      let fold: Fold | undefined;
      if (isOp(producer, 'Conv', 'ConvTranspose')) fold = planConv(g, producer, affine);
      else if (isOp(producer, 'Gemm') && ctx.opset() >= 7) fold = planGemm(g, producer, affine);
      else if (isOp(producer, 'Add')) fold = planMatmulAdd(g, producer, affine, ctx.shapes());
      else if (isOp(producer, 'MatMul')) fold = planMatmul(g, producer, bn, affine, ctx.shapes());
      if (fold) plans.push({ bn, producer, fold });
    }
    const removed = new Set<Node>();
    for (const { bn, producer, fold } of plans) {
      if (fold.apply()) {
        // The linear op now produces BN's output directly (keeping a graph output's name).
        g.valueInfo.delete(producer.outputs[0]!);
        producer.outputs[0] = bn.outputs[0]!;
        removed.add(bn);
      }
      ctx.record(`folded BatchNormalization into ${fold.into}`);
    }
    if (plans.length) {
      g.nodes = g.nodes.filter((n) => !removed.has(n));
      g.invalidate();
    }
    return plans.length;
  },
};
