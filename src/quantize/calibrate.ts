/**
 * Calibration: the range of each activation to quantize, from running the float model on sample data.
 *
 * Memory stays bounded: the augmented model (the tensors as extra outputs) runs one batch at a time and
 * each tensor keeps only running statistics — min/max, and for `percentile`/`entropy` a fixed-size
 * histogram whose range doubles (merging bin pairs) when a batch goes beyond it.
 */
import type { Model, Tensor } from '../ir/index.js';
import type { Sample } from '../data/index.js';
import { batches, countRows, hasBatchAxis } from './data.js';
import { observe } from './observe.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

export interface CalibrationOptions {
  method?: CalibrationMethod;
  /** For `percentile`: the share of values kept inside the range, in percent (default 99.999). */
  percentile?: number;
  /** Rows per onnxruntime run (default 16). */
  batchSize?: number;
  /** Use at most this many rows. */
  limit?: number;
  /** Regroup rows into batches (default: when every input's first axis is dynamic; else samples run as they are). */
  splitRows?: boolean;
  threads?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface CalibrationResult {
  method: CalibrationMethod;
  percentile?: number;
  /** Calibrated [min, max] per tensor. */
  ranges: Map<string, [number, number]>;
  rows: number;
  batches: number;
  /** Largest resident set size seen while calibrating, in bytes. */
  peakRssBytes: number;
  seconds: number;
}

const HISTOGRAM_BINS = 2048;

/** A histogram over [-range, range] (symmetric so that growing it keeps bin edges aligned). */
export class Histogram {
  readonly counts = new Float64Array(HISTOGRAM_BINS);
  range = 0;
  total = 0;

  add(values: Float32Array): void {
    let m = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      if (a > m && a !== Infinity) m = a;
    }
    if (m === 0 && this.range === 0) {
      this.counts[HISTOGRAM_BINS / 2] += values.length;
      this.total += values.length;
      return;
    }
    if (this.range === 0) this.range = m;
    while (m > this.range) this.grow();
    const n = HISTOGRAM_BINS;
    const scale = n / (2 * this.range);
    const counts = this.counts;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v !== v) continue;
      let j = Math.floor((v + this.range) * scale);
      if (j < 0) j = 0;
      else if (j >= n) j = n - 1;
      counts[j]++;
    }
    this.total += values.length;
  }

  /** Doubles the range: bin pairs merge into the middle half. */
  private grow(): void {
    const n = HISTOGRAM_BINS;
    const merged = new Float64Array(n);
    for (let i = 0; i < n; i += 2) merged[n / 4 + i / 2] = this.counts[i]! + this.counts[i + 1]!;
    this.counts.set(merged);
    this.range *= 2;
  }

  /** Value at the left edge of bin `j`. */
  edge(j: number): number {
    return -this.range + (j * 2 * this.range) / HISTOGRAM_BINS;
  }
}

interface RunningStats {
  min: number;
  max: number;
  histogram?: Histogram;
}

