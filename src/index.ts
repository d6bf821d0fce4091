/**
 * modelship's library API. The CLI is a thin layer over these exports.
 */
export * from './ir/index.js';
export * from './io/index.js';
export { check, checkModel, ModelCheckError, type CheckIssue } from './checker/index.js';
export * from './runtime/index.js';
export * from './data/index.js';
export { inspectModel, profileModel, type InspectReport, type ModelProfile, type ModelFamily } from './inspect/index.js';
export * from './testcases/index.js';
export * from './validate/index.js';
export * from './bench/index.js';
export * from './report/index.js';
export { buildExampleModel, writeExample } from './examples/index.js';
export * from './package/index.js';
export * from './serve/index.js';
export { convertTfjs, convertTfjsUnverified, ConvertError, ConvertVerifyError, verifyConversion, type Conversion, type ConvertOptions, type ConvertReport, type TfjsArtifacts, type TfjsBackend, type ConvertVerifyOptions, type ConvertVerifyReport } from './convert/index.js';
export * from './optimize/index.js';
export * from './shape-inference/index.js';
export * from './quantize/index.js';
export * from './ship/index.js';
export { VERSION } from './version.js';
