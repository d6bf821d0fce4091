/**
 * Triton's statistics extension (`GET /v2/models/{name}/stats`): counts and cumulative nanoseconds per
 * phase, and per batch size, in Triton's field names so its tools read them unchanged.
 */
interface Duration {
  count: number;
  ns: number;
}

const duration = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ms: number) => {
  d.count++;
  d.ns += Math.round(ms * 1e6);
};

export class ModelStats {
  lastInference = 0;
  inferenceCount = 0;
  executionCount = 0;
  readonly success = duration();
  readonly fail = duration();
  readonly queue = duration();
  readonly computeInfer = duration();
  readonly cacheHits = duration();
  readonly cacheMisses = duration();
  private readonly byBatch = new Map<number, Duration>();

  batch(rows: number, computeMs: number): void {
    this.executionCount++;
    this.inferenceCount += rows;
    add(this.computeInfer, computeMs);
    let d = this.byBatch.get(rows);
    if (!d) this.byBatch.set(rows, (d = duration()));
    add(d, computeMs);
  }

  queued(ms: number): void {
    add(this.queue, ms);
  }

  cacheHit(): void {
    add(this.cacheHits, 0);
  }

  cacheMiss(): void {
    add(this.cacheMisses, 0);
  }

  request(ok: boolean, totalMs: number): void {
    add(ok ? this.success : this.fail, totalMs);
    if (ok) this.lastInference = Date.now();
  }

  toJSON(name: string, version: string) {
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: this.success,
        fail: this.fail,
        queue: this.queue,
        compute_input: duration(),
        compute_infer: this.computeInfer,
        compute_output: duration(),
        cache_hit: this.cacheHits,
        cache_miss: this.cacheMisses,
      },
      batch_stats: [...this.byBatch.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([batch_size, d]) => ({ batch_size, compute_input: duration(), compute_infer: d, compute_output: duration() })),
    };
  }
}
