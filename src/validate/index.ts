export {
  OutputComparator,
  compareArrays,
  compareOutputs,
  assertSameShape,
  isClassifierLike,
  isFloatType,
  numericValues,
  argmax,
  argmaxRows,
  topKAgreement,
  accuracy,
  sqnr,
  cosineSimilarity,
  pearson,
  type OutputMetrics,
  type ElementDiff,
  type CompareOptions,
  type Numeric,
} from './metrics.js';
export { DEFAULT_THRESHOLDS, resolveThresholds, checkMetrics, describeFailure, formatMetric, type Thresholds, type Check } from './thresholds.js';
export { loadLabels } from './labels.js';
export {
  validate,
  validateExpected,
  type ValidateOptions,
  type ValidateResult,
  type ValidateRuntime,
  type OutputReport,
  type AccuracyReport,
  type RuntimeRun,
  type CrossRuntimeReport,
} from './validate.js';
