import { dtypeFromCode, type Dim, type DType } from '../../ir/index.js';
import type { InferContext } from '../context.js';
import { broadcastShapes, isFixed, windowOutput } from '../dims.js';
import { sameAsInput } from './elementwise.js';
import type { Rule } from './types.js';

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

function windowAttrs(c: InferContext, spatial: number, kernel: number[]): Window {
  return {
    kernel,
    strides: c.attrInts('strides') ?? new Array<number>(spatial).fill(1),
    dilations: c.attrInts('dilations') ?? new Array<number>(spatial).fill(1),
    pads: c.attrInts('pads') ?? new Array<number>(spatial * 2).fill(0),
    autoPad: c.attrString('auto_pad', 'NOTSET'),
  };
}

/** Spatial output dims of a convolution or pooling window over `x` (rank known). */
function spatialOutput(x: Dim[], w: Window, ceilMode = false): Dim[] {
  const spatial = x.length - 2;
  return x.slice(2).map((d, i) =>
    windowOutput(d, w.kernel[i]!, w.strides[i]!, w.dilations[i]!, w.pads[i]!, w.pads[i + spatial]!, w.autoPad, ceilMode),
  );
}

/** Conv-like op: data at input `x`, weights [M, C/group, k…] at input `w`. */
function convRule(x: number, w: number, dtypeOf: (c: InferContext) => DType | undefined): Rule {
  return (c) => {
    const xs = c.shape(x);
    const ws = c.shape(w);
    const rank = xs?.length ?? ws?.length;
    const dtype = dtypeOf(c);
    if (rank === undefined) return c.set(0, dtype);
    const kernel = c.attrInts('kernel_shape') ?? ws?.slice(2);
    if (!xs || !kernel || !allNumbers(kernel)) return c.set(0, dtype, [xs?.[0] ?? null, ws?.[0] ?? null, ...new Array<Dim>(rank - 2).fill(null)]);
    c.set(0, dtype, [xs[0]!, ws?.[0] ?? null, ...spatialOutput(xs, windowAttrs(c, rank - 2, kernel))]);
  };
}

const allNumbers = (dims: readonly Dim[]): dims is number[] => dims.every(isFixed);

function convTransposeRule(c: InferContext): void {
  const xs = c.shape(0);
  const ws = c.shape(1);
  const dtype = c.dtype(0);
  if (!xs) return c.set(0, dtype);
  const spatial = xs.length - 2;
  const group = c.attrInt('group', 1);
  const m = ws?.[1];
  const channels = isFixed(m) ? m * group : null;
  const kernel = c.attrInts('kernel_shape') ?? ws?.slice(2);
  const outputShape = c.attrInts('output_shape');
  if (outputShape) return c.set(0, dtype, [xs[0]!, channels, ...outputShape.slice(-spatial)]);
  if (!kernel || !allNumbers(kernel)) return c.set(0, dtype, [xs[0]!, channels, ...new Array<Dim>(spatial).fill(null)]);
  const w = windowAttrs(c, spatial, kernel);
  const outPad = c.attrInts('output_padding') ?? new Array<number>(spatial).fill(0);
  const out = xs.slice(2).map((d, i) => {
    if (!isFixed(d)) return null;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return d * w.strides[i]!;
    const pads = w.autoPad === 'VALID' ? 0 : w.pads[i]! + w.pads[i + spatial]!;
    return w.strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * w.dilations[i]! + 1 - pads;
  });
  c.set(0, dtype, [xs[0]!, channels, ...out]);
}

function poolRule(c: InferContext): void {
  const xs = c.shape(0);
  const dtype = c.dtype(0);
  const kernel = c.attrInts('kernel_shape');
  if (!xs || !kernel) {
    c.set(0, dtype, xs ? [xs[0]!, xs[1]!, ...new Array<Dim>(xs.length - 2).fill(null)] : undefined);
    return c.set(1, 'int64', xs ? [xs[0]!, xs[1]!, ...new Array<Dim>(xs.length - 2).fill(null)] : undefined);
  }
  const out = [xs[0]!, xs[1]!, ...spatialOutput(xs, windowAttrs(c, xs.length - 2, kernel), c.attrInt('ceil_mode', 0) === 1)];
  c.set(0, dtype, out);
  c.set(1, 'int64', out);
}

