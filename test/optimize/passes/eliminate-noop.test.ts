import { describe, expect, it } from 'vitest';
import { attr, DTYPE_CODES, optimize } from '../../../src/index.js';
import { buildModel, ints, opTypes } from '../build.js';

const cast = (input: string, output: string, to: keyof typeof DTYPE_CODES) => ({ opType: 'Cast', inputs: [input], outputs: [output], attributes: [attr.int('to', DTYPE_CODES[to])] });
const run = (m: Parameters<typeof optimize>[0]) => optimize(m, { passes: ['eliminate-noop', 'eliminate-dead-code'] });

describe('eliminate-noop', () => {
  it('removes a Cast to the same type and a lossless round trip, keeps a lossy one', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [4]] },
      outputs: { a: ['float32'], b: ['float32'], c: ['float32'] },
      nodes: [
        cast('x', 'same', 'float32'),
        { opType: 'Relu', inputs: ['same'], outputs: ['a'] },
        cast('x', 'wide', 'float64'),
        cast('wide', 'back', 'float32'),
        { opType: 'Neg', inputs: ['back'], outputs: ['b'] },
        cast('x', 'half', 'float16'),
        cast('half', 'lossy', 'float32'),
        { opType: 'Abs', inputs: ['lossy'], outputs: ['c'] },
      ],
    });
    const { model, report } = await run(m);
    expect(opTypes(model)).toEqual(['Relu', 'Neg', 'Cast', 'Cast', 'Abs']);
    expect(report.passes[0]!.changed).toEqual({ "removed Cast to the input's own type": 1, 'removed Cast pair float32→float64→float32': 1 });
    expect(report.verify?.passed).toBe(true);
  });

  it('removes identity Transposes and view ops to the same shape', async () => {
    const m = buildModel({
      inputs: { x: ['float32', ['n', 3, 4]] },
      outputs: { y: ['float32'] },
      initializers: [ints('same', [0, 3, 4]), ints('grow', [1, 3, 4])],
      nodes: [
        { opType: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: [attr.ints('perm', [0, 1, 2])] },
        { opType: 'Reshape', inputs: ['t', 'same'], outputs: ['r'] },
        { opType: 'Expand', inputs: ['r', 'grow'], outputs: ['y'] },
      ],
    });
    const { model, report } = await run(m);
    // Expand to [1, 3, 4] on [n, 3, 4] is a no-op only when n is 1: kept.
    expect(opTypes(model)).toEqual(['Expand']);
    expect(model.graph.nodes[0]!.inputs[0]).toBe('x');
    expect(report.verify?.passed).toBe(true);
  });
});
