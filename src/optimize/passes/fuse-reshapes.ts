import { getInt, type Graph } from '../../ir/index.js';
import { allFixed } from '../../shape-inference/dims.js';
import { isOp, type Pass, type PassContext } from '../pass.js';

/** Ops that change only the shape, never the order of elements. */
const VIEW_OPS = ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'];

/**
 * Reshape(view(x), target) = Reshape(x, target) when the target does not copy dims from its input
 * (no 0 entries, unless allowzero makes 0 a literal size): the intermediate shape never matters.
 */
export const fuseReshapes: Pass = {
  name: 'fuse-reshapes',
  description: 'collapse chains of Reshape/Flatten/Squeeze/Unsqueeze ending in a Reshape with a constant target',
  run(g: Graph, ctx: PassContext): number {
    if (ctx.opset() < 5) return 0;
    const shapes = ctx.shapes();
    let changes = 0;
    for (const node of g.nodes) {
      if (!isOp(node, 'Reshape') || !node.inputs[0] || !node.inputs[1]) continue;
      const prev = g.producer(node.inputs[0]);
      if (!prev || !isOp(prev, ...VIEW_OPS) || !prev.inputs[0]) continue;
      const target = shapes.value(g, node.inputs[1]);
      if (!target || !allFixed(target) || (target.includes(0) && getInt(node, 'allowzero', 0) !== 1)) continue;
      g.setNodeInput(node, 0, prev.inputs[0]);
      changes++;
      ctx.record(`merged ${prev.opType} into the following Reshape`);
    }
    return changes;
  },
};
