/** The IR's graph: lookups, names, the editing API, topological order, subgraphs; lazy tensors. */
import { describe, expect, it } from 'vitest';
import {
  Graph,
  Model,
  Tensor,
  attr,
  check,
  decodeModel,
  encodeModel,
  getInt,
  topologicalOrder,
  walkGraphs,
  type Node,
} from '../../src/index.js';

const f32 = (shape: (number | string)[]) => ({ kind: 'tensor' as const, dtype: 'float32' as const, shape });

/** x → Relu(a) → Add(a, w)(b) → Neg(y); w an initializer. */
function chain(): Graph {
  const g = new Graph('chain');
  g.inputs.push({ name: 'x', type: f32(['n', 4]) });
  g.outputs.push({ name: 'y', type: f32(['n', 4]) });
  g.addInitializer(Tensor.from('float32', [4], Float32Array.of(1, 2, 3, 4), 'w'));
  g.addNode({ opType: 'Relu', inputs: ['x'], outputs: ['a'], name: 'relu' });
  g.addNode({ opType: 'Add', inputs: ['a', 'w'], outputs: ['b'], name: 'add' });
  g.addNode({ opType: 'Neg', inputs: ['b'], outputs: ['y'], name: 'neg' });
  return g;
}

/** cond → If(then: Identity(outer 'a'), else: Neg(outer 'a')) → y, with 'a' from a Relu outside. */
function withIf(): Graph {
  const g = new Graph('main');
  g.inputs.push({ name: 'x', type: f32([2]) }, { name: 'cond', type: { kind: 'tensor', dtype: 'bool', shape: [] } });
  g.outputs.push({ name: 'y', type: f32([2]) });
  const thenG = new Graph('then');
  thenG.outputs.push({ name: 't_out', type: f32([2]) });
  thenG.addNode({ opType: 'Identity', inputs: ['a'], outputs: ['t_out'], name: 'then_id' });
  const elseG = new Graph('else');
  elseG.outputs.push({ name: 'e_out', type: f32([2]) });
  elseG.addNode({ opType: 'Neg', inputs: ['a'], outputs: ['e_out'], name: 'else_neg' });
  g.addNode({ opType: 'Relu', inputs: ['x'], outputs: ['a'], name: 'relu' });
  g.addNode({ opType: 'If', inputs: ['cond'], outputs: ['y'], name: 'if', attributes: [attr.graph('then_branch', thenG), attr.graph('else_branch', elseG)] });
  return g;
}

const model = (g: Graph) => {
  const m = new Model(g);
  m.opsetImports = [{ domain: '', version: 13 }];
  return m;
};

describe('lookups', () => {
  it('producer, consumers (with implicit uses from subgraphs), constantTensor, valueType', () => {
    const g = withIf();
    expect(g.producer('a')!.name).toBe('relu');
    expect(g.consumers('a').map((n) => n.name)).toEqual(['if']); // used only inside the branches
    expect(g.consumers('cond').map((n) => n.name)).toEqual(['if']);
    const [thenG] = [...walkGraphs(g)].filter(({ owner }) => owner?.name === 'if').map(({ graph }) => graph);
    expect(thenG!.parent).toBe(g);
    expect([...thenG!.outerReferences()]).toEqual(['a']);

    const c = chain();
    expect(c.constantTensor('w')!.dims).toEqual([4]);
    c.inputs.push({ name: 'w', type: f32([4]) }); // an initializer that is also an input can be overridden
    expect(c.constantTensor('w')).toBeUndefined();
    expect(c.valueType('w')).toEqual(f32([4]));
    expect(c.valueType('x')).toEqual(f32(['n', 4]));
    c.setValueType('a', f32(['n', 4]));
    expect(c.valueInfo.get('a')!.type).toEqual(f32(['n', 4]));
    expect(c.valueType('nothing')).toBeUndefined();
  });

  it('walkGraphs visits the graph and every nested subgraph with its owner', () => {
    const names = [...walkGraphs(withIf())].map(({ graph, owner }) => `${graph.name}<${owner?.name ?? ''}`);
    expect(names).toEqual(['main<', 'then<if', 'else<if']);
  });
});

describe('names', () => {
  it('uniqueName is model-wide (subgraph names included) and reserves what it returns', () => {
    const g = withIf();
    expect(g.uniqueName('t_out')).toBe('t_out_1'); // a subgraph output
    expect(g.uniqueName('then_id')).toBe('then_id_1'); // a subgraph node name
    expect(g.uniqueName('t_out')).toBe('t_out_2');
    expect(g.uniqueName('fresh')).toBe('fresh');
    expect(g.uniqueName('fresh')).toBe('fresh_1');
    const [, { graph: thenG }] = [...walkGraphs(g)];
    expect(thenG!.uniqueName('fresh')).toBe('fresh_2'); // one pool for the whole model
  });

  it('sees names added by direct edits once invalidate() is called, and still never reuses a reserved one', () => {
    const g = chain();
    const reserved = g.uniqueName('tmp');
    g.nodes.push({ name: 'direct', opType: 'Relu', domain: '', inputs: ['y'], outputs: ['z'], attributes: [] });
    g.invalidate();
    expect(g.uniqueName('z')).toBe('z_1');
    expect(g.uniqueName('direct')).toBe('direct_1');
    expect(g.uniqueName(reserved)).toBe(`${reserved}_1`);
    expect(g.producer('z')!.name).toBe('direct');
  });
});

