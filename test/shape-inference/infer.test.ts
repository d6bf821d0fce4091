import { describe, expect, it } from 'vitest';
import { attr, Graph, inferShapes, mergeTypes, setInputShapes, type TypeInfo } from '../../src/index.js';
import { buildModel, ints, randomTensor } from '../optimize/build.js';

const tensor = (dtype: 'float32' | 'int64' | 'bool', shape?: (string | number | null)[]): TypeInfo => (shape ? { kind: 'tensor', dtype, shape } : { kind: 'tensor', dtype });

describe('inferShapes', () => {
  it('keeps symbolic dims through CNN and MLP layers', () => {
    const m = buildModel({
      inputs: { x: ['float32', ['batch', 3, 32, 32]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [16, 3, 3, 3]), randomTensor('fc', [10, 1024]), randomTensor('b', [10])],
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: [attr.ints('pads', [1, 1, 1, 1]), attr.ints('strides', [2, 2])] },
        { opType: 'MaxPool', inputs: ['c'], outputs: ['p'], attributes: [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1)] },
        { opType: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { opType: 'Gemm', inputs: ['f', 'fc', 'b'], outputs: ['g'], attributes: [attr.int('transB', 1)] },
        { opType: 'Softmax', inputs: ['g'], outputs: ['y'] },
      ],
    });
    const info = inferShapes(m);
    expect(m.graph.valueType('c')).toEqual(tensor('float32', ['batch', 16, 16, 16]));
    expect(m.graph.valueType('p')).toEqual(tensor('float32', ['batch', 16, 8, 8]));
    expect(m.graph.valueType('f')).toEqual(tensor('float32', ['batch', 1024]));
    expect(m.graph.outputs[0]!.type).toEqual(tensor('float32', ['batch', 10]));
    expect(info.unknown).toEqual([]);
  });

  it('evaluates shape arithmetic symbolically, so Reshape targets built from Shape give exact shapes', () => {
    const m = buildModel({
      inputs: { x: ['float32', ['batch', 'seq', 64]] },
      outputs: { y: ['float32'] },
      initializers: [ints('first2', [0, 1]), ints('heads', [4, -1]), ints('zero', [0]), ints('two', [2])],
      nodes: [
        { opType: 'Shape', inputs: ['x'], outputs: ['s'] },
        { opType: 'Gather', inputs: ['s', 'first2'], outputs: ['bs'], attributes: [attr.int('axis', 0)] },
        { opType: 'Concat', inputs: ['bs', 'heads'], outputs: ['target'], attributes: [attr.int('axis', 0)] },
        { opType: 'Reshape', inputs: ['x', 'target'], outputs: ['r'] },
        { opType: 'Slice', inputs: ['s', 'zero', 'two'], outputs: ['front'] },
        { opType: 'Transpose', inputs: ['r'], outputs: ['y'], attributes: [attr.ints('perm', [0, 2, 1, 3])] },
      ],
    });
    const info = inferShapes(m);
    expect(info.value(m.graph, 'target')).toEqual(['batch', 'seq', 4, -1]);
    expect(info.value(m.graph, 'front')).toEqual(['batch', 'seq']);
    expect(m.graph.valueType('r')).toEqual(tensor('float32', ['batch', 'seq', 4, 16]));
    expect(m.graph.outputs[0]!.type).toEqual(tensor('float32', ['batch', 4, 'seq', 16]));
  });

  it('reads axes from attributes or inputs as the opset says (Squeeze, Unsqueeze, Reduce*, Split, Slice)', () => {
    const build = (opset: number) => {
      const asInput = (name: string, values: number[], from: number) =>
        opset >= from ? { inputs: [name, `${name}_axes`], attributes: [] } : { inputs: [name], attributes: [attr.ints('axes', values)] };
      return buildModel({
        opset,
        inputs: { x: ['float32', [2, 1, 6]] },
        outputs: { a: ['float32'], b: ['float32'], c: ['float32'], d: ['float32'] },
        initializers: opset >= 13 ? [ints('x_axes', [1]), ints('sq_axes', [0]), ints('split', [2, 4]), ints('u_axes', [2])] : [],
        nodes: [
          { opType: 'Squeeze', outputs: ['sq'], ...asInput('x', [1], 13) },
          { opType: 'Unsqueeze', outputs: ['u'], ...asInput('sq', [0], 13) },
          { opType: 'ReduceMean', outputs: ['a'], ...asInput('u', [2], 18) },
          { opType: 'ReduceSum', outputs: ['b'], ...asInput('u', [2], 13) },
          opset >= 13
            ? { opType: 'Split', inputs: ['sq', 'split'], outputs: ['c', 'd'], attributes: [attr.int('axis', 1)] }
            : { opType: 'Split', inputs: ['sq'], outputs: ['c', 'd'], attributes: [attr.int('axis', 1), attr.ints('split', [2, 4])] },
        ],
      });
    };
    for (const opset of [11, 13, 18]) {
      const m = build(opset);
      if (opset >= 18) m.graph.addInitializer(ints('u_axes', [2]));
      inferShapes(m);
      expect(m.graph.valueType('sq')).toEqual(tensor('float32', [2, 6]));
      expect(m.graph.valueType('u')).toEqual(tensor('float32', [1, 2, 6]));
      expect(m.graph.outputs.map((o) => o.type)).toEqual([
        tensor('float32', [1, 2, 1]),
        tensor('float32', [1, 2, 1]),
        tensor('float32', [2, 2]),
        tensor('float32', [2, 4]),
      ]);
    }
  });

  it('leaves outputs of unknown custom ops unknown, keeping what the model declared', () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32'] },
      domains: { 'com.example': 1 },
      nodes: [
        { opType: 'Mystery', domain: 'com.example', inputs: ['x'], outputs: ['m1'] },
        { opType: 'Mystery', domain: 'com.example', inputs: ['x'], outputs: ['m2'] },
        { opType: 'Relu', inputs: ['m1'], outputs: ['r1'] },
        { opType: 'Add', inputs: ['r1', 'm2'], outputs: ['y'] },
      ],
    });
    m.graph.setValueType('m2', tensor('float32', [2, 3]));
    const info = inferShapes(m);
    expect(info.unknown.map((u) => u.name)).toEqual(['m1', 'r1']);
    expect(m.graph.valueInfo.has('r1')).toBe(false);
    expect(m.graph.valueType('m2')).toEqual(tensor('float32', [2, 3]));
    // Add of an unknown and a known value: the dtype is known, the shape is not.
    expect(m.graph.outputs[0]!.type).toEqual(tensor('float32'));
  });

  it('types untyped Loop body inputs from the Loop', () => {
    const body = new Graph('body');
    body.inputs.push({ name: 'i' }, { name: 'cond_in' }, { name: 'acc' });
    body.addNode({ opType: 'Identity', inputs: ['cond_in'], outputs: ['cond_out'] });
    body.addNode({ opType: 'Add', inputs: ['acc', 'x'], outputs: ['acc_out'] });
    body.outputs.push({ name: 'cond_out', type: tensor('bool', []) }, { name: 'acc_out', type: tensor('float32', [2]) });
    const m = buildModel({
      inputs: { x: ['float32', [2]], n: ['int64', []], c: ['bool', []] },
      outputs: { y: ['float32', [2]] },
      nodes: [{ opType: 'Loop', inputs: ['n', 'c', 'x'], outputs: ['y'], attributes: [attr.graph('body', body)] }],
    });
    inferShapes(m);
    expect(body.inputs.map((v) => v.type)).toEqual([tensor('int64'), tensor('bool'), tensor('float32')]);
    expect(body.valueType('acc_out')).toEqual(tensor('float32', [2]));
  });

  it('mergeTypes: inference wins where it knows a dim, the declaration fills the rest', () => {
    expect(mergeTypes(tensor('float32', ['n', 3, null]), tensor('float32', [null, 3, 5]))).toEqual(tensor('float32', ['n', 3, 5]));
    expect(mergeTypes(tensor('float32', [4, 3]), tensor('float32', ['n', 3]))).toEqual(tensor('float32', [4, 3]));
    expect(mergeTypes(tensor('float32', [4, 3]), tensor('int64', [4]))).toEqual(tensor('int64', [4]));
  });
});

