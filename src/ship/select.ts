/**
 * Constraints and the choice. A candidate passes when every constraint holds; among those the
 * objective decides, and a measured latency only decides between two candidates when bench's 95%
 * bootstrap interval of their paired ratio stays clear of equality by more than NOISE_MARGIN —
 * within noise, the smaller file wins (then the more accurate), so the same input gives the same
 * choice run after run. When none passes, the closest ships, with each missed constraint and by how much.
 */
import { describeRatio, type PairedRatio } from '../bench/index.js';

export type Objective = 'latency' | 'size' | 'accuracy';
export const OBJECTIVES: readonly Objective[] = ['latency', 'size', 'accuracy'];

export interface Constraints {
  /** Largest allowed drop in task accuracy against the original, as a fraction (0.01 = 1 point); needs labels. */
  maxAccuracyDrop?: number;
  /** Smallest allowed agreement with the original (top-1 for classifiers, else Pearson/cosine), 0..1. */
  minAgreement?: number;
  /** Largest allowed median latency per call at the benched batch, ms. */
  targetLatencyMs?: number;
  /** Largest allowed model file, bytes. */
  maxSizeBytes?: number;
}

export type ConstraintName = 'accuracy' | 'agreement' | 'latency' | 'size' | 'outputs';

export interface ConstraintCheck {
  constraint: ConstraintName;
  passed: boolean;
  value: number;
  limit: number;
  /** How far past the limit, in the constraint's unit (0 when passed). */
  gap: number;
  /** The gap relative to the limit (latency/size: value/limit − 1; accuracy/agreement: gap / the budget). */
  relativeGap: number;
  /** e.g. "p50 latency 0.052 ms > target 0.001 ms (52×)". */
  text: string;
}

/** What selection needs to know about a measured candidate. */
export interface Measured {
  name: string;
  sizeBytes: number;
  /** Median latency per call, ms. */
  p50Ms: number;
  /** Accuracy drop (fraction, with labels) or undefined. */
  accuracyDrop?: number;
  /** Agreement with the original, 0..1. */
  agreement: number;
  /** Outputs that could not be compared or whose non-finite values differ (always a failure). */
  outputProblems: string[];
}

const fmtMs = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));
const mb = (b: number) => `${(b / 1048576).toFixed(b < 1048576 ? 3 : 1)} MiB`;

export function checkConstraints(m: Measured, c: Constraints): ConstraintCheck[] {
  const checks: ConstraintCheck[] = [];
  if (m.outputProblems.length) {
    checks.push({ constraint: 'outputs', passed: false, value: m.outputProblems.length, limit: 0, gap: m.outputProblems.length, relativeGap: Infinity, text: m.outputProblems.join('; ') });
  }
  if (c.maxAccuracyDrop !== undefined) {
    const drop = m.accuracyDrop ?? NaN;
    // An epsilon keeps "exactly the budget" (1 of 100 rows) from failing on float rounding.
    const passed = drop <= c.maxAccuracyDrop + 1e-12;
    const gap = passed ? 0 : drop - c.maxAccuracyDrop;
    checks.push({
      constraint: 'accuracy',
      passed,
      value: drop,
      limit: c.maxAccuracyDrop,
      gap,
      relativeGap: gap / Math.max(c.maxAccuracyDrop, 0.001),
      text: `accuracy drop ${(drop * 100).toFixed(2)} points ${passed ? '≤' : '>'} ${(c.maxAccuracyDrop * 100).toFixed(2)}${passed ? '' : ` (over by ${(gap * 100).toFixed(2)} points)`}`,
    });
  }
  if (c.minAgreement !== undefined) {
    const passed = m.agreement >= c.minAgreement - 1e-12;
    const gap = passed ? 0 : c.minAgreement - m.agreement;
    checks.push({
      constraint: 'agreement',
      passed,
      value: m.agreement,
      limit: c.minAgreement,
      gap,
      relativeGap: gap / Math.max(1 - c.minAgreement, 0.001),
      text: `agreement ${m.agreement.toFixed(4)} ${passed ? '≥' : '<'} ${c.minAgreement}${passed ? '' : ` (short by ${gap.toFixed(4)})`}`,
    });
  }
  // Latency and size: at most the limit; the relative gap is how many times over it.
  const atMost = (constraint: ConstraintName, value: number, limit: number, describe: (passed: boolean, gap: number) => string): ConstraintCheck => {
    const passed = value <= limit;
    const gap = passed ? 0 : value - limit;
    return { constraint, passed, value, limit, gap, relativeGap: passed ? 0 : value / limit - 1, text: describe(passed, gap) };
  };
  if (c.targetLatencyMs !== undefined) {
    const target = c.targetLatencyMs;
    checks.push(
      atMost('latency', m.p50Ms, target, (passed, gap) => `p50 latency ${fmtMs(m.p50Ms)} ms ${passed ? '≤' : '>'} target ${target} ms${passed ? '' : ` (${(m.p50Ms / target).toPrecision(3)}× the target, ${fmtMs(gap)} ms over)`}`),
    );
  }
  if (c.maxSizeBytes !== undefined) {
    const max = c.maxSizeBytes;
    checks.push(atMost('size', m.sizeBytes, max, (passed, gap) => `size ${mb(m.sizeBytes)} ${passed ? '≤' : '>'} ${mb(max)}${passed ? '' : ` (${mb(gap)} over)`}`));
  }
  return checks;
}

