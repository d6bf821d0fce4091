import { getInts, type DType, type Graph, type Node } from '../../ir/index.js';
import { sameDim } from '../../shape-inference/dims.js';
import { castTarget } from '../../shape-inference/rules/elementwise.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { bypassNodes, type Bypass } from '../rewrite.js';

const INTS: DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
const FLOATS: DType[] = ['float16', 'bfloat16', 'float32', 'float64'];

/** Types that hold every value of the key type exactly, so a cast there and back is the identity. */
const EXACT_IN: Partial<Record<DType, DType[]>> = {
  bool: [...INTS, ...FLOATS],
  float16: ['float32', 'float64'],
  bfloat16: ['float32', 'float64'],
  float32: ['float64'],
  int8: ['int16', 'int32', 'int64', 'float16', 'float32', 'float64'],
  uint8: ['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float16', 'float32', 'float64'],
  int16: ['int32', 'int64', 'float32', 'float64'],
  uint16: ['int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'],
  int32: ['int64', 'float64'],
  uint32: ['int64', 'uint64', 'float64'],
};

/** Ops that only reinterpret the shape: the identity when the output shape equals the input shape. */
const VIEW_OPS = ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Expand'];

const isIdentityPerm = (perm: number[]) => perm.every((p, i) => p === i);

/** The value `node` passes through unchanged, when it provably does. */
function noopSource(g: Graph, node: Node, ctx: PassContext): { src: string; why: string } | undefined {
  const src = node.inputs[0];
  const out = node.outputs[0];
  if (!src || !out) return undefined;
  const shapes = ctx.shapes();
  if (isOp(node, 'Cast')) {
    const to = castTarget(node);
    const from = shapes.dtype(g, src);
    if (to && from === to) return { src, why: `removed Cast to the input's own type` };
    const inner = g.producer(src);
    const original = isOp(inner, 'Cast') ? inner!.inputs[0] : undefined;
    if (original && from && shapes.dtype(g, original) === to && EXACT_IN[to!]?.includes(from)) {
      return { src: original, why: `removed Cast pair ${to}→${from}→${to}` };
    }
    return undefined;
  }
  if (isOp(node, 'Transpose')) {
    const rank = shapes.shape(g, src)?.length;
    const perm = getInts(node, 'perm') ?? (rank !== undefined && rank <= 1 ? [0].slice(0, rank) : undefined);
    return perm && isIdentityPerm(perm) ? { src, why: 'removed identity Transpose' } : undefined;
  }
  if (isOp(node, ...VIEW_OPS)) {
    const a = shapes.shape(g, src);
    const b = shapes.shape(g, out);
    if (a && b && a.length === b.length && a.every((d, i) => sameDim(d, b[i]))) return { src, why: `removed ${node.opType} to the same shape` };
  }
  return undefined;
}

/** Removes Cast/Reshape/Transpose (and other view ops) that leave their input unchanged. */
export const eliminateNoop: Pass = {
  name: 'eliminate-noop',
  description: 'remove no-op Cast (same type, or a lossless round trip), identity Transpose, and Reshape/Flatten/Squeeze/Unsqueeze/Expand to the same shape',
  run(g: Graph, ctx: PassContext): number {
    const candidates: (Bypass & { why: string })[] = [];
    for (const node of g.nodes) {
      const noop = noopSource(g, node, ctx);
      if (noop) candidates.push({ node, out: node.outputs[0]!, src: noop.src, why: noop.why });
    }
    const removed = new Set(bypassNodes(g, candidates));
    for (const c of candidates) if (removed.has(c.node)) ctx.record(c.why);
    return removed.size;
  },
};
