import { attr, getInts, setAttribute, type Graph, type Node } from '../../ir/index.js';
import type { ShapeInfo } from '../../shape-inference/index.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { bypassNodes, type Bypass } from '../rewrite.js';

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
  const bypasses: (Bypass & { kind: 'cancelled' | 'identity' })[] = [];
  // Values a planned bypass replaces, so later Transposes in a chain look through it.
  const replaced = new Map<string, string>();
  const resolve = (name: string) => replaced.get(name) ?? name;
  for (const node of graph.nodes) {
    if (!isOp(node, 'Transpose') || !node.inputs[0] || !node.outputs[0]) continue;
    const input = resolve(node.inputs[0]);
    const perm = permutation(graph, node, shapes);
    if (!perm) continue;
    if (isIdentity(perm)) {
      bypasses.push({ node, out: node.outputs[0], src: input, kind: 'identity' });
      replaced.set(node.outputs[0], input);
      continue;
    }
    const prev = graph.producer(input);
    if (!prev || !isOp(prev, 'Transpose') || !prev.inputs[0]) continue;
    const first = permutation(graph, prev, shapes);
    if (!first || first.length !== perm.length) continue;
    // y = Transpose(x, p1), z = Transpose(y, p2): z's axis j is x's axis p1[p2[j]].
    const composed = perm.map((j) => first[j]!);
    const source = resolve(prev.inputs[0]);
    if (isIdentity(composed)) {
      bypasses.push({ node, out: node.outputs[0], src: source, kind: 'cancelled' });
      replaced.set(node.outputs[0], source);
    } else {
      // Only inputs change, so the producer lookups above stay valid for the rest of the walk.
      node.inputs[0] = source;
      setAttribute(node, attr.ints('perm', composed));
      changes.merged++;
    }
  }
  if (changes.merged) graph.invalidate();
  const removed = new Set(bypassNodes(graph, bypasses));
  for (const b of bypasses) if (removed.has(b.node)) changes[b.kind]++;
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
