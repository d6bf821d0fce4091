import { describe, expect, it } from 'vitest';
import { attr, cancelTransposes, getInts, optimize } from '../../../src/index.js';
import { buildModel, opTypes } from '../build.js';

const transpose = (input: string, output: string, perm?: number[]) => ({
  opType: 'Transpose',
  inputs: [input],
  outputs: [output],
  attributes: perm ? [attr.ints('perm', perm)] : [],
});

describe('fuse-transposes / cancelTransposes', () => {
  it('cancels NHWC↔NCHW pairs and merges chains', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [1, 2, 3, 4]] },
      outputs: { y: ['float32'], z: ['float32'] },
      nodes: [
        transpose('x', 'nhwc', [0, 2, 3, 1]),
        transpose('nhwc', 'nchw', [0, 3, 1, 2]),
        { opType: 'Relu', inputs: ['nchw'], outputs: ['y'] },
        transpose('x', 'a', [1, 0, 2, 3]),
        transpose('a', 'b', [0, 1, 3, 2]),
        transpose('b', 'z', [3, 2, 1, 0]),
      ],
    });
    const { model, report } = await optimize(m, { passes: ['fuse-transposes', 'eliminate-dead-code'] });
    expect(opTypes(model)).toEqual(['Relu', 'Transpose']);
    expect(model.graph.nodes[0]!.inputs).toEqual(['x']);
    expect(getInts(model.graph.nodes[1]!, 'perm')).toEqual([2, 3, 0, 1]);
    expect(model.graph.nodes[1]!.outputs).toEqual(['z']);
    expect(report.passes[0]!.changed).toEqual({ 'cancelled Transpose pair': 1, 'merged consecutive Transposes': 2 });
    expect(report.verify?.passed).toBe(true);
  });

  it('works on a bare graph without shape information (the converter calls it so)', () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32'] },
      nodes: [transpose('x', 't1', [1, 0]), transpose('t1', 't2', [1, 0]), { opType: 'Relu', inputs: ['t2'], outputs: ['r'] }, transpose('r', 'y')],
    });
    const changes = cancelTransposes(m.graph);
    expect(changes).toEqual({ cancelled: 1, merged: 0, identity: 0 });
    // Without shapes, a Transpose with no perm (reverse all axes) is left alone.
    expect(opTypes(m).filter((o) => o === 'Transpose')).toHaveLength(2);
    expect(m.graph.nodes.find((n) => n.opType === 'Relu')!.inputs).toEqual(['x']);
  });
});
