export {
  quantize,
  measureDrop,
  QuantizeBudgetError,
  QUANTIZE_MODES,
  DROP_METRICS,
  type QuantizeMode,
  type QuantizeOptions,
  type QuantizeReport,
  type QuantizeResult,
  type DropMetric,
  type Q8Conv,
  type ValidationSummary,
  type OutputSummary,
  type AutoExcludeStep,
} from './quantize.js';
export { convertToFloat16, type Fp16Options, type Fp16Report, type Fp16Ops } from './fp16.js';
export { quantizeDynamic, type DynamicOptions } from './dynamic.js';
export { quantizeStatic, staticCalibrationTargets, type StaticOptions } from './qdq.js';
export { calibrate, CALIBRATION_METHODS, type CalibrationMethod, type CalibrationOptions, type CalibrationResult } from './calibrate.js';
export { quantizeNBits, packNBits, type NBitsOptions } from './nbits.js';
export { layerErrors, type LayerError } from './debug.js';
export { detectCpuFeatures, type CpuFeatures } from './cpu.js';
export { alreadyQuantized, type NodeSelection, type QuantizedUnit, type PassResult, type SkippedNode } from './select.js';
export type { Granularity, QuantType } from './qmath.js';
