/**
 * ship(model, options): from a model to a validated, benchmarked deployment package, with the
 * decisions made and explained.
 *
 * 1. analyze: the model profile (inspect) and the CPU choose candidate strategies, each with a reason.
 * 2. generate: convert (TF.js) → optimize (fp32) → each quantization mode; a strategy that fails is
 *    recorded and skipped.
 * 3. validate: every candidate against the original on the evaluation split of the data (calibration
 *    uses the other split), then bench all of them interleaved in one run.
 * 4. select: by the objective among candidates meeting every constraint (select.ts).
 * 5. package: model.onnx, modelship.json, report.html, README.md, Dockerfile, kserve.yaml and an
 *    example request, written to a temporary folder and renamed into place at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { encodeModel, saveModel } from '../io/index.js';
import type { Model, Tensor } from '../ir/index.js';
import { inputSpecs, type LoadedSample } from '../data/index.js';
import { profileModel } from '../inspect/index.js';
import { optimize } from '../optimize/index.js';
import { quantize, detectCpuFeatures, type QuantizeReport } from '../quantize/index.js';
import { validate, type ValidateResult } from '../validate/index.js';
import { bench, ortVersion, pairedRatio, type BenchResult, type ConfigRun } from '../bench/index.js';
import { renderReport } from '../report/index.js';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, type ShipCandidate } from '../package/index.js';
import { VERSION } from '../version.js';
import { readSource, type ShipSource } from './source.js';
import { chooseStrategies, type Analysis, type Strategy, type VariantName } from './strategies.js';
import { splitData, type DataDescription, type DataSplit } from './data.js';
import { checkConstraints, selectCandidate, type ConstraintCheck, type Constraints, type Measured, type Objective, type Selection } from './select.js';
import { packageInterface, type ProcessingOptions } from './spec.js';
import { dockerfile, inferRequest, kserveYaml, packageReadme, type PackageManifest } from './deploy.js';

export interface ShipOptions extends ProcessingOptions {
  /** The package folder to write (replaced only when it is empty or an earlier package). */
  outDir: string;
  /** Data (test-case folders, test_data_set_N, .pb, .json, or loaded samples). Default: test_data_set_* beside the model. */
  data?: (string | LoadedSample)[];
  /** Class labels of the data's rows (a file or values). Default: meta.json's `labels` file, with the default data. */
  labels?: string | ArrayLike<number>;
  /** Largest accuracy drop, as a fraction (0.01 = 1 point); needs labels. Default with labels: 0.01. */
  maxAccuracyDrop?: number;
  /** Smallest agreement with the original (top-1 for classifiers, else Pearson/cosine). Default without labels: 0.99. */
  minAgreement?: number;
  /** Largest median latency per call at `batch`, ms. */
  targetLatencyMs?: number;
  /** Largest model file, MiB. */
  maxSizeMb?: number;
  /** Batch size the latency is measured (and the target is set) at (default 1). */
  batch?: number;
  /** Intra-op threads for validation, bench and the served model (default: onnxruntime's choice). */
  threads?: number;
  objective?: Objective;
  runtime?: 'node' | 'wasm';
  /** Try exactly these variants (fp32 is always tried) instead of the analysis' choice. */
  strategies?: VariantName[];
  /** Seconds of bench measurement (default 5). */
  benchSeconds?: number;
  /** The served model's name (default: the model file's folder or base name). */
  name?: string;
  /** The served model's version (default '1'). */
  version?: string;
  seed?: number;
  /** Stage progress: stage name, done of total, and what is being done. */
  onProgress?: (stage: ShipStage, done: number, total: number, label: string) => void;
  /** A line worth showing a person as it happens (the analysis' reasons, failures). */
  onLog?: (line: string) => void;
}

export type ShipStage = 'analyze' | 'generate' | 'validate' | 'bench' | 'select' | 'package';

export interface ShipResult {
  passed: boolean;
  chosen: string;
  reason: string;
  /** Missed constraints of the shipped candidate (passed false). */
  failedConstraints: ConstraintCheck[];
  runnerUp?: Selection['runnerUp'];
  outDir: string;
  files: string[];
  manifest: PackageManifest;
  candidates: ShipCandidate[];
  analysis: Analysis;
  data: DataDescription;
  seconds: number;
}

