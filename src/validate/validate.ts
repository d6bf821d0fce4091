/**
 * validate: run a reference and a candidate model on the same inputs and measure, per output, how far
 * apart they are (see metrics.ts); with labels, task accuracy of both; pass/fail by thresholds.
 * The reference can also be the expected outputs of ONNX test data sets (`validateExpected`).
 */
import { decodeModel, loadModel } from '../io/index.js';
import type { DType, Model, Tensor } from '../ir/index.js';
import { checkFeeds, createSession, requireRuntime, type ModelLike, type ModelSession, type RuntimeName } from '../runtime/index.js';
import { generateInputs, inferInputRanges, inputSpecs, loadSamples, type GenerateOptions, type LoadedSample } from '../data/index.js';
import { DEFAULT_TOLERANCE, type Tolerance } from '../testcases/index.js';
import { accuracy, argmaxRows, assertSameShape, isClassifierLike, numericValues, OutputComparator, type OutputMetrics } from './metrics.js';
import { checkMetrics, describeFailure, formatMetric, resolveThresholds, type Check, type Thresholds } from './thresholds.js';
import { loadLabels } from './labels.js';

export type ValidateRuntime = RuntimeName | 'both';

export interface ValidateOptions extends Pick<GenerateOptions, 'batch' | 'dims'> {
  /** Input data: ONNX test-case folders, test_data_set_N folders, .pb or .json files, or loaded samples. Else generated. */
  data?: (string | LoadedSample)[];
  /** Generated samples (default 8), or the first N samples of `data`. */
  samples?: number;
  /** Seed of generated sample i is seed + i (default 0). */
  seed?: number;
  /** Class labels (a file, see loadLabels, or the values), one per row of the classifier output. */
  labels?: string | ArrayLike<number>;
  /** The output the labels refer to (default: the first classifier-like output). */
  labelOutput?: string;
  /** Limits on the metrics; DEFAULT_THRESHOLDS fill in the rest. */
  thresholds?: Thresholds;
  /** Where the candidate runs: node (default), wasm, cuda, or both node and wasm (their agreement is reported). */
  runtime?: ValidateRuntime;
  /** Where the reference runs (default node). */
  referenceRuntime?: RuntimeName;
  threads?: number;
  /** Outputs to treat as class scores (default: those that look like it, see isClassifierLike). */
  classifierOutputs?: string[];
  /** Elements outside this tolerance are counted and the worst listed (default rtol 1e-3, atol 1e-5). */
  tolerance?: Tolerance;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface OutputReport {
  name: string;
  dtype?: DType;
  /** Shape of the last sample's output. */
  shape?: number[];
  classifier: boolean;
  metrics?: OutputMetrics;
  checks: Check[];
  passed: boolean;
  /** Why it could not be compared (missing in the candidate, shape differs). */
  error?: string;
}

export interface AccuracyReport {
  output: string;
  labels: number;
  reference: number;
  candidate: number;
  /** reference − candidate (positive: the candidate is worse). */
  drop: number;
  check?: Check;
}

export interface RuntimeRun {
  runtime: RuntimeName;
  passed: boolean;
  outputs: OutputReport[];
  accuracy?: AccuracyReport;
}

export interface CrossRuntimeReport {
  runtimes: [RuntimeName, RuntimeName];
  tolerance: Tolerance;
  /** True when every element of every output is within the tolerance. */
  agree: boolean;
  outputs: { name: string; metrics?: OutputMetrics; error?: string }[];
  /** One line per output whose elements differ beyond the tolerance (with the worst element). */
  mismatches: string[];
}

export interface ValidateResult {
  passed: boolean;
  reference: { model: string; runtime: RuntimeName | 'expected outputs' };
  candidate: { model: string; runtimes: RuntimeName[] };
  inputs: {
    source: 'data' | 'generated';
    samples: number;
    /** Rows along the first axis, over all samples. */
    rows: number;
    seed?: number;
    /** How generated values were drawn, per input (e.g. "index < 8000", "mask", "image [0,1)"). */
    ranges?: Record<string, string>;
    files?: string[];
    shapes: Record<string, number[]>;
  };
  thresholds: Thresholds;
  /** The candidate (on its first runtime) against the reference. */
  outputs: OutputReport[];
  accuracy?: AccuracyReport;
  /** The candidate on further runtimes (runtime 'both': wasm) against the reference. */
  otherRuntimes?: RuntimeRun[];
  crossRuntime?: CrossRuntimeReport;
  /** One line per failed check, naming the output and the metric. */
  failures: string[];
  durationMs: number;
}

const DEFAULT_SAMPLES = 8;

function modelLabel(m: ModelLike): string {
  if (typeof m === 'string') return m;
  if (m instanceof Uint8Array) return 'model bytes';
  return m.graph.name || 'model';
}

function toModel(m: ModelLike): Model {
  if (typeof m === 'string') return loadModel(m);
  if (m instanceof Uint8Array) return decodeModel(m);
  return m;
}

function candidateRuntimes(r: ValidateRuntime | undefined): RuntimeName[] {
  return r === 'both' ? ['node', 'wasm'] : [r ?? 'node'];
}

async function openSessions(model: ModelLike, runtimes: RuntimeName[], threads: number | undefined): Promise<ModelSession[]> {
  for (const runtime of runtimes) await requireRuntime(runtime);
  const sessions: ModelSession[] = [];
  try {
    for (const runtime of runtimes) sessions.push(await createSession(model, { runtime, threads }));
  } catch (e) {
    await Promise.all(sessions.map((s) => s.release()));
    throw e;
  }
  return sessions;
}

/** Runs `session` on a sample, naming the sample in any feed error. */
async function runSample(session: ModelSession, sample: LoadedSample, who: string): Promise<Record<string, Tensor>> {
  try {
    checkFeeds(session.inputs, sample.inputs);
  } catch (e) {
    throw new Error(`${sample.source}: ${who}: ${(e as Error).message}`);
  }
  return session.run(sample.inputs);
}

/** Compares a reference and a candidate model on the same inputs. */
export async function validate(reference: ModelLike, candidate: ModelLike, opts: ValidateOptions = {}): Promise<ValidateResult> {
  const start = performance.now();
  const refModel = toModel(reference);
  const { samples, inputs } = prepareSamples(refModel, opts);
  const labels = prepareLabels(opts.labels);
  await requireRuntime(opts.referenceRuntime ?? 'node');
  const refSession = await createSession(typeof reference === 'string' ? reference : refModel, { runtime: opts.referenceRuntime ?? 'node', threads: opts.threads });
  try {
    const candidates = await openSessions(candidate, candidateRuntimes(opts.runtime), opts.threads);
    try {
      const refOutputs = refSession.outputs.map((o) => o.name);
      const body = await compareRuns(samples, (s) => runSample(refSession, s, 'reference'), refOutputs, candidates, labels, opts);
      return {
        reference: { model: modelLabel(reference), runtime: refSession.runtime },
        candidate: { model: modelLabel(candidate), runtimes: candidates.map((c) => c.runtime) },
        inputs,
        ...body,
        durationMs: performance.now() - start,
      };
    } finally {
      await Promise.all(candidates.map((c) => c.release()));
    }
  } finally {
    await refSession.release();
  }
}

/**
 * Compares a model's outputs with the expected outputs (output_i.pb) of ONNX test data: `expected` are
 * test-case folders, test_data_set_N folders, or loaded samples that carry outputs.
 */
export async function validateExpected(model: ModelLike, expected: (string | LoadedSample)[], opts: Omit<ValidateOptions, 'data' | 'referenceRuntime'> = {}): Promise<ValidateResult> {
  const start = performance.now();
  const ir = toModel(model);
  const { samples, inputs } = prepareSamples(ir, { ...opts, data: expected });
  for (const s of samples) if (!s.outputs?.length) throw new Error(`${s.source}: no expected outputs (output_*.pb) to compare with`);
  const labels = prepareLabels(opts.labels);
  const candidates = await openSessions(typeof model === 'string' ? model : ir, candidateRuntimes(opts.runtime), opts.threads);
  try {
    const names = candidates[0]!.outputs.map((o) => o.name);
    const expectedOf = async (s: LoadedSample): Promise<Record<string, Tensor>> => {
      const outs = s.outputs!;
      if (outs.length > names.length) throw new Error(`${s.source}: ${outs.length} expected outputs for a model with ${names.length}`);
      // By name when every tensor carries an output's name, else by position (as ONNX's runner does).
      const byName = outs.every((t) => names.includes(t.name));
      return Object.fromEntries(outs.map((t, i) => [byName ? t.name : names[i]!, t]));
    };
    const body = await compareRuns(samples, expectedOf, names, candidates, labels, opts, true);
    return {
      reference: { model: expected.map((e) => (typeof e === 'string' ? e : e.source)).join(', '), runtime: 'expected outputs' },
      candidate: { model: modelLabel(model), runtimes: candidates.map((c) => c.runtime) },
      inputs,
      ...body,
      durationMs: performance.now() - start,
    };
  } finally {
    await Promise.all(candidates.map((c) => c.release()));
  }
}

function prepareLabels(labels: ValidateOptions['labels']): { values: Int32Array; source: string } | undefined {
  if (labels === undefined) return undefined;
  if (typeof labels === 'string') return { values: loadLabels(labels), source: labels };
  return { values: Int32Array.from(labels), source: 'labels' };
}

function prepareSamples(model: Model, opts: ValidateOptions): { samples: LoadedSample[]; inputs: ValidateResult['inputs'] } {
  const specs = inputSpecs(model);
  let samples: LoadedSample[];
  let inputs: Omit<ValidateResult['inputs'], 'rows' | 'shapes'>;
  if (opts.data?.length) {
    samples = opts.data.flatMap((d) => (typeof d === 'string' ? loadSamples([d], specs) : [d]));
    if (opts.samples !== undefined) samples = samples.slice(0, opts.samples);
    if (!samples.length) throw new Error(`${opts.data.map((d) => (typeof d === 'string' ? d : d.source)).join(', ')}: no samples in it`);
    inputs = { source: 'data', samples: samples.length, files: samples.map((s) => s.source) };
  } else {
    const count = opts.samples ?? DEFAULT_SAMPLES;
    const seed = opts.seed ?? 0;
    samples = Array.from({ length: count }, (_, i) => ({
      source: `generated sample ${i} (seed ${seed + i})`,
      inputs: generateInputs(model, { seed: seed + i, batch: opts.batch, dims: opts.dims }),
    }));
    const ranges: Record<string, string> = {};
    for (const [name, r] of inferInputRanges(model.graph)) {
      ranges[name] = r.kind === 'index' ? `index < ${r.max}` : r.kind === 'image' ? 'image [0,1)' : r.kind === 'normal' ? 'normal(0,1)' : r.kind;
    }
    inputs = { source: 'generated', samples: count, seed, ranges };
  }
  const first = samples[0]?.inputs ?? {};
  const shapes = Object.fromEntries(Object.entries(first).map(([k, t]) => [k, t.dims]));
  const rows = samples.reduce((n, s) => n + (Object.values(s.inputs)[0]?.dims[0] ?? 1), 0);
  return { samples, inputs: { ...inputs, rows, shapes } };
}

interface OutputState {
  name: string;
  dtype?: DType;
  shape?: number[];
  classes?: number;
  comparator?: OutputComparator;
  error?: string;
}

type Body = Omit<ValidateResult, 'reference' | 'candidate' | 'inputs' | 'durationMs'>;

async function compareRuns(
  samples: LoadedSample[],
  runReference: (s: LoadedSample) => Promise<Record<string, Tensor>>,
  outputNames: string[],
  candidates: ModelSession[],
  labels: { values: Int32Array; source: string } | undefined,
  opts: ValidateOptions,
  referenceIsData = false,
): Promise<Body> {
  const thresholds = resolveThresholds(opts.thresholds);
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const forced = opts.classifierOutputs ? new Set(opts.classifierOutputs) : undefined;
  const perRuntime: OutputState[][] = candidates.map(() => outputNames.map((name) => ({ name })));
  const cross: OutputState[] | undefined = candidates.length > 1 ? outputNames.map((name) => ({ name })) : undefined;
  let labelOutput = opts.labelOutput;
  if (labelOutput !== undefined && !outputNames.includes(labelOutput)) throw new Error(`--label-output: the model has no output '${labelOutput}' (outputs: ${outputNames.join(', ')})`);
  const refPredictions: number[] = [];
  const candPredictions: number[][] = candidates.map(() => []);

  const compareInto = (state: OutputState, ref: Tensor | undefined, cand: Tensor | undefined, classesFrom: Tensor | undefined, tol?: Tolerance) => {
    if (state.error) return;
    if (!ref) return void (state.error = `output '${state.name}' is missing from the reference`);
    if (!cand) return void (state.error = `output '${state.name}' is missing from the candidate`);
    try {
      assertSameShape(ref, cand);
      if (!state.comparator) {
        const t = classesFrom ?? ref;
        const classifier = forced ? forced.has(state.name) : isClassifierLike(state.name, t.dtype, t.dims);
        state.classes = classifier && t.dims.length >= 1 ? t.dims[t.dims.length - 1] : undefined;
        state.comparator = new OutputComparator({ classes: state.classes, tolerance: tol ?? tolerance });
      } else if (state.classes !== undefined && ref.dims[ref.dims.length - 1] !== state.classes) {
        throw new Error(`output '${state.name}': the class axis changed from ${state.classes} to ${ref.dims[ref.dims.length - 1]} between samples`);
      }
      state.dtype = cand.dtype;
      state.shape = cand.dims;
      state.comparator.add(numericValues(ref), numericValues(cand));
    } catch (e) {
      state.error = (e as Error).message;
    }
  };

  for (const [i, sample] of samples.entries()) {
    const refOut = await runReference(sample);
    const candOuts: Record<string, Tensor>[] = [];
    for (const [k, session] of candidates.entries()) {
      candOuts.push(await runSample(session, sample, referenceIsData ? 'model' : `candidate (${session.runtime})`));
      for (const state of perRuntime[k]!) compareInto(state, refOut[state.name], candOuts[k]![state.name], refOut[state.name]);
    }
    if (cross) for (const state of cross) compareInto(state, candOuts[0]![state.name], candOuts[1]![state.name], refOut[state.name]);
    if (labels) {
      labelOutput ??= perRuntime[0]!.find((s) => s.classes)?.name;
      if (!labelOutput) throw new Error(`${labels.source}: labels given, but no output looks like class scores (name one with labelOutput / --label-output)`);
      const ref = refOut[labelOutput];
      const classes = ref?.dims[ref.dims.length - 1];
      if (!ref || !classes) throw new Error(`output '${labelOutput}' is missing from the reference's outputs`);
      refPredictions.push(...argmaxRows(numericValues(ref), classes));
      candOuts.forEach((o, k) => {
        const t = o[labelOutput!];
        if (t && t.size === ref.size) candPredictions[k]!.push(...argmaxRows(numericValues(t), classes));
      });
      if (refPredictions.length > labels.values.length) {
        throw new Error(`${labels.source}: ${labels.values.length} labels, but output '${labelOutput}' has more rows than that (${refPredictions.length} after ${i + 1} of ${samples.length} samples)`);
      }
    }
    opts.onProgress?.(i + 1, samples.length, sample.source);
  }
  if (labels && refPredictions.length !== labels.values.length) {
    throw new Error(`${labels.source}: ${labels.values.length} labels for ${refPredictions.length} rows of output '${labelOutput}'`);
  }

  const runs: RuntimeRun[] = candidates.map((session, k) => {
    const outputs = perRuntime[k]!.map((s) => outputReport(s, thresholds));
    let acc: AccuracyReport | undefined;
    if (labels && labelOutput) {
      const refAcc = accuracy(refPredictions, labels.values);
      const candAcc = candPredictions[k]!.length === labels.values.length ? accuracy(candPredictions[k]!, labels.values) : 0;
      acc = { output: labelOutput, labels: labels.values.length, reference: refAcc, candidate: candAcc, drop: refAcc - candAcc };
      if (thresholds.maxAccuracyDrop !== undefined) {
        const limit = thresholds.maxAccuracyDrop;
        // A tiny epsilon keeps "dropped exactly the limit" (e.g. 1 of 100 rows) from failing on float rounding.
        acc.check = { metric: 'accuracyDrop', value: acc.drop, op: '<=', limit, passed: acc.drop <= limit + 1e-12 };
      }
    }
    return { runtime: session.runtime, outputs, accuracy: acc, passed: outputs.every((o) => o.passed) && (acc?.check?.passed ?? true) };
  });
  const failures: string[] = [];
  for (const run of runs) {
    const on = runs.length > 1 ? ` [${run.runtime}]` : '';
    for (const o of run.outputs) {
      if (o.error) failures.push(`${o.error}${on}`);
      for (const c of o.checks) if (!c.passed) failures.push(`${describeFailure(o.name, c)}${on}`);
    }
    const a = run.accuracy;
    if (a?.check && !a.check.passed) {
      failures.push(`accuracy on '${a.output}': drop ${formatMetric(a.drop * 100)} points (${formatMetric(a.reference * 100)}% → ${formatMetric(a.candidate * 100)}%) > ${a.check.limit * 100}${on}`);
    }
  }
  const [primary, ...others] = runs;
  const body: Body = {
    passed: runs.every((r) => r.passed),
    thresholds,
    outputs: primary!.outputs,
    accuracy: primary!.accuracy,
    failures,
  };
  if (others.length) body.otherRuntimes = others;
  if (cross) body.crossRuntime = crossReport(cross, [candidates[0]!.runtime, candidates[1]!.runtime], tolerance);
  return body;
}

function outputReport(s: OutputState, thresholds: Thresholds): OutputReport {
  const base = { name: s.name, dtype: s.dtype, shape: s.shape, classifier: s.classes !== undefined };
  if (s.error || !s.comparator) return { ...base, checks: [], passed: false, error: s.error ?? `output '${s.name}' was never produced` };
  const metrics = s.comparator.result();
  const checks = checkMetrics(metrics, s.dtype!, thresholds);
  return { ...base, metrics, checks, passed: checks.every((c) => c.passed) };
}

function crossReport(states: OutputState[], runtimes: [RuntimeName, RuntimeName], tolerance: Tolerance): CrossRuntimeReport {
  const mismatches: string[] = [];
  const outputs = states.map((s) => {
    if (s.error || !s.comparator) {
      const error = s.error ?? `output '${s.name}' was never produced`;
      mismatches.push(error);
      return { name: s.name, error };
    }
    const metrics = s.comparator.result();
    if (metrics.beyondTolerance) {
      const w = metrics.worst![0]!;
      mismatches.push(
        `output '${s.name}': ${metrics.beyondTolerance} of ${metrics.count} elements differ beyond rtol ${tolerance.rtol}, atol ${tolerance.atol} ` +
          `(max abs ${formatMetric(metrics.maxAbsError)}; worst at index ${w.index}: ${runtimes[0]} ${w.reference}, ${runtimes[1]} ${w.candidate})`,
      );
    }
    return { name: s.name, metrics };
  });
  return { runtimes, tolerance, agree: mismatches.length === 0, outputs, mismatches };
}
