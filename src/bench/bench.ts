/**
 * bench: latency, throughput, load time, size and memory of one or more models, over batch sizes and
 * thread counts. Several models are measured interleaved (one call of each per round, the order rotated
 * every round) so that machine noise hits all of them alike, and each is compared with the first as a
 * paired ratio with a bootstrap confidence interval.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type * as OrtNode from 'onnxruntime-node';
import { decodeModel, encodeModel, loadModel } from '../io/index.js';
import type { Model } from '../ir/index.js';
import { createSession, requireRuntime, type ModelLike, type ModelSession, type RuntimeName } from '../runtime/index.js';
import { generateInputs, inputSpecs } from '../data/index.js';
import { describeRatio, latencyStats, pairedRatio, type LatencyStats, type PairedRatio } from './stats.js';
import { runConcurrency, type ConcurrencyMode, type ConcurrencyRun } from './concurrency.js';
import { MemoryTracker, type MemoryReport } from './memory.js';
import { ortFeeds, QUIET } from './feeds.js';
import { tinyIdentityModel } from '../runtime/probe.js';

/**
 * A model to bench: a path, bytes or IR model, or one with a display name and its own runtime (so the
 * same model on node and on wasm can be measured interleaved and compared).
 */
export type BenchInput = ModelLike | { name: string; model: ModelLike; runtime?: RuntimeName };

