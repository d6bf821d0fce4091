import { getInt, type Graph, type Node } from '../../ir/index.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { bypassNodes, constantOf, isUsed, type Bypass } from '../rewrite.js';

/** Dropout is the identity at inference: no training flag set, and its mask output unused. */
function isInferenceDropout(g: Graph, node: Node, opset: number): boolean {
  const mask = node.outputs[1];
  if (mask && isUsed(g, mask)) return false;
  if (opset < 7) return getInt(node, 'is_test', 0) === 1;
  const training = node.inputs[2];
  if (!training) return true;
  const flag = constantOf(g, training);
  return flag !== undefined && flag.size === 1 && Number((flag.data as ArrayLike<number>)[0]) === 0;
}

/** Removes Identity nodes, and Dropout nodes that are the identity at inference. */
export const eliminateIdentity: Pass = {
  name: 'eliminate-identity',
  description: 'remove Identity, and Dropout in inference mode',
  run(g: Graph, ctx: PassContext): number {
    const candidates: Bypass[] = [];
    for (const node of g.nodes) {
      const out = node.outputs[0];
      const src = node.inputs[0];
      if (!out || !src) continue;
      if (isOp(node, 'Identity') || (isOp(node, 'Dropout') && isInferenceDropout(g, node, ctx.opset()))) candidates.push({ node, out, src });
    }
    const removed = bypassNodes(g, candidates);
    for (const node of removed) ctx.record(`removed ${node.opType}`);
    return removed.length;
  },
};
