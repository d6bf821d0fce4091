export {
  loadModel,
  saveModel,
  decodeModel,
  encodeModel,
  modelSource,
  PROTOBUF_LIMIT,
  type LoadOptions,
  type SaveOptions,
  type SaveResult,
  type ModelSource,
} from './onnx.js';
export {
  readTensorFile,
  writeTensorFile,
  decodeTensorProto,
  encodeTensorProto,
  tensorFromJson,
  tensorToJson,
  readTestDataSet,
  readTestDataValues,
  type ValueKind,
  writeTestDataSet,
  findTestCase,
  listTestCases,
  isTestCaseDir,
  type TestDataSet,
  type TestCase,
} from './tensorfile.js';
export { writeFileAtomic } from './atomic.js';
export { decodeDataValue, type DataValue } from './dataproto.js';
