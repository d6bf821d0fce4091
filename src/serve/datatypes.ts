/**
 * KServe v2 / Triton datatype names and the tensors that travel between HTTP, the batcher and the
 * inference workers: flat typed arrays (strings for BYTES) plus a shape, nothing else.
 */
import { DTYPE_INFO, type DType, type TypedArray } from '../ir/index.js';

export const V2_DATATYPES = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
} as const satisfies Record<string, DType>;

export type V2Datatype = keyof typeof V2_DATATYPES;

const TO_V2 = new Map<DType, V2Datatype>(Object.entries(V2_DATATYPES).map(([k, v]) => [v, k as V2Datatype]));

export function isV2Datatype(s: unknown): s is V2Datatype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(V2_DATATYPES, s);
}

export function toV2Datatype(dtype: DType): V2Datatype {
  const v = TO_V2.get(dtype);
  if (!v) throw new Error(`element type ${dtype} has no KServe v2 datatype`);
  return v;
}

/** A tensor on the wire: row-major flat data. float16 travels as its bit patterns. */
export interface WireTensor {
  name: string;
  dtype: DType;
  dims: number[];
  data: TypedArray | string[];
}

/** Bytes per element of a fixed-size datatype. */
export function elementBytes(dtype: DType): number {
  return DTYPE_INFO[dtype].bits / 8;
}

export function newTypedArray(dtype: DType, length: number): TypedArray {
  return new DTYPE_INFO[dtype].array!(length);
}

/** Elements per row: the product of all dims after the first. */
export function rowSize(dims: readonly number[]): number {
  let n = 1;
  for (let i = 1; i < dims.length; i++) n *= dims[i]!;
  return n;
}

/** Gives the typed array for input i: fresh, or a buffer reused from batch to batch. */
export type InputAllocator = (i: number, dtype: DType, length: number) => TypedArray;

export const freshInputArray: InputAllocator = (_i, dtype, length) => newTypedArray(dtype, length);

/** Requests' inputs concatenated along dimension 0 (`rows` rows in all), input i into `allocate(i, …)`. */
export function concatRows(requests: WireTensor[][], rows: number, allocate: InputAllocator = freshInputArray): WireTensor[] {
  return requests[0]!.map((first, i) => {
    const dims = [rows, ...first.dims.slice(1)];
    if (Array.isArray(first.data)) return { ...first, dims, data: requests.flatMap((r) => r[i]!.data as string[]) };
    const out = allocate(i, first.dtype, rows * rowSize(first.dims)) as Float32Array;
    let at = 0;
    for (const r of requests) {
      const d = r[i]!.data as Float32Array;
      out.set(d, at);
      at += d.length;
    }
    return { ...first, dims, data: out };
  });
}
