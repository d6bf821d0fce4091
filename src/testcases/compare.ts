import type { Tensor, TypedArray } from '../ir/index.js';

export interface Tolerance {
  /** Relative tolerance (ONNX's test runner default: 1e-3). */
  rtol: number;
  /** Absolute tolerance (default 1e-5). */
  atol: number;
}

// ONNX's runner uses atol 1e-7; float32 sums over hundreds of terms differ by ~1e-6 between backends
// (PyTorch vs onnxruntime on the corpus), so near-zero outputs need a little more absolute room.
export const DEFAULT_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-5 };

export interface Comparison {
  ok: boolean;
  /** Why it failed, in one line. */
  message?: string;
  maxAbsDiff: number;
  mismatches: number;
  count: number;
}

/**
 * numpy.testing.assert_allclose semantics: |actual − expected| ≤ atol + rtol·|expected| per element,
 * NaN matches NaN, infinities must match exactly; dtype and shape must agree.
 */
export function allClose(actual: Tensor, expected: Tensor, tol: Tolerance = DEFAULT_TOLERANCE): Comparison {
  const count = expected.size;
  const fail = (message: string): Comparison => ({ ok: false, message, maxAbsDiff: NaN, mismatches: count, count });
  if (actual.dtype !== expected.dtype) return fail(`dtype ${actual.dtype}, expected ${expected.dtype}`);
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return fail(`shape [${actual.dims}], expected [${expected.dims}]`);
  }
  if (actual.dtype === 'string') {
    const a = actual.data as string[];
    const e = expected.data as string[];
    const mismatches = e.filter((s, i) => s !== a[i]).length;
    return { ok: mismatches === 0, message: mismatches ? `${mismatches} of ${count} strings differ` : undefined, maxAbsDiff: 0, mismatches, count };
  }
  const exact = !['float32', 'float64', 'float16', 'bfloat16'].includes(actual.dtype);
  let a: ArrayLike<number | bigint>;
  let e: ArrayLike<number | bigint>;
  if (exact) {
    a = actual.data as TypedArray;
    e = expected.data as TypedArray;
  } else {
    a = actual.toFloat32();
    e = expected.toFloat32();
    if (actual.dtype === 'float64') {
      a = actual.data as Float64Array;
      e = expected.data as Float64Array;
    }
  }
  let mismatches = 0;
  let maxAbsDiff = 0;
  let firstBad = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (exact) {
      if (x !== y) {
        mismatches++;
        if (firstBad < 0) firstBad = i;
        const d = Math.abs(Number(x) - Number(y));
        if (d > maxAbsDiff) maxAbsDiff = d;
      }
      continue;
    }
    const xf = x as number;
    const yf = y as number;
    if (Number.isNaN(yf) || Number.isNaN(xf)) {
      if (Number.isNaN(yf) !== Number.isNaN(xf)) {
        mismatches++;
        if (firstBad < 0) firstBad = i;
        maxAbsDiff = Infinity;
      }
      continue;
    }
    if (!Number.isFinite(yf) || !Number.isFinite(xf)) {
      if (xf !== yf) {
        mismatches++;
        if (firstBad < 0) firstBad = i;
        maxAbsDiff = Infinity;
      }
      continue;
    }
    const d = Math.abs(xf - yf);
    if (d > maxAbsDiff) maxAbsDiff = d;
    if (d > tol.atol + tol.rtol * Math.abs(yf)) {
      mismatches++;
      if (firstBad < 0) firstBad = i;
    }
  }
  const ok = mismatches === 0;
  return {
    ok,
    message: ok ? undefined : `${mismatches} of ${count} elements differ (max abs diff ${maxAbsDiff.toExponential(3)}; first at index ${firstBad}: got ${a[firstBad]}, expected ${e[firstBad]})`,
    maxAbsDiff,
    mismatches,
    count,
  };
}

/** True when two tensors have the same dtype, shape and bytes. */
export function bitIdentical(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
  if (a.dtype === 'string') {
    const x = a.data as string[];
    const y = b.data as string[];
    return x.every((s, i) => s === y[i]);
  }
  const x = a.bytes;
  const y = b.bytes;
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}
