import { describe, expect, it } from 'vitest';
import { attr, Graph, optimize } from '../../../src/index.js';
import { buildModel, opTypes, randomTensor } from '../build.js';

describe('eliminate-dead-code / eliminate-unused-inputs', () => {
  it('removes dead nodes and unused initializers but keeps what a subgraph reads', async () => {
    const then = new Graph('then');
    then.addNode({ opType: 'Add', inputs: ['x', 'kept_by_branch'], outputs: ['t_out'] });
    then.outputs.push({ name: 't_out', type: { kind: 'tensor', dtype: 'float32', shape: [2] } });
    const other = new Graph('else');
    other.addNode({ opType: 'Neg', inputs: ['x'], outputs: ['e_out'] });
    other.addNode({ opType: 'Exp', inputs: ['x'], outputs: ['e_dead'] });
    other.outputs.push({ name: 'e_out', type: { kind: 'tensor', dtype: 'float32', shape: [2] } });
    const m = buildModel({
      inputs: { x: ['float32', [2]], flag: ['bool', []] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [2]), randomTensor('unused', [2])],
      nodes: [
        { opType: 'Relu', inputs: ['w'], outputs: ['kept_by_branch'] },
        { opType: 'Sigmoid', inputs: ['x'], outputs: ['dead1'] },
        { opType: 'Tanh', inputs: ['dead1'], outputs: ['dead2'] },
        { opType: 'If', inputs: ['flag'], outputs: ['y'], attributes: [attr.graph('then_branch', then), attr.graph('else_branch', other)] },
      ],
    });
    const { model, report } = await optimize(m, { passes: ['eliminate-dead-code'] });
    expect(opTypes(model)).toEqual(['Relu', 'If']);
    expect([...model.graph.initializers.keys()]).toEqual(['w']);
    expect((model.graph.nodes[1]!.attributes[1]!.value as Graph).nodes.map((n) => n.opType)).toEqual(['Neg']);
    expect(report.passes[0]!.changed).toEqual({ 'removed dead Sigmoid': 1, 'removed dead Tanh': 1, 'removed dead Exp': 1, 'removed unused initializer': 1 });
    expect(report.verify?.passed).toBe(true);
  });

  it('removes main-graph inputs nothing reads and reports them', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2]], ignored: ['int64', [3]] },
      outputs: { y: ['float32'] },
      nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    const { model, report } = await optimize(m);
    expect(model.graph.inputs.map((v) => v.name)).toEqual(['x']);
    expect(report.removedInputs).toEqual(['ignored']);
    expect(report.verify?.passed).toBe(true);
    const kept = await optimize(m, { skip: ['eliminate-unused-inputs'] });
    expect(kept.model.graph.inputs.map((v) => v.name)).toEqual(['x', 'ignored']);
  });
});
