import { describe, expect, it } from 'vitest';
import { optimize, Tensor } from '../../../src/index.js';
import { buildModel, randomTensor } from '../build.js';

describe('dedupe-initializers', () => {
  it('merges identical tensors only (same dtype, dims and bytes), never graph inputs', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]], over: ['float32', [2, 3]] },
      outputs: { y: ['float32'] },
      initializers: [
        randomTensor('a', [2, 3]),
        randomTensor('a_copy', [2, 3]),
        Tensor.from('float32', [3, 2], randomTensor('', [2, 3]).data as Float32Array, 'a_reshaped'),
        randomTensor('other', [2, 3], 9),
        randomTensor('over', [2, 3]),
        Tensor.fromNumbers('int64', [2], [2, 3], 'shape23'),
      ],
      nodes: [
        { opType: 'Add', inputs: ['x', 'a'], outputs: ['s1'] },
        { opType: 'Mul', inputs: ['s1', 'a_copy'], outputs: ['s2'] },
        { opType: 'Sub', inputs: ['s2', 'other'], outputs: ['s3'] },
        { opType: 'Add', inputs: ['s3', 'over'], outputs: ['s4'] },
        { opType: 'Reshape', inputs: ['a_reshaped', 'shape23'], outputs: ['ar'] },
        { opType: 'Add', inputs: ['s4', 'ar'], outputs: ['y'] },
      ],
    });
    const { model, report } = await optimize(m, { passes: ['dedupe-initializers'] });
    expect([...model.graph.initializers.keys()].sort()).toEqual(['a', 'a_reshaped', 'other', 'over', 'shape23']);
    expect(model.graph.nodes[1]!.inputs).toEqual(['s1', 'a']);
    expect(report.passes[0]!.changed).toEqual({ 'merged duplicate initializer': 1 });
    expect(report.verify?.passed).toBe(true);
  });
});