export interface BenchOptions {
  /** node (default), wasm (onnxruntime-web, single-threaded) or cuda, for models that do not name their own. */
  runtime?: RuntimeName;
  /** Batch sizes to sweep (symbolic batch dimension; default [1]). */
  batches?: number[];
  /** Intra-op thread counts to sweep (default: onnxruntime's own choice); the WASM runtime ignores them. */
  threads?: number[];
  /** Measured calls per model and configuration (overrides durationS). */
  iterations?: number;
  /** Seconds of measurement per configuration, shared by all models (default 5). */
  durationS?: number;
  /** Unmeasured calls per model before measuring (default 5). */
  warmup?: number;
  seed?: number;
  /** Sizes of named symbolic dimensions of the generated inputs (e.g. { seq: 128 }). */
  dims?: Record<string, number>;
  /** With a value, also run the stress test: this many requests in flight, per mode. */
  concurrency?: number;
  /** Default: all three (one shared session, one session per client, one worker thread per client). */
  concurrencyModes?: ConcurrencyMode[];
  /** Seconds per stress-test mode (default: durationS). */
  stressDurationS?: number;
  /** Latency samples kept per model and configuration for plots (evenly thinned; default 2000). */
  keepSamples?: number;
  /** Bootstrap resamples for the ratio intervals (default 2000). */
  resamples?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface BenchModelInfo {
  name: string;
  runtime: RuntimeName;
  path?: string;
  sizeBytes: number;
  inputs: { name: string; dtype: string; shape: (number | string | null)[] }[];
}

export interface ModelRun {
  model: string;
  /** Why this model was not measured in this configuration (e.g. a fixed batch dimension). */
  skipped?: string;
  /** Time to create the session (load + graph optimization), ms. */
  sessionCreateMs?: number;
  /** RSS added by creating the session, bytes. */
  sessionRssBytes?: number;
  /** The first call (cold), ms. */
  firstRunMs?: number;
  iterations?: number;
  latencyMs?: LatencyStats;
  /** Samples (batch rows) per second at the mean latency. */
  throughput?: number;
  /** Latencies in measurement order, thinned to `keepSamples`. */
  samplesMs?: number[];
}

export interface ModelComparison {
  model: string;
  baseline: string;
  ratio: PairedRatio;
  /** e.g. "1.80× faster (1.71–1.90)". */
  summary: string;
}

export interface ConfigRun {
  batch: number;
  /** Intra-op threads, or null for onnxruntime's default. */
  threads: number | null;
  rounds: number;
  durationMs: number;
  models: ModelRun[];
  /** Every model after the first against the first, paired by round. */
  comparisons: ModelComparison[];
  memory: MemoryReport;
}

export interface BenchEnvironment {
  node: string;
  onnxruntime: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average at the start: a busy machine makes every figure noisier. */
  loadAverage: number;
  totalMemoryBytes: number;
}

export interface BenchResult {
  /** The runtimes of the models, in order of first use. */
  runtimes: RuntimeName[];
  environment: BenchEnvironment;
  settings: { batches: number[]; threads: (number | null)[]; warmup: number; iterations?: number; durationS?: number; seed: number; order: 'interleaved, rotated each round' };
  models: BenchModelInfo[];
  runs: ConfigRun[];
  concurrency?: ConcurrencyRun[];
  startedAt: string;
  durationMs: number;
}

interface LoadedModel {
  info: BenchModelInfo;
  ir: Model;
  source: ModelLike;
}

const require = createRequire(import.meta.url);

/** "onnxruntime-node 1.30.0": the package that runs `runtime` and its installed version. */
export function ortVersion(runtime: RuntimeName): string {
  // cuda runs on onnxruntime-node.
  const pkg = runtime === 'wasm' ? 'onnxruntime-web' : 'onnxruntime-node';
  try {
    let dir = path.dirname(require.resolve(pkg));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return `${pkg} ${(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version}`;
  } catch {
    return pkg;
  }
}

export function benchEnvironment(runtimes: RuntimeName[]): BenchEnvironment {
  const cpus = os.cpus();
  return {
    node: process.version,
    onnxruntime: [...new Set(runtimes.map(ortVersion))].join(', '),
    platform: `${os.platform()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    loadAverage: os.loadavg()[0]!,
    totalMemoryBytes: os.totalmem(),
  };
}

/** Size on disk of a model file plus the external data files it references. */
function sizeOnDisk(file: string, ir: Model): number {
  let size = fs.statSync(file).size;
  const external = new Set<string>();
  for (const t of ir.graph.initializers.values()) if (t.external) external.add(t.external.location);
  for (const loc of external) {
    const p = path.join(path.dirname(file), loc);
    if (fs.existsSync(p)) size += fs.statSync(p).size;
  }
  return size;
}

/** "resnet.int8" for resnet.int8.onnx; the folder's name for the usual folder/model.onnx layout. */
export function fileLabel(file: string): string {
  const base = path.basename(file).replace(/\.onnx$/i, '');
  return base === 'model' ? path.basename(path.dirname(path.resolve(file))) : base;
}

function loadBenchModel(input: BenchInput, index: number, defaultRuntime: RuntimeName): LoadedModel {
  const named = typeof input === 'object' && !(input instanceof Uint8Array) && 'model' in input && 'name' in input;
  const runtime = (named && input.runtime) || defaultRuntime;
  const source = named ? input.model : (input as ModelLike);
  let ir: Model;
  let sizeBytes: number;
  let file: string | undefined;
  if (typeof source === 'string') {
    ir = loadModel(source);
    sizeBytes = sizeOnDisk(source, ir);
    file = source;
  } else if (source instanceof Uint8Array) {
    ir = decodeModel(source);
    sizeBytes = source.byteLength;
  } else {
    ir = source;
    sizeBytes = encodeModel(source).byteLength;
  }
  const name = named ? input.name : file ? fileLabel(file) : ir.graph.name || `model ${index + 1}`;
  const inputs = inputSpecs(ir).map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape }));
  return { info: { name, runtime, path: file, sizeBytes, inputs }, ir, source: file ?? ir };
}

/** Names models uniquely (two files called model.onnx in folders of the same name get a suffix). */
function uniqueNames(models: LoadedModel[]): void {
  const seen = new Map<string, number>();
  for (const m of models) {
    const n = (seen.get(m.info.name) ?? 0) + 1;
    seen.set(m.info.name, n);
    if (n > 1) m.info.name = `${m.info.name} (${n})`;
  }
}

/** A reason the model cannot run at this batch size, or undefined. */
function batchProblem(m: LoadedModel, batch: number): string | undefined {
  for (const i of m.info.inputs) {
    const d = i.shape[0];
    if (typeof d === 'number' && d !== batch) return `input '${i.name}' has a fixed batch dimension of ${d}`;
  }
  return undefined;
}

class SampleBuffer {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Evenly thinned copy (first and last kept), rounded to 0.1 µs to keep JSON small. */
function thin(values: Float64Array, keep: number): number[] {
  const n = values.length;
  const step = n > keep ? (n - 1) / (keep - 1) : 1;
  const count = Math.min(n, keep);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = Math.round(values[Math.round(i * step)]! * 1e4) / 1e4;
  return out;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Benchmarks one or more models (see module doc). */
export async function bench(inputs: BenchInput[], opts: BenchOptions = {}): Promise<BenchResult> {
  if (!inputs.length) throw new Error('bench: no models given');
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const models = inputs.map((input, i) => loadBenchModel(input, i, opts.runtime ?? 'node'));
  const runtimes = [...new Set(models.map((m) => m.info.runtime))];
  if (runtimes.every((r) => r === 'wasm') && opts.threads?.some((t) => t !== 1)) throw new Error('--threads: the WASM runtime runs single-threaded in Node');
  const batches = opts.batches?.length ? opts.batches : [1];
  const threadList: (number | undefined)[] = opts.threads?.length ? opts.threads : [undefined];
  const warmup = opts.warmup ?? 5;
  const seed = opts.seed ?? 0;
  const durationS = opts.iterations ? undefined : (opts.durationS ?? 5);
  uniqueNames(models);
  const environment = benchEnvironment(runtimes);

  const modes = opts.concurrency ? (opts.concurrencyModes ?? ['shared', 'sessions', 'workers']) : [];
  const totalSteps = (threadList.length * batches.length + modes.length * models.length) * 100;
  let stepsDone = 0;
  const report = (fraction: number, label: string) => opts.onProgress?.(stepsDone + Math.min(99, Math.floor(fraction * 100)), totalSteps, label);

  // onnxruntime initializes itself on the first session; keep that out of the first model's load time.
  for (const runtime of runtimes) {
    await requireRuntime(runtime);
    await (await createSession(tinyIdentityModel(), { runtime })).release();
  }
  const runs: ConfigRun[] = [];
  for (const threads of threadList) {
    const sessions: ModelSession[] = [];
    const created: { ms: number; rss: number }[] = [];
    try {
      for (const m of models) {
        const rss0 = process.memoryUsage.rss();
        const t0 = performance.now();
        sessions.push(await createSession(m.source, { runtime: m.info.runtime, threads, ortOptions: QUIET }));
        created.push({ ms: performance.now() - t0, rss: process.memoryUsage.rss() - rss0 });
      }
      for (const batch of batches) {
        const label = `batch ${batch}${threads ? `, ${threads} thread${threads > 1 ? 's' : ''}` : ''}`;
        runs.push(await runConfig(models, sessions, created, { batch, threads, warmup, seed, durationS, opts, report: (f) => report(f, label) }));
        stepsDone += 100;
      }
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }

  let concurrency: ConcurrencyRun[] | undefined;
  if (opts.concurrency) {
    concurrency = [];
    for (const m of models) {
      for (const mode of modes) {
        const label = `${m.info.name}: ${opts.concurrency} in flight, ${mode}`;
        concurrency.push(
          await runConcurrency(m.source, {
            model: m.info.name,
            ir: m.ir,
            mode,
            concurrency: opts.concurrency,
            durationS: opts.stressDurationS ?? durationS ?? 5,
            batch: batches[0]!,
            threads: threadList[0],
            runtime: m.info.runtime,
            seed,
            dims: opts.dims,
            onProgress: (f) => report(f, label),
          }),
        );
        stepsDone += 100;
      }
    }
  }
  opts.onProgress?.(totalSteps, totalSteps, 'done');
  return {
    runtimes,
    environment,
    settings: { batches, threads: threadList.map((t) => t ?? null), warmup, iterations: opts.iterations, durationS, seed, order: 'interleaved, rotated each round' },
    models: models.map((m) => m.info),
    runs,
    concurrency,
    startedAt,
    durationMs: performance.now() - started,
  };
}

interface ConfigParams {
  batch: number;
  threads: number | undefined;
  warmup: number;
  seed: number;
  durationS: number | undefined;
  opts: BenchOptions;
  report: (fraction: number) => void;
}

async function runConfig(models: LoadedModel[], sessions: ModelSession[], created: { ms: number; rss: number }[], p: ConfigParams): Promise<ConfigRun> {
  const { batch, opts } = p;
  const active: number[] = [];
  const runs: ModelRun[] = models.map((m, k) => {
    const problem = batchProblem(m, batch);
    if (problem) return { model: m.info.name, skipped: problem };
    active.push(k);
    return { model: m.info.name, sessionCreateMs: created[k]!.ms, sessionRssBytes: created[k]!.rss };
  });
  const feeds = new Map<number, Record<string, OrtNode.Tensor>>();
  for (const k of active) feeds.set(k, ortFeeds(sessions[k]!, generateInputs(models[k]!.ir, { seed: p.seed, batch, dims: opts.dims })));
  const call = (k: number) => sessions[k]!.ort.run(feeds.get(k)!);

  for (const k of active) {
    const t0 = performance.now();
    try {
      await call(k);
    } catch (e) {
      throw new Error(`${models[k]!.info.name}: onnxruntime failed at batch ${batch}: ${(e as Error).message.split('\n')[0]}`);
    }
    runs[k]!.firstRunMs = performance.now() - t0;
    for (let i = 1; i < p.warmup; i++) await call(k);
  }

  const memory = new MemoryTracker();
  const samples = active.map(() => new SampleBuffer());
  const start = performance.now();
  const deadline = p.durationS !== undefined ? start + p.durationS * 1000 : Infinity;
  const rounds = opts.iterations ?? Infinity;
  let round = 0;
  let lastYield = start;
  while (round < rounds && (round < 3 || performance.now() < deadline)) {
    for (let j = 0; j < active.length; j++) {
      const slot = (j + round) % active.length;
      const t0 = performance.now();
      await call(active[slot]!);
      samples[slot]!.push(performance.now() - t0);
    }
    round++;
    const now = performance.now();
    memory.sample(now);
    if (now - lastYield > 100) {
      // Lets timers (progress bar, signals) run; outside the timed calls.
      p.report(Number.isFinite(rounds) ? round / rounds : (now - start) / (deadline - start));
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
  const durationMs = performance.now() - start;
  const keep = opts.keepSamples ?? 2000;
  active.forEach((k, slot) => {
    const values = samples[slot]!.values();
    const stats = latencyStats(values);
    Object.assign(runs[k]!, { iterations: values.length, latencyMs: stats, throughput: (batch * 1000) / stats.mean, samplesMs: thin(values, keep) });
  });
  const comparisons: ModelComparison[] = [];
  if (active[0] === 0) {
    for (let slot = 1; slot < active.length; slot++) {
      const ratio = pairedRatio(samples[0]!.values(), samples[slot]!.values(), { resamples: opts.resamples });
      comparisons.push({ model: models[active[slot]!]!.info.name, baseline: models[0]!.info.name, ratio, summary: describeRatio(ratio) });
    }
  }
  return { batch, threads: p.threads ?? null, rounds: round, durationMs, models: runs, comparisons, memory: memory.report() };
}