interface Generated {
  strategy: Strategy;
  model?: Model;
  bytes?: Uint8Array;
  quantize?: QuantizeReport;
  validation?: ValidateResult;
  error?: ShipCandidate['error'];
  seconds: number;
}

/** Worst agreement over the outputs: top-1 for classifiers, Pearson (else cosine) for float outputs, exact match otherwise. */
export function agreementOf(v: ValidateResult): number {
  let worst = 1;
  for (const o of v.outputs) {
    const m = o.metrics;
    if (!m) return 0;
    const a = m.top1Agreement ?? (m.pearson ?? m.cosine ?? m.exactMatch);
    const value = o.dtype && !o.dtype.startsWith('float') && m.top1Agreement === undefined ? m.exactMatch : a;
    worst = Math.min(worst, Number.isFinite(value) ? value : 0);
  }
  return worst;
}

function outputProblems(v: ValidateResult): string[] {
  return v.outputs.flatMap((o) => (o.error ? [o.error] : o.metrics && o.metrics.nonFiniteMismatches > 0 ? [`output '${o.name}': ${o.metrics.nonFiniteMismatches} NaN/Inf values differ from the original's`] : []));
}

function defaultName(source: ShipSource, given: string | Model): string {
  if (typeof given !== 'string') return given.graph.name || 'model';
  const file = source.files[0]?.file ?? given;
  const base = path.basename(file).replace(/\.(onnx|json)$/i, '');
  const name = base === 'model' ? path.basename(path.dirname(path.resolve(file))) : base;
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'model';
}

/** The package folder may be replaced only when it is empty or holds an earlier package, and holds no input. */
function checkOutDir(outDir: string, inputs: string[]): void {
  const out = path.resolve(outDir);
  for (const i of inputs) {
    const p = path.resolve(i);
    if (p === out || p.startsWith(out + path.sep)) throw new Error(`${outDir}: the package folder would replace an input (${i}); choose another folder`);
  }
  if (!fs.existsSync(out)) {
    if (!fs.existsSync(path.dirname(out))) throw new Error(`${outDir}: no such parent folder ${path.dirname(outDir)}`);
    return;
  }
  if (!fs.statSync(out).isDirectory()) throw new Error(`${outDir}: exists and is not a folder`);
  const entries = fs.readdirSync(out);
  if (entries.length && !entries.includes(MANIFEST_FILE)) throw new Error(`${outDir}: a folder that is neither empty nor a modelship package; choose another folder`);
}

