/**
 * Evaluates constant subgraphs in onnxruntime rather than reimplementing operators: the nodes go
 * into a small model of their own, with their constant inputs as initializers, and run once with
 * graph optimizations off. The results are exactly what onnxruntime's kernels compute at run time.
 */
import { Graph, Model, type Node, type Tensor } from '../ir/index.js';
import { encodeModel } from '../io/index.js';
import { createSession } from '../runtime/index.js';
import { renamed } from './rewrite.js';

/**
 * Runs `nodes` (in topological order) and returns the values named in `outputs`. `constants`
 * supplies every input the nodes read but do not produce.
 */
export async function evaluateNodes(model: Model, nodes: Node[], constants: Map<string, Tensor>, outputs: string[]): Promise<Map<string, Tensor>> {
  const g = new Graph('constant_subgraph');
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  for (const n of nodes) {
    for (const name of n.inputs) {
      if (!name || produced.has(name) || g.initializers.has(name)) continue;
      const t = constants.get(name);
      if (!t) throw new Error(`constant subgraph: no value for input '${name}'`);
      g.initializers.set(name, renamed(t, name));
    }
  }
  g.nodes = nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  g.outputs = outputs.map((name) => ({ name }));
  const m = new Model(g);
  m.opsetImports = model.opsetImports.map((o) => ({ ...o }));
  // Initializers that are not graph inputs need IR 4 or later.
  m.irVersion = Math.max(model.irVersion, 4);
  // One thread: a session starts ~3× faster, and constant subgraphs are small.
  const session = await createSession(encodeModel(m), { graphOptimizationLevel: 'disabled', threads: 1 });
  try {
    const result = await session.run({});
    return new Map(outputs.map((name) => [name, result[name]!]));
  } finally {
    await session.release();
  }
}
