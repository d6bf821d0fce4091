/**
 * Arithmetic on dimensions that may be fixed (number), symbolic (string, a dim_param) or unknown (null).
 * Two equal symbols are the same size (ONNX semantics); anything not provable becomes null.
 */
import type { Dim } from '../ir/index.js';

export const isFixed = (d: Dim | undefined): d is number => typeof d === 'number';

/** True when both dims are known and provably equal. */
export const sameDim = (a: Dim | undefined, b: Dim | undefined): boolean => a !== null && a !== undefined && a === b;

export const allFixed = (dims: readonly Dim[]): dims is number[] => dims.every(isFixed);

/** Broadcast of one pair of dims (numpy rules). */
function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (sameDim(a, b)) return a;
  // A symbol against a fixed size other than 1: a valid model makes the symbol equal that size.
  if (isFixed(a) && typeof b === 'string') return a;
  if (isFixed(b) && typeof a === 'string') return b;
  return null;
}

/** Multidirectional (numpy) broadcast of several shapes. */
export function broadcastShapes(shapes: readonly Dim[][]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k >= 0) d = broadcastDim(d, s[k]!);
    }
    out.push(d);
  }
  return out;
}

/**
 * Product of dims: a number when all are fixed, the one symbol when it is the only factor other
 * than 1s, otherwise unknown.
 */
export function dimProduct(dims: readonly Dim[]): Dim {
  let fixed = 1;
  const symbols: Dim[] = [];
  for (const d of dims) {
    if (isFixed(d)) fixed *= d;
    else symbols.push(d);
  }
  if (!symbols.length) return fixed;
  if (fixed === 0) return 0;
  if (symbols.length === 1 && fixed === 1) return symbols[0]!;
  return null;
}

/** Sum of dims: a number when all are fixed, a lone symbol plus zeros, otherwise unknown. */
export function dimSum(dims: readonly Dim[]): Dim {
  const nonZero = dims.filter((d) => d !== 0);
  if (allFixed(nonZero)) return nonZero.reduce((a, b) => a + b, 0);
  return nonZero.length === 1 ? nonZero[0]! : null;
}

/**
 * The size that `-1` stands for in a Reshape: `input` elements divided by the product of `known`.
 * Fixed factors divide; symbols cancel only when the same symbol appears on both sides.
 */
export function inferMissingDim(input: readonly Dim[], known: readonly Dim[]): Dim {
  if (input.some((d) => d === null) || known.some((d) => d === null)) return null;
  const symbols = input.filter((d): d is string => typeof d === 'string');
  const num = input.filter(isFixed).reduce((a, b) => a * b, 1);
  let den = 1;
  for (const d of known) {
    if (isFixed(d)) den *= d;
    else {
      const i = symbols.indexOf(d as string);
      if (i < 0) return null;
      symbols.splice(i, 1);
    }
  }
  if (den === 0) return null;
  if (!symbols.length) return num % den === 0 ? num / den : null;
  return symbols.length === 1 && num === den ? symbols[0]! : null;
}

/** Normalizes a possibly negative axis against `rank`; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

/** Output size of a sliding window (Conv, pooling), or null when the input size is not fixed. */
export function windowOutput(
  size: Dim,
  kernel: number,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  autoPad: string,
  ceilMode = false,
): Dim {
  if (!isFixed(size)) return null;
  const effective = (kernel - 1) * dilation + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / stride);
  if (autoPad === 'VALID') return Math.floor((size - effective) / stride) + 1;
  const span = size + padBegin + padEnd - effective;
  if (!ceilMode) return Math.floor(span / stride) + 1;
  let out = Math.ceil(span / stride) + 1;
  // The last window must start inside the input or its left padding (as onnxruntime and PyTorch do).
  if ((out - 1) * stride >= size + padBegin) out--;
  return out;
}
