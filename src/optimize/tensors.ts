import { createHash } from 'node:crypto';
import type { DType, Tensor } from '../ir/index.js';

/** Float types whose constants the arithmetic passes rewrite. */
export const FLOAT_TYPES = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

/** A float tensor's elements in float64 (exact for every float type). */
export function toFloat64(t: Tensor): Float64Array {
  if (t.dtype === 'float64') return t.data as Float64Array;
  return Float64Array.from(t.toFloat32());
}

/** A digest of a tensor's contents (bytes, or each string) for finding identical tensors. */
export function contentHash(t: Tensor): string {
  const h = createHash('sha1');
  if (t.dtype === 'string') for (const s of t.strings) h.update(s).update('\0');
  else h.update(t.bytes);
  return h.digest('hex');
}
