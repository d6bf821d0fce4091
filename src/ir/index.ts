export * from './dtype.js';
export * from './float16.js';
export * from './tensor.js';
export * from './types.js';
export * from './attributes.js';
export { Graph, nodeUses, topologicalOrder, type NewNode } from './graph.js';
export { Model, DEFAULT_IR_VERSION } from './model.js';
export { walkGraphs, tensorShape, formatType, formatShape } from './util.js';