describe('editing', () => {
  it('addNode names unnamed nodes uniquely, inserts at an index and indexes the node', () => {
    const g = chain();
    const n1 = g.addNode({ opType: 'Relu', inputs: ['b'], outputs: ['r1'] });
    const n2 = g.addNode({ opType: 'Relu', inputs: ['b'], outputs: ['r2'], name: 'relu' }, 2); // 'relu' is taken
    expect(n1.name).toBe('Relu');
    expect(n2.name).toBe('relu_1');
    expect(g.nodes.map((n) => n.name)).toEqual(['relu', 'add', 'relu_1', 'neg', 'Relu']);
    expect(g.consumers('b').map((n) => n.name).sort()).toEqual(['Relu', 'neg', 'relu_1']);
    expect(g.producer('r2')).toBe(n2);
  });

  it('addNode refuses an output that already exists', () => {
    const g = chain();
    expect(() => g.addNode({ opType: 'Relu', inputs: ['x'], outputs: ['a'], name: 'dup' })).toThrow(
      "cannot add node 'dup': output 'a' is already produced by 'relu'",
    );
    expect(() => g.addNode({ opType: 'Relu', inputs: ['x'], outputs: ['w'], name: 'dup2' })).toThrow(
      "cannot add node 'dup2': output 'w' is already a graph input or initializer",
    );
    expect(g.nodes.length).toBe(3);
  });

  it('removeNode and replaceNode keep the index and the order', () => {
    const g = chain();
    const add = g.producer('b')!;
    const [mul, sub] = g.replaceNode(add, [
      { opType: 'Mul', inputs: ['a', 'w'], outputs: ['m'] },
      { opType: 'Sub', inputs: ['m', 'w'], outputs: ['b'] },
    ]);
    expect(g.nodes.map((n) => n.opType)).toEqual(['Relu', 'Mul', 'Sub', 'Neg']);
    expect(g.producer('b')).toBe(sub);
    expect(g.consumers('a')).toEqual([mul]);
    expect(g.consumers('w')).toEqual([mul, sub]);
    check(model(g));
    g.removeNode(g.producer('y')!);
    expect(g.producer('y')).toBeUndefined();
    expect(g.consumers('b')).toEqual([]);
    expect(() => g.removeNode(add)).toThrow("node 'add' is not in graph 'chain'");
  });

  it('setNodeInput and replaceAllUses rewire consumers (into subgraphs, not past a shadowing one)', () => {
    const g = chain();
    g.setNodeInput(g.producer('y')!, 0, 'a');
    expect(g.consumers('a').map((n) => n.name)).toEqual(['add', 'neg']);
    expect(g.consumers('b')).toEqual([]);

    const h = withIf();
    h.addNode({ opType: 'Abs', inputs: ['x'], outputs: ['a2'], name: 'abs' }, 1);
    h.replaceAllUses('a', 'a2');
    const branches = [...walkGraphs(h)].filter(({ owner }) => owner).map(({ graph }) => graph.nodes[0]!.inputs[0]);
    expect(branches).toEqual(['a2', 'a2']);
    expect(h.consumers('a2').map((n) => n.name)).toEqual(['if']);
    expect(h.consumers('a')).toEqual([]);

    // A subgraph that defines its own 'a' is not rewritten.
    const k = withIf();
    const elseG = [...walkGraphs(k)][2]!.graph;
    elseG.inputs.push({ name: 'a', type: f32([2]) });
    k.addNode({ opType: 'Abs', inputs: ['x'], outputs: ['a2'], name: 'abs' }, 1);
    k.replaceAllUses('a', 'a2');
    expect(elseG.nodes[0]!.inputs[0]).toBe('a');
  });

  it('replaceAllUses leaves graph outputs alone unless asked', () => {
    const g = chain();
    g.addNode({ opType: 'Identity', inputs: ['b'], outputs: ['b2'] });
    g.replaceAllUses('y', 'b2');
    expect(g.outputs[0]!.name).toBe('y');
    g.replaceAllUses('y', 'b2', true);
    expect(g.outputs[0]!.name).toBe('b2');
  });

  it('renameValue renames the producer, every use, graph outputs, value_info and initializers', () => {
    const g = withIf();
    g.setValueType('a', f32([2]));
    g.renameValue('a', 'activation');
    expect(g.producer('activation')!.name).toBe('relu');
    expect(g.valueInfo.has('activation')).toBe(true);
    expect([...walkGraphs(g)].filter(({ owner }) => owner).map(({ graph }) => graph.nodes[0]!.inputs[0])).toEqual(['activation', 'activation']);
    g.renameValue('y', 'out');
    expect(g.outputs[0]!.name).toBe('out');
    g.renameValue('x', 'input');
    expect(g.inputs[0]!.name).toBe('input');
    expect(g.producer('activation')!.inputs).toEqual(['input']);

    const c = chain();
    c.renameValue('w', 'weight');
    expect(c.initializers.get('weight')!.name).toBe('weight');
    expect([...c.initializers.keys()]).toEqual(['weight']);
    expect(c.producer('b')!.inputs).toEqual(['a', 'weight']);
    expect(() => c.renameValue('a', 'b')).toThrow("cannot rename 'a' to 'b': the name is already used");
    check(model(c));
    check(model(g));
  });

  it('addInitializer names an unnamed tensor uniquely', () => {
    const g = chain();
    const t = g.addInitializer(Tensor.from('float32', [1], Float32Array.of(0)));
    expect(t.name).toBe('const');
    expect(g.addInitializer(Tensor.from('float32', [1], Float32Array.of(0))).name).toBe('const_1');
  });
});