export async function ship(model: string | Model, opts: ShipOptions): Promise<ShipResult> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  const log = opts.onLog ?? (() => {});
  const runtime = opts.runtime ?? 'node';
  const batch = opts.batch ?? 1;
  const objective = opts.objective ?? 'latency';
  const seed = opts.seed ?? 0;
  if (opts.maxAccuracyDrop !== undefined && opts.minAgreement !== undefined) throw new Error('give an accuracy budget (maxAccuracyDrop) or an agreement (minAgreement), not both');
  if (runtime === 'wasm' && opts.threads !== undefined && opts.threads !== 1) throw new Error('threads: the WASM runtime runs single-threaded in Node');
  checkOutDir(opts.outDir, typeof model === 'string' ? [model] : []);

  // 1. analyze
  progress('analyze', 0, 1, 'reading the model');
  const source = await readSource(model, (label) => progress('analyze', 0, 1, label));
  checkOutDir(opts.outDir, source.files.map((f) => f.file));
  const original = source.model;
  const defaultData = opts.data === undefined && source.dir && fs.readdirSync(source.dir).some((d) => /^test_data_set_\d+$/.test(d));
  const data = opts.data ?? (defaultData ? [source.dir!] : undefined);
  const metaLabels = typeof source.meta?.labels === 'string' ? path.join(source.dir!, source.meta.labels) : undefined;
  const labels = opts.labels ?? (defaultData && metaLabels && fs.existsSync(metaLabels) ? metaLabels : undefined);
  if (opts.maxAccuracyDrop !== undefined && labels === undefined) throw new Error('an accuracy budget needs labels (--labels FILE, one class per data row)');
  const constraints: Constraints = {
    maxAccuracyDrop: opts.maxAccuracyDrop ?? (labels !== undefined && opts.minAgreement === undefined ? 0.01 : undefined),
    minAgreement: opts.minAgreement ?? (labels === undefined && opts.maxAccuracyDrop === undefined ? 0.99 : undefined),
    targetLatencyMs: opts.targetLatencyMs,
    maxSizeBytes: opts.maxSizeMb === undefined ? undefined : Math.floor(opts.maxSizeMb * 1048576),
  };
  for (const i of original.graph.inputs) {
    const d = i.type?.kind === 'tensor' ? i.type.shape?.[0] : undefined;
    if (!original.graph.initializers.has(i.name) && typeof d === 'number' && d !== batch) throw new Error(`batch ${batch}: input '${i.name}' has a fixed batch dimension of ${d}`);
  }
  const name = opts.name ?? defaultName(source, model);
  // The pre/post-processing options are checked now, not after every candidate was measured.
  packageInterface(original, original, name, source.meta, opts);
  const profile = profileModel(original);
  const cpu = detectCpuFeatures();
  const analysis = chooseStrategies(profile, cpu, opts.strategies);
  log(`${profile.family}: ${profile.reason}`);
  for (const s of analysis.strategies) log(`  try ${s.name}: ${s.reason}`);
  for (const s of analysis.notTried) log(`  skip ${s.name}: ${s.reason}`);
  const needsCalibration = analysis.strategies.some((s) => s.mode === 'int8' || s.mode === 'uint8');
  const split = splitData(original, { data, labels, needsCalibration, seed });
  const d = split.description;
  log(`data: ${d.rows ? `${d.rows} rows from ${d.files.join(', ')}` : 'none given'}; evaluation: ${d.evaluation.from}${needsCalibration ? `; calibration: ${d.calibration.from}` : ''}`);
  progress('analyze', 1, 1, 'done');

  // 2. generate, 3. validate
  const generated: Generated[] = [];
  const total = analysis.strategies.length;
  for (const [k, strategy] of analysis.strategies.entries()) {
    progress('generate', k, total, strategy.name);
    generated.push(await generate(original, strategy, split, opts, seed));
    const g = generated.at(-1)!;
    if (g.error) log(`  ${strategy.name} failed (${g.error.stage}): ${g.error.message}`);
  }
  progress('generate', total, total, 'done');
  for (const [k, g] of generated.entries()) {
    if (!g.model) continue;
    progress('validate', k, total, g.strategy.name);
    try {
      g.validation = await validate(original, g.model, {
        data: split.evaluation,
        labels: split.evaluationLabels,
        runtime,
        threads: opts.threads,
        thresholds: constraints.maxAccuracyDrop !== undefined ? { maxAccuracyDrop: constraints.maxAccuracyDrop } : undefined,
      });
    } catch (e) {
      g.error = { stage: 'validate', message: firstLine(e) };
      log(`  ${g.strategy.name} failed (validate): ${g.error.message}`);
    }
  }
  progress('validate', total, total, 'done');

  // Bench: the original first (every ratio is against it), then each candidate, interleaved.
  const originalBytes = encodeModel(original);
  // Latency at the data's shapes (sequence length, time steps), when there is data.
  const dims = split.description.evaluation.dataRows ? dataDims(original, split.evaluation[0]!.inputs) : {};
  let measured = generated.filter((g) => g.validation);
  let benchResult: BenchResult | undefined;
  while (measured.length) {
    try {
      benchResult = await bench(
        [{ name: 'original', model: originalBytes, runtime }, ...measured.map((g) => ({ name: g.strategy.name, model: g.bytes!, runtime }))],
        {
          batches: [batch],
          threads: opts.threads ? [opts.threads] : undefined,
          durationS: opts.benchSeconds ?? 5,
          dims,
          seed,
          keepSamples: Infinity,
          onProgress: (done, all, label) => progress('bench', done, all, label),
        },
      );
      break;
    } catch (e) {
      // bench names the model that onnxruntime failed on: record it and measure the others.
      const message = firstLine(e);
      const culprit = measured.find((g) => message.startsWith(`${g.strategy.name}: `));
      if (!culprit) throw e;
      culprit.error = { stage: 'bench', message };
      log(`  ${culprit.strategy.name} failed (bench): ${message}`);
      measured = measured.filter((g) => g !== culprit);
    }
  }
  if (!benchResult) throw new Error(`no candidate could be generated and measured: ${generated.map((g) => `${g.strategy.name}: ${g.error?.message}`).join('; ')}`);
  const run = benchResult.runs[0]!;

  // 4. select
  progress('select', 0, 1, objective);
  const originalSize = originalBytes.byteLength;
  const samplesOf = (name: string) => run.models.find((m) => m.model === name)?.samplesMs;
  const ratioOf = (a: string, b: string) => {
    const sa = samplesOf(a);
    const sb = samplesOf(b);
    return sa && sb ? pairedRatio(sa, sb) : undefined;
  };
  const measures: Measured[] = [];
  const checks = new Map<string, ConstraintCheck[]>();
  for (const g of measured) {
    const mr = run.models.find((m) => m.model === g.strategy.name)!;
    const v = g.validation!;
    const m: Measured = {
      name: g.strategy.name,
      sizeBytes: g.bytes!.byteLength,
      p50Ms: mr.latencyMs!.p50,
      accuracyDrop: v.accuracy?.drop,
      agreement: agreementOf(v),
      outputProblems: outputProblems(v),
    };
    measures.push(m);
    checks.set(m.name, checkConstraints(m, constraints));
  }
  const selection = selectCandidate(measures, checks, objective, ratioOf);
  log(`${selection.passed ? 'chose' : 'no candidate passed; shipping the closest,'} ${selection.reason}`);
  progress('select', 1, 1, selection.chosen);

  const candidates = generated.map((g) => candidateRecord(g, run, checks.get(g.strategy.name), originalSize));
  const chosen = generated.find((g) => g.strategy.name === selection.chosen)!;

  // 5. package
  progress('package', 0, 1, opts.outDir);
  const { manifest: iface, from } = packageInterface(chosen.model!, original, name, source.meta, opts);
  const manifest: PackageManifest = {
    ...iface,
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    version: opts.version ?? '1',
    modelSha256: '',
    modelBytes: 0,
    source: { path: source.path, format: source.format, sha256: source.sha256, files: source.files.map((f) => ({ ...f, file: path.basename(f.file) })) },
    ship: {
      chosen: selection.chosen,
      passed: selection.passed,
      reason: selection.reason,
      failedConstraints: selection.failed.map(({ constraint, value, limit, gap, text }) => ({ constraint, value, limit, gap, text })),
      runnerUp: selection.runnerUp,
      objective,
      thresholds: { maxAccuracyDrop: constraints.maxAccuracyDrop, minAgreement: constraints.minAgreement, targetLatencyMs: constraints.targetLatencyMs, maxSizeMb: opts.maxSizeMb },
      bench: { runtime, batch, threads: run.threads, dims, seconds: benchResult.settings.durationS ?? 0, rounds: run.rounds, loadAverage: benchResult.environment.loadAverage },
      data: d,
      analysis: { family: analysis.family, reason: analysis.familyReason, strategies: analysis.strategies.map(({ name: n, reason }) => ({ name: n, reason })), notTried: analysis.notTried },
      processingFrom: from,
      seconds: 0,
      createdAt: new Date().toISOString(),
    },
    candidates,
    versions: { modelship: VERSION, node: process.version, 'onnxruntime-node': ortVersion('node').split(' ')[1] ?? '?', 'onnxruntime-web': ortVersion('wasm').split(' ')[1] ?? '?', opset: String(chosen.model!.opset('') ?? '') },
    serve: { runtime, threads: opts.threads },
  };
  const files = await writePackage(opts.outDir, chosen.model!, manifest, {
    report: reportHtml(name, manifest, benchResult, generated),
    example: split.evaluation[0]?.inputs,
    started,
  });
  progress('package', 1, 1, 'done');
  return {
    passed: selection.passed,
    chosen: selection.chosen,
    reason: selection.reason,
    failedConstraints: selection.failed,
    runnerUp: selection.runnerUp,
    outDir: opts.outDir,
    files,
    manifest,
    candidates,
    analysis,
    data: d,
    seconds: manifest.ship.seconds,
  };
}

