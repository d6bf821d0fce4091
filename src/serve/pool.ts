/**
 * The inference instances of one model: K worker threads, each with its own onnxruntime session and
 * one batch in flight at a time. A worker that dies fails its batch and is started again.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { SessionOptions, SessionValue } from '../runtime/index.js';
import type { WireTensor } from './datatypes.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker.js';

// Built code runs worker.js; tests run the TypeScript sources, which the worker loads through tsx.
const fromSources = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(fromSources ? './worker.ts' : './worker.js', import.meta.url);
const newWorker = (workerData: WorkerInit) =>
  fromSources
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`, { eval: true, workerData })
    : new Worker(fileURLToPath(WORKER_URL), { workerData });
/** How long a closing worker may take to release its session before it is terminated. */
const CLOSE_GRACE_MS = 5000;

export interface RunResult {
  outputs: WireTensor[];
  computeMs: number;
}

interface Pending {
  resolve(r: RunResult): void;
  reject(e: Error): void;
}

class Instance {
  worker!: Worker;
  busy = false;
  alive = false;
  pending?: { id: number } & Pending;

  constructor(private readonly init: WorkerInit, private readonly onFree: () => void, private readonly onCrash: (i: Instance, why: string) => void) {}

  start(): Promise<FromWorker & { type: 'ready' }> {
    this.worker = newWorker(this.init);
    return new Promise((resolve, reject) => {
      let started = false;
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          started = this.alive = true;
          resolve(m);
        } else if (m.type === 'load-failed') {
          reject(new Error(m.message));
          void this.worker.terminate();
        } else this.settle(m);
      });
      this.worker.on('error', (e) => (started ? this.crashed(e.message) : reject(e)));
      this.worker.on('exit', (code) => {
        if (this.alive) this.crashed(`exit code ${code}`);
        else if (!started) reject(new Error(`inference worker exited (code ${code}) before loading the model`));
      });
    });
  }

  private settle(m: FromWorker): void {
    const p = this.pending;
    if (!p || (m.type !== 'result' && m.type !== 'failed') || m.id !== p.id) return;
    this.pending = undefined;
    this.busy = false;
    if (m.type === 'result') p.resolve({ outputs: m.outputs, computeMs: m.computeMs });
    else p.reject(new Error(`inference failed: ${m.message}`));
    this.onFree();
  }

  private crashed(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.busy = false;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(`inference worker stopped unexpectedly (${why})`));
    this.onCrash(this, why);
  }

  run(id: number, requests: WireTensor[][], rows: number): Promise<RunResult> {
    this.busy = true;
    const transfer = new Set<ArrayBuffer>();
    for (const inputs of requests) for (const t of inputs) if (!Array.isArray(t.data)) transfer.add(t.data.buffer as ArrayBuffer);
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      this.worker.postMessage({ type: 'run', id, requests, rows } satisfies ToWorker, [...transfer]);
    });
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

export interface PoolOptions {
  instances: number;
  session: SessionOptions;
  /** Nice value of the worker threads and onnxruntime's (Linux; 0 leaves it). */
  nice: number;
  /** Called when an instance becomes free (the batcher schedules the next batch). */
  onFree?: () => void;
  onCrash?: (why: string) => void;
}

export class InstancePool {
  private nextId = 0;
  private closed = false;
  inputs: SessionValue[] = [];
  outputs: SessionValue[] = [];
  restarts = 0;
  /** Why the workers could not lower their priority, when they could not. */
  priorityError?: string;
  onFree: () => void;

  private constructor(private readonly instances: Instance[], private readonly opts: PoolOptions) {
    this.onFree = opts.onFree ?? (() => {});
  }

  /** Starts the workers and waits until each has loaded the model. */
  static async start(modelPath: string, opts: PoolOptions): Promise<InstancePool> {
    const init: WorkerInit = { modelPath, session: opts.session, nice: opts.nice };
    const pool = new InstancePool([], opts);
    for (let i = 0; i < opts.instances; i++) {
      pool.instances.push(new Instance(init, () => pool.onFree(), (inst, why) => pool.restart(inst, why)));
    }
    const started = await Promise.allSettled(pool.instances.map((i) => i.start()));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await pool.close();
      throw (failed as PromiseRejectedResult).reason as Error;
    }
    const ready = (started[0] as PromiseFulfilledResult<FromWorker & { type: 'ready' }>).value;
    pool.inputs = ready.inputs as SessionValue[];
    pool.outputs = ready.outputs as SessionValue[];
    pool.priorityError = ready.priorityError;
    return pool;
  }

  private restart(inst: Instance, why: string): void {
    this.opts.onCrash?.(why);
    if (this.closed) return;
    this.restarts++;
    inst.start().then(
      () => this.onFree(),
      () => {}, // stays down: the model no longer loads; the other instances keep serving
    );
  }

  get size(): number {
    return this.instances.length;
  }

  get idleCount(): number {
    let n = 0;
    for (const i of this.instances) if (i.alive && !i.busy) n++;
    return n;
  }

  get aliveCount(): number {
    return this.instances.filter((i) => i.alive).length;
  }

  /**
   * Runs one batch on a free instance (the caller checks `idleCount` first): the requests' inputs,
   * `rows` rows in all, which the worker concatenates when there are several. Their buffers are
   * transferred, not copied.
   */
  run(requests: WireTensor[][], rows: number): Promise<RunResult> {
    const inst = this.instances.find((i) => i.alive && !i.busy);
    if (!inst) return Promise.reject(new Error('no free inference instance'));
    return inst.run(this.nextId++, requests, rows);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.instances.map((i) => i.close()));
  }
}
