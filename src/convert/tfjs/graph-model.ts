/**
 * TF.js Graph models (a GraphDef in JSON with a signature) to ONNX: one handler per TF op type.
 * Values computed from constants only (shape arithmetic: Shape → StridedSlice → Pack) are folded at
 * conversion time, so the ONNX graph carries constants where TF computed them.
 */
import { attr, elementCount, type Dim, type DType, type Tensor } from '../../ir/index.js';
import { ConvertError, type Emitter, type Value } from './emitter.js';
import type { LoadedTfjsModel } from './artifacts.js';
import {
  activation,
  batchNorm as batchNormAffine,
  cast,
  clip,
  concat,
  constNumbers,
  conv,
  convTranspose,
  elementwise,
  expandDims,
  int64,
  matmul,
  normAxis,
  pad,
  pool,
  rankOf,
  reduce,
  reshape,
  resize,
  scalarTensor,
  softmax,
  squeeze,
  transpose,
  unary,
  type Padding,
} from './ops.js';
import { broadcastBinary, identity, isIdentity, numbers, permute, reshapeTensor, tensorOf } from './tensors.js';
import { onnxBounds, resolveStridedSlice, sliceRange, slicedShape, type AxisSlice } from './slice.js';

interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfShape;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; type?: string[]; b?: boolean[] };
  tensor?: TfTensor;
}

interface TfShape {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}

interface TfTensor {
  dtype?: string;
  tensorShape?: TfShape;
  floatVal?: number[];
  intVal?: number[];
  int64Val?: (string | number)[];
  boolVal?: boolean[];
  tensorContent?: string;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

interface SignatureEntry {
  name?: string;
  dtype?: string;
  tensorShape?: TfShape;
}

interface Signature {
  inputs?: Record<string, SignatureEntry>;
  outputs?: Record<string, SignatureEntry>;
}

/** TF dtypes as TF.js computes them: every integer type is int32, every float type float32. */
const TF_DTYPES: Record<string, DType> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_BFLOAT16: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_UINT16: 'int32',
  DT_BOOL: 'bool',
};

function tfDtype(type: string | undefined, where: string): DType {
  const d = type && TF_DTYPES[type];
  if (!d) throw new ConvertError(`${where}: unsupported TF dtype ${type ?? '(none)'}`);
  return d;
}

const decodeString = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

function shapeOf(shape: TfShape | undefined): Dim[] | undefined {
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => {
    const n = Number(d.size ?? -1);
    return n < 0 ? null : n;
  });
}

class NodeContext {
  constructor(
    readonly e: Emitter,
    readonly node: TfNode,
    readonly inputs: Value[],
  ) {}

  get name(): string {
    return this.node.name;
  }

  input(i: number): Value {
    const v = this.inputs[i];
    if (!v) throw new ConvertError(`${this.name} (${this.node.op}): missing input ${i}`);
    return v;
  }

  has(name: string): boolean {
    return this.node.attr?.[name] !== undefined;
  }

  int(name: string, fallback?: number): number {
    const a = this.node.attr?.[name];
    if (a?.i !== undefined) return Number(a.i);
    if (fallback === undefined) throw new ConvertError(`${this.name} (${this.node.op}): missing attribute '${name}'`);
    return fallback;
  }

  float(name: string, fallback: number): number {
    return this.node.attr?.[name]?.f ?? fallback;
  }

  bool(name: string, fallback = false): boolean {
    return this.node.attr?.[name]?.b ?? fallback;
  }

  str(name: string, fallback = ''): string {
    return decodeString(this.node.attr?.[name]?.s) ?? fallback;
  }

  ints(name: string, fallback: number[] = []): number[] {
    return this.node.attr?.[name]?.list?.i?.map(Number) ?? fallback;
  }

  strs(name: string): string[] {
    return (this.node.attr?.[name]?.list?.s ?? []).map((s) => decodeString(s)!);
  }

  type(name: string): DType {
    return tfDtype(this.node.attr?.[name]?.type, `${this.name} (${this.node.op}) attribute '${name}'`);
  }

  /** A constant input's values. */
  consts(i: number, what: string): number[] {
    return constNumbers(this.e, this.input(i), what);
  }

  fail(message: string): never {
    throw new ConvertError(`${this.name} (${this.node.op}): ${message}`);
  }
}

type Handler = (c: NodeContext) => Value | Value[];

// ---- handlers ----------------------------------------------------------------------------------

const allConst = (vs: Value[]) => vs.every((v) => v.const);

/** Element-wise binary ops: ONNX op, and the float64 function used to fold constants. */
const BINARY: Record<string, [string, (a: number, b: number) => number, boolean?]> = {
  Add: ['Add', (a, b) => a + b],
  AddV2: ['Add', (a, b) => a + b],
  BiasAdd: ['Add', (a, b) => a + b],
  Sub: ['Sub', (a, b) => a - b],
  Mul: ['Mul', (a, b) => a * b],
  RealDiv: ['Div', (a, b) => a / b],
  Div: ['Div', (a, b) => a / b],
  Maximum: ['Max', Math.max],
  Minimum: ['Min', Math.min],
  Pow: ['Pow', Math.pow],
  Equal: ['Equal', (a, b) => +(a === b), true],
  Greater: ['Greater', (a, b) => +(a > b), true],
  GreaterEqual: ['GreaterOrEqual', (a, b) => +(a >= b), true],
  Less: ['Less', (a, b) => +(a < b), true],
  LessEqual: ['LessOrEqual', (a, b) => +(a <= b), true],
  LogicalAnd: ['And', (a, b) => +(a && b), true],
  LogicalOr: ['Or', (a, b) => +(a || b), true],
};

/** One-input element-wise ops. */
const UNARY: Record<string, string> = {
  Neg: 'Neg',
  Abs: 'Abs',
  Exp: 'Exp',
  Log: 'Log',
  Sqrt: 'Sqrt',
  Reciprocal: 'Reciprocal',
  Floor: 'Floor',
  Ceil: 'Ceil',
  Round: 'Round',
  Sign: 'Sign',
  Sin: 'Sin',
  Cos: 'Cos',
  Tan: 'Tan',
  Asin: 'Asin',
  Acos: 'Acos',
  Atan: 'Atan',
  Sinh: 'Sinh',
  Cosh: 'Cosh',
  Asinh: 'Asinh',
  Acosh: 'Acosh',
  Atanh: 'Atanh',
  Erf: 'Erf',
  LogicalNot: 'Not',
  IsNan: 'IsNaN',
  Relu: 'Relu',
  Sigmoid: 'Sigmoid',
  Tanh: 'Tanh',
  Softplus: 'Softplus',
  Softsign: 'Softsign',
  Selu: 'Selu',
};

