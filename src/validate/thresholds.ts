/**
 * Pass/fail limits on output metrics. Defaults fit "the same model, transformed" (optimized, converted,
 * quantized to 8 bits): outputs point the same way (cosine) and classifiers pick the same class.
 */
import { isFloatType, type OutputMetrics } from './metrics.js';
import type { DType } from '../ir/index.js';

export interface Thresholds {
  /** Largest allowed max |ref − cand| (no default: it depends on the output's scale). */
  maxAbs?: number;
  /** Smallest allowed cosine similarity per floating-point output (default 0.99). */
  minCosine?: number;
  /** Smallest allowed top-1 agreement per classifier-like output (default 0.9). */
  minTop1Agreement?: number;
  /** Largest allowed drop in task accuracy (with labels), as a fraction (default 0.01 = 1 point). */
  maxAccuracyDrop?: number;
  /** Smallest allowed SQNR in dB (no default). */
  minSqnrDb?: number;
  /**
   * Smallest allowed Pearson correlation per floating-point output (default 0.99). Catches what cosine
   * misses on outputs with a large common offset (regressors: predicted SSIM ≈ 0.8 everywhere). Not
   * checked where it is undefined (an output constant over the whole run).
   */
  minPearson?: number;
  /** Largest allowed ‖ref − cand‖ / ‖ref‖ (no default). */
  maxRelativeError?: number;
  /** Smallest allowed fraction of exactly equal elements per integer/bool output (default 0.9). */
  minExactMatch?: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  minCosine: 0.99,
  minPearson: 0.99,
  minTop1Agreement: 0.9,
  maxAccuracyDrop: 0.01,
  minExactMatch: 0.9,
});

/** The defaults with the given limits put over them (an explicit `undefined` removes a default). */
export function resolveThresholds(given: Thresholds = {}): Thresholds {
  return { ...DEFAULT_THRESHOLDS, ...given };
}

export interface Check {
  /** The metric checked, as named in OutputMetrics (or 'accuracyDrop'). */
  metric: string;
  value: number | null;
  op: '<=' | '>=';
  limit: number;
  passed: boolean;
}

function check(metric: string, value: number | null, op: '<=' | '>=', limit: number): Check {
  const passed = value !== null && !Number.isNaN(value) && (op === '<=' ? value <= limit : value >= limit);
  return { metric, value, op, limit, passed };
}

/** The checks that apply to one output's metrics. A NaN/Inf that differs always fails. */
export function checkMetrics(m: OutputMetrics, dtype: DType, t: Thresholds): Check[] {
  const checks: Check[] = [check('nonFiniteMismatches', m.nonFiniteMismatches, '<=', 0)];
  const float = isFloatType(dtype);
  if (t.maxAbs !== undefined) checks.push(check('maxAbsError', m.maxAbsError, '<=', t.maxAbs));
  if (float && t.minCosine !== undefined) checks.push(check('cosine', m.cosine, '>=', t.minCosine));
  if (t.minSqnrDb !== undefined) checks.push(check('sqnrDb', m.sqnrDb, '>=', t.minSqnrDb));
  if (float && t.minPearson !== undefined && m.pearson !== null) checks.push(check('pearson', m.pearson, '>=', t.minPearson));
  if (t.maxRelativeError !== undefined) checks.push(check('relativeError', m.relativeError, '<=', t.maxRelativeError));
  if (!float && t.minExactMatch !== undefined) checks.push(check('exactMatch', m.exactMatch, '>=', t.minExactMatch));
  if (m.top1Agreement !== undefined && t.minTop1Agreement !== undefined) checks.push(check('top1Agreement', m.top1Agreement, '>=', t.minTop1Agreement));
  return checks;
}

/** One line per failed check, e.g. "output 'logits': cosine 0.9512 < 0.99". */
export function describeFailure(output: string, c: Check): string {
  const shown = c.value === null ? 'undefined' : formatMetric(c.value);
  return `output '${output}': ${c.metric} ${shown} ${c.op === '>=' ? '<' : '>'} ${c.limit}`;
}

export function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : Number(v.toPrecision(5)).toString();
}
