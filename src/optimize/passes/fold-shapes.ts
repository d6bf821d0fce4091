import { subgraphsOf, Tensor, type Graph } from '../../ir/index.js';
import { isDefaultDomain } from '../../shape-inference/index.js';
import { allFixed } from '../../shape-inference/dims.js';
import type { Pass, PassContext } from '../pass.js';
import { constantOf, isUsed, replaceWithConstant } from '../rewrite.js';

/**
 * Shape arithmetic whose result is static becomes a constant: `Shape` of a value with fixed dims,
 * and what is computed from it (Gather, Slice, Concat, Unsqueeze, Cast, Add/Mul…), even when other
 * dims of the same tensor stay symbolic. Shape inference computed these values; fold-constants
 * then evaluates whatever depends only on them.
 */
export const foldShapes: Pass = {
  name: 'fold-shapes',
  description: 'replace shape computations with static results (Shape/Size of fixed dims, and shape arithmetic on them) by constants',
  run(g: Graph, ctx: PassContext): number {
    const shapes = ctx.shapes();
    let changes = 0;
    for (const node of [...g.nodes]) {
      if (!isDefaultDomain(node.domain) || node.opType === 'Constant' || subgraphsOf(node).length) continue;
      // Nodes on constants alone are fold-constants' to evaluate (in onnxruntime).
      if (node.inputs.every((i) => !i || constantOf(g, i))) continue;
      for (const out of node.outputs) {
        if (!out || !isUsed(g, out) || (g.parent && g.isGraphOutput(out))) continue;
        const value = shapes.value(g, out);
        const dtype = shapes.dtype(g, out);
        const shape = shapes.shape(g, out);
        if (!value || !allFixed(value) || (dtype !== 'int64' && dtype !== 'int32') || !shape || !allFixed(shape)) continue;
        if (shape.length > 1 || (shape.length === 1 ? shape[0] !== value.length : value.length !== 1)) continue;
        replaceWithConstant(g, node, out, Tensor.fromNumbers(dtype, shape, value));
        changes++;
        ctx.record(`${node.opType} → constant`);
      }
    }
    return changes;
  },
};
