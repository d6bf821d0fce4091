import { nodeUses, topologicalOrder, type Graph, type Node } from '../../ir/index.js';
import type { Pass, PassContext } from '../pass.js';

/**
 * Removes nodes whose results reach no graph output, initializers nothing reads (an unused
 * initializer that is also a graph input goes with its input), and value_info of values that no
 * longer exist.
 */
export const eliminateDeadCode: Pass = {
  name: 'eliminate-dead-code',
  description: 'remove nodes that do not contribute to an output, unused initializers, and stale value_info',
  run(g: Graph, ctx: PassContext): number {
    const live = new Set(g.outputs.map((o) => o.name));
    const liveNodes = new Set<Node>();
    // Walking the topological order backwards sees every consumer before its producer.
    const order = topologicalOrder(g);
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      if (!node.outputs.some((o) => o && live.has(o))) continue;
      liveNodes.add(node);
      for (const name of nodeUses(node)) live.add(name);
    }
    let changes = 0;
    for (const node of [...g.nodes]) {
      if (liveNodes.has(node)) continue;
      g.removeNode(node);
      changes++;
      ctx.record(`removed dead ${node.opType}`);
    }
    for (const name of [...g.initializers.keys()]) {
      if (live.has(name)) continue;
      g.initializers.delete(name);
      const input = g.inputs.findIndex((v) => v.name === name);
      if (input >= 0) g.inputs.splice(input, 1);
      changes++;
      ctx.record(input >= 0 ? 'removed unused initializer (and its graph input)' : 'removed unused initializer');
    }
    const produced = new Set(g.nodes.flatMap((n) => n.outputs));
    for (const name of [...g.valueInfo.keys()]) if (!produced.has(name)) g.valueInfo.delete(name);
    return changes;
  },
};
