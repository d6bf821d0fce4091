import { dtypeFromCode, getTensorAttr, type Dim } from '../../ir/index.js';
import { tensorInts, type InferContext } from '../context.js';
import { allFixed, broadcastShapes, dimProduct, dimSum, inferMissingDim, isFixed, normalizeAxis } from '../dims.js';
import type { Rule } from './types.js';

const unknownDims = (n: number): Dim[] => new Array<Dim>(n).fill(null);

/** Length of a 1-D input whose size is fixed (a shape vector), if known. */
function vectorLength(c: InferContext, i: number): number | undefined {
  const s = c.shape(i);
  return s?.length === 1 && isFixed(s[0]) ? s[0] : undefined;
}

/** Axes given as an attribute before `inputFrom`, as input `input` from then on. */
function axesOf(c: InferContext, inputFrom: number, input = 1): number[] | undefined | 'unknown' {
  if (c.opset < inputFrom) return c.attrInts('axes');
  if (!c.has(input)) return undefined;
  return c.ints(input) ?? 'unknown';
}

/** Python-style slice of `dims` with ONNX's clamping; the selected length when `dims` is just a size. */
function sliceRange(size: number, start: number, end: number, step: number): [number, number] {
  if (step > 0) {
    const s = Math.min(Math.max(start < 0 ? start + size : start, 0), size);
    const e = Math.min(Math.max(end < 0 ? end + size : end, 0), size);
    return [s, e];
  }
  const s = Math.min(Math.max(start < 0 ? start + size : start, 0), size - 1);
  const e = Math.min(Math.max(end < 0 ? end + size : end, -1), size - 1);
  return [s, e];
}

function sliceLength(size: number, start: number, end: number, step: number): number {
  const [s, e] = sliceRange(size, start, end, step);
  return Math.max(0, Math.ceil((e - s) / step));
}

/** Ends this large mean "to the end" (exporters write INT64_MAX or INT32_MAX). */
const TO_END = 2 ** 31 - 1;

function sliceRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  if (!shape) return c.set(0, dtype);
  const rank = shape.length;
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (c.opset < 10) {
    starts = c.attrInts('starts');
    ends = c.attrInts('ends');
    axes = c.attrInts('axes');
  } else {
    starts = c.ints(1);
    ends = c.ints(2);
    axes = c.has(3) ? c.ints(3) : undefined;
    steps = c.has(4) ? c.ints(4) : undefined;
    if ((c.has(3) && !axes) || (c.has(4) && !steps)) return c.set(0, dtype, unknownDims(rank));
  }
  if (!starts || !ends) {
    const out = [...shape];
    if (axes) for (const a of axes) out[normalizeAxis(a, rank) ?? 0] = null;
    return c.set(0, dtype, axes ? out : unknownDims(rank));
  }
  axes ??= starts.map((_, i) => i);
  const out = [...shape];
  const value = c.value(0);
  let outValue: Dim[] | undefined;
  axes.forEach((a, k) => {
    const axis = normalizeAxis(a, rank);
    if (axis === undefined) return;
    const step = steps?.[k] ?? 1;
    const d = shape[axis]!;
    if (isFixed(d)) out[axis] = sliceLength(d, starts![k]!, ends![k]!, step);
    else out[axis] = step === 1 && starts![k] === 0 && ends![k]! >= TO_END ? d : null;
    if (rank === 1 && value) {
      const [s, e] = sliceRange(value.length, starts![k]!, ends![k]!, step);
      outValue = [];
      for (let i = s; step > 0 ? i < e : i > e; i += step) outValue.push(value[i]!);
    }
  });
  c.set(0, dtype, out);
  c.setValue(0, outValue);
}

