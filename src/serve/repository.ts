/**
 * What is served: TARGETs (a .onnx file, a deployment package, a folder holding model.onnx, or a
 * model repository — a folder of those) resolved to named models, each loaded into an instance pool
 * behind a batcher. Triton's repository semantics: an index of every model found, load and unload by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { LRUCache } from 'lru-cache';
import { loadModel } from '../io/index.js';
import { MANIFEST_FILE, inferManifest, isPackageDir, readManifest, type Manifest } from '../package/index.js';
import type { RuntimeName } from '../runtime/index.js';
import { Batcher, type JobResult } from './batcher.js';
import { newTypedArray, type WireTensor } from './datatypes.js';
import { HttpError } from './errors.js';
import type { Metrics } from './metrics.js';
import { InstancePool } from './pool.js';
import type { ResponseCache } from './cache.js';
import { ModelStats } from './stats.js';

export interface ServedModelSource {
  name: string;
  modelPath: string;
  manifest: Manifest;
  /** The package folder when the model came with a modelship.json. */
  packageDir?: string;
  /** The file or folder it was found at (read again on reload). */
  origin: string;
}

export interface RuntimeOptions {
  maxBatch: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  instances: number;
  threads: number;
  workerNice: number;
  runtime: RuntimeName;
  warmup: boolean;
  /** Whether formed batches stop at the size measured fastest per row (see ServedModel.sizeBatches). */
  batchSizing: boolean;
  /** One-row compute (ms) under which lone requests run on the HTTP thread; 0: never. */
  inlineBelowMs: number;
}

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/**
 * Manifests inferred from plain .onnx files, by path, name, size and modification time: a repository
 * index (or a rescan for a load) reads again only the files that changed, instead of decoding every
 * model on the HTTP thread each time.
 */
const inferredManifests = new LRUCache<string, Manifest>({ max: 256 });

function plainSource(modelPath: string, name: string, origin: string): ServedModelSource {
  const { size, mtimeMs } = fs.statSync(modelPath);
  const key = JSON.stringify([path.resolve(modelPath), name, size, mtimeMs]);
  let manifest = inferredManifests.get(key);
  if (!manifest) inferredManifests.set(key, (manifest = inferManifest(loadModel(modelPath), name, path.basename(modelPath))));
  return { name, modelPath, origin, manifest };
}

function packageSource(dir: string): ServedModelSource {
  const manifest = readManifest(dir);
  const modelPath = path.resolve(dir, manifest.model);
  if (!fs.existsSync(modelPath)) throw new Error(`${path.join(dir, MANIFEST_FILE)}: 'model' names ${manifest.model}, which does not exist`);
  return { name: manifest.name, modelPath, manifest, packageDir: dir, origin: dir };
}

/** One model folder or file, or undefined when `p` is neither. */
function sourceAt(p: string): ServedModelSource | undefined {
  const stat = fs.statSync(p);
  if (stat.isFile()) {
    if (!p.endsWith('.onnx')) return undefined;
    // `name/model.onnx` is named after its folder.
    const base = path.basename(p, '.onnx');
    return plainSource(p, base === 'model' ? path.basename(path.dirname(path.resolve(p))) : base, p);
  }
  if (isPackageDir(p)) return packageSource(p);
  const model = path.join(p, 'model.onnx');
  return fs.existsSync(model) ? plainSource(model, path.basename(path.resolve(p)), p) : undefined;
}

/** Resolves serve TARGETs to named model sources (errors name the path). */
export function discoverModels(targets: string[]): Map<string, ServedModelSource> {
  const found = new Map<string, ServedModelSource>();
  const add = (s: ServedModelSource, from: string) => {
    if (!NAME_PATTERN.test(s.name)) throw new Error(`${from}: model name '${s.name}' may only use letters, digits, _ . -`);
    const prev = found.get(s.name);
    if (prev) throw new Error(`${from}: a second model named '${s.name}' (the first is ${prev.modelPath}); rename one`);
    found.set(s.name, s);
  };
  for (const target of targets) {
    if (!fs.existsSync(target)) throw new Error(`${target}: no such file or folder`);
    const single = sourceAt(target);
    if (single) {
      add(single, target);
      continue;
    }
    if (!fs.statSync(target).isDirectory()) throw new Error(`${target}: not a .onnx model, a package or a model repository`);
    const before = found.size;
    for (const entry of fs.readdirSync(target).sort()) {
      const p = path.join(target, entry);
      const s = sourceAt(p);
      if (s) add(s, p);
    }
    if (found.size === before) throw new Error(`${target}: no models found (expected .onnx files, packages with ${MANIFEST_FILE}, or folders with model.onnx)`);
  }
  return found;
}

