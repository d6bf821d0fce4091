import { createHash } from 'node:crypto';
import { subgraphsOf, topologicalOrder, type Attribute, type Graph, type Node } from '../../ir/index.js';
import { isDefaultDomain } from '../../shape-inference/index.js';
import { NONDETERMINISTIC, type Pass, type PassContext } from '../pass.js';
import { definedInSubgraphs } from '../rewrite.js';

function attributeKey(a: Attribute): string {
  switch (a.type) {
    case 'tensor': {
      const t = a.value;
      const h = createHash('sha1');
      if (t.dtype === 'string') for (const s of t.strings) h.update(s).update('\0');
      else h.update(t.bytes);
      return `${a.name}:tensor:${t.dtype}[${t.dims}]:${h.digest('hex')}`;
    }
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
    let changes = 0;
    for (const node of topologicalOrder(g)) {
      if (!isDefaultDomain(node.domain) || NONDETERMINISTIC.has(node.opType) || subgraphsOf(node).length) continue;
      const attrs = node.attributes.map(attributeKey).sort().join('|');
      const key = `${node.opType}(${node.inputs.join(',')})#${node.outputs.length}{${attrs}}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, node);
        continue;
      }
      const pairs = node.outputs.map((o, i) => [o, first.outputs[i]!] as const).filter(([o]) => o);
      if (pairs.some(([o, keep]) => !keep || g.isGraphOutput(o) || definedInSubgraphs(g, keep))) continue;
      g.removeNode(node);
      for (const [o, keep] of pairs) g.replaceAllUses(o, keep);
      changes++;
      ctx.record(`merged duplicate ${node.opType}`);
    }
    return changes;
  },
};
