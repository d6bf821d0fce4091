import { attr, getInts, setAttribute, type Graph, type Node } from '../../ir/index.js';
import type { ShapeInfo } from '../../shape-inference/index.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { bypassNode } from '../rewrite.js';

/** A Transpose's permutation (the default reverses the axes, which needs the input's rank). */
function permutation(g: Graph, node: Node, shapes?: ShapeInfo): number[] | undefined {
  const perm = getInts(node, 'perm');
  if (perm) return perm;
  const rank = shapes?.shape(g, node.inputs[0]!)?.length;
  return rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

const isIdentity = (perm: number[]) => perm.every((p, i) => p === i);

export interface TransposeChanges {
  /** Transpose pairs (or chains) that cancelled out to nothing. */
  cancelled: number;
  /** Consecutive Transposes merged into one. */
  merged: number;
  /** Transposes with the identity permutation removed. */
  identity: number;
}

/**
 * Cancels Transpose pairs that undo each other, merges consecutive Transposes into one, and removes
 * identity Transposes, in one pass over `graph` (chains of any length collapse). `shapes` is only
 * needed for Transposes without a `perm` attribute. Used by `optimize` and by the TF.js converter,
 * whose NHWC↔NCHW layout changes leave such pairs behind.
 */
export function cancelTransposes(graph: Graph, shapes?: ShapeInfo): TransposeChanges {
  const changes: TransposeChanges = { cancelled: 0, merged: 0, identity: 0 };
  for (const node of [...graph.nodes]) {
    if (!isOp(node, 'Transpose') || !node.inputs[0] || !node.outputs[0]) continue;
    const perm = permutation(graph, node, shapes);
    if (!perm) continue;
    if (isIdentity(perm)) {
      if (bypassNode(graph, node, node.outputs[0], node.inputs[0])) changes.identity++;
      continue;
    }
    const prev = graph.producer(node.inputs[0]);
    if (!prev || !isOp(prev, 'Transpose') || !prev.inputs[0]) continue;
    const first = permutation(graph, prev, shapes);
    if (!first || first.length !== perm.length) continue;
    // y = Transpose(x, p1), z = Transpose(y, p2): z's axis j is x's axis p1[p2[j]].
    const composed = perm.map((j) => first[j]!);
    if (isIdentity(composed)) {
      if (bypassNode(graph, node, node.outputs[0], prev.inputs[0])) changes.cancelled++;
    } else {
      graph.setNodeInput(node, 0, prev.inputs[0]);
      setAttribute(node, attr.ints('perm', composed));
      changes.merged++;
    }
  }
  return changes;
}

export const fuseTransposes: Pass = {
  name: 'fuse-transposes',
  description: 'cancel Transpose pairs that undo each other and merge consecutive Transposes',
  run(g: Graph, ctx: PassContext): number {
    const { cancelled, merged, identity } = cancelTransposes(g, ctx.shapes());
    ctx.record('cancelled Transpose pair', cancelled);
    ctx.record('merged consecutive Transposes', merged);
    ctx.record('removed identity Transpose', identity);
    return cancelled + merged + identity;
  },
};
