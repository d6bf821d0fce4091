import { Graph, Model } from '../ir/index.js';
import { encodeModel } from '../io/index.js';

/** A one-node Identity model, for checking that an execution provider loads. */
export function tinyIdentityModel(): Uint8Array {
  const g = new Graph('probe');
  g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: [1] } });
  g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: [1] } });
  g.addNode({ opType: 'Identity', inputs: ['x'], outputs: ['y'] });
  const m = new Model(g);
  m.opsetImports = [{ domain: '', version: 13 }];
  m.irVersion = 8;
  return encodeModel(m);
}