describe('setInputShapes', () => {
  const model = () =>
    buildModel({
      inputs: { ids: ['int64', ['batch', 'seq']], mask: ['int64', ['batch', 'seq']] },
      outputs: { y: ['int64', ['batch', 'seq']] },
      nodes: [{ opType: 'Add', inputs: ['ids', 'mask'], outputs: ['y'] }],
    });

  it('fixes symbols everywhere they appear', () => {
    const m = model();
    setInputShapes(m, { ids: [2, 7] });
    expect(m.graph.inputs.map((v) => v.type)).toEqual([tensor('int64', [2, 7]), tensor('int64', [2, 7])]);
    expect(m.graph.outputs[0]!.type).toEqual(tensor('int64', [2, 7]));
  });

  it('rejects shapes that contradict the model or each other, in one line naming the input', () => {
    expect(() => setInputShapes(model(), { ids: [2, 7, 1] })).toThrow('input shape ids: the input has rank 2 ([batch, seq]), got 3 dims (2,7,1)');
    expect(() => setInputShapes(model(), { ids: [2, 7], mask: [2, 8] })).toThrow("input shape mask: dimension 1 ('seq') set to 8, but 'seq' is 7 in another input");
    expect(() => setInputShapes(model(), { other: [1] })).toThrow("input shape other: the model has no input 'other' (inputs: ids, mask)");
  });
});
