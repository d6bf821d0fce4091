/**
 * Latency statistics and the paired ratio of two models' latencies with a bootstrap confidence interval.
 */
import { quantileSorted as d3QuantileSorted } from 'd3-array';
import { createRng } from '../data/index.js';

// d3-array reads any array-like; its type declarations only admit arrays.
const quantileSorted = (sorted: Float64Array, p: number): number => d3QuantileSorted(sorted as unknown as number[], p)!;

export interface LatencyStats {
  count: number;
  mean: number;
  std: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** Summary of latency samples (ms). Percentiles interpolate linearly between order statistics (numpy's default). */
export function latencyStats(samples: ArrayLike<number>): LatencyStats {
  const n = samples.length;
  if (!n) return { count: 0, mean: NaN, std: NaN, min: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of sorted) sq += (v - mean) ** 2;
  const q = (p: number) => quantileSorted(sorted, p);
  return {
    count: n,
    mean,
    std: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    min: sorted[0]!,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    max: sorted[n - 1]!,
  };
}

export type RatioVerdict = 'faster' | 'slower' | 'no measurable difference';

export interface PairedRatio {
  /** Latency of the candidate over the baseline's (< 1: the candidate is faster). */
  ratio: number;
  /** Bootstrap confidence interval of the ratio. */
  low: number;
  high: number;
  confidence: number;
  pairs: number;
  /** "faster"/"slower" only when the interval excludes 1. */
  verdict: RatioVerdict;
}

export interface RatioOptions {
  resamples?: number;
  confidence?: number;
  seed?: number;
}

/**
 * Geometric mean of the per-round latency ratios candidate[i] / baseline[i] (rounds measured back to
 * back, so noise that hits a round hits both), with a percentile-bootstrap interval over the rounds.
 */
export function pairedRatio(baseline: ArrayLike<number>, candidate: ArrayLike<number>, opts: RatioOptions = {}): PairedRatio {
  const n = Math.min(baseline.length, candidate.length);
  const confidence = opts.confidence ?? 0.95;
  if (n === 0) return { ratio: NaN, low: NaN, high: NaN, confidence, pairs: 0, verdict: 'no measurable difference' };
  const logs = new Float64Array(n);
  for (let i = 0; i < n; i++) logs[i] = Math.log(candidate[i]! / baseline[i]!);
  const meanOf = (pick: (i: number) => number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += logs[pick(i)]!;
    return s / n;
  };
  const ratio = Math.exp(meanOf((i) => i));
  const resamples = opts.resamples ?? 2000;
  const rng = createRng(opts.seed ?? 12345);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) means[r] = meanOf(() => Math.floor(rng() * n));
  means.sort();
  const alpha = (1 - confidence) / 2;
  const low = Math.exp(quantileSorted(means, alpha));
  const high = Math.exp(quantileSorted(means, 1 - alpha));
  const verdict: RatioVerdict = high < 1 ? 'faster' : low > 1 ? 'slower' : 'no measurable difference';
  return { ratio, low, high, confidence, pairs: n, verdict };
}

/** "1.80× faster (1.71–1.90)", "1.25× slower (…)" or "no measurable difference (0.97–1.04)". */
export function describeRatio(r: PairedRatio): string {
  if (!Number.isFinite(r.ratio)) return 'not measured';
  if (r.verdict === 'no measurable difference') return `no measurable difference (ratio ${r.ratio.toFixed(2)}, ${r.low.toFixed(2)}–${r.high.toFixed(2)})`;
  if (r.verdict === 'faster') return `${(1 / r.ratio).toFixed(2)}× faster (${(1 / r.high).toFixed(2)}–${(1 / r.low).toFixed(2)})`;
  return `${r.ratio.toFixed(2)}× slower (${r.low.toFixed(2)}–${r.high.toFixed(2)})`;
}