const UNARY_FOLD: Record<string, (x: number) => number> = {
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Sqrt: Math.sqrt,
  Exp: Math.exp,
  Reciprocal: (x) => 1 / x,
};

function binary(c: NodeContext): Value {
  const [opType, f, isComparison] = BINARY[c.node.op]!;
  const [a, b] = [c.input(0), c.input(1)];
  const dtype: DType = isComparison ? 'bool' : a.dtype;
  if (a.const && b.const) return c.e.constant(broadcastBinary(a.const, b.const, dtype, dtype === 'int32' && c.node.op.endsWith('Div') ? (x, y) => Math.trunc(f(x, y)) : f), c.name);
  if (c.node.op === 'BiasAdd' && c.str('data_format', 'NHWC') === 'NCHW') c.fail('BiasAdd with data_format NCHW is not supported');
  return elementwise(c.e, opType, [a, b], dtype);
}

function unaryOp(c: NodeContext): Value {
  const x = c.input(0);
  const fold = UNARY_FOLD[c.node.op];
  if (x.const && fold) return c.e.constant(tensorOf(x.dtype, [...x.const.dims], numbers(x.const).map(fold)), c.name);
  return unary(c.e, UNARY[c.node.op]!, x, [], c.node.op === 'LogicalNot' || c.node.op === 'IsNan' ? 'bool' : x.dtype);
}

/** TF data_format must be channels-last: the converter's layout logic assumes NHWC semantics. */
function requireNhwc(c: NodeContext): void {
  const f = c.str('data_format', 'NHWC');
  if (f !== 'NHWC' && f !== 'NDHWC' && f !== 'NWC') c.fail(`data_format ${f} is not supported (only channels-last)`);
}

function padding(c: NodeContext, rank: number): Padding {
  const p = c.str('padding', 'VALID');
  if (p === 'SAME' || p === 'VALID') return p;
  if (p === 'EXPLICIT') {
    const ex = c.ints('explicit_paddings');
    const pairs: [number, number][] = [];
    for (let i = 1; i < rank - 1; i++) pairs.push([ex[2 * i]!, ex[2 * i + 1]!]);
    return { explicit: pairs };
  }
  return c.fail(`unsupported padding '${p}'`);
}

const spatialOf = (v: number[], rank: number) => v.slice(1, rank - 1);

/** The activation a fused TF op applies after its bias (Relu, Relu6, Elu, LeakyRelu, Prelu, Sigmoid, Tanh). */
function fusedActivation(c: NodeContext, x: Value, op: string | undefined, extra: Value | undefined): Value {
  if (!op) return x;
  const kind = op === 'LeakyRelu' ? 'leakyrelu' : op.toLowerCase();
  return activation(c.e, kind, x, { alpha: c.float('leakyrelu_alpha', 0.2), preluAlpha: extra });
}

function convolution(c: NodeContext, depthwise: boolean): Value {
  requireNhwc(c);
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  const strides = spatialOf(c.ints('strides', new Array<number>(rank).fill(1)), rank);
  const dilations = spatialOf(c.ints('dilations', new Array<number>(rank).fill(1)), rank);
  const fused = c.strs('fused_ops');
  let bias: Value | undefined;
  let act: string | undefined;
  let extra: Value | undefined;
  if (fused.length) {
    const [first, second] = fused;
    if (first === 'BiasAdd') {
      bias = c.input(2);
      extra = c.inputs[3];
      act = second;
    } else if (first === 'FusedBatchNorm') {
      return c.fail('FusedBatchNorm fused into a convolution is not supported');
    } else {
      act = first;
      extra = c.inputs[2];
    }
  }
  const y = conv(c.e, x, c.input(1), bias, { strides, dilations, padding: padding(c, rank), depthwise });
  return fusedActivation(c, y, act, extra);
}

function fusedMatMul(c: NodeContext): Value {
  const [first, second] = c.strs('fused_ops');
  const transA = c.bool('transpose_a');
  const transB = c.bool('transpose_b');
  if (first !== 'BiasAdd') {
    const y = matmul(c.e, c.input(0), c.input(1), { transA, transB });
    return fusedActivation(c, y, first, c.inputs[2]);
  }
  const y = matmul(c.e, c.input(0), c.input(1), { transA, transB, bias: c.input(2) });
  return fusedActivation(c, y, second, c.inputs[3]);
}

function poolOp(kind: 'max' | 'avg'): Handler {
  return (c) => {
    requireNhwc(c);
    const x = c.input(0);
    const rank = rankOf(c.e, x);
    return pool(c.e, kind, x, spatialOf(c.ints('ksize'), rank), spatialOf(c.ints('strides'), rank), padding(c, rank));
  };
}

function reduction(opType: string, fold?: (a: number, b: number) => number): Handler {
  return (c) => {
    const x = c.input(0);
    const rank = rankOf(c.e, x);
    const axes = c.consts(1, 'reduction axes').map((a) => normAxis(c.e, a, rank));
    const keep = c.bool('keep_dims');
    if (x.const && fold) return c.e.constant(foldReduce(x.const, axes, keep, fold), c.name);
    return reduce(c.e, opType, x, axes, keep);
  };
}

function foldReduce(t: Tensor, axes: number[], keep: boolean, f: (a: number, b: number) => number): Tensor {
  const dims = t.dims;
  const outDims = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const vals = numbers(t);
  const out = new Array<number>(elementCount(outDims)).fill(NaN);
  const strides = outDims.map((_, i) => outDims.slice(i + 1).reduce((a, b) => a * b, 1));
  vals.forEach((v, flat) => {
    let rest = flat;
    let o = 0;
    for (let i = dims.length - 1; i >= 0; i--) {
      const idx = rest % dims[i]!;
      rest = Math.floor(rest / dims[i]!);
      if (!axes.includes(i)) o += idx * strides[i]!;
    }
    out[o] = Number.isNaN(out[o]!) ? v : f(out[o]!, v);
  });
  return tensorOf(t.dtype, keep ? outDims : dims.filter((_, i) => !axes.includes(i)), out);
}

