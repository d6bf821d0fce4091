/**
 * TF StridedSlice semantics (masks, ellipsis, new and shrunk axes), resolved against an input rank
 * into per-axis slices, so it can be folded on constants or emitted as ONNX Slice + Squeeze/Unsqueeze.
 */
import type { Dim } from '../../ir/index.js';

export interface StridedSliceMasks {
  begin: number;
  end: number;
  ellipsis: number;
  newAxis: number;
  shrinkAxis: number;
}

export interface AxisSlice {
  /** Input axis. */
  axis: number;
  begin: number;
  end: number;
  stride: number;
  beginMasked: boolean;
  endMasked: boolean;
  shrink: boolean;
}

export interface ResolvedSlice {
  /** One entry per input axis that is sliced (full-range axes left out). */
  axes: AxisSlice[];
  /** Input axes removed from the output. */
  shrunk: number[];
  /** Output positions of inserted size-1 axes (after shrinking). */
  newAxes: number[];
}

const bit = (mask: number, i: number) => ((mask >> i) & 1) === 1;

export function resolveStridedSlice(rank: number, begin: number[], end: number[], strides: number[], m: StridedSliceMasks): ResolvedSlice {
  const n = begin.length;
  let ellipsisAt = -1;
  for (let i = 0; i < n; i++) if (bit(m.ellipsis, i)) { ellipsisAt = i; break; }
  const consuming = Array.from({ length: n }, (_, i) => i).filter((i) => i !== ellipsisAt && !bit(m.newAxis, i)).length;
  const axes: AxisSlice[] = [];
  const shrunk: number[] = [];
  const newAxes: number[] = [];
  let dim = 0;
  let out = 0;
  const spec = ellipsisAt >= 0 ? n : n + 1; // without an ellipsis there is an implicit one at the end
  for (let i = 0; i < spec; i++) {
    if (i === ellipsisAt || i === n) {
      const covered = rank - consuming;
      dim += covered;
      out += covered;
      continue;
    }
    if (bit(m.newAxis, i)) {
      newAxes.push(out++);
      continue;
    }
    if (dim >= rank) throw new Error(`strided slice has more indices than the input has axes (${rank})`);
    const shrink = bit(m.shrinkAxis, i);
    const stride = strides[i] ?? 1;
    if (stride === 0) throw new Error('strided slice stride is 0');
    const s: AxisSlice = { axis: dim, begin: begin[i]!, end: end[i]!, stride, beginMasked: bit(m.begin, i) && !shrink, endMasked: bit(m.end, i) && !shrink, shrink };
    if (shrink) {
      s.stride = 1;
      s.end = s.begin + 1;
      s.endMasked = s.end === 0;
      shrunk.push(dim);
    } else out++;
    if (shrink || !isFull(s)) axes.push(s);
    dim++;
  }
  return { axes, shrunk, newAxes };
}

function isFull(s: AxisSlice): boolean {
  return s.stride === 1 && (s.beginMasked || s.begin === 0) && s.endMasked;
}

/** Python-style [start, stop) for one axis of known size (negative strides walk back). */
export function sliceRange(s: AxisSlice, size: number): { start: number; count: number } {
  const norm = (v: number) => (v < 0 ? v + size : v);
  if (s.stride > 0) {
    const start = s.beginMasked ? 0 : clamp(norm(s.begin), 0, size);
    const stop = s.endMasked ? size : clamp(norm(s.end), 0, size);
    return { start, count: Math.max(0, Math.ceil((stop - start) / s.stride)) };
  }
  const start = s.beginMasked ? size - 1 : clamp(norm(s.begin), -1, size - 1);
  const stop = s.endMasked ? -1 : clamp(norm(s.end), -1, size - 1);
  return { start, count: Math.max(0, Math.ceil((start - stop) / -s.stride)) };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** Output shape of a resolved slice. */
export function slicedShape(shape: Dim[], r: ResolvedSlice): Dim[] {
  const dims = shape.map((d, axis) => {
    const s = r.axes.find((a) => a.axis === axis);
    if (!s) return d;
    if (s.shrink) return 1;
    return typeof d === 'number' ? sliceRange(s, d).count : null;
  });
  const kept = dims.filter((_, axis) => !r.shrunk.includes(axis));
  for (const at of r.newAxes) kept.splice(at, 0, 1);
  return kept;
}

/** ONNX Slice bounds for one axis (large sentinels stand for "to the end"). */
export function onnxBounds(s: AxisSlice): { start: number; end: number } {
  const BIG = 2147483647;
  const start = s.beginMasked ? (s.stride > 0 ? 0 : BIG) : s.begin;
  const end = s.endMasked ? (s.stride > 0 ? BIG : -BIG - 1) : s.end;
  return { start, end };
}
