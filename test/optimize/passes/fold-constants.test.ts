import { describe, expect, it } from 'vitest';
import { attr, bitIdentical, createSession, Graph, optimize, Tensor } from '../../../src/index.js';
import { buildModel, ints, opTypes, randomTensor } from '../build.js';

const fold = (m: Parameters<typeof optimize>[0]) => optimize(m, { passes: ['fold-constants', 'eliminate-dead-code'] });

describe('fold-constants', () => {
  it('turns Constant nodes into initializers and evaluates constant chains bit-exactly', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [3, 2])],
      nodes: [
        { opType: 'Constant', inputs: [], outputs: ['k'], attributes: [attr.tensor('value', randomTensor('', [3, 2], 5))] },
        { opType: 'Mul', inputs: ['w', 'k'], outputs: ['wk'] },
        { opType: 'Exp', inputs: ['wk'], outputs: ['e'] },
        { opType: 'Transpose', inputs: ['e'], outputs: ['et'] },
        { opType: 'Transpose', inputs: ['et'], outputs: ['ett'] },
        { opType: 'MatMul', inputs: ['x', 'ett'], outputs: ['y'] },
      ],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['MatMul']);
    expect(report.passes[0]!.changed).toMatchObject({ 'Constant → initializer': 1, 'folded Mul': 1, 'folded Exp': 1, 'folded Transpose': 2 });
    // The folded weight holds exactly what onnxruntime computes for the chain.
    const ref = buildModel({
      inputs: {},
      outputs: { ett: ['float32'] },
      initializers: [randomTensor('w', [3, 2]), randomTensor('k', [3, 2], 5)],
      nodes: m.graph.nodes.slice(1, 5).map((n) => ({ ...n, name: undefined })),
    });
    const s = await createSession(ref, { graphOptimizationLevel: 'disabled' });
    const expected = (await s.run({})).ett!;
    await s.release();
    expect(bitIdentical(model.graph.initializers.get('ett')!, expected)).toBe(true);
    expect(report.verify?.passed).toBe(true);
  });

  it('folds the constant branch of a constant that also feeds a non-foldable node', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [4]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('c', [4])],
      nodes: [
        { opType: 'Neg', inputs: ['c'], outputs: ['nc'] },
        { opType: 'Add', inputs: ['x', 'c'], outputs: ['xc'] },
        { opType: 'Mul', inputs: ['xc', 'nc'], outputs: ['y'] },
      ],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Add', 'Mul']);
    expect(model.graph.nodes[0]!.inputs).toEqual(['x', 'c']);
    expect(model.graph.initializers.has('nc')).toBe(true);
    expect(report.verify?.passed).toBe(true);
  });

  it('never folds an initializer that is also a graph input', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [4]], scale: ['float32', [4]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('scale', [4])],
      nodes: [
        { opType: 'Exp', inputs: ['scale'], outputs: ['es'] },
        { opType: 'Mul', inputs: ['x', 'es'], outputs: ['y'] },
      ],
    });
    const { model, report } = await fold(m);
    expect(opTypes(model)).toEqual(['Exp', 'Mul']);
    expect(model.graph.isGraphInput('scale')).toBe(true);
    expect(report.verify?.passed).toBe(true);
  });

  it('does not grow the model: large results of small constants stay computed', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [256, 256]] },
      outputs: { y: ['float32'] },
      initializers: [ints('shape', [256, 256])],
      nodes: [
        { opType: 'ConstantOfShape', inputs: ['shape'], outputs: ['ones'], attributes: [attr.tensor('value', Tensor.fromNumbers('float32', [1], [1]))] },
        { opType: 'Add', inputs: ['x', 'ones'], outputs: ['y'] },
      ],
    });
    const { model } = await fold(m);
    expect(opTypes(model)).toEqual(['ConstantOfShape', 'Add']);
  });

  it('keeps DequantizeLinear of quantized weights and random ops as they are', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 4]] },
      outputs: { y: ['float32'], r: ['float32'] },
      initializers: [Tensor.fromNumbers('int8', [4, 2], [1, -2, 3, -4, 5, -6, 7, -8], 'wq'), Tensor.fromNumbers('float32', [], [0.1], 'scale')],
      nodes: [
        { opType: 'DequantizeLinear', inputs: ['wq', 'scale'], outputs: ['w'] },
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] },
        { opType: 'RandomUniform', inputs: [], outputs: ['r'], attributes: [attr.ints('shape', [2])] },
      ],
    });
    const { model } = await optimize(m, { passes: ['fold-constants'], verify: false });
    expect(opTypes(model)).toEqual(['DequantizeLinear', 'MatMul', 'RandomUniform']);
  });

  it('folds inside If branches, leaving the branch outputs in place', async () => {
    const branch = (name: string, k: number) => {
      const g = new Graph(name);
      g.addInitializer(Tensor.fromNumbers('float32', [2], [k, k], `${name}_k`));
      g.addNode({ opType: 'Neg', inputs: [`${name}_k`], outputs: [`${name}_nk`] });
      g.addNode({ opType: 'Add', inputs: ['x', `${name}_nk`], outputs: [`${name}_out`] });
      g.outputs.push({ name: `${name}_out`, type: { kind: 'tensor', dtype: 'float32', shape: [2] } });
      return g;
    };
    const m = buildModel({
      inputs: { x: ['float32', [2]], flag: ['bool', []] },
      outputs: { y: ['float32'] },
      nodes: [{ opType: 'If', inputs: ['flag'], outputs: ['y'], attributes: [attr.graph('then_branch', branch('then', 1)), attr.graph('else_branch', branch('else', 2))] }],
    });
    const { model, report } = await fold(m);
    const then = model.graph.nodes[0]!.attributes[0]!.value as Graph;
    expect(then.nodes.map((n) => n.opType)).toEqual(['Add']);
    expect(report.verify?.passed).toBe(true);
  });
});