function stridedSlice(c: NodeContext): Value {
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  const begin = c.consts(1, 'begin');
  const end = c.consts(2, 'end');
  const strides = c.consts(3, 'strides');
  let r;
  try {
    r = resolveStridedSlice(rank, begin, end, strides, {
      begin: c.int('begin_mask', 0),
      end: c.int('end_mask', 0),
      ellipsis: c.int('ellipsis_mask', 0),
      newAxis: c.int('new_axis_mask', 0),
      shrinkAxis: c.int('shrink_axis_mask', 0),
    });
  } catch (err) {
    return c.fail((err as Error).message);
  }
  const shape = slicedShape(x.shape!, r);
  if (x.const) return c.e.constant(reshapeTensor(sliceConst(x.const, r.axes.map((a) => ({ axis: a.axis, ...sliceRange(a, x.const!.dims[a.axis]!), step: a.stride }))), shape as number[]), c.name);
  const sliced = x.shape!.map((d, axis) => {
    const a = r.axes.find((s) => s.axis === axis);
    if (!a) return d;
    return typeof d === 'number' ? sliceRange(a, d).count : null;
  });
  const elements = rank === 1 && x.elements && !r.newAxes.length ? sliceElements(x.elements, r.axes[0]) : undefined;
  return { ...sliceValue(c.e, x, r.axes.map((a) => ({ axis: a.axis, ...onnxBounds(a), step: a.stride })), sliced, r.shrunk, r.newAxes, shape), elements };
}

function sliceElements(elements: Dim[], a: AxisSlice | undefined): Dim[] {
  if (!a) return elements;
  const { start, count } = sliceRange(a, elements.length);
  return Array.from({ length: count }, (_, i) => elements[start + i * a.stride]!);
}

/** ONNX Slice over logical axes (in the value's layout) giving `sliced`, then squeeze/unsqueeze to `shape`. */
function sliceValue(e: Emitter, x: Value, axes: { axis: number; start: number; end: number; step: number }[], sliced: Dim[], shrunk: number[], newAxes: number[], shape: Dim[]): Value {
  let v = x;
  if (axes.length) {
    const phys = axes.map((a) => (x.perm ? x.perm.indexOf(a.axis) : a.axis));
    const name = e.op('Slice', [e.as(x, x.perm), e.int64s(axes.map((a) => a.start)), e.int64s(axes.map((a) => a.end)), e.int64s(phys), e.int64s(axes.map((a) => a.step))]);
    v = { name, dtype: x.dtype, shape: sliced, perm: x.perm };
  }
  if (shrunk.length) v = squeeze(e, v, shrunk);
  if (newAxes.length) {
    const name = e.op('Unsqueeze', [e.as(v), e.int64s(newAxes)], [], 'new_axis');
    v = { name, dtype: x.dtype, shape };
  }
  return { ...v, shape };
}

/** Slices a constant: per axis a start, element count and step. */
function sliceConst(t: Tensor, axes: { axis: number; start: number; count: number; step: number }[]): Tensor {
  const dims = t.dims;
  const outDims = dims.map((d, i) => axes.find((a) => a.axis === i)?.count ?? d);
  const vals = numbers(t);
  const out: number[] = [];
  const n = elementCount(outDims);
  const inStrides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < n; o++) {
    let rest = o;
    let src = 0;
    for (let i = dims.length - 1; i >= 0; i--) {
      const idx = rest % outDims[i]!;
      rest = Math.floor(rest / outDims[i]!);
      const a = axes.find((s) => s.axis === i);
      src += (a ? a.start + idx * a.step : idx) * inStrides[i]!;
    }
    out.push(vals[src]!);
  }
  return tensorOf(t.dtype, outDims, out);
}

function slice(c: NodeContext): Value {
  const x = c.input(0);
  const begin = c.consts(1, 'begin');
  const size = c.consts(2, 'size');
  const axes = begin.map((b, axis) => ({ axis, start: b, end: size[axis] === -1 ? 2147483647 : b + size[axis]!, step: 1 }));
  const shape = x.shape!.map((d, i) => (size[i] === -1 ? (typeof d === 'number' ? d - begin[i]! : null) : size[i]!));
  if (x.const) return c.e.constant(sliceConst(x.const, axes.map((a, i) => ({ axis: a.axis, start: a.start, count: shape[i] as number, step: 1 }))), c.name);
  return sliceValue(c.e, x, axes, shape, [], [], shape);
}

function pack(c: NodeContext): Value {
  const rank = rankOf(c.e, c.input(0));
  const axis = normAxis(c.e, c.int('axis', 0), rank + 1);
  if (allConst(c.inputs)) {
    const t = c.inputs.map((v) => v.const!);
    const stacked = concatConst(t.map((x) => reshapeTensor(x, [...x.dims.slice(0, axis), 1, ...x.dims.slice(axis)])), axis);
    return c.e.constant(stacked, c.name);
  }
  const parts = c.inputs.map(elementsOf);
  const elements = rank === 0 && parts.every((p) => p?.length === 1) ? parts.map((p) => p![0]!) : undefined;
  return { ...concat(c.e, c.inputs.map((v) => expandDims(c.e, v, axis)), axis), elements };
}

function concatConst(ts: Tensor[], axis: number): Tensor {
  const dims = [...ts[0]!.dims];
  dims[axis] = ts.reduce((n, t) => n + t.dims[axis]!, 0);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  const parts = ts.map((t) => ({ vals: numbers(t), chunk: t.dims.slice(axis).reduce((a, b) => a * b, 1) }));
  for (let o = 0; o < outer; o++) for (const p of parts) out.push(...p.vals.slice(o * p.chunk, (o + 1) * p.chunk));
  return tensorOf(ts[0]!.dtype, dims, out);
}

function concatV2(c: NodeContext): Value {
  const values = c.inputs.slice(0, -1);
  const axisValue = c.consts(c.inputs.length - 1, 'concat axis')[0]!;
  const axis = normAxis(c.e, axisValue, rankOf(c.e, values[0]!));
  if (allConst(values)) return c.e.constant(concatConst(values.map((v) => v.const!), axis), c.name);
  const parts = values.map(elementsOf);
  const elements = values[0]!.shape!.length === 1 && parts.every((p) => p) ? parts.flatMap((p) => p!) : undefined;
  return { ...concat(c.e, values, axis), elements };
}

function unpack(c: NodeContext): Value[] {
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  const axis = normAxis(c.e, c.int('axis', 0), rank);
  const num = c.int('num', (x.shape![axis] as number) ?? 0);
  return splitInto(c, x, axis, new Array<number>(num).fill(1)).map((v) => squeeze(c.e, v, [axis]));
}

