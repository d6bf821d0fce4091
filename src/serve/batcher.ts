/**
 * Dynamic batching, in the manner of Triton's dynamic batcher: queued requests for one model with the
 * same non-batch shapes are concatenated along dimension 0 up to `preferredBatch` rows (large batches by the
 * inference worker, off the HTTP thread), run as one batch on a free instance, and the outputs are
 * split back, each request getting its own rows.
 *
 * A lone request on an idle server starts at once (on the HTTP thread itself when the pool has a
 * session there, see InstancePool.startInline); `maxQueueDelayMs` is the time a batch may wait for
 * more rows only while other batches are running (so batching costs nothing at low load). The queue
 * is bounded: a full queue refuses at once (503), it never grows without limit.
 */
import { concatRows, rowSize, type WireTensor } from './datatypes.js';
import { HttpError } from './errors.js';
import type { InstancePool } from './pool.js';
import { answerTurns } from './turns.js';

export interface BatcherOptions {
  /** Largest batch in rows; 1 turns batching off. */
  maxBatch: number;
  maxQueueDelayMs: number;
  /** Most requests waiting; more are refused with 503. */
  maxQueue: number;
  /** Whether the model takes a batch along dim 0 of every input and output. */
  batchable: boolean;
  /** `inline`: the batch ran on the HTTP thread. */
  onBatch?(rows: number, requests: number, computeMs: number, inline: boolean): void;
  onQueueDepth?(depth: number): void;
}

export interface JobResult {
  outputs: WireTensor[];
  queueMs: number;
  computeMs: number;
  /** Rows in the batch this request ran in. */
  batchRows: number;
}

interface Job {
  inputs: WireTensor[];
  /** True when the request's typed arrays' buffers belong to it alone, so they may be handed to a worker as is. */
  owned: boolean;
  /** Hands back a pooled body the inputs view, once they are no longer read. */
  release?: () => void;
  rows: number;
  key: string;
  enqueuedAt: number;
  done: boolean;
  timer?: NodeJS.Timeout;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

export class Batcher {
  /** Rows a formed batch stops at (at most maxBatch; set from measurements at load, see ServedModel.sizeBatches). */
  preferredBatch: number;
  private queue: Job[] = [];
  private delayTimer?: NodeJS.Timeout;
  private inFlight = 0;
  /** Batches whose answers are still being handed out. */
  private answering = 0;
  private drainWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly pool: InstancePool, readonly opts: BatcherOptions) {
    this.preferredBatch = opts.maxBatch;
    pool.onFree = () => this.pump();
  }

  get depth(): number {
    return this.queue.length;
  }

  get batching(): boolean {
    return this.opts.batchable && this.opts.maxBatch > 1;
  }