const globalPool: Rule = (c) => {
  const xs = c.shape(0);
  c.set(0, c.dtype(0), xs ? [xs[0]!, xs[1]!, ...new Array<Dim>(xs.length - 2).fill(1)] : undefined);
};

/** numpy.matmul shapes (1-D operands promoted, then the promoted axis dropped). */
function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || !a.length || !b.length) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

function matmulRule(a: number, b: number, dtypeOf: (c: InferContext) => DType | undefined): Rule {
  return (c) => c.set(0, dtypeOf(c), matmulShape(c.shape(a), c.shape(b)));
}

function recurrentRule(c: InferContext): void {
  const xs = c.shape(0);
  const dtype = c.dtype(0);
  const hidden = c.attrInt('hidden_size', 0) || null;
  const directions = c.attrString('direction', 'forward') === 'bidirectional' ? 2 : 1;
  const batchFirst = c.attrInt('layout', 0) === 1;
  const [seq, batch] = !xs ? [null, null] : batchFirst ? [xs[1]!, xs[0]!] : [xs[0]!, xs[1]!];
  c.set(0, dtype, batchFirst ? [batch, seq, directions, hidden] : [seq, directions, batch, hidden]);
  const state: Dim[] = batchFirst ? [batch, directions, hidden] : [directions, batch, hidden];
  c.set(1, dtype, state);
  c.set(2, dtype, state);
}

const sameShape = (dtype: (c: InferContext) => DType | undefined): Rule => (c) => c.set(0, dtype(c), c.shape(0));

export const nnRules: Record<string, Rule> = {
  Conv: convRule(0, 1, (c) => c.dtype(0)),
  ConvInteger: convRule(0, 1, () => 'int32'),
  QLinearConv: convRule(0, 3, (c) => c.dtype(7) ?? c.dtype(0)),
  ConvTranspose: convTransposeRule,
  MaxPool: poolRule,
  AveragePool: poolRule,
  LpPool: poolRule,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  MatMul: matmulRule(0, 1, (c) => c.dtype(0)),
  MatMulInteger: matmulRule(0, 1, () => 'int32'),
  QLinearMatMul: matmulRule(0, 3, (c) => c.dtype(7) ?? c.dtype(0)),
  Gemm: (c) => {
    const a = c.shape(0);
    const b = c.shape(1);
    const m = a?.length === 2 ? a[c.attrInt('transA', 0) ? 1 : 0]! : null;
    const n = b?.length === 2 ? b[c.attrInt('transB', 0) ? 0 : 1]! : null;
    c.set(0, c.dtype(0), [m, n]);
  },
  // Running statistics (training outputs) are left to onnxruntime: only Y is inferred.
  BatchNormalization: sameAsInput,
  LayerNormalization: (c) => {
    sameAsInput(c);
    const xs = c.shape(0);
    if (!xs || c.attrInt('stash_type', 1) !== 1) return;
    const axis = c.attrInt('axis', -1);
    const a = axis < 0 ? axis + xs.length : axis;
    const stats = xs.map((d, i) => (i < a ? d : 1));
    c.set(1, 'float32', stats);
    c.set(2, 'float32', stats);
  },
  Dropout: (c) => {
    sameAsInput(c);
    c.set(1, c.opset >= 10 ? 'bool' : c.dtype(0), c.shape(0));
  },
  LSTM: recurrentRule,
  GRU: recurrentRule,
  RNN: recurrentRule,
  QuantizeLinear: sameShape((c) => {
    if (c.has(2)) return c.dtype(2);
    const code = c.attrInt('output_dtype', 0);
    return code ? dtypeFromCode(code) : 'uint8';
  }),
  DequantizeLinear: sameShape((c) => (c.opset >= 19 ? c.dtype(1) : 'float32')),
  DynamicQuantizeLinear: (c) => {
    c.set(0, 'uint8', c.shape(0));
    c.set(1, 'float32', []);
    c.set(2, 'uint8', []);
  },
};