function splitInto(c: NodeContext, x: Value, axis: number, sizes: number[]): Value[] {
  const e = c.e;
  if (x.const) {
    let at = 0;
    return sizes.map((s) => {
      const t = sliceConst(x.const!, [{ axis, start: at, count: s, step: 1 }]);
      at += s;
      return e.constant(t, c.name);
    });
  }
  const phys = x.perm ? x.perm.indexOf(axis) : axis;
  const outs = e.node('Split', [e.as(x, x.perm), e.int64s(sizes)], [attr.int('axis', phys)], sizes.length);
  return outs.map((name, k) => ({ name, dtype: x.dtype, shape: x.shape!.map((d, i) => (i === axis ? sizes[k]! : d)), perm: x.perm }));
}

function split(c: NodeContext): Value[] {
  const x = c.input(1);
  const axis = normAxis(c.e, c.consts(0, 'split axis')[0]!, rankOf(c.e, x));
  const n = c.int('num_split');
  const size = x.shape![axis];
  if (typeof size !== 'number') return c.fail('split along an axis of unknown size');
  return splitInto(c, x, axis, new Array<number>(n).fill(size / n));
}

function splitV(c: NodeContext): Value[] {
  const x = c.input(0);
  const axis = normAxis(c.e, c.consts(2, 'split axis')[0]!, rankOf(c.e, x));
  const sizes = c.consts(1, 'split sizes');
  const size = x.shape![axis];
  const unknown = sizes.indexOf(-1);
  if (unknown >= 0) {
    if (typeof size !== 'number') return c.fail('split with an inferred size along an axis of unknown size');
    sizes[unknown] = size - sizes.reduce((a, b) => (b === -1 ? a : a + b), 0);
  }
  return splitInto(c, x, axis, sizes);
}

function shapeOp(c: NodeContext): Value {
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  const dtype = c.has('out_type') ? c.type('out_type') : 'int32';
  if (x.shape!.every((d) => typeof d === 'number')) return c.e.constant(tensorOf(dtype, [rank], x.shape as number[]), c.name);
  let name = c.e.op('Shape', [c.e.as(x, x.perm)]);
  if (!isIdentity(x.perm)) name = c.e.op('Gather', [name, c.e.int64s(identity(rank).map((a) => x.perm!.indexOf(a)))], [attr.int('axis', 0)], 'logical');
  return { ...cast(c.e, { name, dtype: 'int64', shape: [rank] }, dtype), elements: x.shape };
}

/** Known elements of a 1-D value or scalar: its constant values or what shape tracking knows. */
function elementsOf(v: Value): Dim[] | undefined {
  return v.const ? (v.const.dims.length <= 1 ? numbers(v.const) : undefined) : v.elements;
}

function sizeOp(c: NodeContext): Value {
  const x = c.input(0);
  if (x.shape && x.shape.every((d) => typeof d === 'number')) return c.e.constant(tensorOf('int32', [], [elementCount(x.shape as number[])]), c.name);
  return cast(c.e, { name: c.e.op('Size', [c.e.as(x, x.perm)]), dtype: 'int64', shape: [] }, 'int32');
}

function fill(c: NodeContext): Value {
  const dims = c.input(0);
  const value = c.input(1);
  if (dims.const && value.const) {
    const shape = numbers(dims.const);
    return c.e.constant(tensorOf(value.dtype, shape, new Array<number>(elementCount(shape)).fill(numbers(value.const)[0]!)), c.name);
  }
  const shape = dims.const ? numbers(dims.const) : dims.shape && typeof dims.shape[0] === 'number' ? new Array<Dim>(dims.shape[0]).fill(null) : undefined;
  const name = c.e.op('Expand', [c.e.as(value), int64(c.e, dims)]);
  return { name, dtype: value.dtype, shape };
}

function range(c: NodeContext): Value {
  const [start, limit, delta] = [c.input(0), c.input(1), c.input(2)];
  const dtype = c.has('Tidx') ? c.type('Tidx') : start.dtype;
  if (start.const && limit.const && delta.const) {
    const [s, l, d] = [numbers(start.const)[0]!, numbers(limit.const)[0]!, numbers(delta.const)[0]!];
    const n = Math.max(0, Math.ceil((l - s) / d));
    return c.e.constant(tensorOf(dtype, [n], Array.from({ length: n }, (_, i) => s + i * d)), c.name);
  }
  const name = c.e.op('Range', [start, limit, delta].map((v) => c.e.as(cast(c.e, v, dtype))));
  return { name, dtype, shape: [null] };
}

function tile(c: NodeContext): Value {
  const x = c.input(0);
  const reps = c.input(1);
  const shape = reps.const ? x.shape?.map((d, i) => (typeof d === 'number' ? d * numbers(reps.const!)[i]! : d)) : x.shape?.map(() => null);
  const name = c.e.op('Tile', [c.e.as(x), int64(c.e, reps)]);
  return { name, dtype: x.dtype, shape };
}

function broadcastTo(c: NodeContext): Value {
  const x = c.input(0);
  const target = c.input(1);
  const shape = target.const ? numbers(target.const) : undefined;
  const name = c.e.op('Expand', [c.e.as(x), int64(c.e, target)]);
  return { name, dtype: x.dtype, shape };
}

function gather(c: NodeContext): Value {
  const params = c.input(0);
  const indices = c.input(1);
  const rank = rankOf(c.e, params);
  const axis = c.inputs[2] ? normAxis(c.e, c.consts(2, 'gather axis')[0]!, rank) : 0;
  if (c.int('batch_dims', 0) !== 0) c.fail('GatherV2 with batch_dims is not supported');
  const shape = indices.shape && [...params.shape!.slice(0, axis), ...indices.shape, ...params.shape!.slice(axis + 1)];
  if (params.const && indices.const && params.const.dims.length === 1) {
    const vals = numbers(params.const);
    return c.e.constant(tensorOf(params.dtype, [...indices.const.dims], numbers(indices.const).map((i) => vals[i < 0 ? i + vals.length : i]!)), c.name);
  }
  const name = c.e.op('Gather', [c.e.as(params), c.e.as(indices)], [attr.int('axis', axis)]);
  return { name, dtype: params.dtype, shape };
}

function gatherNd(c: NodeContext): Value {
  const params = c.input(0);
  const indices = c.input(1);
  const q = indices.shape;
  const last = q?.[q.length - 1];
  const shape = q && typeof last === 'number' ? [...q.slice(0, -1), ...params.shape!.slice(last)] : undefined;
  const name = c.e.op('GatherND', [c.e.as(params), int64(c.e, indices)]);
  return { name, dtype: params.dtype, shape };
}

function squeezeOp(c: NodeContext): Value {
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  let axes = c.ints('squeeze_dims', c.ints('axis'));
  if (!axes.length) {
    if (!x.shape!.every((d) => typeof d === 'number')) c.fail('squeeze of all size-1 axes needs a fixed input shape');
    axes = x.shape!.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  }
  return squeeze(c.e, x, axes.map((a) => normAxis(c.e, a, rank)));
}