/** Runs the model over the samples and returns each tensor's calibrated range. */
export async function calibrate(model: Model, tensors: string[], samples: Sample[], opts: CalibrationOptions = {}): Promise<CalibrationResult> {
  const method = opts.method ?? 'minmax';
  const batchSize = opts.batchSize ?? 16;
  const start = performance.now();
  const stats = new Map<string, RunningStats>();
  for (const t of tensors) stats.set(t, { min: Infinity, max: -Infinity, histogram: method === 'minmax' ? undefined : new Histogram() });
  const rows = countRows(samples, opts.limit);
  const total = Math.ceil(rows / batchSize);
  let done = 0;
  let peak = process.memoryUsage().rss;
  await observe(
    model,
    tensors,
    batches(samples, { batchSize, limit: opts.limit, splitRows: opts.splitRows ?? hasBatchAxis(model) }),
    (values) => {
      for (const [name, t] of Object.entries(values)) {
        const s = stats.get(name);
        if (s) update(s, t);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      done++;
      opts.onProgress?.(done, total, 'calibrating');
    },
    { threads: opts.threads },
  );
  const ranges = new Map<string, [number, number]>();
  for (const [name, s] of stats) {
    if (s.min > s.max) continue; // never seen (not a float tensor)
    ranges.set(name, method === 'minmax' ? [s.min, s.max] : method === 'percentile' ? percentileRange(s, opts.percentile ?? 99.999) : entropyRange(s));
  }
  return { method, percentile: method === 'percentile' ? opts.percentile ?? 99.999 : undefined, ranges, rows, batches: done, peakRssBytes: peak, seconds: (performance.now() - start) / 1000 };
}

function update(s: RunningStats, t: Tensor): void {
  if (t.dtype !== 'float32') return;
  const d = t.data as Float32Array;
  let min = s.min;
  let max = s.max;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  s.min = min;
  s.max = max;
  s.histogram?.add(d);
}

/** Range holding `percentile` % of the values, the rest split between both tails (within the observed min/max). */
function percentileRange(s: RunningStats, percentile: number): [number, number] {
  const h = s.histogram!;
  if (h.range === 0) return [s.min, s.max];
  const tail = ((100 - percentile) / 100 / 2) * h.total;
  let acc = 0;
  let lo = 0;
  while (lo < HISTOGRAM_BINS - 1 && acc + h.counts[lo]! <= tail) acc += h.counts[lo++]!;
  acc = 0;
  let hi = HISTOGRAM_BINS - 1;
  while (hi > 0 && acc + h.counts[hi]! <= tail) acc += h.counts[hi--]!;
  return [Math.max(s.min, h.edge(lo)), Math.min(s.max, h.edge(hi + 1))];
}

/**
 * The clipping threshold that minimizes the KL divergence between the value distribution and its
 * quantized version (TensorRT's entropy calibration), over |x| — or over x when no value is negative,
 * which then gets all 256 levels.
 */
function entropyRange(s: RunningStats): [number, number] {
  const h = s.histogram!;
  if (h.range === 0) return [s.min, s.max];
  const half = HISTOGRAM_BINS / 2;
  const oneSided = s.min >= 0;
  const dist = new Float64Array(half);
  for (let i = 0; i < half; i++) dist[i] = h.counts[half + i]! + (oneSided ? 0 : h.counts[half - 1 - i]!);
  const levels = oneSided ? 256 : 128;
  const best = bestThreshold(dist, levels);
  const t = (best * h.range) / half;
  return oneSided ? [0, Math.min(s.max, t)] : [Math.max(s.min, -t), Math.min(s.max, t)];
}

/** Number of bins (from the start) to keep: the one minimizing KL(P ‖ Q). */
export function bestThreshold(dist: Float64Array, levels: number): number {
  const n = dist.length;
  let last = n;
  while (last > 0 && dist[last - 1] === 0) last--;
  if (last <= levels) return Math.max(last, 1);
  let bestKl = Infinity;
  let best = last;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  for (let i = levels; i <= last; i++) {
    // P: the first i bins, with everything beyond folded into the last one.
    p.set(dist.subarray(0, i));
    let outliers = 0;
    for (let k = i; k < last; k++) outliers += dist[k]!;
    p[i - 1]! += outliers;
    // Q: P merged into `levels` groups, each group's mass spread evenly over its non-empty bins.
    const per = i / levels;
    for (let l = 0; l < levels; l++) {
      const a = Math.floor(l * per);
      const b = l === levels - 1 ? i : Math.floor((l + 1) * per);
      let mass = 0;
      let nonEmpty = 0;
      for (let k = a; k < b; k++) {
        mass += dist[k]!;
        if (dist[k] !== 0) nonEmpty++;
      }
      for (let k = a; k < b; k++) q[k] = dist[k] !== 0 ? mass / nonEmpty : 0;
    }
    const kl = divergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return best;
}

function divergence(p: Float64Array, q: Float64Array, n: number): number {
  let ps = 0;
  let qs = 0;
  for (let k = 0; k < n; k++) {
    ps += p[k]!;
    qs += q[k]!;
  }
  if (!ps || !qs) return Infinity;
  let kl = 0;
  for (let k = 0; k < n; k++) {
    const pk = p[k]! / ps;
    if (pk === 0) continue;
    const qk = q[k]! / qs;
    kl += qk === 0 ? pk * 20 : pk * Math.log(pk / qk);
  }
  return kl;
}
