import { describe, expect, it } from 'vitest';
import { attr, optimize } from '../../../src/index.js';
import { buildModel, ints, opTypes } from '../build.js';

describe('fuse-reshapes', () => {
  it('collapses Flatten/Reshape/Unsqueeze chains into the last Reshape', async () => {
    const m = buildModel({
      inputs: { x: ['float32', ['n', 2, 3, 4]] },
      outputs: { y: ['float32'] },
      initializers: [ints('s1', [-1, 12]), ints('s2', [-1, 4, 6]), ints('axes', [0])],
      nodes: [
        { opType: 'Flatten', inputs: ['x'], outputs: ['f'], attributes: [attr.int('axis', 2)] },
        { opType: 'Reshape', inputs: ['f', 's1'], outputs: ['r1'] },
        { opType: 'Unsqueeze', inputs: ['r1', 'axes'], outputs: ['u'] },
        { opType: 'Reshape', inputs: ['u', 's2'], outputs: ['y'] },
      ],
    });
    const { model, report } = await optimize(m, { passes: ['fuse-reshapes', 'eliminate-dead-code'] });
    expect(opTypes(model)).toEqual(['Reshape']);
    expect(model.graph.nodes[0]!.inputs).toEqual(['x', 's2']);
    expect(report.verify?.passed).toBe(true);
  });

  it('keeps the chain when the target copies dims (0) from the intermediate shape', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3, 4]] },
      outputs: { y: ['float32'] },
      initializers: [ints('s1', [6, 4]), ints('s2', [0, 2, 2])],
      nodes: [
        { opType: 'Reshape', inputs: ['x', 's1'], outputs: ['r1'] },
        { opType: 'Reshape', inputs: ['r1', 's2'], outputs: ['y'] },
      ],
    });
    const { model } = await optimize(m, { passes: ['fuse-reshapes', 'eliminate-dead-code'] });
    expect(opTypes(model)).toEqual(['Reshape', 'Reshape']);
  });
});
