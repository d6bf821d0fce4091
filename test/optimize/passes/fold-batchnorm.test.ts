import { describe, expect, it } from 'vitest';
import { attr, optimize, type Model } from '../../../src/index.js';
import { buildModel, opTypes, randomTensor } from '../build.js';

/** BatchNormalization parameters for `c` channels (variance kept positive). */
function bnParams(c: number, seed = 7) {
  return [
    randomTensor('bn_scale', [c], seed),
    randomTensor('bn_bias', [c], seed + 1),
    randomTensor('bn_mean', [c], seed + 2),
    randomTensor('bn_var', [c], seed + 3, 1.5),
  ];
}
const bnNode = (input: string, output: string) => ({
  opType: 'BatchNormalization',
  inputs: [input, 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var'],
  outputs: [output],
  attributes: [attr.float('epsilon', 1e-3)],
});

const fold = (m: Model) => optimize(m, { passes: ['fold-batchnorm', 'eliminate-dead-code'] });

describe('fold-batchnorm', () => {
  it('folds into a Conv with bias', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [1, 3, 8, 8]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [4, 3, 3, 3]), randomTensor('b', [4], 2), ...bnParams(4)],
      nodes: [{ opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: [attr.ints('pads', [1, 1, 1, 1])] }, bnNode('c', 'y')],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Conv']);
    expect(model.graph.nodes[0]!.outputs).toEqual(['y']);
    expect(report.verify?.passed).toBe(true);
    expect(report.passes.find((p) => p.name === 'fold-batchnorm')?.changed).toEqual({ 'folded BatchNormalization into Conv': 1 });
    // The original model is left as it was.
    expect(opTypes(m)).toEqual(['Conv', 'BatchNormalization']);
  });

  it('folds into a Conv without bias (a bias input is added)', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3, 6, 6]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [5, 3, 1, 1]), ...bnParams(5)],
      nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] }, bnNode('c', 'y')],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Conv']);
    expect(model.graph.nodes[0]!.inputs).toHaveLength(3);
    expect(model.graph.initializers.get(model.graph.nodes[0]!.inputs[2]!)?.dims).toEqual([5]);
    expect(report.verify?.passed).toBe(true);
  });

  it('folds into a grouped (depthwise) Conv', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [1, 6, 7, 7]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [6, 1, 3, 3]), ...bnParams(6)],
      nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: [attr.int('group', 6)] }, bnNode('c', 'y')],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Conv']);
    expect(report.verify?.passed).toBe(true);
  });

  it('folds into a grouped ConvTranspose (weights are [C_in, M/group, k…])', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [1, 4, 5, 5]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [4, 3, 2, 2]), randomTensor('b', [6], 3), ...bnParams(6)],
      nodes: [
        { opType: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: [attr.int('group', 2), attr.ints('strides', [2, 2])] },
        bnNode('c', 'y'),
      ],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['ConvTranspose']);
    expect(report.verify?.passed).toBe(true);
  });

  it('folds into Gemm (transB, with and without C)', async () => {
    for (const withC of [true, false]) {
      const m = buildModel({
        inputs: { x: ['float32', [3, 8]] },
        outputs: { y: ['float32'] },
        initializers: [randomTensor('w', [5, 8]), ...(withC ? [randomTensor('c', [5], 4)] : []), ...bnParams(5)],
        nodes: [
          { opType: 'Gemm', inputs: withC ? ['x', 'w', 'c'] : ['x', 'w'], outputs: ['g'], attributes: [attr.int('transB', 1), attr.float('alpha', 0.5), attr.float('beta', 2)] },
          bnNode('g', 'y'),
        ],
      });
      const { model, report } = await fold(m);
      expect(opTypes(model)).toEqual(['Gemm']);
      expect(report.verify?.passed).toBe(true);
    }
  });

  it('folds into a 2-D MatMul+Add, and turns BN after a bare MatMul into an Add', async () => {
    const withAdd = buildModel({
      inputs: { x: ['float32', [4, 8]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [8, 5]), randomTensor('bias', [5], 9), ...bnParams(5)],
      nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['mm'] }, { opType: 'Add', inputs: ['mm', 'bias'], outputs: ['a'] }, bnNode('a', 'y')],
    });
    const r1 = await fold(withAdd);
    expect(opTypes(r1.model)).toEqual(['MatMul', 'Add']);
    expect(r1.report.verify?.passed).toBe(true);

    const bare = buildModel({
      inputs: { x: ['float32', [4, 8]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [8, 5]), ...bnParams(5)],
      nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['mm'] }, bnNode('mm', 'y')],
    });
    const r2 = await fold(bare);
    expect(opTypes(r2.model)).toEqual(['MatMul', 'Add']);
    expect(r2.report.verify?.passed).toBe(true);
  });

  it('leaves BN alone when the Conv output is used elsewhere, or its parameters are graph inputs', async () => {
    const shared = buildModel({
      inputs: { x: ['float32', [1, 3, 4, 4]] },
      outputs: { y: ['float32'], c: ['float32'] },
      initializers: [randomTensor('w', [2, 3, 1, 1]), ...bnParams(2)],
      nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] }, bnNode('c', 'y')],
    });
    expect(opTypes((await fold(shared)).model)).toEqual(['Conv', 'BatchNormalization']);

    const overridable = buildModel({
      inputs: { x: ['float32', [1, 3, 4, 4]], bn_mean: ['float32', [2]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [2, 3, 1, 1]), ...bnParams(2)],
      nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] }, bnNode('c', 'y')],
    });
    // bn_mean is an initializer and a graph input: a caller may override it, so it is not a constant.
    const { model, report } = await fold(overridable);
    expect(opTypes(model)).toEqual(['Conv', 'BatchNormalization']);
    expect(report.verify?.passed).toBe(true);
  });

  it('picks fresh names when the natural ones are taken', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [1, 2, 4, 4]] },
      outputs: { y: ['float32'], w_bn_folded: ['float32'] },
      initializers: [randomTensor('w', [2, 2, 1, 1]), ...bnParams(2)],
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
        bnNode('c', 'y'),
        { opType: 'Relu', inputs: ['x'], outputs: ['w_bn_folded'], name: 'w_bn_folded' },
      ],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Conv', 'Relu']);
    expect(model.graph.nodes[0]!.inputs[1]).toBe('w_bn_folded_1');
    expect(report.verify?.passed).toBe(true);
  });
});
