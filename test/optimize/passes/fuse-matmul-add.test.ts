import { describe, expect, it } from 'vitest';
import { optimize } from '../../../src/index.js';
import { buildModel, opTypes, randomTensor } from '../build.js';

const model = (x: (string | number)[], bias: number[]) =>
  buildModel({
    inputs: { x: ['float32', x] },
    outputs: { y: ['float32'] },
    initializers: [randomTensor('w', [8, 5]), randomTensor('b', bias, 3)],
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['mm'] },
      { opType: 'Add', inputs: ['b', 'mm'], outputs: ['y'] },
    ],
  });

describe('fuse-matmul-add', () => {
  it('fuses a 2-D MatMul and a broadcastable bias into Gemm', async () => {
    for (const bias of [[5], [1, 5], [3, 5], [3, 1]]) {
      const { model: m, report } = await optimize(model([3, 8], bias), { passes: ['fuse-matmul-add'] });
      expect(opTypes(m)).toEqual(['Gemm']);
      expect(m.graph.nodes[0]!.inputs).toEqual(['x', 'w', 'b']);
      expect(m.graph.nodes[0]!.outputs).toEqual(['y']);
      expect(report.verify?.passed).toBe(true);
    }
  });

  it('leaves batched (3-D) products and biases that need two-way broadcasting alone', async () => {
    expect(opTypes((await optimize(model([2, 3, 8], [5]), { passes: ['fuse-matmul-add'] })).model)).toEqual(['MatMul', 'Add']);
    expect(opTypes((await optimize(model(['n', 8], [3, 5]), { passes: ['fuse-matmul-add'], verify: false })).model)).toEqual(['MatMul', 'Add']);
  });
});
