import { describe, expect, it } from 'vitest';
import { attr, Graph, optimize, Tensor } from '../../../src/index.js';
import { buildModel, opTypes } from '../build.js';

const run = (m: Parameters<typeof optimize>[0]) => optimize(m, { passes: ['eliminate-identity'] });

describe('eliminate-identity', () => {
  it('removes Identity chains, keeping the graph output name', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [3]] },
      outputs: { y: ['float32'] },
      nodes: [
        { opType: 'Relu', inputs: ['x'], outputs: ['r'] },
        { opType: 'Identity', inputs: ['r'], outputs: ['i1'] },
        { opType: 'Identity', inputs: ['i1'], outputs: ['y'] },
      ],
    });
    const { model, report } = await run(m);
    expect(opTypes(model)).toEqual(['Relu']);
    expect(model.graph.nodes[0]!.outputs).toEqual(['y']);
    expect(report.passes[0]!.changed).toEqual({ 'removed Identity': 2 });
    expect(report.verify?.passed).toBe(true);
  });

  it('keeps an Identity that copies a graph input to a graph output', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [3]] },
      outputs: { y: ['float32'] },
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    expect(opTypes((await run(m)).model)).toEqual(['Identity']);
  });

  it('removes inference Dropout, keeps it when its mask is used or training is on', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32'], mask: ['bool'], z: ['float32'] },
      initializers: [Tensor.fromNumbers('float32', [], [0.5], 'ratio'), Tensor.from('bool', [], Uint8Array.of(1), 'train')],
      nodes: [
        { opType: 'Dropout', inputs: ['x'], outputs: ['d1'] },
        { opType: 'Relu', inputs: ['d1'], outputs: ['y'] },
        { opType: 'Dropout', inputs: ['x'], outputs: ['d2', 'mask'] },
        { opType: 'Dropout', inputs: ['d2', 'ratio', 'train'], outputs: ['z'] },
      ],
    });
    const { model } = await optimize(m, { passes: ['eliminate-identity'], verify: false });
    expect(opTypes(model)).toEqual(['Relu', 'Dropout', 'Dropout']);
  });

  it('removes an Identity inside an If branch that reads an outer value, but not the branch output', async () => {
    const branch = (name: string) => {
      const g = new Graph(name);
      g.addNode({ opType: 'Identity', inputs: ['x'], outputs: [`${name}_x`] });
      g.addNode({ opType: 'Neg', inputs: [`${name}_x`], outputs: [`${name}_n`] });
      g.addNode({ opType: 'Identity', inputs: [`${name}_n`], outputs: [`${name}_out`] });
      g.outputs.push({ name: `${name}_out`, type: { kind: 'tensor', dtype: 'float32', shape: [2] } });
      return g;
    };
    const m = buildModel({
      inputs: { x: ['float32', [2]], flag: ['bool', []] },
      outputs: { y: ['float32'] },
      nodes: [{ opType: 'If', inputs: ['flag'], outputs: ['y'], attributes: [attr.graph('then_branch', branch('t')), attr.graph('else_branch', branch('e'))] }],
    });
    const { model, report } = await run(m);
    const then = model.graph.nodes[0]!.attributes[0]!.value as Graph;
    expect(then.nodes.map((n) => n.opType)).toEqual(['Neg']);
    expect(then.nodes[0]!.inputs).toEqual(['x']);
    expect(then.outputs[0]!.name).toBe('t_out');
    expect(report.verify?.passed).toBe(true);
  });
});