describe('topological order', () => {
  it('sorts stably: producers first, file order otherwise', () => {
    const g = chain();
    g.nodes.reverse();
    g.nodes.push({ name: 'side', opType: 'Abs', domain: '', inputs: ['x'], outputs: ['s'], attributes: [] });
    g.invalidate();
    g.topologicalSort();
    // Kahn's algorithm taking the earliest ready node: neg (first in the file) right after add.
    expect(g.nodes.map((n) => n.name)).toEqual(['relu', 'add', 'neg', 'side']);
    check(model(g));
  });

  it('orders a node after the producers of the values its subgraphs use', () => {
    const g = withIf();
    g.nodes.reverse(); // If before the Relu whose output its branches read
    g.invalidate();
    expect(topologicalOrder(g).map((n) => n.name)).toEqual(['relu', 'if']);
  });

  it('names a node on a cycle', () => {
    const g = chain();
    g.producer('a')!.inputs = ['b'];
    g.invalidate();
    expect(() => g.topologicalSort()).toThrow("graph 'chain' has a cycle through node 'relu' (Relu)");
  });
});

describe('model round trip of edits', () => {
  it('an edited graph with a subgraph encodes, decodes and checks', () => {
    const g = withIf();
    g.addNode({ opType: 'Softmax', inputs: ['y'], outputs: ['p'], attributes: [attr.int('axis', 0)] });
    g.outputs.push({ name: 'p', type: f32([2]) });
    const back = decodeModel(encodeModel(model(g)));
    const softmax = back.graph.producer('p')!;
    expect(getInt(softmax, 'axis')).toBe(0);
    expect(back.graph.consumers('a').map((n: Node) => n.opType)).toEqual(['If']);
    check(back);
  });
});

describe('tensors', () => {
  it('keep loaded bytes as views into the file buffer; data is a view when aligned, a copy otherwise', () => {
    const buf = new Uint8Array(64);
    new Float32Array(buf.buffer, 16, 4).set([1, 2, 3, 4]);
    const aligned = Tensor.fromBytes('float32', [4], buf.subarray(16, 32));
    expect(aligned.bytes.buffer).toBe(buf.buffer);
    const view = aligned.data as Float32Array;
    expect(view.buffer).toBe(buf.buffer);
    view[0] = 10; // in-place edits are what gets saved
    expect(new Float32Array(buf.buffer, 16, 1)[0]).toBe(10);

    const odd = new Uint8Array(20);
    odd.set(new Uint8Array(Float32Array.of(5, 6, 7, 8).buffer), 1);
    const unaligned = Tensor.fromBytes('float32', [4], odd.subarray(1, 17));
    expect(Array.from(unaligned.data as Float32Array)).toEqual([5, 6, 7, 8]);
    expect((unaligned.data as Float32Array).buffer).not.toBe(odd.buffer);
    (unaligned.data as Float32Array)[0] = 50;
    expect(Array.from(new Float32Array(unaligned.bytes.slice().buffer))).toEqual([50, 6, 7, 8]);
  });

  it('a loaded model does not copy raw_data', () => {
    const g = chain();
    const bytes = encodeModel(model(g));
    const m = decodeModel(bytes);
    expect(m.graph.initializers.get('w')!.bytes.buffer).toBe(bytes.buffer);
  });

  it('refuse a wrong byte count, wrong array type or negative dimension, naming the tensor', () => {
    expect(() => Tensor.fromBytes('float32', [3], new Uint8Array(8), 'w')).toThrow("tensor 'w': float32[3] needs 12 bytes of data, got 8");
    expect(() => Tensor.from('int64', [2], Int32Array.of(1, 2), 'ids')).toThrow("tensor 'ids': int64 needs a BigInt64Array, got Int32Array");
    expect(() => Tensor.from('float32', [-1], new Float32Array(0), 'neg')).toThrow("tensor 'neg': invalid dimension -1");
  });

  it('clone is deep', () => {
    const t = Tensor.from('float32', [2], Float32Array.of(1, 2), 't');
    const c = t.clone('c');
    (c.data as Float32Array)[0] = 9;
    expect((t.data as Float32Array)[0]).toBe(1);
    expect(c.name).toBe('c');
  });
});