function expandDimsOp(c: NodeContext): Value {
  return expandDims(c.e, c.input(0), c.consts(1, 'axis')[0]!);
}

function resizeOp(mode: 'linear' | 'nearest'): Handler {
  return (c) => resize(c.e, c.input(0), c.consts(1, 'resize size'), mode, c.bool('align_corners'), c.bool('half_pixel_centers'));
}

function padOp(c: NodeContext): Value {
  const x = c.input(0);
  const p = c.consts(1, 'paddings');
  const pairs: [number, number][] = [];
  for (let i = 0; i < p.length; i += 2) pairs.push([p[i]!, p[i + 1]!]);
  if (c.node.op === 'MirrorPad') {
    const mode = c.str('mode');
    if (mode !== 'REFLECT') c.fail(`MirrorPad mode ${mode} has no ONNX equivalent (only REFLECT)`);
    return pad(c.e, x, pairs, 'reflect');
  }
  return pad(c.e, x, pairs, 'constant', c.node.op === 'PadV2' ? c.input(2) : undefined);
}

function topK(c: NodeContext): Value[] {
  const x = c.input(0);
  const k = c.input(1);
  if (!c.bool('sorted', true)) c.fail('unsorted TopKV2 is not supported');
  const kk = k.const ? numbers(k.const)[0]! : null;
  const outs = c.e.node('TopK', [c.e.as(x), k.const ? c.e.int64s([kk!]) : c.e.op('Reshape', [int64(c.e, k), c.e.int64s([1])], [], 'k')], [attr.int('axis', -1), attr.int('largest', 1), attr.int('sorted', 1)], 2);
  const shape = x.shape && [...x.shape.slice(0, -1), kk];
  const indices = cast(c.e, { name: outs[1], dtype: 'int64', shape }, 'int32');
  return [{ name: outs[0], dtype: x.dtype, shape }, indices];
}

function argMinMax(opType: string): Handler {
  return (c) => {
    const x = c.input(0);
    const rank = rankOf(c.e, x);
    const axis = normAxis(c.e, c.consts(1, 'dimension')[0]!, rank);
    const name = c.e.op(opType, [c.e.as(x)], [attr.int('axis', axis), attr.int('keepdims', 0)]);
    return cast(c.e, { name, dtype: 'int64', shape: x.shape!.filter((_, i) => i !== axis) }, 'int32');
  };
}

function select(c: NodeContext): Value {
  let cond = c.input(0);
  const [a, b] = [c.input(1), c.input(2)];
  // TF Select (v1) with a vector condition picks whole rows of higher-rank inputs.
  if (c.node.op === 'Select' && cond.shape?.length === 1 && (a.shape?.length ?? 1) > 1) {
    const extra = a.shape!.length - 1;
    cond = { name: c.e.op('Unsqueeze', [c.e.as(cond), c.e.int64s(identity(extra).map((i) => i + 1))], [], 'rows'), dtype: 'bool', shape: [cond.shape[0]!, ...new Array<Dim>(extra).fill(1)] };
  }
  return elementwise(c.e, 'Where', [cond, a, b], a.dtype);
}

function where(c: NodeContext): Value {
  const x = c.input(0);
  const rank = rankOf(c.e, x);
  const nz = c.e.op('NonZero', [c.e.as(x)]);
  const name = c.e.op('Transpose', [nz], [attr.ints('perm', [1, 0])], 'coordinates');
  return cast(c.e, { name, dtype: 'int64', shape: [null, rank] }, 'int32');
}

function nonMaxSuppression(c: NodeContext): Value[] {
  const e = c.e;
  const version = Number(c.node.op.slice(-1));
  const [boxes, scores, maxOut, iou] = [c.input(0), c.input(1), c.input(2), c.input(3)];
  const scoreThreshold = c.inputs[4];
  if (version === 5 && c.inputs[5]?.const && numbers(c.inputs[5].const)[0] !== 0) c.fail('soft-NMS (soft_nms_sigma ≠ 0) is not supported');
  const b = e.op('Unsqueeze', [e.as(boxes), e.int64s([0])], [], 'boxes');
  const s = e.op('Unsqueeze', [e.as(scores), e.int64s([0, 1])], [], 'scores');
  const inputs = [b, s, e.op('Reshape', [int64(e, maxOut), e.int64s([1])], [], 'max_output'), e.as(cast(e, iou, 'float32'))];
  if (scoreThreshold) inputs.push(e.as(cast(e, scoreThreshold, 'float32')));
  const selected = e.op('NonMaxSuppression', inputs);
  const idx64 = e.op('Gather', [selected, e.int64s([2])], [attr.int('axis', 1)], 'index');
  const flat = e.op('Reshape', [idx64, e.int64s([-1])], [], 'indices');
  const count = e.op('Shape', [flat], [], 'count');
  // As TF.js: V4 pads the indices to max_output_size when asked; V5 never pads.
  const padded = version === 4 && c.bool('pad_to_max_output_size');
  let indices: Value = { name: flat, dtype: 'int64', shape: [null] };
  if (padded) {
    const missing = e.op('Sub', [e.op('Reshape', [int64(e, maxOut), e.int64s([1])], [], 'max_output_1d'), count], [], 'missing');
    indices = { name: e.op('Pad', [flat, e.op('Concat', [e.int64s([0]), missing], [attr.int('axis', 0)], 'pads')], [attr.string('mode', 'constant')], 'padded'), dtype: 'int64', shape: [maxOut.const ? numbers(maxOut.const)[0]! : null] };
  }
  const outIdx = cast(e, indices, 'int32');
  const valid = cast(e, { name: e.op('Squeeze', [count, e.int64s([0])], [], 'valid'), dtype: 'int64', shape: [] }, 'int32');
  if (version === 3) return [outIdx];
  if (version === 4) return [outIdx, valid];
  const selScores = { name: e.op('Gather', [e.as(scores), indices.name!], [attr.int('axis', 0)], 'selected_scores'), dtype: scores.dtype, shape: indices.shape };
  return [outIdx, selScores, valid];
}

function floorDiv(c: NodeContext): Value {
  const [a, b] = [c.input(0), c.input(1)];
  if (a.const && b.const) return c.e.constant(broadcastBinary(a.const, b.const, a.dtype, (x, y) => Math.floor(x / y)), c.name);
  if (a.dtype === 'float32') return unary(c.e, 'Floor', elementwise(c.e, 'Div', [a, b], a.dtype, 'div'), [], a.dtype, 'floor');
  // Integer floor division: ONNX Div truncates, so divide in float64 and floor.
  const q = elementwise(c.e, 'Div', [cast(c.e, a, 'float64'), cast(c.e, b, 'float64')], 'float64', 'div');
  return cast(c.e, unary(c.e, 'Floor', q, [], 'float64', 'floor'), a.dtype);
}

