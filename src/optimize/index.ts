export {
  optimize,
  applyPass,
  selectPasses,
  modelStats,
  OptimizeVerificationError,
  type OptimizeOptions,
  type OptimizeReport,
  type OptimizeResult,
  type PassReport,
  type ModelStats,
} from './optimize.js';
export { verifyModels, compareOutput, DEFAULT_VERIFY_RTOL, type VerifyOptions, type VerifyReport, type OutputAgreement } from './verify.js';
export { PASSES, cancelTransposes, foldBatchNorm, type TransposeChanges } from './passes/index.js';
export { cloneModel } from './clone.js';
export { evaluateNodes } from './evaluate.js';
export type { Pass, PassContext } from './pass.js';