/** Threads per instance by default: the cores left after the HTTP thread, shared among instances. */
export function defaultThreads(instances: number): number {
  return Math.max(1, Math.floor((os.availableParallelism() - 1) / instances));
}

export class ServedModel {
  readonly stats = new ModelStats();
  private constructor(
    readonly source: ServedModelSource,
    readonly pool: InstancePool,
    readonly batcher: Batcher,
    private readonly cache: ResponseCache | undefined,
    private readonly metrics: Metrics,
  ) {}

  get name(): string {
    return this.source.name;
  }
  get version(): string {
    return this.source.manifest.version;
  }
  get manifest(): Manifest {
    return this.source.manifest;
  }
  /** Triton's max_batch_size: 0 when the model takes no batch dimension. */
  get maxBatchSize(): number {
    return this.batcher.opts.batchable ? this.batcher.opts.maxBatch : 0;
  }

  static async load(source: ServedModelSource, opts: RuntimeOptions, metrics: Metrics, cache: ResponseCache | undefined, log: FastifyBaseLogger): Promise<ServedModel> {
    const pool = await InstancePool.start(source.modelPath, {
      instances: opts.instances,
      session: { runtime: opts.runtime, threads: opts.threads },
      nice: opts.workerNice,
      onCrash: (why) => {
        metrics.workerRestarts.inc({ model: source.name });
        log.error({ model: source.name, why }, 'inference worker stopped; starting it again');
      },
    });
    if (pool.priorityError) log.warn({ model: source.name, why: pool.priorityError }, 'inference threads keep the process priority');
    try {
      checkInterface(source, pool);
    } catch (e) {
      await pool.close();
      throw e;
    }
    const m = source.manifest;
    const batchable = [...m.inputs, ...m.outputs].every((t) => t.shape.length > 0 && typeof t.shape[0] !== 'number');
    const labels = { model: source.name };
    const served: ServedModel = new ServedModel(
      source,
      pool,
      new Batcher(pool, {
        maxBatch: Math.max(1, opts.maxBatch),
        maxQueueDelayMs: opts.maxQueueDelayMs,
        maxQueue: opts.maxQueue,
        batchable,
        onBatch: (rows, requests, computeMs, inline) => {
          if (inline) metrics.inlineRuns.inc(labels);
          metrics.batchRows.observe(labels, rows);
          metrics.batchRequests.observe(labels, requests);
          served.stats.batch(rows, computeMs);
        },
        onQueueDepth: (depth) => metrics.queueDepth.set(labels, depth),
      }),
      cache,
      metrics,
    );
    if (!opts.warmup) return served;
    await served.warmup();
    // A row's compute is known only when its shape is (a sequence model's depends on each request's length).
    if (!m.inputs.every((t) => t.shape.slice(1).every((d) => typeof d === 'number'))) return served;
    if (opts.batchSizing && served.maxBatchSize > 1) await served.sizeBatches();
    try {
      await pool.startInline(() => served.zeroRow(), opts.inlineBelowMs);
    } catch (e) {
      // The workers serve it as they are; only the shortcut is lost.
      log.warn({ model: source.name, why: (e as Error).message }, 'no session on the HTTP thread');
    }
    return served;
  }

  /** Time per row of a batch on an instance (ms, the hop there and back included), by batch size, as sizeBatches measured it. */
  batchTimings?: Record<number, number>;

