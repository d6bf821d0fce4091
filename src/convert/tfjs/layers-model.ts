import type { LoadedTfjsModel } from './artifacts.js';
import type { Emitter } from './emitter.js';
import type { GraphConvertOptions, GraphInterface } from './graph-model.js';

export function convertLayersModel(model: LoadedTfjsModel, e: Emitter, o: GraphConvertOptions): GraphInterface {
  void e; void o;
  throw new Error(`${model.source}: layers models: not yet`);
}
