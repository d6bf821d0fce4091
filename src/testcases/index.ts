export { runTestCase, type TestCaseResult, type TestOptions, type TestStage, type OutputCheck } from './runner.js';
export { allClose, bitIdentical, DEFAULT_TOLERANCE, type Tolerance, type Comparison } from './compare.js';