  /**
   * Sets the size formed batches stop at. Doubling from one row up to the largest batch, it times a
   * batch of each size on an instance from here (so the hop there and back, which batching shares out,
   * counts), best of three, and takes the smallest size within 5% of the best time per row. Batches
   * then never grow where rows get slower: mobilenet_v2 on one CPU thread computes a row in 5.6 ms
   * alone and in 7.2 ms within 32. It stops once two sizes in a row are slower than the best.
   */
  async sizeBatches(): Promise<void> {
    const sizes: number[] = [];
    for (let n = 1; n < this.maxBatchSize; n *= 2) sizes.push(n);
    sizes.push(this.maxBatchSize);
    const perRow: Record<number, number> = {};
    let best = Infinity;
    let slower = 0;
    for (const rows of sizes) {
      let ms = Infinity;
      for (let run = 0; run < 3; run++) {
        const t0 = performance.now();
        await this.runRepeatedRow(rows);
        ms = Math.min(ms, (performance.now() - t0) / rows);
      }
      perRow[rows] = ms;
      if (ms < best) [best, slower] = [ms, 0];
      else if (++slower === 2) break;
    }
    this.batchTimings = perRow;
    this.batcher.preferredBatch = Math.min(...Object.keys(perRow).map(Number).filter((n) => perRow[n]! <= best * 1.05));
  }

  /** A one-row request of zeros (empty strings for BYTES), symbolic dims taken as 1. */
  private zeroRow(): WireTensor[] {
    return this.manifest.inputs.map((t) => {
      const dims = t.shape.map((d) => (typeof d === 'number' ? d : 1));
      const count = dims.reduce((a, b) => a * b, 1);
      const data = t.dtype === 'string' ? Array<string>(count).fill('') : newTypedArray(t.dtype, count);
      return { name: t.name, dtype: t.dtype, dims, data };
    });
  }

  /**
   * Runs a one-row request, and a full batch of them, on every instance (also sizing its batch buffers).
   * A batch repeats one row: allocating (and transferring) a row per batch row made the HTTP thread's
   * heap run full garbage collections every few hundred ms for a long while after (mobilenet_v2: 19 MB
   * a batch of 32; measured with --trace-gc under load).
   */
  private async warmup(): Promise<void> {
    for (const rows of this.maxBatchSize > 1 ? [1, this.maxBatchSize] : [1]) {
      await Promise.all(Array.from({ length: this.pool.size }, () => this.runRepeatedRow(rows)));
    }
  }

  /** One zero row `rows` times over, as a batch on a free instance (its buffers are transferred once). */
  private runRepeatedRow(rows: number): Promise<unknown> {
    const row = this.zeroRow();
    return this.pool.run(Array.from({ length: rows }, () => row), rows);
  }

  /**
   * Runs one request through the cache and the batcher. `release` (a pooled body's) is called once
   * the inputs are no longer read: at once for a cache hit, else by the batcher.
   */
  async infer(inputs: WireTensor[], opts: { timeoutMs: number; owned: boolean; release?: () => void }): Promise<JobResult & { cached: boolean }> {
    const labels = { model: this.name };
    let key: string | undefined;
    if (this.cache) {
      key = this.cache.key(this.name, this.version, inputs);
      const hit = this.cache.get(key);
      if (hit) {
        opts.release?.();
        this.metrics.cacheHits.inc(labels);
        this.stats.cacheHit();
        return { outputs: hit, queueMs: 0, computeMs: 0, batchRows: 0, cached: true };
      }
      this.metrics.cacheMisses.inc(labels);
      this.stats.cacheMiss();
    }
    const result = await this.batcher.submit(inputs, opts);
    this.metrics.queueSeconds.observe(labels, result.queueMs / 1000);
    this.metrics.computeSeconds.observe(labels, result.computeMs / 1000);
    this.stats.queued(result.queueMs);
    if (key) this.cache!.set(key, result.outputs);
    return { ...result, cached: false };
  }

  /** Refuses new requests, lets queued and running ones finish, then stops the workers. */
  async unload(): Promise<void> {
    this.batcher.close();
    await this.batcher.drained();
    await this.pool.close();
    this.metrics.queueDepth.remove({ model: this.name });
  }
}

/** The manifest must describe the model onnxruntime loaded (names, element types, ranks). */
function checkInterface(source: ServedModelSource, pool: InstancePool): void {
  const label = source.packageDir ? path.join(source.packageDir, MANIFEST_FILE) : source.modelPath;
  for (const [which, listed, actual] of [
    ['input', source.manifest.inputs, pool.inputs],
    ['output', source.manifest.outputs, pool.outputs],
  ] as const) {
    const names = actual.map((v) => v.name).join(', ');
    if (listed.length !== actual.length) throw new Error(`${label}: lists ${listed.length} ${which}s, the model has ${actual.length} (${names})`);
    for (const t of listed) {
      const a = actual.find((v) => v.name === t.name);
      if (!a) throw new Error(`${label}: ${which} '${t.name}' is not in the model (its ${which}s: ${names})`);
      if (!a.dtype) throw new Error(`${label}: ${which} '${t.name}' is not a tensor; serve handles tensors only`);
      if (a.dtype !== t.dtype || (a.shape && a.shape.length !== t.shape.length)) {
        throw new Error(`${label}: ${which} '${t.name}' is listed as ${t.dtype}[${t.shape}], the model has ${a.dtype}[${a.shape ?? '?'}]`);
      }
    }
  }
}

