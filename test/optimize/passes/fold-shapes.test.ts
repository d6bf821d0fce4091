import { describe, expect, it } from 'vitest';
import { attr, optimize } from '../../../src/index.js';
import { buildModel, ints, opTypes, randomTensor } from '../build.js';

/** x[batch, seq, 8] reshaped to [batch, seq, 2, 4] through Shape arithmetic, as exporters write it. */
function reshapeFromShape() {
  return buildModel({
    inputs: { x: ['float32', ['batch', 'seq', 8]] },
    outputs: { y: ['float32'] },
    initializers: [ints('i0', [0], []), ints('i1', [1], []), ints('i2', [2], []), ints('half', [2], []), ints('heads', [2], [1]), ints('axes', [0])],
    nodes: [
      { opType: 'Shape', inputs: ['x'], outputs: ['s'] },
      { opType: 'Gather', inputs: ['s', 'i0'], outputs: ['b'], attributes: [attr.int('axis', 0)] },
      { opType: 'Gather', inputs: ['s', 'i1'], outputs: ['t'], attributes: [attr.int('axis', 0)] },
      { opType: 'Gather', inputs: ['s', 'i2'], outputs: ['d'], attributes: [attr.int('axis', 0)] },
      { opType: 'Div', inputs: ['d', 'half'], outputs: ['dh'] },
      { opType: 'Unsqueeze', inputs: ['b', 'axes'], outputs: ['ub'] },
      { opType: 'Unsqueeze', inputs: ['t', 'axes'], outputs: ['ut'] },
      { opType: 'Unsqueeze', inputs: ['dh', 'axes'], outputs: ['ud'] },
      { opType: 'Concat', inputs: ['ub', 'ut', 'heads', 'ud'], outputs: ['target'], attributes: [attr.int('axis', 0)] },
      { opType: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
    ],
  });
}

const passes = ['fold-shapes', 'fold-constants', 'eliminate-dead-code'];

describe('fold-shapes', () => {
  it('folds the static part of shape arithmetic even when other dims stay symbolic', async () => {
    const { model, report } = await optimize(reshapeFromShape(), { passes });
    const ops = opTypes(model);
    // The head size (8 / 2) folds; batch and seq stay dynamic.
    expect(ops).not.toContain('Div');
    expect(ops.filter((o) => o === 'Gather')).toHaveLength(2);
    expect(report.passes.find((p) => p.name === 'fold-shapes')!.changes).toBeGreaterThan(0);
    expect(model.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 'seq', 2, 4] });
    expect(report.verify?.passed).toBe(true);
  });

  it('folds the whole shape computation once --input-shape fixes the dims', async () => {
    const { model, report } = await optimize(reshapeFromShape(), { passes, inputShapes: { x: [3, 5, 8] } });
    expect(opTypes(model)).toEqual(['Reshape']);
    expect(model.graph.initializers.get(model.graph.nodes[0]!.inputs[1]!)!.data).toEqual(BigInt64Array.from([3n, 5n, 2n, 4n]));
    expect(model.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [3, 5, 2, 4] });
    expect(report.inputShapes).toEqual({ x: [3, 5, 8] });
    expect(report.verify?.passed).toBe(true);
  });

  it('rejects --input-shape that contradicts the model', async () => {
    await expect(optimize(reshapeFromShape(), { inputShapes: { x: [3, 5, 9] } })).rejects.toThrow(/dimension 2 is fixed at 8/);
    await expect(optimize(reshapeFromShape(), { inputShapes: { x: [3, 5] } })).rejects.toThrow(/rank 3/);
    await expect(optimize(reshapeFromShape(), { inputShapes: { nope: [1] } })).rejects.toThrow(/no input 'nope'/);
  });

  it('folds Size and Shape of fully static values', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [3, 2])],
      nodes: [
        { opType: 'Size', inputs: ['x'], outputs: ['n'] },
        { opType: 'Cast', inputs: ['n'], outputs: ['nf'], attributes: [attr.int('to', 1)] },
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
        { opType: 'Div', inputs: ['xw', 'nf'], outputs: ['y'] },
      ],
    });
    const { model, report } = await optimize(m, { passes });
    expect(opTypes(model)).toEqual(['MatMul', 'Div']);
    expect(report.verify?.passed).toBe(true);
  });
});