function reshapeRule(c: InferContext): void {
  const dtype = c.dtype(0);
  const target = c.opset >= 5 ? c.value(1) : c.attrInts('shape');
  if (!target) {
    const n = vectorLength(c, 1);
    return c.set(0, dtype, n === undefined ? undefined : unknownDims(n));
  }
  const input = c.shape(0);
  const allowZero = c.attrInt('allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input?.[i] ?? null) : d === -1 ? null : d));
  const missing = target.indexOf(-1);
  if (missing >= 0 && input) out[missing] = inferMissingDim(input, out.filter((_, i) => i !== missing));
  c.set(0, dtype, out.map((d) => (typeof d === 'number' && d < 0 ? null : d)));
  if (out.length <= 1) c.setValue(0, c.value(0));
}

function concatRule(c: InferContext): void {
  const shapes = c.node.inputs.map((_, i) => c.shape(i));
  const known = shapes.find((s) => s !== undefined);
  const dtype = c.node.inputs.map((_, i) => c.dtype(i)).find(Boolean);
  if (!known) return c.set(0, dtype);
  const axis = normalizeAxis(c.attrInt('axis', 0), known.length);
  if (axis === undefined) return c.set(0, dtype);
  const out = known.map((_, i) => {
    if (i === axis) return shapes.every((s) => s) ? dimSum(shapes.map((s) => s![axis]!)) : null;
    const fixed = shapes.find((s) => s && s[i] !== null)?.[i];
    return fixed ?? null;
  });
  c.set(0, dtype, out);
  const values = c.node.inputs.map((_, i) => c.value(i));
  if (known.length <= 1 && values.every((v) => v)) c.setValue(0, values.flatMap((v) => v!));
}

function splitRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  const n = c.node.outputs.length;
  if (!shape) {
    for (let i = 0; i < n; i++) c.set(i, dtype);
    return;
  }
  const axis = normalizeAxis(c.attrInt('axis', 0), shape.length);
  if (axis === undefined) return;
  const split = c.opset < 13 ? c.attrInts('split') : c.has(1) ? (c.ints(1) ?? 'unknown') : undefined;
  const d = shape[axis]!;
  let sizes: Dim[];
  if (split === 'unknown') sizes = unknownDims(n);
  else if (split) sizes = split;
  else if (!isFixed(d)) sizes = unknownDims(n);
  else if (c.opset >= 18 && c.node.attributes.some((a) => a.name === 'num_outputs')) {
    // Opset 18: uneven splits give every chunk ceil(d/n) elements, the last one what remains.
    const chunk = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, d - chunk * i)));
  } else sizes = d % n === 0 ? new Array<Dim>(n).fill(d / n) : unknownDims(n);
  sizes.forEach((size, i) => {
    const out = [...shape];
    out[axis] = size;
    c.set(i, dtype, out);
  });
}

function gatherRule(c: InferContext): void {
  const data = c.shape(0);
  const indices = c.shape(1);
  const dtype = c.dtype(0);
  if (!data || !indices) return c.set(0, dtype);
  const axis = normalizeAxis(c.attrInt('axis', 0), data.length);
  if (axis === undefined) return c.set(0, dtype);
  c.set(0, dtype, [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)]);
  const value = c.value(0);
  const idx = c.ints(1);
  if (data.length === 1 && value && idx && indices.length <= 1) {
    const picked = idx.map((i) => value[i < 0 ? i + value.length : i]);
    if (picked.every((v) => v !== undefined)) c.setValue(0, picked as Dim[]);
  }
}

function squeezeRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  const axes = axesOf(c, 13);
  if (!shape || axes === 'unknown') return c.set(0, dtype);
  let out: Dim[];
  if (axes?.length) {
    const drop = new Set(axes.map((a) => normalizeAxis(a, shape.length)));
    out = shape.filter((_, i) => !drop.has(i));
  } else {
    if (!allFixed(shape)) return c.set(0, dtype);
    out = shape.filter((d) => d !== 1);
  }
  c.set(0, dtype, out);
  if (out.length <= 1) c.setValue(0, c.value(0));
}

function unsqueezeRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  const axes = axesOf(c, 13);
  if (!shape || !axes || axes === 'unknown') return c.set(0, dtype);
  const rank = shape.length + axes.length;
  const inserted = new Set(axes.map((a) => normalizeAxis(a, rank)));
  const rest = [...shape];
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : (rest.shift() ?? null));
  c.set(0, dtype, out);
  if (out.length <= 1) c.setValue(0, c.value(0));
}

function padRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  if (!shape) return c.set(0, dtype);
  const pads = c.opset < 11 ? (c.attrInts('pads') ?? c.attrInts('paddings')) : c.ints(1);
  const axes = c.opset >= 18 && c.has(3) ? c.ints(3) : shape.map((_, i) => i);
  if (!pads || !axes) return c.set(0, dtype, unknownDims(shape.length));
  const out = [...shape];
  axes.forEach((a, k) => {
    const axis = normalizeAxis(a, shape.length);
    if (axis === undefined) return;
    const add = pads[k]! + pads[k + axes.length]!;
    const d = shape[axis]!;
    out[axis] = add === 0 ? d : isFixed(d) ? d + add : null;
  });
  c.set(0, dtype, out);
}

function resizeRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  if (!shape) return c.set(0, dtype);
  const scalesInput = c.node.opType === 'Upsample' ? 1 : c.opset < 11 ? 1 : 2;
  const sizes = c.node.opType === 'Resize' && c.opset >= 11 && c.has(3) ? c.ints(3) : undefined;
  if (c.node.attributes.some((a) => a.name === 'axes')) return c.set(0, dtype, unknownDims(shape.length));
  if (sizes?.length === shape.length) return c.set(0, dtype, sizes);
  const t = c.node.opType === 'Upsample' && c.opset < 9 ? undefined : c.tensor(scalesInput);
  const scales = t && t.size === shape.length ? Array.from(t.toFloat32()) : c.node.opType === 'Upsample' ? c.node.attributes.find((a) => a.name === 'scales')?.value : undefined;
  if (!Array.isArray(scales) || scales.length !== shape.length) return c.set(0, dtype, unknownDims(shape.length));
  c.set(0, dtype, shape.map((d, i) => (scales[i] === 1 ? d : isFixed(d) ? Math.floor(d * (scales[i] as number)) : null)));
}

