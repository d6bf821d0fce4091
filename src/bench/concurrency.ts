/**
 * The stress test: C requests in flight for a fixed time, served three ways — one shared session, one
 * session per client (both on the main thread), or one worker thread with its own session per client.
 * onnxruntime-node's `run` executes on the calling JavaScript thread, so only worker threads can keep
 * more than one request computing at once; the numbers show what that buys on this machine.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { encodeModel } from '../io/index.js';
import type { Model, Tensor } from '../ir/index.js';
import { createSession, sessionOptions, type ModelLike, type ModelSession, type RuntimeName } from '../runtime/index.js';
import { ortFeeds, QUIET } from './feeds.js';
import { generateInputs } from '../data/index.js';
import { latencyStats, type LatencyStats } from './stats.js';
import { MemoryTracker, type MemoryReport } from './memory.js';

export type ConcurrencyMode = 'shared' | 'sessions' | 'workers';

export const CONCURRENCY_MODES: readonly ConcurrencyMode[] = ['shared', 'sessions', 'workers'];

export interface ConcurrencyOptions {
  /** Display name of the model. */
  model: string;
  /** The model's IR, for generating inputs. */
  ir: Model;
  mode: ConcurrencyMode;
  concurrency: number;
  durationS: number;
  batch: number;
  threads?: number;
  runtime: RuntimeName;
  seed: number;
  dims?: Record<string, number>;
  onProgress?: (fraction: number) => void;
}

export interface ConcurrencyRun {
  model: string;
  mode: ConcurrencyMode;
  concurrency: number;
  batch: number;
  threads: number | null;
  durationMs: number;
  requests: number;
  errors: number;
  firstError?: string;
  /** Samples (batch rows) per second over the run. */
  throughput: number;
  latencyMs: LatencyStats;
  /** Median latency of the first and the last fifth of the run (by completion time); ratio last/first. */
  drift: { firstP50Ms: number; lastP50Ms: number; ratio: number };
  /** Throughput over the run: [seconds since start, samples/s] at the end of each of ten equal windows. */
  timeline: [number, number][];
  memory: MemoryReport;
}

const WARMUP_CALLS = 3;

interface Completion {
  /** Wall-clock completion time, ms since the epoch (comparable across threads). */
  end: Float64Array;
  latency: Float64Array;
  errors: number;
  firstError?: string;
}

const wallClock = () => performance.timeOrigin + performance.now();

