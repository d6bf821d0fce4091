/**
 * quantize(model, options): one call from a float model to a smaller one, with what it cost measured.
 *
 * 1. Refuses models already quantized; reads the CPU's int8 features (7-bit weights without VNNI).
 * 2. Optimizes a copy first (BatchNorm and constants folded, Identity removed, MatMul+Add → Gemm).
 * 3. Runs the mode's pass (fp16.ts, dynamic.ts, qdq.ts after calibrate.ts, nbits.ts).
 * 4. Validates against the original on the evaluation data, on onnxruntime-node and -web (WASM).
 * 5. With `maxDrop`: fails (QuantizeBudgetError) when the chosen metric drops more, unless
 *    `autoExclude` can meet the budget by leaving the layers that add the most error in float.
 */
import { encodeModel, modelSource } from '../io/index.js';
import type { Model } from '../ir/index.js';
import { generateInputs, type LoadedSample } from '../data/index.js';
import { cloneModel, optimize } from '../optimize/index.js';
import { inferShapes } from '../shape-inference/index.js';
import { validate, type AccuracyReport, type OutputReport, type ValidateResult } from '../validate/index.js';
import { detectCpuFeatures, type CpuFeatures } from './cpu.js';
import { batches, hasBatchAxis, type Batch } from './data.js';
import { discoverValues, type ValueFacts } from './observe.js';
import { convertToFloat16, type Fp16Ops, type Fp16Report } from './fp16.js';
import { quantizeDynamic, DYNAMIC_OP_TYPES } from './dynamic.js';
import { quantizeStatic, staticCalibrationTargets, STATIC_OP_TYPES } from './qdq.js';
import { calibrate, type CalibrationMethod, type CalibrationResult } from './calibrate.js';
import { quantizeNBits, NBITS_OP_TYPES } from './nbits.js';
import { layerErrors, type LayerError } from './debug.js';
import { alreadyQuantized, nodeFilter, type NodeSelection, type PassResult, type SkippedNode } from './select.js';
import type { Granularity, QuantType } from './qmath.js';

export type QuantizeMode = 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16';
export const QUANTIZE_MODES: readonly QuantizeMode[] = ['fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16'];

/** What `maxDrop` is measured on, in points: accuracy (with labels), top-1 agreement, cosine or Pearson (×100). */
export type DropMetric = 'accuracy' | 'top1' | 'cosine' | 'pearson';
export const DROP_METRICS: readonly DropMetric[] = ['accuracy', 'top1', 'cosine', 'pearson'];

export type Q8Conv = 'float' | 'weights' | 'integer';

export interface QuantizeOptions extends NodeSelection {
  mode: QuantizeMode;
  /** Weight scales per channel, per tensor, or per channel where it gains ≥ 1 dB weight SQNR ('auto', default). */
  granularity?: Granularity;
  /** 7-bit int8 weights (default: only on CPUs without VNNI, where u8×s8 can saturate). */
  reduceRange?: boolean;
  /**
   * int8 mode: the activations' type. Default: uint8 on x86 (onnxruntime's x86 kernels are u8×s8, so
   * int8 activations are shifted first and run slower), int8 elsewhere. The uint8 mode is always uint8.
   */
  activationType?: QuantType;
  /** Optimize a copy before quantizing (default true). */
  optimize?: boolean;

  /** fp16: graph inputs/outputs stay float32 (default true). */
  keepIoTypes?: boolean;
  /** fp16: 'auto' (what onnxruntime's CPU runs in float16; default for fp16) or 'all' (default for q4f16). */
  fp16Ops?: Fp16Ops;
  opBlockList?: string[];
  nodeBlockList?: string[];

  /** q8: Conv left float (default: onnxruntime's integer Conv paths are slower), int8 weights only, or ConvInteger. */
  q8Conv?: Q8Conv;

