import type { Graph, Tensor } from '../../ir/index.js';
import type { Pass, PassContext } from '../pass.js';
import { definedInSubgraphs, substituteInputs } from '../rewrite.js';
import { contentHash } from '../tensors.js';

function sameContent(a: Tensor, b: Tensor): boolean {
  if (a.dtype === 'string') return a.strings.every((s, i) => Buffer.compare(s, b.strings[i]!) === 0);
  return Buffer.compare(a.bytes, b.bytes) === 0;
}

/** Initializers with identical type, shape and bytes are merged into the first of them. */
export const dedupeInitializers: Pass = {
  name: 'dedupe-initializers',
  description: 'merge initializers with identical dtype, shape and contents',
  run(g: Graph, ctx: PassContext): number {
    // Only tensors whose dtype and shape collide get hashed.
    const byShape = new Map<string, string[]>();
    for (const [name, t] of g.initializers) {
      if (g.isGraphInput(name) || g.isGraphOutput(name)) continue;
      const key = `${t.dtype}[${t.dims.join(',')}]`;
      const list = byShape.get(key);
      if (list) list.push(name);
      else byShape.set(key, [name]);
    }
    const subst = new Map<string, string>();
    for (const names of byShape.values()) {
      if (names.length < 2) continue;
      const firstByHash = new Map<string, string>();
      for (const name of names) {
        const t = g.initializers.get(name)!;
        const hash = contentHash(t);
        const keep = firstByHash.get(hash);
        if (keep === undefined) {
          firstByHash.set(hash, name);
          continue;
        }
        if (!sameContent(g.initializers.get(keep)!, t) || definedInSubgraphs(g, keep)) continue;
        subst.set(name, keep);
        g.initializers.delete(name);
        g.valueInfo.delete(name);
      }
    }
    if (subst.size) substituteInputs(g, (n) => subst.get(n) ?? n);
    ctx.record('merged duplicate initializer', subst.size);
    return subst.size;
  },
};
