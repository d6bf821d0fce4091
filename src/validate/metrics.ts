/**
 * Output-comparison metrics, pure and typed-array based, so every pass (quantize, optimize, ship) can
 * measure "is it still the same model" the same way.
 *
 * `OutputComparator` accumulates over many batches (one pass per batch, float64 sums, Chan's merge for
 * the Pearson co-moments), so a test set never has to be held in memory; `compareOutputs` and
 * `compareArrays` are the one-shot forms.
 */
import type { DType, Tensor, TypedArray } from '../ir/index.js';
import type { Tolerance } from '../testcases/index.js';

export type Numeric = ArrayLike<number>;

export interface OutputMetrics {
  /** Elements compared. */
  count: number;
  /** max |ref − cand|; Infinity when a NaN/Inf differs between the two. */
  maxAbsError: number;
  /** mean |ref − cand| over finite pairs. */
  meanAbsError: number;
  rmse: number;
  /** ‖ref − cand‖₂ / ‖ref‖₂ (0 when both are zero). */
  relativeError: number;
  /** cos(ref, cand); 1 when both are all zeros. */
  cosine: number;
  /** Pearson correlation; null when either side is constant (undefined), unless both are identical. */
  pearson: number | null;
  /** 10·log10(Σref² / Σ(ref − cand)²) in dB; Infinity when identical. */
  sqnrDb: number;
  /** Fraction of elements exactly equal (NaN matches NaN). */
  exactMatch: number;
  /** Positions where one side is NaN/±Inf and the other is not the same. */
  nonFiniteMismatches: number;
  /** Elements outside the tolerance, when one was given. */
  beyondTolerance?: number;
  /** The worst elements (by |ref − cand|) outside the tolerance, worst first. */
  worst?: ElementDiff[];
  /** Classifier-like outputs: rows (all axes but the last) and classes (the last axis). */
  rows?: number;
  classes?: number;
  /** Rows whose reference top-1 class is the candidate's top-1. */
  top1Agreement?: number;
  /** Rows whose reference top-1 class is among the candidate's top 5. */
  top5Agreement?: number;
}

export interface ElementDiff {
  index: number;
  reference: number;
  candidate: number;
  absError: number;
}

export interface CompareOptions {
  /** Size of the class axis (the last) for top-k agreement; leave out for outputs that are not class scores. */
  classes?: number;
  /** Count (and list the worst of) elements with |ref − cand| > atol + rtol·|ref|. */
  tolerance?: Tolerance;
  /** How many worst elements to keep (default 5). */
  worstCount?: number;
}

/** Accumulates comparison metrics over any number of (reference, candidate) batches. */
export class OutputComparator {
  #n = 0;
  #exact = 0;
  #nonFinite = 0;
  #sumAbs = 0;
  #sumSq = 0;
  #maxAbs = 0;
  #sumRefSq = 0;
  #sumCandSq = 0;
  #sumDot = 0;
  // Pearson by parallel (Chan et al.) merge of per-batch means and co-moments.
  #meanRef = 0;
  #meanCand = 0;
  #m2Ref = 0;
  #m2Cand = 0;
  #coMoment = 0;
  #rows = 0;
  #top1 = 0;
  #top5 = 0;
  #beyond = 0;
  #worst: ElementDiff[] = [];
  #offset = 0;

  constructor(readonly options: CompareOptions = {}) {}