export interface Selection {
  chosen: string;
  passed: boolean;
  reason: string;
  /** The objective's runner-up, and whether it is within noise of the choice. */
  runnerUp?: { name: string; withinNoise: boolean; comparison: string };
  /** Every candidate whose latency is within noise of the fastest passing one (latency objective). */
  noiseGroup?: string[];
  /** The constraints the shipped candidate misses (passed false). */
  failed: ConstraintCheck[];
}

/** Paired latency ratio of b over a (< 1: b is faster), from the same bench run. */
export type RatioOf = (a: string, b: string) => PairedRatio | undefined;

/**
 * Latency differences smaller than this fraction do not decide. Thousands of paired rounds make the
 * interval narrow enough to call a 1% difference "measurable", yet on a shared machine such a
 * difference comes and goes between runs; within it, the choice falls to size.
 */
export const NOISE_MARGIN = 0.03;

/** True when the interval of the ratio reaches within NOISE_MARGIN of 1 (bench could not tell them apart). */
export function withinNoise(r: PairedRatio | undefined): boolean {
  return r !== undefined && r.low <= 1 + NOISE_MARGIN && r.high >= 1 / (1 + NOISE_MARGIN);
}


/** Picks a candidate (see module doc). `candidates` are in strategy order; checks per candidate name. */
export function selectCandidate(candidates: Measured[], checks: Map<string, ConstraintCheck[]>, objective: Objective, ratioOf: RatioOf): Selection {
  if (!candidates.length) throw new Error('no candidate could be generated and measured');
  const passing = candidates.filter((c) => checks.get(c.name)!.every((k) => k.passed));
  if (!passing.length) {
    // Closest: the smallest sum of relative gaps; the objective breaks ties.
    const total = (c: Measured) => checks.get(c.name)!.reduce((s, k) => s + (k.passed ? 0 : k.relativeGap), 0);
    const ordered = [...candidates].sort((a, b) => total(a) - total(b) || byObjective(objective)(a, b));
    const chosen = ordered[0]!;
    const failed = checks.get(chosen.name)!.filter((k) => !k.passed);
    return {
      chosen: chosen.name,
      passed: false,
      failed,
      reason: `no candidate meets every constraint; ${chosen.name} comes closest: ${failed.map((f) => f.text).join('; ')}`,
    };
  }
  const order = [...passing].sort(byObjective(objective));
  let chosen = order[0]!;
  let noiseGroup: string[] | undefined;
  let why: string;
  if (objective === 'latency') {
    // Candidates indistinguishable from the fastest: the smaller file, then the more accurate, wins.
    const group = order.filter((c) => c === chosen || withinNoise(ratioOf(chosen.name, c.name)));
    const bySize = [...group].sort((a, b) => a.sizeBytes - b.sizeBytes || b.agreement - a.agreement);
    const fastest = chosen;
    chosen = bySize[0]!;
    noiseGroup = group.length > 1 ? group.map((c) => c.name) : undefined;
    why = noiseGroup
      ? `${noiseGroup.join(', ')} are within noise of each other in latency (bench's 95% interval reaches within ${NOISE_MARGIN * 100}% of equal); ${chosen.name} is the smallest of them${chosen !== fastest ? ` (${fastest.name} measured fastest)` : ''}`
      : `the fastest of ${passing.length} candidates meeting every constraint`;
  } else if (objective === 'size') {
    why = `the smallest of ${passing.length} candidates meeting every constraint`;
  } else {
    why = `the most accurate of ${passing.length} candidates meeting every constraint`;
  }
  if (passing.length === 1) why = 'the only candidate meeting every constraint';
  const rest = order.filter((c) => c !== chosen);
  const runner = rest[0];
  let runnerUp: Selection['runnerUp'];
  if (runner) {
    const r = ratioOf(chosen.name, runner.name);
    const latency = r ? `${runner.name} vs ${chosen.name}: ${describeRatio(r)}` : 'latency not compared';
    const sizeText = `${mb(runner.sizeBytes)} vs ${mb(chosen.sizeBytes)}`;
    const tied = objective === 'latency' ? withinNoise(r) : objective === 'size' ? runner.sizeBytes === chosen.sizeBytes && withinNoise(r) : runner.agreement === chosen.agreement && withinNoise(r);
    runnerUp = { name: runner.name, withinNoise: tied, comparison: objective === 'latency' ? latency : `${sizeText}; ${latency}` };
  }
  const reason = `${chosen.name}: ${why}${runnerUp ? `; runner-up ${runnerUp.comparison}${runnerUp.withinNoise ? ' (within noise)' : ''}` : ''}`;
  return { chosen: chosen.name, passed: true, reason, runnerUp, noiseGroup, failed: [] };
}

function byObjective(objective: Objective): (a: Measured, b: Measured) => number {
  const accuracy = (m: Measured) => (m.accuracyDrop !== undefined ? -m.accuracyDrop : m.agreement);
  switch (objective) {
    case 'latency':
      return (a, b) => a.p50Ms - b.p50Ms;
    case 'size':
      return (a, b) => a.sizeBytes - b.sizeBytes || a.p50Ms - b.p50Ms;
    case 'accuracy':
      return (a, b) => accuracy(b) - accuracy(a) || a.p50Ms - b.p50Ms;
  }
}