export interface RepositoryEntry {
  source: ServedModelSource;
  state: ModelState;
  reason: string;
  model?: ServedModel;
  loading?: Promise<ServedModel>;
}

export class ModelRepository {
  readonly entries = new Map<string, RepositoryEntry>();

  constructor(
    private readonly targets: string[],
    private readonly opts: RuntimeOptions,
    private readonly metrics: Metrics,
    private readonly cache: ResponseCache | undefined,
    private readonly log: FastifyBaseLogger,
  ) {
    this.rescan();
  }

  /** Finds models under the targets again (new packages in a repository folder become loadable). */
  rescan(): void {
    for (const [name, source] of discoverModels(this.targets)) {
      const e = this.entries.get(name);
      if (!e) this.entries.set(name, { source, state: 'UNAVAILABLE', reason: 'not loaded' });
      else if (!e.model && !e.loading) e.source = source;
    }
  }

  async loadAll(): Promise<void> {
    for (const name of this.entries.keys()) await this.load(name);
  }

  /** Loads (or reloads, with the files as they are now) a model by name. */
  async load(name: string): Promise<ServedModel> {
    let e = this.entries.get(name);
    if (!e) {
      this.rescan();
      e = this.entries.get(name);
      if (!e) throw new HttpError(404, `no model named '${name}' in the repository`);
    }
    if (e.loading) return e.loading;
    const entry = e;
    if (entry.model) await this.unload(name);
    // Read the files again: a reload picks up a changed model or manifest.
    entry.source = (fs.existsSync(entry.source.origin) && sourceAt(entry.source.origin)) || entry.source;
    entry.state = 'LOADING';
    entry.reason = '';
    const t0 = performance.now();
    entry.loading = ServedModel.load(entry.source, this.opts, this.metrics, this.cache, this.log);
    try {
      entry.model = await entry.loading;
      entry.state = 'READY';
      const { pool } = entry.model;
      this.log.info(
        { model: name, ms: Math.round(performance.now() - t0), instances: this.opts.instances, threads: this.opts.threads, workerNice: this.opts.workerNice, maxBatchSize: entry.model.maxBatchSize, preferredBatch: entry.model.batcher.preferredBatch, msPerRowByBatch: entry.model.batchTimings, inline: pool.hasInlineSession, oneRowMs: pool.inlineTiming },
        'model loaded and warmed up',
      );
      return entry.model;
    } catch (e) {
      entry.state = 'UNAVAILABLE';
      entry.reason = (e as Error).message;
      throw e;
    } finally {
      entry.loading = undefined;
    }
  }

  async unload(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) throw new HttpError(404, `no model named '${name}' in the repository`);
    if (e.loading) await e.loading.catch(() => {});
    const model = e.model;
    if (!model) return;
    e.state = 'UNLOADING';
    e.model = undefined;
    await model.unload();
    e.state = 'UNAVAILABLE';
    e.reason = 'unloaded';
    this.cache?.dropModel(name);
  }

  /** A ready model, or the 404/503 that explains why not. */
  ready(name: string, version?: string): ServedModel {
    const e = this.entries.get(name);
    if (!e) throw new HttpError(404, `no model named '${name}' (served: ${[...this.entries.keys()].join(', ') || 'none'})`);
    if (!e.model) throw new HttpError(503, `model '${name}' is not ready (${e.state.toLowerCase()}${e.reason ? `: ${e.reason}` : ''})`, { 'retry-after': '1' });
    if (version !== undefined && version !== e.model.version) throw new HttpError(404, `model '${name}' has no version '${version}' (served: ${e.model.version})`);
    return e.model;
  }

  get loaded(): ServedModel[] {
    return [...this.entries.values()].flatMap((e) => (e.model ? [e.model] : []));
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((n) => this.unload(n)));
  }
}
