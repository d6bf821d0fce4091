export { inferShapes, mergeTypes, isDefaultDomain, ShapeInfo, type ShapeInferenceOptions } from './infer.js';
export { setInputShapes } from './input-shapes.js';
export { constantNodeTensor } from './context.js';
export { broadcastShapes } from './dims.js';
