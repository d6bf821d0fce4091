/** The structural checker: one test per rule, each error naming the graph and the node. */
import { describe, expect, it } from 'vitest';
import { Graph, Model, ModelCheckError, Tensor, attr, check, checkModel, saveModel } from '../../src/index.js';

const f32 = { kind: 'tensor' as const, dtype: 'float32' as const, shape: [2] };

function valid(): Model {
  const g = new Graph('g');
  g.inputs.push({ name: 'x', type: f32 });
  g.outputs.push({ name: 'y', type: f32 });
  g.addInitializer(Tensor.from('float32', [2], Float32Array.of(1, 2), 'w'));
  g.addNode({ opType: 'Add', inputs: ['x', 'w'], outputs: ['a'], name: 'add' });
  g.addNode({ opType: 'Relu', inputs: ['a'], outputs: ['y'], name: 'relu' });
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 13 }];
  return m;
}

const messages = (m: Model) => checkModel(m).map((i) => `${i.where}: ${i.message}`);

describe('check', () => {
  it('accepts a valid model', () => {
    expect(checkModel(valid())).toEqual([]);
    expect(() => check(valid())).not.toThrow();
  });

  it('model: ir_version, opset imports and used domains', () => {
    const m = valid();
    m.irVersion = 0;
    expect(messages(m)).toEqual([
      'model: ir_version 0 is not a positive integer',
      "graph 'g': initializer 'w' is not a graph input (required before IR version 4)",
    ]);
    const n = valid();
    n.opsetImports = [];
    expect(messages(n)).toEqual([
      'model: no opset_import: the model must import at least the default ONNX opset',
      "model: operator domain 'ai.onnx' is used but not in opset_import",
    ]);
    const o = valid();
    o.opsetImports.push({ domain: 'com.microsoft', version: 0 });
    o.graph.addNode({ opType: 'FusedGemm', domain: 'com.example', inputs: ['y'], outputs: ['z'], name: 'custom' });
    expect(messages(o)).toEqual([
      "model: opset_import 'com.microsoft' has invalid version 0",
      "model: operator domain 'com.example' is used but not in opset_import",
    ]);
  });

  it('inputs used before they are produced, or never produced, name the node', () => {
    const m = valid();
    m.graph.nodes.reverse();
    m.graph.invalidate();
    expect(messages(m)).toEqual([
      "graph 'g', node 'relu' (Relu): input 0 'a' is used before the node that produces it (nodes must be in topological order)",
    ]);
    const n = valid();
    n.graph.setNodeInput(n.graph.producer('a')!, 1, 'nowhere');
    expect(messages(n)).toEqual(["graph 'g', node 'add' (Add): input 1 'nowhere' is not a graph input, initializer or output of any node"]);
  });

  it('values defined twice', () => {
    const m = valid();
    m.graph.nodes.push({ name: 'again', opType: 'Neg', domain: '', inputs: ['x'], outputs: ['a'], attributes: [] });
    m.graph.nodes.push({ name: 'shadow', opType: 'Neg', domain: '', inputs: ['x'], outputs: ['w'], attributes: [] });
    m.graph.invalidate();
    expect(messages(m)).toEqual([
      "graph 'g', node 'again' (Neg): output 'a' is already defined elsewhere in the graph",
      "graph 'g', node 'shadow' (Neg): output 'w' is already defined elsewhere in the graph",
    ]);
    const n = valid();
    n.graph.initializers.set('x2', Tensor.from('float32', [2], new Float32Array(2), 'x2'));
    n.graph.inputs.push({ name: 'x', type: f32 });
    expect(messages(n)).toEqual(["graph 'g': graph input 'x' is listed twice", "graph 'g': value 'x' is defined more than once (again as a graph input)"]);
  });

  it('graph inputs need names and types; initializers must match an input of their name', () => {
    const m = valid();
    m.graph.inputs.push({ name: 'untyped' }, { name: '', type: f32 });
    expect(messages(m)).toEqual(["graph 'g': graph input 'untyped' has no type", "graph 'g': a graph input has no name"]);
    const n = valid();
    n.graph.inputs.push({ name: 'w', type: { kind: 'tensor', dtype: 'int64', shape: [2] } });
    expect(messages(n)).toEqual(["graph 'g': initializer 'w' is float32 but the graph input of that name is int64"]);
    const old = valid();
    old.irVersion = 3;
    expect(messages(old)).toEqual(["graph 'g': initializer 'w' is not a graph input (required before IR version 4)"]);
  });

  it('graph outputs: named, listed once, produced', () => {
    const m = valid();
    m.graph.outputs.push({ name: 'y', type: f32 }, { name: 'ghost', type: f32 }, { name: '', type: f32 });
    expect(messages(m)).toEqual([
      "graph 'g': graph output 'y' is listed twice",
      "graph 'g': graph output 'ghost' is not produced by any node, input or initializer",
      "graph 'g': a graph output has no name",
      "graph 'g': graph output '' is not produced by any node, input or initializer",
    ]);
  });

  it('empty op_type', () => {
    const m = valid();
    m.graph.producer('a')!.opType = '';
    expect(messages(m)).toEqual(["graph 'g', node 'add' (): op_type is empty"]);
  });

  it('subgraphs see outer values defined before their node; their inputs may be untyped', () => {
    const body = (use: string) => {
      const b = new Graph('body');
      b.inputs.push({ name: 'i' }, { name: 'cond_in' }); // untyped, as onnx.checker allows in subgraphs
      b.outputs.push({ name: 'cond_out' }, { name: 'acc' });
      b.addNode({ opType: 'Identity', inputs: ['cond_in'], outputs: ['cond_out'], name: 'keep' });
      b.addNode({ opType: 'Add', inputs: [use, 'x'], outputs: ['acc'], name: 'inner_add' });
      return b;
    };
    const m = valid();
    m.graph.addNode({ opType: 'Loop', inputs: ['', ''], outputs: ['loop_out'], name: 'loop', attributes: [attr.graph('body', body('a'))] });
    expect(messages(m)).toEqual([]);

    const n = valid();
    n.graph.addNode({ opType: 'Loop', inputs: ['', ''], outputs: ['loop_out'], name: 'loop', attributes: [attr.graph('body', body('late'))] });
    n.graph.addNode({ opType: 'Neg', inputs: ['x'], outputs: ['late'], name: 'late_neg' });
    expect(messages(n)).toEqual([
      "graph 'g', node 'loop' (Loop), subgraph 'body', node 'inner_add' (Add): input 0 'late' is not a graph input, initializer or output of any node",
    ]);
  });

  it('ModelCheckError lists the first five issues and counts the rest; saveModel refuses to write', () => {
    const m = valid();
    for (let i = 0; i < 7; i++) m.graph.outputs.push({ name: `ghost${i}`, type: f32 });
    let err: unknown;
    try {
      check(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelCheckError);
    expect((err as ModelCheckError).issues.length).toBe(7);
    expect((err as Error).message).toMatch(/^invalid model: graph 'g': graph output 'ghost0' is not produced .*; and 2 more$/);
    expect(() => saveModel(m, '/nonexistent-dir/never-written.onnx')).toThrow(ModelCheckError);
  });
});
