export { inferShapes, mergeTypes, isDefaultDomain, ShapeInfo, type ShapeInferenceOptions } from './infer.js';
export { setInputShapes } from './input-shapes.js';
export { constantNodeTensor, tensorInts } from './context.js';
export { broadcastShapes, dimProduct, normalizeAxis } from './dims.js';
export { RULES as SHAPE_RULES } from './rules/index.js';