export async function runConcurrency(model: ModelLike, o: ConcurrencyOptions): Promise<ConcurrencyRun> {
  const generated = generateInputs(o.ir, { seed: o.seed, batch: o.batch, dims: o.dims });
  const memory = { tracker: undefined as MemoryTracker | undefined };
  let completions: Completion[];
  let start: number;
  let deadline: number;
  if (o.mode === 'workers') {
    ({ completions, start, deadline } = await runWorkers(model, generated, o, memory));
  } else {
    const count = o.mode === 'shared' ? 1 : o.concurrency;
    const sessions: ModelSession[] = [];
    try {
      for (let i = 0; i < count; i++) sessions.push(await createSession(model, { runtime: o.runtime, threads: o.threads, ortOptions: QUIET }));
      const feeds = sessions.map((s) => ortFeeds(s, generated));
      // Warm-up failures are not fatal here: the same failures are counted as errors below.
      for (const [i, s] of sessions.entries()) for (let k = 0; k < WARMUP_CALLS; k++) await s.ort.run(feeds[i]!).catch(() => undefined);
      memory.tracker = new MemoryTracker();
      start = wallClock();
      deadline = start + o.durationS * 1000;
      const client = async (c: number): Promise<Completion> => {
        const s = sessions[o.mode === 'shared' ? 0 : c]!;
        const f = feeds[o.mode === 'shared' ? 0 : c]!;
        const end: number[] = [];
        const latency: number[] = [];
        let errors = 0;
        let firstError: string | undefined;
        while (wallClock() < deadline) {
          const t0 = performance.now();
          try {
            await s.ort.run(f);
          } catch (e) {
            errors++;
            firstError ??= (e as Error).message.split('\n')[0];
          }
          latency.push(performance.now() - t0);
          end.push(wallClock());
          memory.tracker!.sample();
          if (c === 0) o.onProgress?.((wallClock() - start) / (deadline - start));
        }
        return { end: Float64Array.from(end), latency: Float64Array.from(latency), errors, firstError };
      };
      completions = await Promise.all(Array.from({ length: o.concurrency }, (_, c) => client(c)));
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  return summarize(o, completions, start, Math.max(deadline, ...completions.map((c) => c.end[c.end.length - 1] ?? 0)), memory.tracker!.report());
}

function summarize(o: ConcurrencyOptions, completions: Completion[], start: number, end: number, memory: MemoryReport): ConcurrencyRun {
  const total = completions.reduce((n, c) => n + c.latency.length, 0);
  const latency = new Float64Array(total);
  const ends = new Float64Array(total);
  let at = 0;
  for (const c of completions) {
    latency.set(c.latency, at);
    ends.set(c.end, at);
    at += c.latency.length;
  }
  const durationMs = end - start;
  const fifth = durationMs / 5;
  const window = (from: number, to: number) => latency.filter((_, i) => ends[i]! - start >= from && ends[i]! - start < to);
  const firstP50Ms = latencyStats(window(0, fifth)).p50;
  const lastP50Ms = latencyStats(window(durationMs - fifth, Infinity)).p50;
  const windows = 10;
  const counts = new Array<number>(windows).fill(0);
  for (const end of ends) counts[Math.min(windows - 1, Math.floor(((end - start) / durationMs) * windows))]! += 1;
  const timeline = counts.map((n, w): [number, number] => [((w + 1) * durationMs) / windows / 1000, (n * o.batch * 1000 * windows) / durationMs]);
  const errors = completions.reduce((n, c) => n + c.errors, 0);
  return {
    model: o.model,
    mode: o.mode,
    concurrency: o.concurrency,
    batch: o.batch,
    threads: o.threads ?? null,
    durationMs,
    requests: total,
    errors,
    firstError: completions.find((c) => c.firstError)?.firstError,
    throughput: ((total - errors) * o.batch * 1000) / durationMs,
    latencyMs: latencyStats(latency),
    drift: { firstP50Ms, lastP50Ms, ratio: lastP50Ms / firstP50Ms },
    timeline,
    memory,
  };
}

const require = createRequire(import.meta.url);

// Plain JavaScript, evaluated in each worker: it cannot import this package's TypeScript sources.
const WORKER_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const wallClock = () => performance.timeOrigin + performance.now();
(async () => {
  const mod = await import(w.ortUrl);
  const ort = mod.default ?? mod;
  if (w.runtime === 'wasm') ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(w.model, w.sessionOptions);
  const feeds = {};
  for (const t of w.feeds) feeds[t.name] = new ort.Tensor(t.dtype, t.data, t.dims);
  for (let i = 0; i < ${WARMUP_CALLS}; i++) await session.run(feeds).catch(() => undefined);
  parentPort.postMessage({ ready: true });
  const deadline = await new Promise((resolve) => parentPort.once('message', (m) => resolve(m.deadline)));
  const end = [], latency = [];
  let errors = 0, firstError;
  while (wallClock() < deadline) {
    const t0 = performance.now();
    try { await session.run(feeds); } catch (e) { errors++; firstError ??= String(e && e.message || e).split('\\n')[0]; }
    latency.push(performance.now() - t0);
    end.push(wallClock());
  }
  await session.release();
  const result = { end: Float64Array.from(end), latency: Float64Array.from(latency), errors, firstError };
  parentPort.postMessage({ result }, [result.end.buffer, result.latency.buffer]);
})().catch((e) => parentPort.postMessage({ error: String(e && e.message || e).split('\\n')[0] }));
`;

async function runWorkers(
  model: ModelLike,
  generated: Record<string, Tensor>,
  o: ConcurrencyOptions,
  memory: { tracker?: MemoryTracker },
): Promise<{ completions: Completion[]; start: number; deadline: number }> {
  const ortUrl = pathToFileURL(require.resolve(o.runtime === 'wasm' ? 'onnxruntime-web' : 'onnxruntime-node')).href;
  const source = typeof model === 'string' && o.runtime !== 'wasm' ? model : typeof model === 'string' ? new Uint8Array((await import('node:fs')).readFileSync(model)) : model instanceof Uint8Array ? model : encodeModel(model);
  const feeds = Object.entries(generated).map(([name, t]) => ({ name, dtype: t.dtype, dims: t.dims, data: t.data }));
  const workerData = { ortUrl, runtime: o.runtime, model: source, sessionOptions: sessionOptions({ runtime: o.runtime, threads: o.threads, ortOptions: QUIET }), feeds };
  const workers = Array.from({ length: o.concurrency }, () => new Worker(WORKER_SOURCE, { eval: true, workerData }));
  const messages = workers.map((w) => {
    const queue: unknown[] = [];
    const waiting: ((m: unknown) => void)[] = [];
    let failure: Error | undefined;
    w.on('message', (m) => (waiting.length ? waiting.shift()!(m) : queue.push(m)));
    w.on('error', (e) => (failure = e));
    w.on('exit', (code) => {
      failure ??= new Error(`worker exited with code ${code}`);
      for (const resolve of waiting.splice(0)) resolve({ error: failure.message });
    });
    return () =>
      new Promise<Record<string, unknown>>((resolve) => {
        if (queue.length) resolve(queue.shift() as Record<string, unknown>);
        else if (failure) resolve({ error: failure.message });
        else waiting.push(resolve as (m: unknown) => void);
      });
  });
  try {
    const ready = await Promise.all(messages.map((next) => next()));
    const failed = ready.find((m) => m.error);
    if (failed) throw new Error(`${o.model}: a worker could not start a session: ${failed.error}`);
    memory.tracker = new MemoryTracker();
    const start = wallClock();
    const deadline = start + o.durationS * 1000;
    const timer = setInterval(() => {
      memory.tracker!.sample();
      o.onProgress?.((wallClock() - start) / (deadline - start));
    }, 50);
    try {
      for (const w of workers) w.postMessage({ deadline });
      const done = await Promise.all(messages.map((next) => next()));
      const failedRun = done.find((m) => m.error);
      if (failedRun) throw new Error(`${o.model}: a worker failed: ${failedRun.error}`);
      return { completions: done.map((m) => m.result as Completion), start, deadline };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
