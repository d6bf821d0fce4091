export {
  bench,
  benchEnvironment,
  ortVersion,
  fileLabel,
  type BenchInput,
  type BenchOptions,
  type BenchResult,
  type BenchModelInfo,
  type BenchEnvironment,
  type ConfigRun,
  type ModelRun,
  type ModelComparison,
} from './bench.js';
export { runConcurrency, CONCURRENCY_MODES, type ConcurrencyMode, type ConcurrencyOptions, type ConcurrencyRun } from './concurrency.js';
export { latencyStats, pairedRatio, describeRatio, type LatencyStats, type PairedRatio, type RatioOptions, type RatioVerdict } from './stats.js';
export type { MemoryReport } from './memory.js';
