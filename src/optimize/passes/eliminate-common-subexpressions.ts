import { subgraphsOf, topologicalOrder, type Attribute, type Graph, type Node } from '../../ir/index.js';
import { isDefaultDomain } from '../../shape-inference/index.js';
import { NONDETERMINISTIC, type Pass, type PassContext } from '../pass.js';
import { definedInSubgraphs, substituteInputs } from '../rewrite.js';
import { contentHash } from '../tensors.js';

function attributeKey(a: Attribute): string {
  switch (a.type) {
    case 'tensor':
      return `${a.name}:tensor:${a.value.dtype}[${a.value.dims}]:${contentHash(a.value)}`;
    case 'string':
      return `${a.name}:string:${Buffer.from(a.value).toString('hex')}`;
    case 'strings':
      return `${a.name}:strings:${a.value.map((s) => Buffer.from(s).toString('hex')).join(',')}`;
    default:
      return `${a.name}:${a.type}:${JSON.stringify(a.value)}`;
  }
}

/** Nodes with the same op, inputs and attributes compute the same values: later ones reuse the first's outputs. */
export const eliminateCommonSubexpressions: Pass = {
  name: 'eliminate-common-subexpressions',
  description: 'merge nodes that compute the same op on the same inputs with the same attributes',
  run(g: Graph, ctx: PassContext): number {
    const seen = new Map<string, Node>();
    // Outputs of merged nodes → the first node's outputs; keys read inputs through it, so merges cascade.
    const subst = new Map<string, string>();
    const resolve = (name: string) => subst.get(name) ?? name;
    const removed = new Set<Node>();
    for (const node of topologicalOrder(g)) {
      if (!isDefaultDomain(node.domain) || NONDETERMINISTIC.has(node.opType) || subgraphsOf(node).length) continue;
      const attrs = node.attributes.map(attributeKey).sort().join('|');
      const key = `${node.opType}(${node.inputs.map(resolve).join(',')})#${node.outputs.length}{${attrs}}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, node);
        continue;
      }
      const pairs = node.outputs.map((o, i) => [o, first.outputs[i]!] as const).filter(([o]) => o);
      if (pairs.some(([o, keep]) => !keep || g.isGraphOutput(o) || definedInSubgraphs(g, keep))) continue;
      for (const [o, keep] of pairs) subst.set(o, keep);
      removed.add(node);
      ctx.record(`merged duplicate ${node.opType}`);
    }
    if (removed.size) {
      g.nodes = g.nodes.filter((n) => !removed.has(n));
      for (const name of subst.keys()) g.valueInfo.delete(name);
      substituteInputs(g, resolve);
    }
    return removed.size;
  },
};
