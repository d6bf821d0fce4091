/**
 * The inference instances of one model: K worker threads, each with its own onnxruntime session and
 * one batch in flight at a time. A worker that dies fails its batch and is started again. A model
 * whose one-row run is shorter than the hop to a worker and back also gets a session on the HTTP
 * thread, for lone requests on an idle server.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { median } from 'd3-array';
import { createSession, type ModelSession, type SessionOptions, type SessionValue } from '../runtime/index.js';
import type { WireTensor } from './datatypes.js';
import { runWireTensors } from './inference.js';
import { isShared } from './body-pool.js';
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
    // Pooled bodies (SharedArrayBuffers) are shared with the worker, everything else moves to it.
    for (const inputs of requests) for (const t of inputs) if (!Array.isArray(t.data) && !isShared(t.data)) transfer.add(t.data.buffer as ArrayBuffer);
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

/**
 * A session on the HTTP thread. Handing a request to a worker and back wakes two threads (about
 * 0.1–0.3 ms on a 2-core machine), more than a tiny model computes in; running it here saves that.
 * The batcher uses it only for a one-row request while nothing else is queued or running, so the
 * event loop is never held for more than one short run.
 */
class InlineSession {
  busy = false;

  constructor(readonly session: ModelSession, readonly timedElements: number) {}

  async run(inputs: WireTensor[]): Promise<RunResult> {
    this.busy = true;
    try {
      const { outputs, computeMs } = await runWireTensors(this.session, inputs);
      return { outputs, computeMs };
    } catch (e) {
      throw new Error(`inference failed: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.busy = false;
    }
  }
}

const elementCount = (inputs: WireTensor[]) => inputs.reduce((n, t) => n + t.data.length, 0);

/**
 * Whether a one-row run takes under `belowMs`: after one untimed run, timed runs until 5 of 9 agree
 * (their median decides), or at once when that first run took 20 times as long (a large model).
 */
async function runsUnder(run: () => Promise<RunResult>, belowMs: number): Promise<{ under: boolean; ms: number }> {
  const first = (await run()).computeMs;
  if (first > 20 * belowMs) return { under: false, ms: first };
  const ms: number[] = [];
  let over = 0;
  while (over < 5 && ms.length - over < 5) {
    const t = (await run()).computeMs;
    ms.push(t);
    if (t >= belowMs) over++;
  }
  return { under: over < 5, ms: median(ms)! };
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
  private inline?: InlineSession;
  /** One-row compute on a worker, then on the HTTP thread, as timed by startInline (median ms). */
  inlineTiming?: { workerMs: number; httpThreadMs?: number };

  private constructor(private readonly modelPath: string, private readonly instances: Instance[], private readonly opts: PoolOptions) {
    this.onFree = opts.onFree ?? (() => {});
  }

  /** Starts the workers and waits until each has loaded the model. */
  static async start(modelPath: string, opts: PoolOptions): Promise<InstancePool> {
    const init: WorkerInit = { modelPath, session: opts.session, nice: opts.nice };
    const pool = new InstancePool(modelPath, [], opts);
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

  get hasInlineSession(): boolean {
    return this.inline !== undefined;
  }

  /**
   * Whether a request with these inputs may run on the HTTP thread now: the session there is free and
   * the request is no larger than the one-row request it was timed with (a longer sequence, say, or
   * more rows, could take longer than the hop it saves).
   */
  canRunInline(inputs: WireTensor[]): boolean {
    return this.inline !== undefined && !this.inline.busy && elementCount(inputs) <= this.inline.timedElements;
  }

  /** Runs one request on the HTTP thread (the caller checks `canRunInline` first); its buffers stay where they are. */
  runInline(inputs: WireTensor[]): Promise<RunResult> {
    return this.inline ? this.inline.run(inputs) : Promise.reject(new Error('no session on the HTTP thread'));
  }

  /**
   * Opens the HTTP-thread session when a one-row run of `row()` takes under `belowMs`: timed on a
   * worker first, so that a model too large for this never has a session opened (and its load
   * holding the event loop) here, then timed here, where it must stay under `belowMs` too.
   */
  async startInline(row: () => WireTensor[], belowMs: number): Promise<boolean> {
    if (!(belowMs > 0) || (this.opts.session.runtime ?? 'node') !== 'node') return false;
    const onWorker = await runsUnder(() => this.run([row()], 1), belowMs);
    this.inlineTiming = { workerMs: onWorker.ms };
    if (!onWorker.under) return false;
    // One intra-op thread: onnxruntime's pool would spin on the HTTP thread's cores between runs.
    const session = await createSession(this.modelPath, { ...this.opts.session, threads: 1, interOpThreads: 1 });
    const inline = new InlineSession(session, elementCount(row()));
    const here = await runsUnder(() => inline.run(row()), belowMs);
    this.inlineTiming.httpThreadMs = here.ms;
    if (!here.under || this.closed) {
      await inline.session.release();
      return false;
    }
    this.inline = inline;
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const inline = this.inline;
    this.inline = undefined;
    await Promise.all([...this.instances.map((i) => i.close()), inline?.session.release()]);
  }
}
