import { describe, expect, it } from 'vitest';
import { attr, optimize } from '../../../src/index.js';
import { buildModel, opTypes } from '../build.js';

describe('eliminate-common-subexpressions', () => {
  it('merges repeated computations, cascading, but not ones with other attributes', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 4]] },
      outputs: { y: ['float32'] },
      nodes: [
        { opType: 'Softmax', inputs: ['x'], outputs: ['s1'], attributes: [attr.int('axis', 1)] },
        { opType: 'Softmax', inputs: ['x'], outputs: ['s2'], attributes: [attr.int('axis', 1)] },
        { opType: 'Softmax', inputs: ['x'], outputs: ['s3'], attributes: [attr.int('axis', 0)] },
        { opType: 'Exp', inputs: ['s1'], outputs: ['e1'] },
        { opType: 'Exp', inputs: ['s2'], outputs: ['e2'] },
        { opType: 'Sum', inputs: ['e1', 'e2', 's3'], outputs: ['y'] },
      ],
    });
    const { model, report } = await optimize(m, { passes: ['eliminate-common-subexpressions'] });
    expect(opTypes(model)).toEqual(['Softmax', 'Softmax', 'Exp', 'Sum']);
    expect(model.graph.nodes[3]!.inputs).toEqual(['e1', 'e1', 's3']);
    expect(report.passes[0]!.changed).toEqual({ 'merged duplicate Softmax': 1, 'merged duplicate Exp': 1 });
    expect(report.verify?.passed).toBe(true);
  });

  it('never merges random ops or custom-domain ops', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [3]] },
      outputs: { a: ['float32'], b: ['float32'], c: ['float32'], d: ['float32'] },
      domains: { 'com.example': 1 },
      nodes: [
        { opType: 'RandomNormalLike', inputs: ['x'], outputs: ['a'] },
        { opType: 'RandomNormalLike', inputs: ['x'], outputs: ['b'] },
        { opType: 'Mystery', domain: 'com.example', inputs: ['x'], outputs: ['c'] },
        { opType: 'Mystery', domain: 'com.example', inputs: ['x'], outputs: ['d'] },
      ],
    });
    const { model } = await optimize(m, { passes: ['eliminate-common-subexpressions'], verify: false });
    expect(model.graph.nodes).toHaveLength(4);
  });
});