function floorMod(c: NodeContext): Value {
  const [a, b] = [c.input(0), c.input(1)];
  const f = (x: number, y: number) => x - Math.floor(x / y) * y;
  if (a.const && b.const) return c.e.constant(broadcastBinary(a.const, b.const, a.dtype, f), c.name);
  if (a.dtype !== 'float32') return elementwise(c.e, 'Mod', [a, b], a.dtype);
  const q = unary(c.e, 'Floor', elementwise(c.e, 'Div', [a, b], a.dtype, 'div'), [], a.dtype, 'floor');
  return elementwise(c.e, 'Sub', [a, elementwise(c.e, 'Mul', [q, b], a.dtype, 'mul')], a.dtype);
}

function squaredDifference(c: NodeContext): Value {
  const d = elementwise(c.e, 'Sub', [c.input(0), c.input(1)], c.input(0).dtype, 'diff');
  return elementwise(c.e, 'Mul', [d, d], d.dtype);
}

function atan2(c: NodeContext): Value {
  // atan2(y, x) = 2·atan(y / (√(x² + y²) + x)), exact away from the negative x axis; there it is ±π.
  const e = c.e;
  const [y, x] = [c.input(0), c.input(1)];
  const r = unary(e, 'Sqrt', elementwise(e, 'Add', [elementwise(e, 'Mul', [x, x], x.dtype, 'x2'), elementwise(e, 'Mul', [y, y], y.dtype, 'y2')], x.dtype, 'r2'), [], x.dtype, 'r');
  const half = unary(e, 'Atan', elementwise(e, 'Div', [y, elementwise(e, 'Add', [r, x], x.dtype, 'r_plus_x')], x.dtype, 'ratio'), [], x.dtype, 'atan');
  const angle = elementwise(e, 'Mul', [half, e.constant(scalarTensor('float32', 2))], x.dtype, 'angle');
  const onNegativeAxis = elementwise(e, 'And', [elementwise(e, 'Equal', [y, e.constant(scalarTensor('float32', 0))], 'bool', 'y_zero'), elementwise(e, 'Less', [x, e.constant(scalarTensor('float32', 0))], 'bool', 'x_neg')], 'bool', 'negative_axis');
  return elementwise(e, 'Where', [onNegativeAxis, e.constant(scalarTensor('float32', Math.PI)), angle], x.dtype);
}

function depthSpace(opType: string): Handler {
  return (c) => {
    requireNhwc(c);
    const x = c.input(0);
    const bs = c.int('block_size');
    const [n, h, w, ch] = x.shape!;
    const up = opType === 'DepthToSpace';
    const f = (d: Dim, k: number) => (typeof d === 'number' ? (up ? d * k : d / k) : null);
    const attributes = [attr.int('blocksize', bs)];
    if (up) attributes.push(attr.string('mode', 'DCR'));
    const name = c.e.op(opType, [c.e.as(x, [0, 3, 1, 2])], attributes);
    return { name, dtype: x.dtype, shape: [n!, f(h!, bs), f(w!, bs), typeof ch === 'number' ? (up ? ch / (bs * bs) : ch * bs * bs) : null], perm: [0, 3, 1, 2] };
  };
}

function fusedBatchNorm(c: NodeContext): Value {
  requireNhwc(c);
  const x = c.input(0);
  const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => c.input(i));
  const eps = c.float('epsilon', 1e-3);
  if (!scale.const || !offset.const || !mean.const || !variance.const) return c.fail('batch normalization with computed statistics is not supported');
  const [g, b, m, v] = [scale.const, offset.const, mean.const, variance.const].map((t) => numbers(t));
  const k = Float32Array.from(g!, (gi, i) => gi / Math.sqrt(v![i]! + eps));
  const o = Float32Array.from(b!, (bi, i) => bi - m![i]! * k[i]!);
  const rank = rankOf(c.e, x);
  return batchNormAffine(c.e, x, rank - 1, k, o, c.name);
}


