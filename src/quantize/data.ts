/**
 * Feeding data through a model in batches: samples (each a feed whose tensors may hold many rows) are
 * regrouped into batches of at most `batchSize` rows along axis 0, so calibration and evaluation run
 * onnxruntime a bounded number of rows at a time whatever the files hold.
 */
import { Tensor, type DType, type Model, type TypedArray } from '../ir/index.js';
import { inputSpecs, type Sample } from '../data/index.js';

export interface BatchOptions {
  batchSize: number;
  /** Stop after this many rows in total. */
  limit?: number;
  /** False when the model's inputs have a fixed first axis: samples are then fed as they are. */
  splitRows?: boolean;
}

export interface Batch {
  feeds: Sample;
  rows: number;
  /** Index of this batch's first row among all rows (for labels). */
  firstRow: number;
}

/** True when every input's first axis is dynamic, so rows can be regrouped into batches of any size. */
export function hasBatchAxis(model: Model): boolean {
  return inputSpecs(model).every((s) => s.shape.length > 0 && typeof s.shape[0] !== 'number');
}

/** Rows along axis 0 shared by every input of the sample, or undefined when the inputs disagree. */
function sampleRows(sample: Sample): number | undefined {
  let rows: number | undefined;
  for (const t of Object.values(sample)) {
    const r = t.dims[0];
    if (r === undefined) return undefined;
    if (rows === undefined) rows = r;
    else if (rows !== r) return undefined;
  }
  return rows;
}

const rowShapeKey = (sample: Sample) =>
  Object.entries(sample)
    .map(([k, t]) => `${k}:${t.dtype}:${t.dims.slice(1).join('x')}`)
    .sort()
    .join('|');

/** Rows [start, end) of a tensor as a view (no copy). */
function sliceRows(t: Tensor, start: number, end: number): Tensor {
  if (start === 0 && end === t.dims[0]) return t;
  const rowSize = t.size / t.dims[0]!;
  const dims = [end - start, ...t.dims.slice(1)];
  const data = t.data;
  if (Array.isArray(data)) return Tensor.from('string', dims, data.slice(start * rowSize, end * rowSize), t.name);
  return Tensor.from(t.dtype, dims, (data as TypedArray).subarray(start * rowSize, end * rowSize), t.name);
}

function concatRows(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  const rows = parts.reduce((n, t) => n + t.dims[0]!, 0);
  const dims = [rows, ...first.dims.slice(1)];
  if (first.dtype === 'string') return Tensor.from('string', dims, parts.flatMap((t) => t.data as string[]), first.name);
  const ctor = (first.data as TypedArray).constructor as new (n: number) => TypedArray;
  const out = new ctor(parts.reduce((n, t) => n + (t.data as TypedArray).length, 0));
  let at = 0;
  for (const t of parts) {
    const d = t.data as TypedArray;
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(d as ArrayLike<unknown>, at);
    at += d.length;
  }
  return Tensor.from(first.dtype as DType, dims, out, first.name);
}

/** Regroups samples into batches (see module doc). Consecutive samples with the same row shape merge. */
export function* batches(samples: Sample[], opts: BatchOptions): Generator<Batch> {
  const limit = opts.limit ?? Infinity;
  let emitted = 0;
  let pending: Sample[] = [];
  let pendingRows = 0;
  let pendingKey = '';
  function* flush(): Generator<Batch> {
    if (!pendingRows) return;
    const names = Object.keys(pending[0]!);
    const feeds: Sample = {};
    for (const n of names) feeds[n] = concatRows(pending.map((s) => s[n]!));
    yield { feeds, rows: pendingRows, firstRow: emitted - pendingRows };
    pending = [];
    pendingRows = 0;
  }
  for (const sample of samples) {
    if (emitted >= limit) break;
    const rows = opts.splitRows === false ? undefined : sampleRows(sample);
    if (rows === undefined) {
      yield* flush();
      const r = Object.values(sample)[0]?.dims[0] ?? 1;
      emitted += r;
      yield { feeds: sample, rows: r, firstRow: emitted - r };
      continue;
    }
    const key = rowShapeKey(sample);
    if (key !== pendingKey) {
      yield* flush();
      pendingKey = key;
    }
    for (let start = 0; start < rows && emitted < limit; ) {
      const take = Math.min(rows - start, opts.batchSize - pendingRows, limit - emitted);
      const part: Sample = {};
      for (const [n, t] of Object.entries(sample)) part[n] = sliceRows(t, start, start + take);
      pending.push(part);
      pendingRows += take;
      emitted += take;
      start += take;
      if (pendingRows >= opts.batchSize) yield* flush();
    }
  }
  yield* flush();
}

/** Total rows the batches will hold (without building them). */
export function countRows(samples: Sample[], limit = Infinity): number {
  let n = 0;
  for (const s of samples) n += sampleRows(s) ?? Object.values(s)[0]?.dims[0] ?? 1;
  return Math.min(n, limit);
}
