import { subgraphsOf, topologicalOrder, type Graph, type Node, type Tensor } from '../../ir/index.js';
import { constantNodeTensor, isDefaultDomain } from '../../shape-inference/index.js';
import { evaluateNodes } from '../evaluate.js';
import { isOp, NONDETERMINISTIC, type Pass, type PassContext } from '../pass.js';
import { constantOf, renamed, replaceWithConstant } from '../rewrite.js';

/**
 * Ops never evaluated ahead of time: DequantizeLinear keeps quantized weights quantized (folding it
 * would store them as floats again), sequence/optional ops produce values the tensor API cannot return.
 */
const NEVER_FOLD = new Set([
  'Constant',
  'DequantizeLinear',
  'SequenceAt', 'SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength', 'SequenceMap',
  'SplitToSequence', 'ConcatFromSequence', 'Optional', 'OptionalGetElement', 'OptionalHasElement',
]);

/** A folded value may grow past its constant inputs (Expand, ConstantOfShape, Cast to a wider type) only up to this size. */
export const MAX_GROWTH_BYTES = 64 * 1024;

const canFold = (node: Node) =>
  isDefaultDomain(node.domain) &&
  node.inputs.some(Boolean) &&
  !NONDETERMINISTIC.has(node.opType) &&
  !NEVER_FOLD.has(node.opType) &&
  subgraphsOf(node).length === 0;

/** Constant nodes become initializers of the same name. */
function constantNodesToInitializers(g: Graph, ctx: PassContext): number {
  let changes = 0;
  for (const node of [...g.nodes]) {
    const out = node.outputs[0];
    if (!isOp(node, 'Constant') || !out || (g.parent && g.isGraphOutput(out))) continue;
    const t = constantNodeTensor(node);
    if (!t) continue;
    g.removeNode(node);
    g.valueInfo.delete(out);
    g.initializers.set(out, renamed(t, out));
    changes++;
    ctx.record('Constant → initializer');
  }
  return changes;
}

/** Runs `nodes` together; if onnxruntime refuses the batch, node by node, keeping whatever succeeds. */
async function evaluate(ctx: PassContext, nodes: Node[], constants: Map<string, Tensor>, wanted: string[]): Promise<Map<string, Tensor>> {
  try {
    return await evaluateNodes(ctx.model, nodes, constants, wanted);
  } catch {
    const known = new Map(constants);
    for (const node of nodes) {
      if (!node.inputs.every((i) => !i || known.has(i))) continue;
      try {
        const outs = node.outputs.filter(Boolean);
        for (const [name, t] of await evaluateNodes(ctx.model, [node], known, outs)) known.set(name, t);
      } catch {
        // onnxruntime cannot run this node on its own either: it stays in the graph.
      }
    }
    return new Map(wanted.filter((n) => known.has(n)).map((n) => [n, known.get(n)!]));
  }
}

export const foldConstants: Pass = {
  name: 'fold-constants',
  description: 'turn Constant nodes into initializers and evaluate nodes whose inputs are all constant (in onnxruntime, bit-exact)',
  async run(g: Graph, ctx: PassContext): Promise<number> {
    let changes = constantNodesToInitializers(g, ctx);
    const foldable: Node[] = [];
    const inFold = new Set<Node>();
    const computed = new Set<string>();
    const constants = new Map<string, Tensor>();
    for (const node of topologicalOrder(g)) {
      if (!canFold(node)) continue;
      const inputsConstant = node.inputs.every((i) => {
        if (!i || computed.has(i)) return true;
        const t = constantOf(g, i);
        if (t) constants.set(i, t);
        return t !== undefined;
      });
      if (!inputsConstant) continue;
      foldable.push(node);
      inFold.add(node);
      for (const o of node.outputs) if (o) computed.add(o);
    }
    if (!foldable.length) return changes;
    // Values leaving the constant region: read by a node that is not folded, or graph outputs of the main graph.
    const frontier = foldable.flatMap((n) =>
      n.outputs.filter((o) => o && (g.consumers(o).some((c) => !inFold.has(c)) || (!g.parent && g.isGraphOutput(o)))),
    );
    if (!frontier.length) return changes;
    const results = await evaluate(ctx, foldable, constants, frontier);

    // Which folded nodes and constant inputs each frontier value depends on, to judge growth and report.
    const upstream = (name: string, nodes: Set<Node>, leaves: Set<string>): void => {
      const p = g.producer(name);
      if (p && inFold.has(p)) {
        if (nodes.has(p)) return;
        nodes.add(p);
        for (const i of p.inputs) if (i) upstream(i, nodes, leaves);
      } else leaves.add(name);
    };
    const kept = new Set<Node>();
    const folded = new Set<Node>();
    const accepted: [string, Tensor][] = [];
    for (const name of frontier) {
      const value = results.get(name);
      const nodes = new Set<Node>();
      const leaves = new Set<string>();
      upstream(name, nodes, leaves);
      const leafBytes = [...leaves].reduce((n, l) => n + (constants.get(l)?.byteLength ?? 0), 0);
      const grows = value && value.dtype !== 'string' && value.byteLength > Math.max(leafBytes, MAX_GROWTH_BYTES);
      if (!value || grows) nodes.forEach((n) => kept.add(n));
      else {
        nodes.forEach((n) => folded.add(n));
        accepted.push([name, value]);
      }
    }
    for (const [name, value] of accepted) replaceWithConstant(g, g.producer(name)!, name, value);
    changes += accepted.length;
    for (const n of folded) if (!kept.has(n)) ctx.record(`folded ${n.opType}`);
    return changes;
  },
};
