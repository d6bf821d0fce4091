import type { Graph } from '../../ir/index.js';
import type { Pass, PassContext } from '../pass.js';

/**
 * Removes inputs of the main graph that nothing reads. This changes the model's interface (callers
 * must stop feeding them), so each removal is listed in the report; skip the pass to keep them.
 */
export const eliminateUnusedInputs: Pass = {
  name: 'eliminate-unused-inputs',
  description: 'remove main-graph inputs that nothing reads (listed in the report)',
  run(g: Graph, ctx: PassContext): number {
    // A subgraph's inputs are fixed by its owner (Loop, Scan, If).
    if (g.parent) return 0;
    const unused = g.inputs.filter((v) => !g.initializers.has(v.name) && g.consumers(v.name).length === 0 && !g.isGraphOutput(v.name));
    for (const v of unused) {
      g.inputs.splice(g.inputs.indexOf(v), 1);
      ctx.record(`removed unused input '${v.name}'`);
    }
    return unused.length;
  },
};