/** Sizes of the inputs' symbolic dims past the batch axis, as `sample` has them. */
function dataDims(model: Model, sample: Record<string, Tensor>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const spec of inputSpecs(model)) {
    const t = sample[spec.name];
    spec.shape.forEach((d, axis) => {
      if (t && axis > 0 && typeof d === 'string' && t.dims[axis] !== undefined) dims[d] = t.dims[axis]!;
    });
  }
  return dims;
}

const firstLine = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0]!;

async function generate(original: Model, strategy: Strategy, split: DataSplit, opts: ShipOptions, seed: number): Promise<Generated> {
  const t0 = performance.now();
  try {
    let model: Model;
    let report: QuantizeReport | undefined;
    if (!strategy.mode) {
      model = (await optimize(original, { verify: false })).model;
    } else {
      const r = await quantize(original, {
        mode: strategy.mode,
        calibration: split.calibration,
        eval: split.evaluation,
        labels: split.evaluationLabels,
        threads: opts.threads,
        // Generated calibration inputs (when there is no data to spare) must not be the evaluation's generated rows.
        seed: seed + 1_000_000,
      });
      model = r.model;
      report = r.report;
    }
    return { strategy, model, bytes: encodeModel(model), quantize: report, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { strategy, error: { stage: 'generate', message: firstLine(e) }, seconds: (performance.now() - t0) / 1000 };
  }
}

function candidateRecord(g: Generated, run: ConfigRun, checks: ConstraintCheck[] | undefined, originalSize: number): ShipCandidate {
  const base: ShipCandidate = { name: g.strategy.name, mode: g.strategy.mode, reason: g.strategy.reason, status: g.error ? 'failed' : 'measured', generateSeconds: g.seconds };
  if (g.error) return { ...base, error: g.error };
  const v = g.validation!;
  const mr = run.models.find((m) => m.model === g.strategy.name)!;
  const cmp = run.comparisons.find((c) => c.model === g.strategy.name);
  const l = mr.latencyMs!;
  return {
    ...base,
    sizeBytes: g.bytes!.byteLength,
    sizeRatio: g.bytes!.byteLength / originalSize,
    agreement: agreementOf(v),
    accuracy: v.accuracy && { reference: v.accuracy.reference, candidate: v.accuracy.candidate, drop: v.accuracy.drop, rows: v.accuracy.labels },
    outputs: v.outputs.map((o) => ({ name: o.name, cosine: o.metrics?.cosine, pearson: o.metrics?.pearson, sqnrDb: o.metrics?.sqnrDb, maxAbsError: o.metrics?.maxAbsError, top1Agreement: o.metrics?.top1Agreement })),
    runtimesAgree: g.quantize?.validation.runtimesAgree,
    latency: { p50Ms: l.p50, meanMs: l.mean, p95Ms: l.p95, throughput: mr.throughput! },
    latencyVsOriginal: cmp && { ratio: cmp.ratio.ratio, low: cmp.ratio.low, high: cmp.ratio.high, verdict: cmp.ratio.verdict, summary: cmp.summary },
    constraints: checks?.map(({ constraint, passed, value, limit, gap, text }) => ({ constraint, passed, value, limit, gap, text })),
    passed: checks?.every((c) => c.passed),
    notes: g.quantize?.layers.notes,
  };
}

function reportHtml(name: string, m: PackageManifest, b: BenchResult, generated: Generated[]): string {
  const fmt = (x: number | undefined, digits = 4) => (x === undefined ? '-' : x.toFixed(digits));
  const rows = m.candidates.map((c) => [
    c.name === m.ship.chosen ? `${c.name} (shipped)` : c.name,
    c.status === 'failed' ? `failed at ${c.error!.stage}` : c.passed ? 'meets every constraint' : 'misses a constraint',
    c.error?.message ?? (c.constraints ?? []).map((k) => k.text).join('; '),
    c.latencyVsOriginal?.summary ?? '-',
    c.sizeBytes === undefined ? '-' : `${(c.sizeBytes / 1024).toFixed(1)} KiB (${fmt(c.sizeRatio, 3)}×)`,
    c.latency ? c.latency.p50Ms.toPrecision(3) : '-',
    fmt(c.agreement),
    c.accuracy ? `${(c.accuracy.candidate * 100).toFixed(2)}% (drop ${(c.accuracy.drop * 100).toFixed(2)})` : '-',
  ]);
  const analysis = [...m.ship.analysis.strategies.map((s) => [s.name, 'tried', s.reason]), ...m.ship.analysis.notTried.map((s) => [s.name, 'not tried', s.reason])];
  return renderReport({
    title: `modelship ship: ${name} → ${m.ship.chosen}${m.ship.passed ? '' : ' (passed: false)'}`,
    tables: [
      {
        title: 'Choice',
        note: `${m.ship.reason}. Objective: ${m.ship.objective}. Evaluation: ${(m.ship.data as DataDescription).evaluation.from}; calibration: ${(m.ship.data as DataDescription).calibration.from}.`,
        header: ['candidate', 'result', 'constraints', 'latency vs original', 'size', 'p50 ms', 'agreement', 'accuracy'],
        numericFrom: 4,
        rows,
      },
      { title: 'Analysis', note: `${m.ship.analysis.family}: ${m.ship.analysis.reason}`, header: ['strategy', '', 'why'], rows: analysis },
    ],
    bench: b,
    validations: generated.filter((g) => g.validation).map((g) => ({ label: g.strategy.name, sizeBytes: g.bytes!.byteLength, result: g.validation! })),
  });
}

/** An example image for /predict: the first evaluation row, un-normalized, as PNG. */
async function examplePng(m: PackageManifest, sample: Record<string, Tensor>): Promise<Buffer | undefined> {
  const pre = m.preprocess;
  if (pre?.kind !== 'image') return undefined;
  const t = sample[pre.input];
  if (!t || t.dtype !== 'float32') return undefined;
  const [h, w] = pre.size;
  const c = pre.channels;
  const x = t.data as Float32Array;
  const pixels = Buffer.alloc(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      for (let k = 0; k < c; k++) {
        const v = pre.layout === 'NCHW' ? x[k * h * w + y * w + xx]! : x[(y * w + xx) * c + k]!;
        pixels[(y * w + xx) * c + k] = Math.max(0, Math.min(255, Math.round((v * pre.std[k]! + pre.mean[k]!) / pre.scale)));
      }
    }
  }
  return sharp(pixels, { raw: { width: w, height: h, channels: c } }).png().toBuffer();
}