export const shapeRules: Record<string, Rule> = {
  Shape: (c) => {
    const shape = c.shape(0);
    if (!shape) return c.set(0, 'int64', [null]);
    const [start, end] = sliceRange(shape.length, c.attrInt('start', 0), c.attrInt('end', shape.length), 1);
    const dims = shape.slice(start, end);
    c.set(0, 'int64', [dims.length]);
    c.setValue(0, dims);
  },
  Size: (c) => {
    c.set(0, 'int64', []);
    const shape = c.shape(0);
    if (shape) c.setValue(0, [dimProduct(shape)]);
  },
  Reshape: reshapeRule,
  Flatten: (c) => {
    const shape = c.shape(0);
    if (!shape) return c.set(0, c.dtype(0), [null, null]);
    const axis = c.attrInt('axis', 1);
    const a = axis < 0 ? axis + shape.length : axis;
    c.set(0, c.dtype(0), [dimProduct(shape.slice(0, a)), dimProduct(shape.slice(a))]);
  },
  Squeeze: squeezeRule,
  Unsqueeze: unsqueezeRule,
  Transpose: (c) => {
    const shape = c.shape(0);
    if (!shape) return c.set(0, c.dtype(0));
    const perm = c.attrInts('perm') ?? shape.map((_, i) => shape.length - 1 - i);
    c.set(0, c.dtype(0), perm.map((p) => shape[p] ?? null));
  },
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Gather: gatherRule,
  GatherElements: (c) => c.set(0, c.dtype(0), c.shape(1)),
  GatherND: (c) => {
    const data = c.shape(0);
    const indices = c.shape(1);
    const last = indices?.[indices.length - 1];
    if (!data || !indices || !isFixed(last)) return c.set(0, c.dtype(0));
    const batch = c.attrInt('batch_dims', 0);
    c.set(0, c.dtype(0), [...indices.slice(0, -1), ...data.slice(batch + last)]);
  },
  Expand: (c) => {
    const shape = c.shape(0);
    const target = c.value(1);
    if (shape && target) return c.set(0, c.dtype(0), broadcastShapes([shape, target]));
    const n = vectorLength(c, 1);
    c.set(0, c.dtype(0), n !== undefined && shape ? unknownDims(Math.max(n, shape.length)) : undefined);
  },
  Tile: (c) => {
    const shape = c.shape(0);
    if (!shape) return c.set(0, c.dtype(0));
    const repeats = c.ints(1);
    c.set(0, c.dtype(0), shape.map((d, i) => (!repeats ? null : repeats[i] === 1 ? d : isFixed(d) ? d * repeats[i]! : null)));
  },
  Pad: padRule,
  Range: (c) => {
    const [start, limit, delta] = [c.scalar(0), c.scalar(1), c.scalar(2)];
    const n = start !== undefined && limit !== undefined && delta ? Math.max(Math.ceil((limit - start) / delta), 0) : null;
    c.set(0, c.dtype(0), [n]);
  },
  ConstantOfShape: (c) => {
    const shape = c.value(0);
    const n = vectorLength(c, 0);
    const fill = getTensorAttr(c.node, 'value');
    c.set(0, fill?.dtype ?? 'float32', shape ?? (n !== undefined ? unknownDims(n) : undefined));
    // A short filled integer vector is shape arithmetic (e.g. a run of 1s for a reduced shape).
    if (fill && (fill.dtype === 'int64' || fill.dtype === 'int32') && shape?.length === 1 && isFixed(shape[0]) && shape[0] <= 64) {
      c.setValue(0, new Array<Dim>(shape[0]).fill(tensorInts(fill)[0]!));
    }
  },
  DepthToSpace: (c) => {
    const s = c.shape(0);
    const b = c.attrInt('blocksize', 1);
    if (s?.length !== 4) return c.set(0, c.dtype(0), s ? unknownDims(s.length) : undefined);
    const [n, ch, h, w] = s;
    c.set(0, c.dtype(0), [n!, isFixed(ch) ? ch / (b * b) : null, isFixed(h) ? h * b : null, isFixed(w) ? w * b : null]);
  },
  SpaceToDepth: (c) => {
    const s = c.shape(0);
    const b = c.attrInt('blocksize', 1);
    if (s?.length !== 4) return c.set(0, c.dtype(0), s ? unknownDims(s.length) : undefined);
    const [n, ch, h, w] = s;
    c.set(0, c.dtype(0), [n!, isFixed(ch) ? ch * b * b : null, isFixed(h) ? h / b : null, isFixed(w) ? w / b : null]);
  },
  OneHot: (c) => {
    const shape = c.shape(0);
    if (!shape) return c.set(0, c.dtype(2));
    const depth = c.scalar(1);
    const axis = normalizeAxis(c.attrInt('axis', -1), shape.length + 1) ?? shape.length;
    c.set(0, c.dtype(2), [...shape.slice(0, axis), depth ?? null, ...shape.slice(axis)]);
  },
  NonZero: (c) => c.set(0, 'int64', [c.rank(0) ?? null, null]),
  TopK: (c) => {
    const shape = c.shape(0);
    if (!shape) {
      c.set(0, c.dtype(0));
      return c.set(1, 'int64');
    }
    const axis = normalizeAxis(c.attrInt('axis', -1), shape.length);
    const k = c.opset < 10 ? c.attrInt('k', -1) : (c.scalar(1) ?? -1);
    const out = [...shape];
    if (axis !== undefined) out[axis] = k >= 0 ? k : null;
    c.set(0, c.dtype(0), out);
    c.set(1, 'int64', out);
  },
  Resize: resizeRule,
  Upsample: resizeRule,
  EyeLike: (c) => {
    const dtype = c.attrInt('dtype', 0);
    c.set(0, dtype ? dtypeFromCode(dtype) : c.dtype(0), c.shape(0));
  },
};
