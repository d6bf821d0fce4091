/**
 * TensorFlow operations expressed in ONNX, shared by the Graph-model and Layers-model converters.
 * Each takes and returns `Value`s (logical TF shapes plus physical layout) and keeps the layout of its
 * input where the ONNX op allows it, so channels-first values flow from one conv to the next.
 */
import { DTYPE_CODES, attr, type Attribute, type Dim, type DType } from '../../ir/index.js';
import { ConvertError, type Emitter, type Value } from './emitter.js';
import {
  channelsFirst,
  dropAxes,
  identity,
  isIdentity,
  numbers,
  reshapeTensor,
  tensorOf,
  transposeTensor,
  type Perm,
} from './tensors.js';

// ---- shapes ------------------------------------------------------------------------------------

export function rankOf(e: Emitter, v: Value, what = 'input'): number {
  if (!v.shape) throw new ConvertError(`${e.scope}: the rank of its ${what} is unknown`);
  return v.shape.length;
}

export function normAxis(e: Emitter, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ConvertError(`${e.scope}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Broadcast of two shapes with unknown/symbolic dimensions. */
export function broadcastShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b) return undefined;
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)]! : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)]! : 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (typeof x === 'number') out.push(x);
    else if (typeof y === 'number') out.push(y);
    else out.push(null);
  }
  return out;
}

const known = (dims: Dim[] | undefined): dims is number[] => !!dims && dims.every((d) => typeof d === 'number');

/** A constant input's values as numbers (axes, sizes, paddings); a runtime value is an error. */
export function constNumbers(e: Emitter, v: Value, what: string): number[] {
  if (!v.const) throw new ConvertError(`${e.scope}: ${what} must be a constant (it is computed at run time)`);
  return numbers(v.const);
}

// ---- element-wise ------------------------------------------------------------------------------

/** A one-input op that keeps shape and layout. */
export function unary(e: Emitter, opType: string, x: Value, attributes: Attribute[] = [], dtype = x.dtype, suffix?: string): Value {
  const name = e.op(opType, [e.as(x, x.perm)], attributes, suffix);
  return { name, dtype, shape: x.shape, perm: x.perm };
}

/** Element-wise op over broadcasting inputs, run in the layout of its highest-rank runtime input. */
export function elementwise(e: Emitter, opType: string, inputs: Value[], dtype = inputs[0]!.dtype, suffix?: string): Value {
  let shape: Dim[] | undefined = inputs[0]!.shape;
  for (const v of inputs.slice(1)) shape = broadcastShape(shape, v.shape);
  const rank = shape?.length;
  let perm: Perm;
  for (const v of inputs) if (!v.const && v.shape?.length === rank && !isIdentity(v.perm)) perm ??= v.perm;
  // A lower-rank runtime input would need an explicit reshape to follow a permuted layout.
  const isOnes = (v: Value) => !!v.shape && v.shape.every((d) => d === 1);
  if (perm && inputs.some((v) => !v.const && !isOnes(v) && (v.shape?.length ?? -1) < rank!)) perm = undefined;
  const names = inputs.map((v) => {
    if (!perm || isOnes(v)) return e.as(v, v.const ? undefined : perm);
    if (v.const && v.shape!.length < rank!) {
      const padded = reshapeTensor(v.const, [...new Array<number>(rank! - v.shape!.length).fill(1), ...v.const.dims]);
      return e.as(e.constant(padded, v.hint), perm);
    }
    return e.as(v, perm);
  });
  const name = e.op(opType, names, [], suffix);
  return { name, dtype, shape, perm };
}

export function clip(e: Emitter, x: Value, min: number, max: number, suffix?: string): Value {
  const name = e.op('Clip', [e.as(x, x.perm), e.scalar(x.dtype, min), e.scalar(x.dtype, max)], [], suffix);
  return { name, dtype: x.dtype, shape: x.shape, perm: x.perm };
}

/** A named activation (Keras names and TF op names), applied element-wise. */
export function activation(e: Emitter, kind: string, x: Value, params: { alpha?: number; preluAlpha?: Value } = {}): Value {
  const key = kind.replace(/_/g, '').toLowerCase();
  switch (key) {
    case 'linear':
    case 'identity':
      return x;
    case 'relu':
      return unary(e, 'Relu', x, [], x.dtype, 'relu');
    case 'relu6':
      return clip(e, x, 0, 6, 'relu6');
    case 'sigmoid':
      return unary(e, 'Sigmoid', x, [], x.dtype, 'sigmoid');
    case 'hardsigmoid':
      return unary(e, 'HardSigmoid', x, [attr.float('alpha', 0.2), attr.float('beta', 0.5)], x.dtype, 'hard_sigmoid');
    case 'tanh':
      return unary(e, 'Tanh', x, [], x.dtype, 'tanh');
    case 'elu':
      return unary(e, 'Elu', x, [attr.float('alpha', params.alpha ?? 1)], x.dtype, 'elu');
    case 'selu':
      return unary(e, 'Selu', x, [], x.dtype, 'selu');
    case 'softplus':
      return unary(e, 'Softplus', x, [], x.dtype, 'softplus');
    case 'softsign':
      return unary(e, 'Softsign', x, [], x.dtype, 'softsign');
    case 'exponential':
      return unary(e, 'Exp', x, [], x.dtype, 'exp');
    case 'leakyrelu':
      return unary(e, 'LeakyRelu', x, [attr.float('alpha', params.alpha ?? 0.2)], x.dtype, 'leaky_relu');
    case 'prelu':
      if (!params.preluAlpha) throw new ConvertError(`${e.scope}: PReLU needs its alpha`);
      return elementwise(e, 'PRelu', [x, params.preluAlpha], x.dtype, 'prelu');
    case 'swish':
    case 'silu':
      return elementwise(e, 'Mul', [x, unary(e, 'Sigmoid', x, [], x.dtype, 'swish/sigmoid')], x.dtype, 'swish');
    case 'hardswish':
      return e.opset >= 14 ? unary(e, 'HardSwish', x, [], x.dtype, 'hard_swish') : elementwise(e, 'Mul', [x, unary(e, 'HardSigmoid', x, [attr.float('alpha', 1 / 6), attr.float('beta', 0.5)])], x.dtype, 'hard_swish');
    case 'mish': {
      if (e.opset >= 18) return unary(e, 'Mish', x, [], x.dtype, 'mish');
      const t = unary(e, 'Tanh', unary(e, 'Softplus', x, [], x.dtype, 'mish/softplus'), [], x.dtype, 'mish/tanh');
      return elementwise(e, 'Mul', [x, t], x.dtype, 'mish');
    }
    case 'gelu': {
      if (e.opset >= 20) return unary(e, 'Gelu', x, [], x.dtype, 'gelu');
      const erf = unary(e, 'Erf', elementwise(e, 'Mul', [x, e.constant(scalarTensor(x.dtype, Math.SQRT1_2))], x.dtype, 'gelu/scale'), [], x.dtype, 'gelu/erf');
      const half = elementwise(e, 'Mul', [x, e.constant(scalarTensor(x.dtype, 0.5))], x.dtype, 'gelu/half');
      return elementwise(e, 'Mul', [half, elementwise(e, 'Add', [erf, e.constant(scalarTensor(x.dtype, 1))], x.dtype, 'gelu/one_plus')], x.dtype, 'gelu');
    }
    case 'gelunew': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as tfjs-layers' gelu_new
      const cube = elementwise(e, 'Mul', [x, elementwise(e, 'Mul', [x, x], x.dtype, 'gelu/sq')], x.dtype, 'gelu/cube');
      const inner = elementwise(e, 'Add', [x, elementwise(e, 'Mul', [cube, e.constant(scalarTensor(x.dtype, 0.044715))], x.dtype)], x.dtype);
      const t = unary(e, 'Tanh', elementwise(e, 'Mul', [inner, e.constant(scalarTensor(x.dtype, Math.sqrt(2 / Math.PI)))], x.dtype), [], x.dtype);
      const half = elementwise(e, 'Mul', [x, e.constant(scalarTensor(x.dtype, 0.5))], x.dtype);
      return elementwise(e, 'Mul', [half, elementwise(e, 'Add', [t, e.constant(scalarTensor(x.dtype, 1))], x.dtype)], x.dtype, 'gelu');
    }
    case 'softmax':
      return softmax(e, x, -1);
    case 'logsoftmax':
      return softmax(e, x, -1, 'LogSoftmax');
    default:
      throw new ConvertError(`${e.scope}: unsupported activation '${kind}'`);
  }
}

export function scalarTensor(dtype: DType, value: number) {
  return tensorOf(dtype, [], [value]);
}

export function softmax(e: Emitter, x: Value, axis: number, opType = 'Softmax'): Value {
  const rank = rankOf(e, x);
  const a = normAxis(e, axis, rank);
  const phys = x.perm ? x.perm.indexOf(a) : a;
  if (e.opset < 13 && phys !== rank - 1) throw new ConvertError(`${e.scope}: ${opType} over a non-last axis needs opset 13 or later`);
  return unary(e, opType, x, [attr.int('axis', phys)], x.dtype, opType.toLowerCase());
}

// ---- layout-only ops ---------------------------------------------------------------------------

/** TF Transpose: no ONNX node, the value is re-labelled (a Transpose appears only where a consumer needs it). */
export function transpose(e: Emitter, x: Value, perm: number[]): Value {
  const rank = rankOf(e, x);
  if (perm.length !== rank) throw new ConvertError(`${e.scope}: transpose permutation [${perm}] does not match rank ${rank}`);
  const shape = perm.map((i) => x.shape![i]!);
  if (x.const) return e.constant(transposeTensor(x.const, perm), e.scope);
  const p = x.perm ?? identity(rank);
  const out = p.map((axis) => perm.indexOf(axis));
  return { name: e.as(x, x.perm), dtype: x.dtype, shape, perm: isIdentity(out) ? undefined : out };
}

export function reshape(e: Emitter, x: Value, target: Value): Value {
  let shape: Dim[] | undefined;
  const attributes: Attribute[] = [];
  if (target.const) {
    const dims = numbers(target.const);
    if (dims.includes(0)) {
      // TF's 0 is an empty dimension; ONNX reads 0 as "copy the input's" unless allowzero is set.
      if (e.opset < 14) throw new ConvertError(`${e.scope}: reshape to an empty dimension needs opset 14 or later`);
      attributes.push(attr.int('allowzero', 1));
    }
    shape = dims.map((d) => (d === -1 ? inferredDim(x.shape, dims) : d));
    if (x.const && known(shape)) return e.constant(reshapeTensor(x.const, shape), e.scope);
  } else if (target.elements) {
    const dims = target.elements;
    shape = dims.map((d) => (d === -1 ? inferredDim(x.shape, dims) : d));
  } else if (target.shape && known(target.shape)) {
    shape = new Array<Dim>(target.shape[0]!).fill(null);
  }
  const name = e.op('Reshape', [e.as(x), int64(e, target)], attributes);
  return { name, dtype: x.dtype, shape };
}

/**
 * The size of a reshape's -1: the element count divided by the other target sizes, once symbolic
 * sizes present on both sides cancel; or the input's one symbolic size when the fixed sizes match.
 */
function inferredDim(input: Dim[] | undefined, target: Dim[]): Dim {
  if (!input || input.includes(null) || target.includes(null)) return null;
  const product = (ds: Dim[]) => ds.filter((d): d is number => typeof d === 'number' && d !== -1).reduce((a, b) => a * b, 1);
  const symbols = (ds: Dim[]) => ds.filter((d): d is string => typeof d === 'string').sort().join(',');
  const [inKnown, outKnown] = [product(input), product(target)];
  if (symbols(input) === symbols(target)) return outKnown > 0 && inKnown % outKnown === 0 ? inKnown / outKnown : null;
  const inSymbols = input.filter((d) => typeof d === 'string');
  if (!symbols(target) && inSymbols.length === 1 && inKnown === outKnown) return inSymbols[0]!;
  return null;
}

/** A value as int64 (ONNX wants int64 for shapes, axes, repeats…). */
export function int64(e: Emitter, v: Value): string {
  if (v.const) return e.constOf('int64', numbers(v.const), [...v.const.dims]);
  if (v.dtype === 'int64') return e.as(v);
  return e.op('Cast', [e.as(v)], [attr.int('to', 7)], 'to_int64');
}

export function cast(e: Emitter, x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  if (x.const) {
    const vals = numbers(x.const);
    return e.constant(tensorOf(dtype, [...x.const.dims], dtype === 'bool' ? vals.map((v) => (v ? 1 : 0)) : vals), e.scope);
  }
  return unary(e, 'Cast', x, [attr.int('to', DTYPE_CODES[dtype])], dtype, 'cast');
}

export function squeeze(e: Emitter, x: Value, axes: number[]): Value {
  const rank = rankOf(e, x);
  const ax = axes.map((a) => normAxis(e, a, rank));
  const shape = x.shape!.filter((_, i) => !ax.includes(i));
  if (x.const) return e.constant(reshapeTensor(x.const, shape as number[]), e.scope);
  if (!ax.length) return x;
  const phys = ax.map((a) => (x.perm ? x.perm.indexOf(a) : a)).sort((a, b) => a - b);
  const name = e.op('Squeeze', [e.as(x, x.perm), e.int64s(phys)], [], 'squeeze');
  return { name, dtype: x.dtype, shape, perm: dropAxes(x.perm, ax) };
}

export function expandDims(e: Emitter, x: Value, axis: number): Value {
  const rank = rankOf(e, x);
  const a = normAxis(e, axis, rank + 1);
  const shape = [...x.shape!.slice(0, a), 1, ...x.shape!.slice(a)];
  if (x.const) return e.constant(reshapeTensor(x.const, shape as number[]), e.scope);
  const name = e.op('Unsqueeze', [e.as(x), e.int64s([a])], [], 'expand_dims');
  return { name, dtype: x.dtype, shape };
}

// ---- reductions, concat, pad -------------------------------------------------------------------

const REDUCE_AXES_AS_INPUT: Record<string, number> = { ReduceSum: 13, ReduceMean: 18, ReduceMax: 18, ReduceMin: 18, ReduceProd: 18, ReduceL2: 18, ReduceLogSumExp: 18 };

export function reduce(e: Emitter, opType: string, x: Value, axes: number[], keepDims: boolean): Value {
  const rank = rankOf(e, x);
  const ax = [...new Set(axes.map((a) => normAxis(e, a, rank)))];
  if (!ax.length) return x;
  const phys = ax.map((a) => (x.perm ? x.perm.indexOf(a) : a)).sort((a, b) => a - b);
  const shape = keepDims ? x.shape!.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape!.filter((_, i) => !ax.includes(i));
  const inputs = [e.as(x, x.perm)];
  const attributes = [attr.int('keepdims', keepDims ? 1 : 0)];
  if (e.opset >= REDUCE_AXES_AS_INPUT[opType]!) inputs.push(e.int64s(phys));
  else attributes.push(attr.ints('axes', phys));
  const name = e.op(opType, inputs, attributes, opType.replace('Reduce', '').toLowerCase());
  return { name, dtype: x.dtype, shape, perm: keepDims ? x.perm : dropAxes(x.perm, ax) };
}

export function concat(e: Emitter, inputs: Value[], axis: number): Value {
  const rank = rankOf(e, inputs[0]!);
  const a = normAxis(e, axis, rank);
  let perm: Perm;
  const runtime = inputs.filter((v) => !v.const);
  if (runtime.length && runtime.every((v) => permKey(v.perm) === permKey(runtime[0]!.perm))) perm = runtime[0]!.perm;
  const shape = inputs[0]!.shape!.map((d, i) => {
    if (i !== a) return inputs.map((v) => v.shape?.[i]).find((x) => typeof x === 'number') ?? d;
    const sizes = inputs.map((v) => v.shape?.[i]);
    return sizes.every((s) => typeof s === 'number') ? (sizes as number[]).reduce((p, q) => p + q, 0) : null;
  });
  const names = inputs.map((v) => e.as(v, perm));
  const name = e.op('Concat', names, [attr.int('axis', perm ? perm.indexOf(a) : a)]);
  return { name, dtype: inputs[0]!.dtype, shape, perm };
}

const permKey = (p: Perm) => (p ? p.join(',') : '');

/** Pads given as [before, after] per logical axis. */
export function pad(e: Emitter, x: Value, pads: [number, number][], mode: 'constant' | 'reflect' | 'edge', value?: Value): Value {
  const rank = rankOf(e, x);
  if (pads.length !== rank) throw new ConvertError(`${e.scope}: paddings for ${pads.length} axes, input has rank ${rank}`);
  const order = x.perm ?? identity(rank);
  const onnxPads = [...order.map((a) => pads[a]![0]), ...order.map((a) => pads[a]![1])];
  const shape = x.shape!.map((d, i) => (typeof d === 'number' ? d + pads[i]![0] + pads[i]![1] : d));
  const inputs = [e.as(x, x.perm), e.int64s(onnxPads)];
  if (value) inputs.push(e.as(cast(e, value, x.dtype)));
  const name = e.op('Pad', inputs, [attr.string('mode', mode)], 'pad');
  return { name, dtype: x.dtype, shape, perm: x.perm };
}

// ---- convolution and pooling -------------------------------------------------------------------

export type Padding = 'SAME' | 'VALID' | { explicit: [number, number][] };

export interface ConvOptions {
  strides: number[];
  dilations: number[];
  padding: Padding;
  /** Depthwise kernel [..., C, multiplier] (TF DepthwiseConv2dNative). */
  depthwise?: boolean;
  groups?: number;
}

/** ONNX pads (begins then ends) for TF padding of the spatial dims, or undefined for SAME with unknown sizes. */
function spatialPads(spatial: Dim[], kernel: number[], strides: number[], dilations: number[], padding: Padding): number[] | undefined {
  const n = kernel.length;
  if (padding === 'VALID') return new Array<number>(2 * n).fill(0);
  if (padding !== 'SAME') return [...padding.explicit.map((p) => p[0]), ...padding.explicit.map((p) => p[1])];
  if (!spatial.every((d) => typeof d === 'number')) return undefined;
  const begins: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < n; i++) {
    const size = spatial[i] as number;
    const out = Math.ceil(size / strides[i]!);
    const total = Math.max((out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - size, 0);
    begins.push(Math.floor(total / 2));
    ends.push(total - Math.floor(total / 2));
  }
  return [...begins, ...ends];
}

function outputSize(size: Dim, kernel: number, stride: number, dilation: number, begin: number, end: number): Dim {
  if (typeof size !== 'number') return null;
  return Math.floor((size + begin + end - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

function padAttrs(pads: number[] | undefined): Attribute[] {
  return pads ? [attr.ints('pads', pads)] : [attr.string('auto_pad', 'SAME_UPPER')];
}

/** Spatial output dims for pads (SAME with unknown input sizes: ceil(size / stride)). */
function spatialOut(spatial: Dim[], kernel: number[], strides: number[], dilations: number[], pads: number[] | undefined, padding: Padding): Dim[] {
  const n = kernel.length;
  return spatial.map((d, i) => {
    if (!pads) return typeof d === 'number' ? Math.ceil(d / strides[i]!) : padding === 'SAME' && strides[i] === 1 ? d : null;
    return outputSize(d, kernel[i]!, strides[i]!, dilations[i]!, pads[i]!, pads[i + n]!);
  });
}

/** Convolution of a channels-last input with a TF kernel ([...spatial, in, out], or [...spatial, C, M] depthwise). */
export function conv(e: Emitter, x: Value, kernel: Value, bias: Value | undefined, o: ConvOptions): Value {
  const kRank = rankOf(e, kernel, 'filter');
  const n = kRank - 2;
  const rank = n + 2;
  if (rankOf(e, x) !== rank) throw new ConvertError(`${e.scope}: input of rank ${x.shape!.length} for a ${n}-D convolution`);
  const kdims = kernel.shape! as number[];
  const ksize = kdims.slice(0, n);
  const inC = x.shape![rank - 1];
  let group = o.groups ?? 1;
  let outC: number;
  // ONNX weight [out, in / group, ...spatial]
  const toOnnx = [n + 1, n, ...identity(n)];
  let w: string;
  if (o.depthwise) {
    const [c, m] = [kdims[n]!, kdims[n + 1]!];
    group = c;
    outC = c * m;
    const flat = [...ksize, 1, c * m];
    w = kernel.const ? e.initializer(transposeTensor(reshapeTensor(kernel.const, flat), toOnnx), `${kernel.hint ?? e.scope}/weights`) : e.op('Transpose', [e.op('Reshape', [e.as(kernel), e.int64s(flat)])], [attr.ints('perm', toOnnx)]);
  } else {
    outC = kdims[n + 1]!;
    if (typeof inC === 'number' && kdims[n]! !== inC) group = inC / kdims[n]!;
    w = kernel.const ? e.initializer(transposeTensor(kernel.const, toOnnx), `${kernel.hint ?? e.scope}/weights`) : e.op('Transpose', [e.as(kernel)], [attr.ints('perm', toOnnx)]);
  }
  const spatial = x.shape!.slice(1, rank - 1);
  const pads = spatialPads(spatial, ksize, o.strides, o.dilations, o.padding);
  const inputs = [e.as(x, channelsFirst(rank)), w];
  let biasLater: Value | undefined;
  if (bias?.const && bias.const.dims.length === 1) inputs.push(e.materialize(bias));
  else biasLater = bias;
  const attributes = [attr.ints('kernel_shape', ksize), attr.ints('strides', o.strides), attr.ints('dilations', o.dilations), attr.int('group', group), ...padAttrs(pads)];
  const name = e.op('Conv', inputs, attributes);
  const out: Value = { name, dtype: x.dtype, shape: [x.shape![0]!, ...spatialOut(spatial, ksize, o.strides, o.dilations, pads, o.padding), outC], perm: channelsFirst(rank) };
  return biasLater ? elementwise(e, 'Add', [out, biasLater], x.dtype, 'bias_add') : out;
}

/**
 * Transposed convolution (TF Conv2DBackpropInput / Keras Conv2DTranspose). `kernel` is TF's
 * [...spatial, out, in]; `outSpatial` the requested output size.
 */
export function convTranspose(e: Emitter, x: Value, kernel: Value, bias: Value | undefined, o: ConvOptions, outSpatial: Dim[]): Value {
  const n = rankOf(e, kernel, 'filter') - 2;
  const rank = n + 2;
  const kdims = kernel.shape! as number[];
  const ksize = kdims.slice(0, n);
  const outC = kdims[n]!;
  const toOnnx = [n + 1, n, ...identity(n)]; // ONNX ConvTranspose weight: [in, out, ...spatial]
  const w = kernel.const ? e.initializer(transposeTensor(kernel.const, toOnnx), `${kernel.hint ?? e.scope}/weights`) : e.op('Transpose', [e.as(kernel)], [attr.ints('perm', toOnnx)]);
  const spatial = x.shape!.slice(1, rank - 1);
  const attributes = [attr.ints('kernel_shape', ksize), attr.ints('strides', o.strides), attr.ints('dilations', o.dilations)];
  if (!known(spatial) || !known(outSpatial)) throw new ConvertError(`${e.scope}: transposed convolution needs fixed spatial sizes`);
  const pads: number[] = [];
  const outputPadding: number[] = [];
  for (let i = 0; i < n; i++) {
    const full = o.strides[i]! * (spatial[i]! - 1) + (ksize[i]! - 1) * o.dilations[i]! + 1;
    let total = full - outSpatial[i]!;
    let extra = 0;
    if (total < 0) {
      extra = -total;
      total = 0;
    }
    const begin = o.padding === 'VALID' ? 0 : Math.floor(total / 2);
    pads[i] = begin;
    pads[i + n] = total - begin;
    outputPadding[i] = extra;
  }
  attributes.push(attr.ints('pads', pads));
  if (outputPadding.some((p) => p)) attributes.push(attr.ints('output_padding', outputPadding));
  const inputs = [e.as(x, channelsFirst(rank)), w];
  if (bias?.const && bias.const.dims.length === 1) inputs.push(e.materialize(bias));
  const name = e.op('ConvTranspose', inputs, attributes);
  const out: Value = { name, dtype: x.dtype, shape: [x.shape![0]!, ...outSpatial, outC], perm: channelsFirst(rank) };
  return bias && !(bias.const && bias.const.dims.length === 1) ? elementwise(e, 'Add', [out, bias], x.dtype, 'bias_add') : out;
}

export function pool(e: Emitter, kind: 'max' | 'avg', x: Value, ksize: number[], strides: number[], padding: Padding): Value {
  const rank = rankOf(e, x);
  const n = rank - 2;
  const ones = new Array<number>(n).fill(1);
  const spatial = x.shape!.slice(1, rank - 1);
  const pads = spatialPads(spatial, ksize, strides, ones, padding);
  const attributes = [attr.ints('kernel_shape', ksize), attr.ints('strides', strides), ...padAttrs(pads)];
  const name = e.op(kind === 'max' ? 'MaxPool' : 'AveragePool', [e.as(x, channelsFirst(rank))], attributes);
  return { name, dtype: x.dtype, shape: [x.shape![0]!, ...spatialOut(spatial, ksize, strides, ones, pads, padding), x.shape![rank - 1]!], perm: channelsFirst(rank) };
}

/** Resize of the spatial dims of a channels-last 4-D value. */
export function resize(e: Emitter, x: Value, size: number[], mode: 'linear' | 'nearest', alignCorners: boolean, halfPixel: boolean): Value {
  const rank = rankOf(e, x);
  const cf = channelsFirst(rank);
  const src = e.as(x, cf);
  let sizes: string;
  const [batch, ...rest] = x.shape!;
  const channels = rest[rest.length - 1];
  if (typeof batch === 'number' && typeof channels === 'number') sizes = e.int64s([batch, channels, ...size]);
  else {
    const nc = e.op('Slice', [e.op('Shape', [src], [], 'shape'), e.int64s([0]), e.int64s([2])], [], 'batch_channels');
    sizes = e.op('Concat', [nc, e.int64s(size)], [attr.int('axis', 0)], 'sizes');
  }
  const attributes = [attr.string('mode', mode)];
  if (mode === 'linear') {
    attributes.push(attr.string('coordinate_transformation_mode', alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric'));
  } else {
    attributes.push(attr.string('coordinate_transformation_mode', alignCorners ? 'align_corners' : halfPixel ? 'tf_half_pixel_for_nn' : 'asymmetric'));
    attributes.push(attr.string('nearest_mode', alignCorners ? 'round_prefer_ceil' : 'floor'));
  }
  const name = e.op('Resize', [src, '', '', sizes], attributes);
  return { name, dtype: x.dtype, shape: [batch!, ...size, channels!], perm: cf };
}

/** Per-channel affine y = x·scale + offset along logical `axis` (inference batch normalization). */
export function batchNorm(e: Emitter, x: Value, axis: number, scale: Float32Array, offset: Float32Array, hint: string): Value {
  const rank = rankOf(e, x);
  const a = normAxis(e, axis, rank);
  const c = scale.length;
  const phys = x.perm ? x.perm.indexOf(a) : a;
  if (phys === 1 && rank >= 2) {
    const zeros = new Float32Array(c);
    const ones = new Float32Array(c).fill(1);
    const t = (data: Float32Array, suffix: string) => e.initializer(tensorOf('float32', [c], data), `${hint}/${suffix}`);
    const name = e.op('BatchNormalization', [e.as(x, x.perm), t(scale, 'scale'), t(offset, 'offset'), t(zeros, 'mean'), t(ones, 'variance')], [attr.float('epsilon', 0)]);
    return { name, dtype: x.dtype, shape: x.shape, perm: x.perm };
  }
  const dims = x.shape!.map((_, i) => (i === a ? c : 1));
  const mul = elementwise(e, 'Mul', [x, e.constant(tensorOf('float32', dims, scale), `${hint}/scale`)], x.dtype, 'scale');
  return elementwise(e, 'Add', [mul, e.constant(tensorOf('float32', dims, offset), `${hint}/offset`)], x.dtype, 'offset');
}

// ---- matrix multiply ---------------------------------------------------------------------------

/** a·b (with optional transposes of the last two axes), plus bias; Gemm for 2-D with constant weights. */
export function matmul(e: Emitter, a: Value, b: Value, o: { transA?: boolean; transB?: boolean; bias?: Value } = {}): Value {
  const ra = rankOf(e, a);
  const rb = rankOf(e, b);
  if (ra === 2 && rb === 2 && a.dtype === 'float32' && (!o.bias || (o.bias.const && o.bias.shape!.length <= 1))) {
    const inputs = [e.as(a), e.as(b)];
    if (o.bias) inputs.push(e.as(o.bias));
    const attributes = [];
    if (o.transA) attributes.push(attr.int('transA', 1));
    if (o.transB) attributes.push(attr.int('transB', 1));
    const m = a.shape![o.transA ? 1 : 0]!;
    const n = b.shape![o.transB ? 0 : 1]!;
    return { name: e.op('Gemm', inputs, attributes), dtype: a.dtype, shape: [m, n] };
  }
  const swap = (v: Value, r: number) => transpose(e, v, [...identity(r - 2), r - 1, r - 2]);
  const x = o.transA ? swap(a, ra) : a;
  const y = o.transB ? swap(b, rb) : b;
  const batch = broadcastShape(x.shape!.slice(0, -2), y.shape!.slice(0, -2)) ?? [];
  const shape = [...batch, x.shape![ra - 2]!, y.shape![rb - 1]!];
  const out: Value = { name: e.op('MatMul', [e.as(x), e.as(y)]), dtype: a.dtype, shape };
  return o.bias ? elementwise(e, 'Add', [out, o.bias], a.dtype, 'bias_add') : out;
}