const HANDLERS: Record<string, Handler> = {
  Identity: (c) => c.input(0),
  StopGradient: (c) => c.input(0),
  Snapshot: (c) => c.input(0),
  IdentityN: (c) => c.inputs,
  Conv2D: (c) => convolution(c, false),
  _FusedConv2D: (c) => convolution(c, false),
  DepthwiseConv2dNative: (c) => convolution(c, true),
  FusedDepthwiseConv2dNative: (c) => convolution(c, true),
  Conv2DBackpropInput: (c) => {
    requireNhwc(c);
    const x = c.input(2);
    const rank = rankOf(c.e, x);
    const outShape = c.consts(0, 'output shape');
    const o = { strides: spatialOf(c.ints('strides'), rank), dilations: spatialOf(c.ints('dilations', [1, 1, 1, 1]), rank), padding: padding(c, rank) };
    return convTranspose(c.e, x, c.input(1), undefined, o, outShape.slice(1, rank - 1));
  },
  MatMul: (c) => matmul(c.e, c.input(0), c.input(1), { transA: c.bool('transpose_a'), transB: c.bool('transpose_b') }),
  BatchMatMul: (c) => matmul(c.e, c.input(0), c.input(1), { transA: c.bool('adj_x'), transB: c.bool('adj_y') }),
  BatchMatMulV2: (c) => matmul(c.e, c.input(0), c.input(1), { transA: c.bool('adj_x'), transB: c.bool('adj_y') }),
  _FusedMatMul: fusedMatMul,
  MaxPool: poolOp('max'),
  AvgPool: poolOp('avg'),
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
  Relu6: (c) => clip(c.e, c.input(0), 0, 6),
  Elu: (c) => unary(c.e, 'Elu', c.input(0), [attr.float('alpha', 1)]),
  LeakyRelu: (c) => unary(c.e, 'LeakyRelu', c.input(0), [attr.float('alpha', c.float('alpha', 0.2))]),
  Prelu: (c) => elementwise(c.e, 'PRelu', [c.input(0), c.input(1)]),
  Softmax: (c) => softmax(c.e, c.input(0), -1),
  LogSoftmax: (c) => softmax(c.e, c.input(0), -1, 'LogSoftmax'),
  Square: (c) => (c.input(0).const ? c.e.constant(broadcastBinary(c.input(0).const!, c.input(0).const!, c.input(0).dtype, (a, b) => a * b), c.name) : elementwise(c.e, 'Mul', [c.input(0), c.input(0)])),
  Rsqrt: (c) => unary(c.e, 'Reciprocal', unary(c.e, 'Sqrt', c.input(0), [], c.input(0).dtype, 'sqrt')),
  SquaredDifference: squaredDifference,
  AddN: (c) => (c.inputs.length === 1 ? c.input(0) : elementwise(c.e, 'Sum', c.inputs)),
  FloorDiv: floorDiv,
  FloorMod: floorMod,
  Atan2: atan2,
  NotEqual: (c) => unary(c.e, 'Not', elementwise(c.e, 'Equal', [c.input(0), c.input(1)], 'bool', 'equal'), [], 'bool'),
  ClipByValue: (c) => elementwise(c.e, 'Max', [elementwise(c.e, 'Min', [c.input(0), c.input(2)], c.input(0).dtype, 'min'), c.input(1)]),
  Cast: (c) => ({ ...cast(c.e, c.input(0), c.type('DstT')), elements: c.input(0).elements }),
  Shape: shapeOp,
  Size: sizeOp,
  Reshape: (c) => reshape(c.e, c.input(0), c.input(1)),
  Squeeze: squeezeOp,
  ExpandDims: expandDimsOp,
  Transpose: (c) => transpose(c.e, c.input(0), c.consts(1, 'permutation')),
  Pack: pack,
  Unpack: unpack,
  ConcatV2: concatV2,
  Split: split,
  SplitV: splitV,
  Slice: slice,
  StridedSlice: stridedSlice,
  Tile: tile,
  Fill: fill,
  Range: range,
  ZerosLike: (c) => filledLike(c, 0),
  OnesLike: (c) => filledLike(c, 1),
  BroadcastTo: broadcastTo,
  GatherV2: gather,
  Gather: gather,
  GatherNd: gatherNd,
  Pad: padOp,
  PadV2: padOp,
  MirrorPad: padOp,
  Mean: reduction('ReduceMean'),
  Sum: reduction('ReduceSum', (a, b) => a + b),
  Max: reduction('ReduceMax', Math.max),
  Min: reduction('ReduceMin', Math.min),
  Prod: reduction('ReduceProd', (a, b) => a * b),
  ArgMax: argMinMax('ArgMax'),
  ArgMin: argMinMax('ArgMin'),
  ResizeBilinear: resizeOp('linear'),
  ResizeNearestNeighbor: resizeOp('nearest'),
  DepthToSpace: depthSpace('DepthToSpace'),
  SpaceToDepth: depthSpace('SpaceToDepth'),
  TopKV2: topK,
  NonMaxSuppressionV3: nonMaxSuppression,
  NonMaxSuppressionV4: nonMaxSuppression,
  NonMaxSuppressionV5: nonMaxSuppression,
  Where: where,
  Select: select,
  SelectV2: select,
  SparseToDense: sparseToDense,
};
for (const op of Object.keys(BINARY)) HANDLERS[op] = binary;
for (const op of Object.keys(UNARY)) HANDLERS[op] ??= unaryOp;

/** A tensor of `x`'s shape (and layout) filled with `value`. */
function filledLike(c: NodeContext, value: number): Value {
  const x = c.input(0);
  const shape = c.e.op('Shape', [c.e.as(x, x.perm)], [], 'shape');
  const name = c.e.op('ConstantOfShape', [shape], [attr.tensor('value', tensorOf(x.dtype, [1], [value]))]);
  return { name, dtype: x.dtype, shape: x.shape, perm: x.perm };
}

function sparseToDense(c: NodeContext): Value {
  const [indices, shape, values, fallback] = [0, 1, 2, 3].map((i) => c.input(i));
  if (!indices!.const || !shape!.const || !values!.const || !fallback!.const) return c.fail('SparseToDense is supported on constant inputs only');
  const dims = numbers(shape!.const);
  const out = new Array<number>(elementCount(dims)).fill(numbers(fallback!.const)[0]!);
  const idx = numbers(indices!.const);
  const vals = numbers(values!.const);
  const rank = dims.length;
  const count = indices!.const.dims.length === 0 ? 1 : indices!.const.dims[0]!;
  for (let k = 0; k < count; k++) {
    let flat = 0;
    for (let j = 0; j < rank; j++) flat = flat * dims[j]! + idx[k * rank + j]!;
    out[flat] = vals.length === 1 ? vals[0]! : vals[k]!;
  }
  return c.e.constant(tensorOf(values!.dtype, dims, out), c.name);
}

/** Op types the converter handles (plus Const, Placeholder and NoOp, handled by the walk itself). */
const SUPPORTED_GRAPH_OPS = new Set([...Object.keys(HANDLERS), 'Const', 'Placeholder', 'NoOp']);

// ---- the walk ----------------------------------------------------------------------------------

/** The converted model's inputs and outputs; `tfName` is the TF.js name where it differs from the ONNX name. */
export interface GraphInterface {
  inputs: { name: string; tfName?: string; value: Value }[];
  outputs: { name: string; tfName?: string; value: Value }[];
  /** Every TF node output computed at run time, in graph order, to find where results diverge. */
  intermediates: { tfName: string; op: string; value: Value }[];
}

export interface GraphConvertOptions {
  batchDynamic: boolean;
  /** Channels-first interface for rank-4 inputs and outputs. */
  nchw: boolean;
}

const splitRef = (ref: string): [string, number] => {
  const at = ref.lastIndexOf(':');
  if (at > 0 && /^\d+$/.test(ref.slice(at + 1))) return [ref.slice(0, at), Number(ref.slice(at + 1))];
  return [ref, 0];
};

