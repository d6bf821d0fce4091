import type { BodyPool } from './body-pool.js';
import type { Metrics } from './metrics.js';
import type { ModelRepository, ServedModel } from './repository.js';
import type { RuntimeName } from '../runtime/index.js';

export interface ServeOptions {
  /** .onnx files, deployment packages, folders with model.onnx, or model repositories. */
  targets: string[];
  /** Largest dynamic batch in rows (default 32); 1 turns batching off. */
  maxBatch?: number;
  /** How long a forming batch may wait for more rows while others run (default 2 ms). */
  maxQueueDelayMs?: number;
  /** Requests that may wait per model; more get 503 at once (default 1024). */
  maxQueue?: number;
  /** Inference worker threads per model, each with its own session (default 1). */
  instances?: number;
  /** onnxruntime intra-op threads per instance (default: spare cores / instances). */
  threads?: number;
  /**
   * Nice value (0–19) of the inference threads on Linux (default 10): below the HTTP thread's, so
   * health checks and new requests are answered at once while inference saturates the CPU. Idle
   * cores still go to inference; 0 keeps the process's priority.
   */
  workerNice?: number;
  /**
   * One-row compute time in ms under which a lone request (nothing queued or running) runs on the
   * HTTP thread instead of an inference thread, saving the hop there and back (default 0.5; 0: never;
   * node runtime only). Timed per model at load, on a worker and then on the HTTP thread.
   */
  inlineBelowMs?: number;
  runtime?: RuntimeName;
  /** Response cache entries (default 0: off). */
  cacheSize?: number;
  /** Requests per client (API key, else IP) per window; off when absent. */
  rateLimit?: { max: number; windowMs: number };
  /** Required as `Authorization: Bearer KEY` or `X-API-Key: KEY` (health checks and the page stay open). */
  apiKey?: string;
  /** Allowed CORS origin(s); CORS is off when absent. */
  cors?: string | string[];
  /** Largest request body in bytes (default 64 MiB; 413 beyond). */
  bodyLimit?: number;
  /** Longest time for receiving a request and for computing its answer, ms (default 30 000). */
  requestTimeoutMs?: number;
  /** pino log level, or false for no logs (default 'info'). */
  logLevel?: string | false;
  /** Where JSON logs go (default: stdout, buffered; see bufferedLogDestination). */
  logStream?: NodeJS.WritableStream;
  /**
   * Run every model on zero inputs before reporting ready (default true). It is also when a model is
   * timed, for batchSizing and inlineBelowMs: without warm-up neither applies.
   */
  warmup?: boolean;
  /**
   * Formed batches stop at the size with the best measured time per row, not always maxBatch
   * (default true): for models whose rows get slower in larger batches (convolutions on one CPU thread).
   */
  batchSizing?: boolean;
}

export type ResolvedOptions = Required<Omit<ServeOptions, 'rateLimit' | 'apiKey' | 'cors' | 'logStream'>> &
  Pick<ServeOptions, 'rateLimit' | 'apiKey' | 'cors' | 'logStream'>;

export interface ServeContext {
  options: ResolvedOptions;
  repository: ModelRepository;
  metrics: Metrics;
  /** Buffers for large request bodies, reused from request to request. */
  bodyPool: BodyPool;
  /** Why /v2/health/ready fails, or undefined when ready. */
  notReadyReason(): string | undefined;
  /** Counts a finished inference request (success or failure) in metrics and statistics. */
  recordOutcome(model: ServedModel, startedAt: number, status: number): void;
}
