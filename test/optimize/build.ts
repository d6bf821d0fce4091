/** Small hand-built models for the optimizer's tests. */
import { Graph, Model, Tensor, type Attribute, type Dim, type DType, type NewNode } from '../../src/index.js';

export interface ModelSpec {
  opset?: number;
  irVersion?: number;
  inputs: Record<string, [DType, Dim[]]>;
  outputs: Record<string, [DType, Dim[]?]>;
  initializers?: Tensor[];
  nodes: (Omit<NewNode, 'attributes'> & { attributes?: Attribute[] })[];
  /** Extra opset imports (custom domains). */
  domains?: Record<string, number>;
}

export function buildModel(spec: ModelSpec): Model {
  const g = new Graph('test');
  for (const [name, [dtype, shape]] of Object.entries(spec.inputs)) g.inputs.push({ name, type: { kind: 'tensor', dtype, shape } });
  for (const t of spec.initializers ?? []) g.addInitializer(t);
  for (const n of spec.nodes) g.addNode(n);
  for (const [name, [dtype, shape]] of Object.entries(spec.outputs)) g.outputs.push({ name, type: { kind: 'tensor', dtype, shape } });
  const m = new Model(g);
  m.irVersion = spec.irVersion ?? 8;
  m.opsetImports = [{ domain: '', version: spec.opset ?? 13 }, ...Object.entries(spec.domains ?? {}).map(([domain, version]) => ({ domain, version }))];
  return m;
}

/** A float32 tensor of seeded pseudo-random values in [-1, 1). */
export function randomTensor(name: string, dims: number[], seed = 1, offset = 0): Tensor {
  let s = seed >>> 0;
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1 + offset;
  }
  return Tensor.from('float32', dims, data, name);
}

export const ints = (name: string, values: number[], dims = [values.length]) => Tensor.fromNumbers('int64', dims, values, name);

/** Op types of a graph's nodes, in order. */
export const opTypes = (m: Model) => m.graph.nodes.map((n) => n.opType);