/**
 * Writes the package into a temporary folder beside `outDir`, then renames it into place (an
 * earlier package there is moved aside first and removed after): never a half-written package.
 */
async function writePackage(outDir: string, model: Model, manifest: PackageManifest, extra: { report: string; example?: Record<string, Tensor>; started: number }): Promise<string[]> {
  const out = path.resolve(outDir);
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  try {
    const write = (file: string, content: string | Uint8Array) => fs.writeFileSync(path.join(tmp, file), content);
    const saved = saveModel(model, path.join(tmp, 'model.onnx'));
    manifest.modelBytes = saved.bytes;
    manifest.modelSha256 = createHash('sha256').update(fs.readFileSync(saved.path)).digest('hex');
    const files = ['model.onnx', MANIFEST_FILE, 'report.html', 'README.md', 'Dockerfile', 'kserve.yaml'];
    let predict: string | undefined;
    const url = `localhost:8080/v2/models/${manifest.name}/predict`;
    if (extra.example) {
      write('request.json', `${JSON.stringify(inferRequest(extra.example, `${manifest.name}-example`))}\n`);
      files.push('request.json');
      const pre = manifest.preprocess;
      if (pre?.kind === 'features') {
        const row = extra.example[pre.input]!;
        const values = Array.from(row.toFloat32().subarray(0, pre.names.length), (v) => Number(v.toPrecision(6)));
        const body = JSON.stringify(Object.fromEntries(pre.names.map((n, i) => [n, values[i]])));
        write('predict.json', `${body}\n`);
        files.push('predict.json');
        predict = body.length <= 240 ? `curl -s ${url} -H content-type:application/json -d '${body}'` : `curl -s ${url} -H content-type:application/json -d @predict.json`;
      }
      const png = await examplePng(manifest, extra.example);
      if (png) {
        write('example.png', png);
        files.push('example.png');
        predict = `curl -s ${url} -H content-type:image/png --data-binary @example.png   # or -F image=@photo.jpg`;
      }
    }
    manifest.ship.seconds = Number(((performance.now() - extra.started) / 1000).toFixed(2));
    write(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
    write('report.html', extra.report);
    write('README.md', packageReadme(manifest, predict, files));
    write('Dockerfile', dockerfile(manifest));
    write('kserve.yaml', kserveYaml(manifest));
    if (fs.existsSync(out)) {
      const old = `${out}.old-${process.pid}-${Date.now()}`;
      fs.renameSync(out, old);
      fs.renameSync(tmp, out);
      fs.rmSync(old, { recursive: true, force: true });
    } else fs.renameSync(tmp, out);
    return files;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