  add(ref: Numeric, cand: Numeric): void {
    if (ref.length !== cand.length) throw new Error(`cannot compare ${ref.length} reference values with ${cand.length} candidate values`);
    const tol = this.options.tolerance;
    const keep = this.options.worstCount ?? 5;
    let n = 0;
    let sumRef = 0;
    let sumCand = 0;
    for (let i = 0; i < ref.length; i++) {
      const a = ref[i]!;
      const b = cand[i]!;
      if (a === b || (a !== a && b !== b)) this.#exact++;
      if (!Number.isFinite(a) || !Number.isFinite(b)) {
        if (!(a === b || (a !== a && b !== b))) {
          this.#nonFinite++;
          if (tol) this.#noteBeyond(i, a, b, Infinity, keep);
        }
        continue;
      }
      const d = Math.abs(a - b);
      n++;
      sumRef += a;
      sumCand += b;
      this.#sumAbs += d;
      this.#sumSq += d * d;
      if (d > this.#maxAbs) this.#maxAbs = d;
      this.#sumRefSq += a * a;
      this.#sumCandSq += b * b;
      this.#sumDot += a * b;
      if (tol && d > tol.atol + tol.rtol * Math.abs(a)) this.#noteBeyond(i, a, b, d, keep);
    }
    if (n > 0) {
      const meanA = sumRef / n;
      const meanB = sumCand / n;
      let m2a = 0;
      let m2b = 0;
      let c = 0;
      for (let i = 0; i < ref.length; i++) {
        const a = ref[i]!;
        const b = cand[i]!;
        if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
        const da = a - meanA;
        const db = b - meanB;
        m2a += da * da;
        m2b += db * db;
        c += da * db;
      }
      const total = this.#n + n;
      const deltaA = meanA - this.#meanRef;
      const deltaB = meanB - this.#meanCand;
      const w = (this.#n * n) / total;
      this.#m2Ref += m2a + deltaA * deltaA * w;
      this.#m2Cand += m2b + deltaB * deltaB * w;
      this.#coMoment += c + deltaA * deltaB * w;
      this.#meanRef += (deltaA * n) / total;
      this.#meanCand += (deltaB * n) / total;
      this.#n = total;
    }
    const classes = this.options.classes;
    if (classes && classes > 1) {
      const rows = Math.floor(ref.length / classes);
      for (let r = 0; r < rows; r++) {
        const target = argmax(ref, r * classes, classes);
        const rank = rankOf(cand, r * classes, classes, target);
        if (rank === 0) this.#top1++;
        if (rank < 5) this.#top5++;
      }
      this.#rows += rows;
    }
    this.#offset += ref.length;
  }

  #noteBeyond(i: number, a: number, b: number, d: number, keep: number): void {
    this.#beyond++;
    if (keep <= 0) return;
    const worst = this.#worst;
    if (worst.length === keep && !(d > worst[worst.length - 1]!.absError)) return;
    const entry = { index: this.#offset + i, reference: a, candidate: b, absError: d };
    let at = worst.findIndex((w) => d > w.absError);
    if (at < 0) at = worst.length;
    worst.splice(at, 0, entry);
    if (worst.length > keep) worst.pop();
  }

  result(): OutputMetrics {
    const count = this.#offset;
    const n = this.#n;
    const identical = this.#sumSq === 0 && this.#nonFinite === 0;
    const refNorm = Math.sqrt(this.#sumRefSq);
    const candNorm = Math.sqrt(this.#sumCandSq);
    let pearson: number | null;
    if (this.#m2Ref > 0 && this.#m2Cand > 0) pearson = clamp(this.#coMoment / Math.sqrt(this.#m2Ref * this.#m2Cand), -1, 1);
    else pearson = identical && n > 0 ? 1 : null;
    const m: OutputMetrics = {
      count,
      maxAbsError: this.#nonFinite > 0 ? Infinity : this.#maxAbs,
      meanAbsError: n ? this.#sumAbs / n : 0,
      rmse: n ? Math.sqrt(this.#sumSq / n) : 0,
      relativeError: this.#sumSq === 0 ? 0 : this.#sumRefSq === 0 ? Infinity : Math.sqrt(this.#sumSq / this.#sumRefSq),
      cosine: identical || (refNorm === 0 && candNorm === 0) ? 1 : refNorm === 0 || candNorm === 0 ? 0 : clamp(this.#sumDot / (refNorm * candNorm), -1, 1),
      pearson,
      sqnrDb: this.#sumSq === 0 ? Infinity : 10 * Math.log10(this.#sumRefSq / this.#sumSq),
      exactMatch: count ? this.#exact / count : 1,
      nonFiniteMismatches: this.#nonFinite,
    };
    if (this.options.tolerance) {
      m.beyondTolerance = this.#beyond;
      m.worst = this.#worst.map((w) => ({ ...w }));
    }
    if (this.options.classes && this.options.classes > 1) {
      m.rows = this.#rows;
      m.classes = this.options.classes;
      m.top1Agreement = this.#rows ? this.#top1 / this.#rows : 1;
      m.top5Agreement = this.#rows ? this.#top5 / this.#rows : 1;
    }
    return m;
  }
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** All metrics of one (reference, candidate) pair of arrays. */
export function compareArrays(ref: Numeric, cand: Numeric, opts: CompareOptions = {}): OutputMetrics {
  const c = new OutputComparator(opts);
  c.add(ref, cand);
  return c.result();
}

/**
 * All metrics of two output tensors. Shapes must be equal; the class axis for top-k agreement is the
 * last one when `classes` is true or when the output looks like class scores (see `isClassifierLike`).
 */
export function compareOutputs(ref: Tensor, cand: Tensor, opts: Omit<CompareOptions, 'classes'> & { classes?: boolean } = {}): OutputMetrics {
  assertSameShape(ref, cand);
  const classes = (opts.classes ?? isClassifierLike(ref.name, ref.dtype, ref.dims)) ? ref.dims[ref.dims.length - 1] : undefined;
  return compareArrays(numericValues(ref), numericValues(cand), { ...opts, classes });
}

export function assertSameShape(ref: Tensor, cand: Tensor): void {
  const name = ref.name || cand.name;
  if (ref.dims.length !== cand.dims.length || ref.dims.some((d, i) => d !== cand.dims[i])) {
    throw new Error(`output '${name}': candidate shape [${cand.dims}] differs from the reference's [${ref.dims}]`);
  }
}

const FLOAT_TYPES = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

export const isFloatType = (dtype: DType): boolean => FLOAT_TYPES.has(dtype);

// Outputs with these names hold coordinates or features, not class scores, even when shaped [N, C].
const NOT_CLASS_SCORES = /box|bbox|coord|landmark|keypoint|embed|feature|hidden|regress|offset|mask|depth|pose/i;

/**
 * True when an output looks like class scores: floating point, rank ≥ 2, at least 2 entries on the last
 * axis, and not named like boxes/embeddings/features. Rows are all axes but the last.
 */
export function isClassifierLike(name: string, dtype: DType, dims: readonly (number | string | null)[]): boolean {
  const last = dims[dims.length - 1];
  return isFloatType(dtype) && dims.length >= 2 && (typeof last !== 'number' || last >= 2) && !NOT_CLASS_SCORES.test(name);
}

/** A tensor's elements as float numbers (float32/float64 data as is; others converted once). */
export function numericValues(t: Tensor): Float32Array | Float64Array {
  if (t.dtype === 'float32' || t.dtype === 'float64') return t.data as Float32Array | Float64Array;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return t.toFloat32();
  if (t.dtype === 'string') throw new Error(`output '${t.name}': string tensors have no numeric metrics`);
  const d = t.data as TypedArray;
  const out = new Float64Array(t.size);
  for (let i = 0; i < out.length; i++) out[i] = Number(d[i]);
  return out;
}

/** Index of the largest value in data[start, start + length) (the first on ties; NaN never wins). */
export function argmax(data: Numeric, start = 0, length = data.length - start): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let j = 0; j < length; j++) {
    const v = data[start + j]!;
    if (v > bestValue) {
      bestValue = v;
      best = j;
    }
  }
  return best;
}

/** 0-based rank of class `target` within one row (how many classes score higher, ties broken by index). */
function rankOf(data: Numeric, start: number, length: number, target: number): number {
  const v = data[start + target]!;
  let rank = 0;
  for (let j = 0; j < length; j++) {
    const w = data[start + j]!;
    if (w > v || (w === v && j < target) || (v !== v && w === w)) rank++;
  }
  return rank;
}

/** Top-1 class of each row of a [rows × classes] array. */
export function argmaxRows(data: Numeric, classes: number): Int32Array {
  const rows = Math.floor(data.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = argmax(data, r * classes, classes);
  return out;
}

/** Fraction of rows whose reference top-1 class is among the candidate's top k. */
export function topKAgreement(ref: Numeric, cand: Numeric, classes: number, k = 1): number {
  if (ref.length !== cand.length) throw new Error(`cannot compare ${ref.length} reference values with ${cand.length} candidate values`);
  const rows = Math.floor(ref.length / classes);
  if (!rows) return 1;
  let hits = 0;
  for (let r = 0; r < rows; r++) if (rankOf(cand, r * classes, classes, argmax(ref, r * classes, classes)) < k) hits++;
  return hits / rows;
}

/** Fraction of predictions equal to the labels (same length required). */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length) throw new Error(`${labels.length} labels for ${predictions.length} predictions`);
  if (!labels.length) return 1;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) hits++;
  return hits / labels.length;
}

/** SQNR of a candidate against its reference, in dB (Infinity when identical). */
export const sqnr = (ref: Numeric, cand: Numeric): number => compareArrays(ref, cand).sqnrDb;
/** Cosine similarity of two arrays. */
export const cosineSimilarity = (a: Numeric, b: Numeric): number => compareArrays(a, b).cosine;
/** Pearson correlation of two arrays (null when either is constant). */
export const pearson = (a: Numeric, b: Numeric): number | null => compareArrays(a, b).pearson;