  /**
   * Queues one request (inputs in the model's input order, already validated) and resolves with its
   * own output rows. `timeoutMs` bounds the time until the answer (503 after it).
   */
  submit(inputs: WireTensor[], opts: { timeoutMs: number; owned?: boolean; release?: () => void }): Promise<JobResult> {
    const refuse = (e: HttpError) => {
      opts.release?.();
      return Promise.reject(e);
    };
    if (this.closed) return refuse(new HttpError(503, 'the model is being unloaded', { 'retry-after': '1' }));
    if (this.queue.length >= this.opts.maxQueue) {
      return refuse(new HttpError(503, `the queue is full (${this.opts.maxQueue} requests waiting); retry later`, { 'retry-after': '1' }));
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        inputs,
        owned: opts.owned ?? false,
        release: opts.release,
        rows: this.opts.batchable ? (inputs[0]?.dims[0] ?? 1) : 1,
        key: this.batching ? inputs.map((t) => `${t.dtype}:${t.dims.slice(1).join('x')}`).join('|') : '',
        enqueuedAt: performance.now(),
        done: false,
        resolve,
        reject,
      };
      if (Number.isFinite(opts.timeoutMs)) {
        job.timer = setTimeout(() => this.expire(job, opts.timeoutMs), opts.timeoutMs);
      }
      this.queue.push(job);
      this.opts.onQueueDepth?.(this.queue.length);
      this.pump();
    });
  }

  private expire(job: Job, timeoutMs: number): void {
    if (job.done) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.opts.onQueueDepth?.(this.queue.length);
      job.release?.();
    }
    this.finish(job, undefined, new HttpError(503, `request timed out after ${timeoutMs} ms (${queued >= 0 ? 'waiting in the queue' : 'computing'})`, { 'retry-after': '1' }));
  }

  private finish(job: Job, result?: JobResult, error?: Error): void {
    if (job.done) return;
    job.done = true;
    if (job.timer) clearTimeout(job.timer);
    if (error) job.reject(error);
    else job.resolve(result!);
  }

  /** Starts batches while there are free instances and queued requests. */
  private pump(): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      // Alone on an idle server (nothing else queued, running or being answered): on the HTTP thread if it can.
      if (this.queue.length === 1 && !this.inFlight && !this.answering && this.pool.canRunInline(head.inputs)) {
        this.queue = [];
        this.opts.onQueueDepth?.(0);
        this.dispatch([head], 1, true);
        break;
      }
      if (this.pool.idleCount === 0) break;
      const batch = [head];
      let rows = head.rows;
      const limit = this.preferredBatch;
      if (this.batching && rows < limit) {
        for (let i = 1; i < this.queue.length && rows < limit; i++) {
          const job = this.queue[i]!;
          if (job.key === head.key && rows + job.rows <= limit) {
            batch.push(job);
            rows += job.rows;
          }
        }
        const wait = head.enqueuedAt + this.opts.maxQueueDelayMs - performance.now();
        if (rows < limit && this.inFlight > 0 && wait > 0) {
          this.delayTimer ??= setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, wait);
          return;
        }
      }
      const taken = new Set(batch);
      this.queue = batch.length === 1 ? this.queue.slice(1) : this.queue.filter((j) => !taken.has(j));
      this.opts.onQueueDepth?.(this.queue.length);
      this.dispatch(batch, rows);
    }
    this.notifyIfDrained();
  }

  private get idle(): boolean {
    return !this.queue.length && !this.inFlight && !this.answering;
  }

  private notifyIfDrained(): void {
    if (this.idle) for (const w of this.drainWaiters.splice(0)) w();
  }

  private dispatch(batch: Job[], rows: number, inline = false): void {
    const startedAt = performance.now();
    this.inFlight++;
    (inline ? this.pool.runInline(batch[0]!.inputs) : this.pool.run(batchRequests(batch, rows), rows))
      .then(
        ({ outputs, computeMs }) => {
          this.opts.onBatch?.(rows, batch.length, computeMs, inline);
          if (batch.length === 1) {
            this.finish(batch[0]!, { outputs, queueMs: startedAt - batch[0]!.enqueuedAt, computeMs, batchRows: rows });
            return;
          }
          const wrong = outputs.find((o) => o.dims[0] !== rows);
          if (wrong) throw new Error(`output '${wrong.name}' has ${wrong.dims[0]} rows for a batch of ${rows}: the model does not batch along dimension 0; serve it with --max-batch 1`);
          // Answers spread over event-loop turns: encoding and sending a whole batch's answers in one
          // go would hold the HTTP thread (health checks, new requests) for as long as the batch is big.
          this.answering++;
          let at = 0;
          for (const [k, job] of batch.entries()) {
            const own = outputs.map((o) => sliceRows(o, at, job.rows));
            at += job.rows;
            answerTurns.run(() => {
              this.finish(job, { outputs: own, queueMs: startedAt - job.enqueuedAt, computeMs, batchRows: rows });
              if (k === batch.length - 1) {
                this.answering--;
                this.notifyIfDrained();
              }
            });
          }
        },
      )
      .catch((e: Error) => {
        for (const job of batch) this.finish(job, undefined, e instanceof HttpError ? e : new HttpError(500, e.message));
      })
      .finally(() => {
        // The worker is done reading the batch's inputs (even those of requests that timed out meanwhile).
        for (const job of batch) job.release?.();
        this.inFlight--;
        this.pump();
      });
  }

  /** Resolves once nothing is queued or running. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Refuses new requests; queued and running ones still complete. */
  close(): void {
    this.closed = true;
  }
}

/** Below this many bytes a batch is concatenated here: one small copy costs less than handing over many buffers. */
const CONCAT_HERE_BYTES = 64 * 1024;

/** The batch's requests for a worker: their inputs as they are, or already concatenated when small. */
function batchRequests(batch: Job[], rows: number): WireTensor[][] {
  if (batch.length === 1) return [transferableInputs(batch[0]!)];
  let bytes = 0;
  for (const job of batch) for (const t of job.inputs) if (!Array.isArray(t.data)) bytes += t.data.byteLength;
  return bytes <= CONCAT_HERE_BYTES ? [concatRows(batch.map((j) => j.inputs), rows)] : batch.map(transferableInputs);
}

/** The job's inputs, copied where their buffers are shared (a body another request may read, Node's buffer pool). */
function transferableInputs(job: Job): WireTensor[] {
  return job.inputs.map((t) => {
    if (Array.isArray(t.data) || job.owned) return t;
    const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength;
    return whole ? t : { ...t, data: t.data.slice() };
  });
}

function sliceRows(t: WireTensor, from: number, count: number): WireTensor {
  const rs = rowSize(t.dims);
  const dims = [count, ...t.dims.slice(1)];
  return { ...t, dims, data: Array.isArray(t.data) ? t.data.slice(from * rs, (from + count) * rs) : t.data.subarray(from * rs, (from + count) * rs) };
}