export function convertGraphModel(model: LoadedTfjsModel, e: Emitter, o: GraphConvertOptions): GraphInterface {
  const nodes = (model.topology.node as TfNode[]) ?? [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const signature = (model.artifacts.signature ?? model.artifacts.userDefinedMetadata?.signature) as Signature | undefined;

  const inputSpecs: { key: string; node: string; dtype: DType; shape?: Dim[] }[] = [];
  if (signature?.inputs && Object.keys(signature.inputs).length) {
    for (const [key, s] of Object.entries(signature.inputs)) {
      const node = splitRef(s.name ?? key)[0];
      const ph = byName.get(node);
      if (!ph) throw new ConvertError(`${model.source}: signature input '${key}' names node '${node}', which the graph does not have`);
      inputSpecs.push({ key, node, dtype: tfDtype(s.dtype ?? ph.attr?.dtype?.type, `input '${key}'`), shape: shapeOf(s.tensorShape) ?? shapeOf(ph.attr?.shape?.shape) });
    }
  } else {
    for (const n of nodes) if (n.op === 'Placeholder') inputSpecs.push({ key: n.name, node: n.name, dtype: tfDtype(n.attr?.dtype?.type, `input '${n.name}'`), shape: shapeOf(n.attr?.shape?.shape) });
  }

  let outputRefs: { key: string; ref: string }[];
  if (signature?.outputs && Object.keys(signature.outputs).length) {
    outputRefs = Object.entries(signature.outputs).map(([key, s]) => ({ key, ref: s.name ?? key }));
  } else {
    const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => splitRef(i.replace(/^\^/, ''))[0])));
    outputRefs = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder').map((n) => ({ key: n.name, ref: n.name }));
  }
  for (const { key, ref } of outputRefs) {
    if (!byName.has(splitRef(ref)[0])) throw new ConvertError(`${model.source}: output '${key}' names node '${splitRef(ref)[0]}', which the graph does not have`);
    // Kept free so no intermediate value takes an output's name.
    e.graph.reserveName(key);
  }

  const order = reachableInOrder(outputRefs.map((r) => splitRef(r.ref)[0]), byName);
  const unsupported = new Map<string, string[]>();
  for (const n of order) if (!SUPPORTED_GRAPH_OPS.has(n.op)) unsupported.set(n.op, [...(unsupported.get(n.op) ?? []), n.name]);
  if (unsupported.size) {
    const list = [...unsupported].map(([op, names]) => `${op} (${names.length}×, e.g. ${names[0]})`).join(', ');
    throw new ConvertError(`${model.source}: unsupported TF ops: ${list}`);
  }

  const values = new Map<string, Value[]>();
  const intermediates: GraphInterface['intermediates'] = [];
  const inputs: GraphInterface['inputs'] = [];
  for (const spec of inputSpecs) {
    if (!spec.shape) throw new ConvertError(`${model.source}: input '${spec.key}' has an unknown rank`);
    const shape: Dim[] = spec.shape.map((d, i) => (d !== null ? d : i === 0 ? (o.batchDynamic ? 'batch' : 1) : `${spec.key.replace(/:0$/, '')}_dim${i}`));
    const perm = o.nchw && shape.length === 4 ? [0, 3, 1, 2] : undefined;
    e.graph.inputs.push({ name: spec.key, type: { kind: 'tensor', dtype: spec.dtype, shape: permute(shape, perm) } });
    e.graph.reserveName(spec.key);
    const value: Value = { name: spec.key, dtype: spec.dtype, shape, perm };
    values.set(spec.node, [value]);
    inputs.push({ name: spec.key, value });
  }

  for (const node of order) {
    if (values.has(node.name)) continue;
    e.scope = node.name;
    if (node.op === 'NoOp') continue;
    if (node.op === 'Placeholder') throw new ConvertError(`${model.source}: placeholder '${node.name}' is not a model input (the signature does not list it)`);
    if (node.op === 'Const') {
      values.set(node.name, [e.constant(constTensor(model, node), node.name)]);
      continue;
    }
    const ins = (node.input ?? []).filter((i) => !i.startsWith('^')).map((ref) => {
      const [src, k] = splitRef(ref);
      const v = values.get(src)?.[k];
      if (!v) throw new ConvertError(`${node.name} (${node.op}): input '${ref}' is not available`);
      return v;
    });
    let outs: Value | Value[];
    try {
      outs = HANDLERS[node.op]!(new NodeContext(e, node, ins));
    } catch (err) {
      if (err instanceof ConvertError) throw err;
      throw new ConvertError(`${node.name} (${node.op}): ${(err as Error).message}`);
    }
    values.set(node.name, Array.isArray(outs) ? outs : [outs]);
    values.get(node.name)!.forEach((v, k) => {
      if (!v.const && v.name) intermediates.push({ tfName: k ? `${node.name}:${k}` : node.name, op: node.op, value: v });
    });
  }

  const outputs = outputRefs.map(({ key, ref }) => {
    const [src, k] = splitRef(ref);
    const v = values.get(src)?.[k];
    if (!v) throw new ConvertError(`${model.source}: output '${key}' has no value`);
    // TF.js is asked for tensor names ("node:1"): it mixes up signature keys of two outputs of one node.
    return { name: key, tfName: ref, value: v };
  });
  return { inputs, outputs, intermediates };
}

/** Nodes the outputs depend on, inputs before consumers (iterative DFS: graphs are deep). */
function reachableInOrder(roots: string[], byName: Map<string, TfNode>): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, 1 | 2>();
  for (const root of roots) {
    const stack: [string, boolean][] = [[root, false]];
    while (stack.length) {
      const [name, expanded] = stack.pop()!;
      if (expanded) {
        if (state.get(name) !== 2) {
          state.set(name, 2);
          order.push(byName.get(name)!);
        }
        continue;
      }
      if (state.has(name)) continue;
      const node = byName.get(name);
      if (!node) throw new ConvertError(`graph references node '${name}', which does not exist`);
      state.set(name, 1);
      stack.push([name, true]);
      for (const ref of node.input ?? []) {
        const src = splitRef(ref.replace(/^\^/, ''))[0];
        if (!state.has(src)) stack.push([src, false]);
      }
    }
  }
  return order;
}

function constTensor(model: LoadedTfjsModel, node: TfNode): Tensor {
  const w = model.weights.get(node.name);
  if (w) return w;
  const t = node.attr?.value?.tensor;
  if (!t) throw new ConvertError(`${model.source}: constant '${node.name}' has no value and no weight of that name`);
  const dtype = tfDtype(t.dtype ?? node.attr?.dtype?.type, `constant '${node.name}'`);
  const dims = (shapeOf(t.tensorShape) ?? []).map((d) => (typeof d === 'number' ? d : 0));
  const n = elementCount(dims);
  let vals: number[];
  if (t.tensorContent) {
    const bytes = new Uint8Array(Buffer.from(t.tensorContent, 'base64')).buffer;
    const arr = dtype === 'float32' ? new Float32Array(bytes, 0, n) : dtype === 'bool' ? new Uint8Array(bytes, 0, n) : new Int32Array(bytes, 0, n);
    vals = Array.from(arr);
  } else {
    const list = (t.floatVal ?? t.intVal ?? t.int64Val?.map(Number) ?? t.boolVal?.map(Number) ?? []).map(Number);
    vals = list.length === n ? list : new Array<number>(n).fill(list[0] ?? 0);
  }
  return tensorOf(dtype, dims, vals, node.name);
}