  /** int8/uint8: calibration data, or 'random' for generated inputs (explicitly). */
  calibration?: LoadedSample[] | 'random';
  calibrationMethod?: CalibrationMethod;
  percentile?: number;
  /** Rows per calibration run (default 16). */
  calibrationBatch?: number;
  /** At most this many calibration rows (random: this many generated samples, default 32). */
  calibrationSamples?: number;

  /** q4/q4f16: rows per block (default 32). */
  blockSize?: number;
  /** q4/q4f16: per-block zero points (default false: symmetric). */
  asymmetric?: boolean;

  /** Evaluation data (default: the calibration data, else generated inputs). */
  eval?: LoadedSample[];
  /** Class labels for task accuracy, one per row of the classifier output (values, or a file). */
  labels?: ArrayLike<number> | string;
  /** Fail (QuantizeBudgetError) when `metric` drops more than this many points. */
  maxDrop?: number;
  metric?: DropMetric;
  /** With maxDrop: leave the worst layers in float, a few at a time, until the budget is met. */
  autoExclude?: boolean;
  /** Layers left in float per auto-exclude step (default: 5 % of the quantized layers, 1 to 8). */
  autoExcludeStep?: number;
  /** Measure each quantized layer's SQNR (report.layers). */
  debug?: boolean;
  /** Seed of generated data (default 0). */
  seed?: number;
  threads?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface OutputSummary {
  name: string;
  maxAbsError?: number;
  meanAbsError?: number;
  cosine?: number;
  pearson?: number | null;
  sqnrDb?: number;
  top1Agreement?: number;
  top5Agreement?: number;
  error?: string;
}

export interface ValidationSummary {
  data: 'eval' | 'calibration' | 'generated';
  samples: number;
  rows: number;
  runtimes: string[];
  /** On the first runtime (onnxruntime-node). */
  outputs: OutputSummary[];
  /** The same on the other runtimes (WASM). */
  otherRuntimes?: { runtime: string; outputs: OutputSummary[]; accuracy?: ValidationSummary['accuracy'] }[];
  accuracy?: { output: string; reference: number; candidate: number; drop: number };
  /** node and WASM outputs within tolerance of each other. */
  runtimesAgree?: boolean;
  failures: string[];
}

export interface AutoExcludeStep {
  /** Layers left in float at this step (cumulative). */
  excluded: string[];
  drop: number;
  /** Drop improvement over the previous step, in points. */
  gain: number;
  sizeRatio: number;
}

export interface QuantizeReport {
  mode: QuantizeMode;
  cpu: CpuFeatures & { reduceRange: boolean; note: string };
  optimize?: { nodesBefore: number; nodesAfter: number; error?: string };
  size: { before: number; after: number; ratio: number };
  layers: { quantized: number; byOpType: Record<string, number>; skipped: SkippedNode[]; excluded: string[]; notes: string[] };
  fp16?: Fp16Report;
  calibration?: Omit<CalibrationResult, 'ranges'> & { tensors: number; data: 'data' | 'random' };
  q4?: { blockSize: number; symmetric: boolean; matmulWeightBytes: { before: number; after: number; ratio: number } };
  validation: ValidationSummary;
  budget?: { metric: DropMetric; maxDrop: number; drop: number; passed: boolean };
  autoExclude?: { steps: AutoExcludeStep[]; met: boolean };
  /** Per-layer error, worst first (with `debug`). */
  layerErrors?: LayerError[];
  seconds: number;
}

export interface QuantizeResult {
  model: Model;
  report: QuantizeReport;
}

/** The budget was missed: no model should be written. The report says by how much and what was tried. */
export class QuantizeBudgetError extends Error {
  constructor(readonly report: QuantizeReport) {
    const b = report.budget!;
    super(`${b.metric} dropped ${b.drop.toFixed(3)} points, more than --max-drop ${b.maxDrop}${report.autoExclude ? ` (also after leaving ${report.autoExclude.steps.at(-1)?.excluded.length ?? 0} layers in float)` : ''}; no model written`);
    this.name = 'QuantizeBudgetError';
  }
}

const SUPPORTED: Record<QuantizeMode, readonly string[]> = {
  fp16: [],
  q8: DYNAMIC_OP_TYPES,
  int8: STATIC_OP_TYPES,
  uint8: STATIC_OP_TYPES,
  q4: NBITS_OP_TYPES,
  q4f16: NBITS_OP_TYPES,
};

/** Opset each mode's operators need (DynamicQuantizeLinear: 11, QuantizeLinear: 10). */
const MIN_OPSET: Partial<Record<QuantizeMode, number>> = { q8: 11, int8: 10, uint8: 10 };

interface Built {
  model: Model;
  pass: PassResult;
  fp16?: Fp16Report;
  q4?: QuantizeReport['q4'];
}

export async function quantize(original: Model, opts: QuantizeOptions): Promise<QuantizeResult> {
  const start = performance.now();
  const mode = opts.mode;
  if (!QUANTIZE_MODES.includes(mode)) throw new Error(`mode: '${mode}' is not one of ${QUANTIZE_MODES.join(', ')}`);
  const refusal = alreadyQuantized(original);
  if (refusal) throw new Error(`the model cannot be quantized: ${refusal}; start from the float32 model`);
  const opset = original.opset('') ?? 1;
  if (MIN_OPSET[mode] && opset < MIN_OPSET[mode]!) throw new Error(`mode ${mode} needs opset ≥ ${MIN_OPSET[mode]}; the model uses opset ${opset}`);
  if (opts.autoExclude && opts.maxDrop === undefined) throw new Error('autoExclude needs maxDrop (the budget to meet)');
  const isStatic = mode === 'int8' || mode === 'uint8';
  if (isStatic && !opts.calibration) throw new Error(`mode ${mode} needs calibration data (a folder of samples), or 'random' to calibrate on generated inputs`);
  // Checks the selection options up front (unknown op types are an error); fp16 takes any op type.
  if (mode !== 'fp16') nodeFilter(opts, SUPPORTED[mode], mode);

  const cpu = detectCpuFeatures();
  const reduceRange = opts.reduceRange ?? cpu.saturationRisk;
  const activationType: QuantType = mode === 'uint8' ? 'uint8' : (opts.activationType ?? (cpu.x86 ? 'uint8' : 'int8'));
  const cpuNote =
    opts.reduceRange !== undefined
      ? `7-bit weights ${reduceRange ? 'on' : 'off'} (as asked)`
      : cpu.saturationRisk
        ? `no VNNI (${cpu.source}): u8×s8 products can saturate, so int8 weights use 7 bits (reduce range)`
        : `int8 dot product available (${cpu.int8DotProduct.join(', ') || cpu.arch}): full 8-bit weights`;
  const progress = opts.onProgress;

  // 2. Optimized copy (the original is never modified).
  let base: Model;
  let optimizeReport: QuantizeReport['optimize'];
  if (opts.optimize ?? true) {
    progress?.(0, 1, 'optimizing');
    try {
      const r = await optimize(original, { verify: false });
      base = r.model;
      optimizeReport = { nodesBefore: r.report.before.nodes, nodesAfter: r.report.after.nodes };
    } catch (e) {
      base = cloneModel(original);
      optimizeReport = { nodesBefore: original.graph.nodes.length, nodesAfter: original.graph.nodes.length, error: (e as Error).message };
    }
  } else base = cloneModel(original);

  // Data: calibration, evaluation (and what the per-layer report and fp16 ranges run on).
  const splitRows = hasBatchAxis(base);
  const generated = (count: number, seed: number): LoadedSample[] =>
    Array.from({ length: count }, (_, i) => ({ source: `generated (seed ${seed + i})`, inputs: generateInputs(base, { seed: seed + i }) }));
  const seed = opts.seed ?? 0;
  const calibrationSamples = opts.calibration === 'random' ? generated(opts.calibrationSamples ?? 32, seed) : opts.calibration;
  const evalSource: ValidationSummary['data'] = opts.eval?.length ? 'eval' : opts.calibration && opts.calibration !== 'random' ? 'calibration' : 'generated';
  const evalSamples = evalSource === 'eval' ? opts.eval! : evalSource === 'calibration' ? (opts.calibration as LoadedSample[]) : generated(8, seed + 1000);
  const evalBatches = (limit?: number): Iterable<Batch> => batches(evalSamples.map((s) => s.inputs), { batchSize: 64, limit, splitRows });
  const evalData: LoadedSample[] = [...evalBatches()].map((b) => ({ source: `rows ${b.firstRow}–${b.firstRow + b.rows - 1}`, inputs: b.feeds }));

  // 3. The pass, as a function of the layers to leave in float (auto-exclude reruns it).
  let calibration: CalibrationResult | undefined;
  let ranges: Map<string, [number, number]> | undefined;
  let facts: Map<string, ValueFacts> | undefined;
  const selection = (excluded: string[]) => nodeFilter({ ...opts, excludeNodes: [...(opts.excludeNodes ?? []), ...excluded] }, SUPPORTED[mode], mode);
  const valueFacts = async (m: Model): Promise<Map<string, ValueFacts>> => {
    // Types from shape inference; magnitudes (for float16 overflow) from a run on the evaluation data.
    const observed = await discoverValues(m, evalBatches(64), { threads: opts.threads });
    const info = inferShapes(m, { write: false });
    for (const [name, f] of observed) f.dtype = info.dtype(m.graph, name) ?? f.dtype;
    return observed;
  };
  const toHalf = async (m: Model, excluded: string[], ops: Fp16Ops) => {
    facts ??= await valueFacts(m);
    // The common selection options apply to fp16 as block lists (and --op-types as the only ones allowed).
    return convertToFloat16(m, {
      values: facts,
      ops,
      keepIoTypes: opts.keepIoTypes,
      opTypes: mode === 'fp16' ? opts.opTypes : undefined,
      opBlockList: [...(opts.opBlockList ?? []), ...(mode === 'fp16' ? (opts.excludeOpTypes ?? []) : [])],
      nodeBlockList: [...(opts.nodeBlockList ?? []), ...(mode === 'fp16' ? (opts.excludeNodes ?? []) : []), ...excluded],
    });
  };
  const build = async (excluded: string[]): Promise<Built> => {
    const model = cloneModel(base);
    const granularity = opts.granularity ?? 'auto';
    switch (mode) {
      case 'fp16': {
        const fp16 = await toHalf(model, excluded, opts.fp16Ops ?? 'auto');
        return { model, pass: { units: fp16.units, skipped: [] }, fp16: fp16.report };
      }
      case 'q8': {
        const conv = opts.q8Conv ?? 'float';
        const select = selection(excluded);
        const pass = quantizeDynamic(model, {
          granularity,
          reduceRange,
          convInteger: conv === 'integer',
          select: (n) => select(n) && (n.opType !== 'Conv' || conv !== 'float' || Boolean(opts.opTypes?.includes('Conv'))),
        });
        return { model, pass };
      }
      case 'int8':
      case 'uint8': {
        const staticOpts = { activations: activationType, granularity, reduceRange, select: selection(excluded) } as const;
        if (!ranges) {
          const targets = staticCalibrationTargets(base, { ...staticOpts, select: selection([]) });
          calibration = await calibrate(base, targets, calibrationSamples!.map((s) => s.inputs), {
            method: opts.calibrationMethod,
            percentile: opts.percentile,
            batchSize: opts.calibrationBatch,
            limit: opts.calibration === 'random' ? undefined : opts.calibrationSamples,
            splitRows,
            threads: opts.threads,
            onProgress: progress,
          });
          ranges = calibration.ranges;
        }
        return { model, pass: quantizeStatic(model, ranges, staticOpts) };
      }
      case 'q4':
      case 'q4f16': {
        const blockSize = opts.blockSize ?? 32;
        const symmetric = !opts.asymmetric;
        const pass = quantizeNBits(model, { blockSize, symmetric, select: selection(excluded) });
        let fp16: Fp16Report | undefined;
        if (mode === 'q4f16') {
          facts = undefined; // the graph changed: its values are learned again
          const half = await toHalf(model, excluded, opts.fp16Ops ?? 'all');
          fp16 = half.report;
          // Layer outputs may now live under their float16 names, and a float32 twin cannot read those.
          pass.units = pass.units.map((u) => {
            const q = half.renamed.get(u.quantizedOutput);
            return q && !model.graph.producer(u.quantizedOutput) ? { ...u, quantizedOutput: q, inputs: [] } : { ...u, inputs: [] };
          });
        }
        const w = pass.weightBytes;
        return { model, pass, fp16, q4: { blockSize, symmetric, matmulWeightBytes: { ...w, ratio: w.before ? w.after / w.before : 1 } } };
      }
    }
  };

  progress?.(0, 1, 'quantizing');
  let built = await build([]);
  const labels = opts.labels;
  // Metrics only: validate's pass/fail thresholds are not ours (the budget is --max-drop). Node and
  // WASM are compared loosely: their int8/fp16 kernels round differently.
  const noThresholds = { minCosine: undefined, minPearson: undefined, minTop1Agreement: undefined, maxAccuracyDrop: undefined, minExactMatch: undefined };
  const check = async (m: Model, runtime: 'node' | 'both') =>
    validate(original, m, { data: evalData, labels, runtime, threads: opts.threads, thresholds: noThresholds, tolerance: { rtol: 1e-2, atol: 1e-3 } });
  let validation = await check(built.model, 'both');
  const metric = opts.metric ?? (labels !== undefined ? 'accuracy' : validation.outputs.some((o) => o.classifier) ? 'top1' : 'cosine');
  let drop = measureDrop(validation, metric);

  let autoExclude: QuantizeReport['autoExclude'];
  let errors: LayerError[] | undefined;
  const excluded: string[] = [];
  if (opts.maxDrop !== undefined && drop > opts.maxDrop && opts.autoExclude) {
    // Ranked once, by the error each layer adds itself, on (up to 256 rows of) the evaluation data.
    errors = await layerErrors(base, built.model, built.pass.units, evalBatches(256), opts.threads);
    const ranked = errors.map((e) => e.node);
    const step = opts.autoExcludeStep ?? Math.min(8, Math.max(1, Math.round(ranked.length * 0.05)));
    const steps: AutoExcludeStep[] = [];
    while (drop > opts.maxDrop && excluded.length < ranked.length) {
      excluded.push(...ranked.slice(excluded.length, excluded.length + step));
      progress?.(excluded.length, ranked.length, 'auto-exclude');
      const candidate = await build(excluded);
      const v = await check(candidate.model, 'node');
      const d = measureDrop(v, metric);
      steps.push({ excluded: [...excluded], drop: d, gain: drop - d, sizeRatio: encodeModel(candidate.model).byteLength / encodeModel(original).byteLength });
      built = candidate;
      drop = d;
    }
    validation = await check(built.model, 'both');
    drop = measureDrop(validation, metric);
    autoExclude = { steps, met: drop <= opts.maxDrop };
  }
  if (opts.debug) errors = await layerErrors(base, built.model, built.pass.units, evalBatches(256), opts.threads);

  const before = modelSource(original)?.sizeBytes ?? encodeModel(original).byteLength;
  const after = encodeModel(built.model).byteLength;
  const byOpType: Record<string, number> = {};
  for (const u of built.pass.units) byOpType[u.opType] = (byOpType[u.opType] ?? 0) + 1;
  const notes: string[] = [];
  if (mode === 'q8' && (opts.q8Conv ?? 'float') === 'float' && !opts.opTypes?.includes('Conv') && base.graph.nodes.some((n) => n.opType === 'Conv')) {
    notes.push("Conv stays float in q8: onnxruntime's ConvInteger, and Conv on int8 weights it cannot prepack, run slower than float Conv; --q8-conv weights stores int8 weights anyway, --mode int8 quantizes Conv fully");
  }
  if (mode === 'int8') {
    notes.push(
      activationType === 'uint8'
        ? `int8 weights with uint8 activations (U8S8)${opts.activationType ? ' as asked' : ": onnxruntime's x86 kernels are u8×s8, and int8 activations (S8S8) would be shifted first and run slower here"}`
        : `int8 weights and activations (S8S8)${opts.activationType ? ' as asked' : ''}${cpu.x86 ? ": slower than U8S8 on x86, where onnxruntime's kernels are u8×s8" : ''}`,
    );
  }
  const report: QuantizeReport = {
    mode,
    cpu: { ...cpu, reduceRange, note: cpuNote },
    optimize: optimizeReport,
    size: { before, after, ratio: after / before },
    layers: { quantized: built.pass.units.length, byOpType, skipped: built.pass.skipped, excluded: [...excluded], notes },
    fp16: built.fp16,
    calibration: calibration && {
      method: calibration.method,
      percentile: calibration.percentile,
      rows: calibration.rows,
      batches: calibration.batches,
      peakRssBytes: calibration.peakRssBytes,
      seconds: calibration.seconds,
      tensors: calibration.ranges.size,
      data: opts.calibration === 'random' ? 'random' : 'data',
    },
    q4: built.q4,
    validation: summarize(validation, evalSource, evalData),
    budget: opts.maxDrop !== undefined ? { metric, maxDrop: opts.maxDrop, drop, passed: drop <= opts.maxDrop } : undefined,
    autoExclude,
    layerErrors: opts.debug ? errors : undefined,
    seconds: (performance.now() - start) / 1000,
  };
  if (report.budget && !report.budget.passed) throw new QuantizeBudgetError(report);
  return { model: built.model, report };
}

/** How far `metric` fell, in points (see DropMetric). */
export function measureDrop(v: ValidateResult, metric: DropMetric): number {
  const worst = (values: (number | null | undefined)[]) => {
    const present = values.filter((x): x is number => typeof x === 'number');
    if (!present.length) throw new Error(`metric ${metric}: no output has it (outputs: ${v.outputs.map((o) => o.name).join(', ')})`);
    return Math.min(...present);
  };
  switch (metric) {
    case 'accuracy':
      if (!v.accuracy) throw new Error('metric accuracy needs labels');
      return v.accuracy.drop * 100;
    case 'top1':
      return (1 - worst(v.outputs.map((o) => o.metrics?.top1Agreement))) * 100;
    case 'cosine':
      return (1 - worst(v.outputs.map((o) => o.metrics?.cosine))) * 100;
    case 'pearson':
      return (1 - worst(v.outputs.map((o) => o.metrics?.pearson))) * 100;
  }
}

function summarize(v: ValidateResult, data: ValidationSummary['data'], samples: LoadedSample[]): ValidationSummary {
  const outputs = (list: OutputReport[]): OutputSummary[] =>
    list.map((o) => ({
      name: o.name,
      maxAbsError: o.metrics?.maxAbsError,
      meanAbsError: o.metrics?.meanAbsError,
      cosine: o.metrics?.cosine,
      pearson: o.metrics?.pearson,
      sqnrDb: o.metrics?.sqnrDb,
      top1Agreement: o.metrics?.top1Agreement,
      top5Agreement: o.metrics?.top5Agreement,
      error: o.error,
    }));
  const accuracy = (a: AccuracyReport | undefined) => a && { output: a.output, reference: a.reference, candidate: a.candidate, drop: a.drop };
  return {
    data,
    samples: samples.length,
    rows: v.inputs.rows,
    runtimes: v.candidate.runtimes,
    outputs: outputs(v.outputs),
    otherRuntimes: v.otherRuntimes?.map((r) => ({ runtime: r.runtime, outputs: outputs(r.outputs), accuracy: accuracy(r.accuracy) })),
    accuracy: accuracy(v.accuracy),
    runtimesAgree: v.crossRuntime?.agree,
    failures: [...v.failures, ...(v.crossRuntime?.mismatches ?? [])],
  };
}
