/**
 * Prometheus metrics (prom-client), one registry per server so that several servers in one process
 * (tests) keep their own counts. Latencies are in seconds, as Prometheus expects.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const model = ['model'] as const;
  return {
    registry,
    requests: new Counter({ name: 'modelship_inference_requests_total', help: 'Inference requests received (infer and predict)', labelNames: model, registers: [registry] }),
    success: new Counter({ name: 'modelship_inference_success_total', help: 'Inference requests answered with a result', labelNames: model, registers: [registry] }),
    failure: new Counter({ name: 'modelship_inference_failure_total', help: 'Inference requests that failed, by HTTP status', labelNames: ['model', 'status'], registers: [registry] }),
    queueSeconds: new Histogram({ name: 'modelship_inference_queue_seconds', help: 'Time requests waited in the batching queue', labelNames: model, buckets: LATENCY_BUCKETS, registers: [registry] }),
    computeSeconds: new Histogram({ name: 'modelship_inference_compute_seconds', help: 'onnxruntime run time of the batch a request ran in', labelNames: model, buckets: LATENCY_BUCKETS, registers: [registry] }),
    totalSeconds: new Histogram({ name: 'modelship_inference_request_seconds', help: 'Time from request received to response sent', labelNames: model, buckets: LATENCY_BUCKETS, registers: [registry] }),
    batchRows: new Histogram({ name: 'modelship_batch_size', help: 'Rows per executed batch', labelNames: model, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    batchRequests: new Histogram({ name: 'modelship_batch_requests', help: 'Requests merged into each executed batch', labelNames: model, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    inlineRuns: new Counter({ name: 'modelship_inline_runs_total', help: 'Requests run on the HTTP thread (a model faster than the hop to an inference thread, on an idle server)', labelNames: model, registers: [registry] }),
    queueDepth: new Gauge({ name: 'modelship_queue_depth', help: 'Requests waiting in the batching queue', labelNames: model, registers: [registry] }),
    cacheHits: new Counter({ name: 'modelship_cache_hits_total', help: 'Responses served from the response cache', labelNames: model, registers: [registry] }),
    cacheMisses: new Counter({ name: 'modelship_cache_misses_total', help: 'Cacheable requests not found in the response cache', labelNames: model, registers: [registry] }),
    workerRestarts: new Counter({ name: 'modelship_worker_restarts_total', help: 'Inference workers that stopped unexpectedly and were started again', labelNames: model, registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
