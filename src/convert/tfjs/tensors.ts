/**
 * Small tensor arithmetic done at conversion time: re-laying out weights (HWIO → OIHW), and folding
 * the shape computations TF graphs carry (Shape → StridedSlice → Pack → Reshape) into constants.
 */
import { Tensor, elementCount, type DType } from '../../ir/index.js';

export type Perm = number[] | undefined;

export function isIdentity(perm: Perm): boolean {
  return !perm || perm.every((p, i) => p === i);
}

/** The permutation that moves a rank-`rank` channels-last tensor to channels-first (NHWC → NCHW). */
export function channelsFirst(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}

/** Transpose permutation taking a value laid out as `from` to the layout `to` (both relative to the logical axes). */
export function permBetween(from: Perm, to: Perm, rank: number): number[] {
  const f = from ?? identity(rank);
  const t = to ?? identity(rank);
  return t.map((axis) => f.indexOf(axis));
}

export function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

/** `shape` reordered by `perm` (the physical shape of a value whose logical shape is `shape`). */
export function permute<T>(shape: readonly T[], perm: Perm): T[] {
  return perm ? perm.map((i) => shape[i]!) : [...shape];
}

/** The layout left after removing `removed` logical axes from a value laid out as `perm`. */
export function dropAxes(perm: Perm, removed: number[]): Perm {
  if (!perm) return undefined;
  const kept = perm.filter((a) => !removed.includes(a));
  const renumber = (a: number) => a - removed.filter((r) => r < a).length;
  const out = kept.map(renumber);
  return isIdentity(out) ? undefined : out;
}

/** Element values as float64 (int64 converted; fine for shape arithmetic). */
export function numbers(t: Tensor): number[] {
  const d = t.dtype === 'float16' ? t.toFloat32() : t.data;
  if (Array.isArray(d)) throw new Error(`tensor '${t.name}': expected numbers, got strings`);
  return Array.from(d as ArrayLike<number | bigint>, Number);
}

/** A tensor of `dtype` from plain numbers (any shape; integers truncated the way TF casts do). */
export function tensorOf(dtype: DType, dims: number[], values: ArrayLike<number>, name = ''): Tensor {
  const n = elementCount(dims);
  switch (dtype) {
    case 'float32':
      return Tensor.from(dtype, dims, Float32Array.from({ length: n }, (_, i) => values[i]!), name);
    case 'float64':
      return Tensor.from(dtype, dims, Float64Array.from({ length: n }, (_, i) => values[i]!), name);
    case 'int64':
      return Tensor.from(dtype, dims, BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.trunc(values[i]!))), name);
    case 'int32':
      return Tensor.from(dtype, dims, Int32Array.from({ length: n }, (_, i) => values[i]!), name);
    case 'bool':
      return Tensor.from(dtype, dims, Uint8Array.from({ length: n }, (_, i) => (values[i] ? 1 : 0)), name);
    case 'uint8':
      return Tensor.from(dtype, dims, Uint8Array.from({ length: n }, (_, i) => values[i]!), name);
    default:
      throw new Error(`cannot build a ${dtype} constant`);
  }
}

/** Transposes a constant tensor (any element type) by `perm`, into a new buffer. */
export function transposeTensor(t: Tensor, perm: number[], name = t.name): Tensor {
  const dims = t.dims;
  const outDims = perm.map((p) => dims[p]!);
  const src = t.data;
  if (Array.isArray(src)) throw new Error(`tensor '${t.name}': cannot transpose string tensors`);
  const rank = dims.length;
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= dims[i]!;
  }
  const stride = perm.map((p) => inStrides[p]!);
  const out = new (src.constructor as new (n: number) => typeof src)(src.length);
  const n = elementCount(outDims);
  const idx = new Array<number>(rank).fill(0);
  let from = 0;
  for (let o = 0; o < n; o++) {
    (out as unknown as number[])[o] = (src as unknown as number[])[from]!;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      from += stride[k]!;
      if (idx[k]! < outDims[k]!) break;
      from -= stride[k]! * outDims[k]!;
      idx[k] = 0;
    }
  }
  return Tensor.from(t.dtype, outDims, out, name);
}

/** Same data, new dims (a view). */
export function reshapeTensor(t: Tensor, dims: number[], name = t.name): Tensor {
  if (elementCount(dims) !== t.size) throw new Error(`tensor '${t.name}': cannot reshape [${t.dims}] to [${dims}]`);
  return Tensor.fromBytes(t.dtype, dims, t.bytes, name);
}

/** NumPy broadcasting of two fixed shapes; undefined when they do not broadcast. */
function broadcastDims(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Element-wise op over two constant tensors with broadcasting, computed in float64. */
export function broadcastBinary(a: Tensor, b: Tensor, dtype: DType, f: (x: number, y: number) => number): Tensor {
  const dims = broadcastDims(a.dims, b.dims);
  if (!dims) throw new Error(`shapes [${a.dims}] and [${b.dims}] do not broadcast`);
  const x = numbers(a);
  const y = numbers(b);
  const n = elementCount(dims);
  const out = new Float64Array(n);
  const ia = broadcastIndex(a.dims, dims);
  const ib = broadcastIndex(b.dims, dims);
  for (let i = 0; i < n; i++) out[i] = f(x[ia(i)]!, y[ib(i)]!);
  return tensorOf(dtype, dims, out);
}

/** Maps a flat index of the broadcast shape `to` to the flat index in a tensor of shape `from`. */
function broadcastIndex(from: readonly number[], to: readonly number[]): (i: number) => number {
  if (elementCount([...from]) === elementCount([...to])) return (i) => i;
  if (elementCount([...from]) === 1) return () => 0;
  const rank = to.length;
  const padded = [...new Array<number>(rank - from.length).fill(1), ...from];
  const strides = new Array<number>(rank);
  for (let k = rank - 1, s = 1; k >= 0; k--) {
    strides[k] = padded[k] === 1 ? 0 : s;
    s *= padded[k]!;
  }
  return (i) => {
    let j = 0;
    for (let k = rank - 1; k >= 0; k--) {
      const d = to[k]!;
      j += (i % d) * strides[k]!;
      i = Math.floor(i / d);
    }
    return j;
  };
}
