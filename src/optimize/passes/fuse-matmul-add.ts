import type { Dim, Graph } from '../../ir/index.js';
import { sameDim } from '../../shape-inference/dims.js';
import { isOp, type Pass, type PassContext } from '../pass.js';
import { soleConsumer } from '../rewrite.js';

/** Gemm's C broadcasts one way only: each of its (right-aligned) dims is 1 or the matching dim of [M, N]. */
function broadcastsTo(c: Dim[], mn: Dim[]): boolean {
  if (c.length > 2) return false;
  return c.every((d, i) => d === 1 || sameDim(d, mn[mn.length - c.length + i]));
}

/** MatMul(A, B) + C → Gemm(A, B, C) for 2-D float products (onnxruntime's Gemm takes float and double). */
export const fuseMatmulAdd: Pass = {
  name: 'fuse-matmul-add',
  description: 'fuse a 2-D MatMul followed by an Add into Gemm',
  run(g: Graph, ctx: PassContext): number {
    if (ctx.opset() < 7) return 0;
    const shapes = ctx.shapes();
    let changes = 0;
    for (const matmul of [...g.nodes]) {
      const product = matmul.outputs[0];
      if (!isOp(matmul, 'MatMul') || !product) continue;
      const add = soleConsumer(g, product);
      if (!add || !isOp(add, 'Add') || add.inputs.length !== 2 || !add.outputs[0]) continue;
      const c = add.inputs[add.inputs[0] === product ? 1 : 0]!;
      const [a, b] = [matmul.inputs[0]!, matmul.inputs[1]!];
      const dtype = shapes.dtype(g, a);
      const mn = shapes.shape(g, product);
      const cShape = shapes.shape(g, c);
      if ((dtype !== 'float32' && dtype !== 'float64') || shapes.dtype(g, c) !== dtype) continue;
      if (shapes.shape(g, a)?.length !== 2 || shapes.shape(g, b)?.length !== 2 || !mn || !cShape || !broadcastsTo(cShape, mn)) continue;
      // The Add's output (possibly a graph output) keeps its name; the MatMul's intermediate goes away.
      g.removeNode(matmul);
      g.replaceNode(add, [{ opType: 'Gemm', inputs: [a, b, c], outputs: [add.outputs[0]], name: matmul.name }]);
      g.valueInfo.delete(product);
      changes++;
      ctx.record('fused MatMul+Add into Gemm');
    }
    return changes;
  },
};
