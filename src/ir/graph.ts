import { subgraphsOf } from './attributes.js';
import type { Tensor } from './tensor.js';
import type { Node, TypeInfo, ValueInfo } from './types.js';

export interface NewNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Node['attributes'];
  docString?: string;
}

/**
 * A computation graph: nodes, graph inputs/outputs, initializers and value types.
 *
 * Producer/consumer lookups are indexed. The index is kept up to date by the editing methods below;
 * code that edits `nodes`, `node.inputs` or `node.outputs` directly must call `invalidate()` after.
 * Consumers include nodes that use a value implicitly, from inside one of their subgraphs.
 */
export class Graph {
  name: string;
  nodes: Node[] = [];
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  initializers = new Map<string, Tensor>();
  /** Types of intermediate values (value_info). */
  valueInfo = new Map<string, ValueInfo>();
  docString = '';
  metadataProps?: { key: string; value: string }[];
  /** Fields the IR does not model (sparse initializers, quantization annotations), kept as decoded. */
  passthrough?: { sparseInitializer?: unknown[]; quantizationAnnotation?: unknown[] };
  /** The graph whose node owns this one (for If/Loop/Scan bodies). */
  parent?: Graph;

  #producers?: Map<string, Node>;
  #consumers?: Map<string, Node[]>;
  /** Every name used in the model (kept on the root graph); only grows, so a reserved name is never reused. */
  #names?: Set<string>;
  #namesStale = false;

  constructor(name = 'main') {
    this.name = name;
  }

  get root(): Graph {
    let g: Graph = this;
    while (g.parent) g = g.parent;
    return g;
  }

  // ---- lookups -------------------------------------------------------------------------------

  /**
   * After editing `nodes`, `node.inputs` or `node.outputs` directly: forgets the producer/consumer
   * index (and that of enclosing graphs) and rescans names on the next `uniqueName`.
   */
  invalidate(): void {
    this.#dropIndex();
    this.root.#namesStale = true;
  }

  #dropIndex(): void {
    for (let g: Graph | undefined = this; g; g = g.parent) {
      g.#producers = undefined;
      g.#consumers = undefined;
    }
  }

  #index(): { producers: Map<string, Node>; consumers: Map<string, Node[]> } {
    if (!this.#producers || !this.#consumers) {
      const producers = new Map<string, Node>();
      const consumers = new Map<string, Node[]>();
      for (const node of this.nodes) {
        for (const o of node.outputs) if (o) producers.set(o, node);
        for (const name of nodeUses(node)) {
          const list = consumers.get(name);
          if (!list) consumers.set(name, [node]);
          else if (list[list.length - 1] !== node) list.push(node);
        }
      }
      this.#producers = producers;
      this.#consumers = consumers;
    }
    return { producers: this.#producers, consumers: this.#consumers };
  }

  /** The node in this graph that produces `name`, if any. */
  producer(name: string): Node | undefined {
    return this.#index().producers.get(name);
  }

  /** Nodes of this graph that read `name` (directly or from inside a subgraph), each once. */
  consumers(name: string): Node[] {
    return this.#index().consumers.get(name) ?? [];
  }

  isGraphInput(name: string): boolean {
    return this.inputs.some((v) => v.name === name);
  }

  isGraphOutput(name: string): boolean {
    return this.outputs.some((v) => v.name === name);
  }

  /** An initializer that is not also a graph input (a graph input may be overridden at run time). */
  constantTensor(name: string): Tensor | undefined {
    const t = this.initializers.get(name);
    return t && !this.isGraphInput(name) ? t : undefined;
  }

  /** Known type of a value: graph input/output, value_info, or initializer. */
  valueType(name: string): TypeInfo | undefined {
    const io = this.inputs.find((v) => v.name === name) ?? this.outputs.find((v) => v.name === name);
    if (io?.type) return io.type;
    const vi = this.valueInfo.get(name);
    if (vi?.type) return vi.type;
    const t = this.initializers.get(name);
    if (t) return { kind: 'tensor', dtype: t.dtype, shape: [...t.dims] };
    return undefined;
  }

  /** Records the type of an intermediate value (value_info); graph inputs/outputs are updated in place. */
  setValueType(name: string, type: TypeInfo): void {
    const io = this.inputs.find((v) => v.name === name) ?? this.outputs.find((v) => v.name === name);
    if (io) io.type = type;
    else if (!this.initializers.has(name)) {
      const vi = this.valueInfo.get(name);
      if (vi) vi.type = type;
      else this.valueInfo.set(name, { name, type });
    }
  }

  /** Names this graph (with nested subgraphs) reads but does not define: its outer-scope references. */
  outerReferences(): Set<string> {
    const defined = new Set<string>([...this.inputs.map((v) => v.name), ...this.initializers.keys()]);
    for (const n of this.nodes) for (const o of n.outputs) if (o) defined.add(o);
    const refs = new Set<string>();
    for (const n of this.nodes) for (const name of nodeUses(n)) if (!defined.has(name)) refs.add(name);
    for (const o of this.outputs) if (!defined.has(o.name)) refs.add(o.name);
    return refs;
  }

  // ---- names ---------------------------------------------------------------------------------

  #nameSet(): Set<string> {
    const root = this.root;
    if (!root.#names || root.#namesStale) {
      const names = root.#names ?? new Set<string>();
      collectNames(root, names);
      root.#names = names;
      root.#namesStale = false;
    }
    return root.#names;
  }

  /** A name not used anywhere in the model (values and node names share the pool), reserved on return. */
  uniqueName(base: string): string {
    const names = this.#nameSet();
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  }

  /** Marks a name as used (for names created outside `uniqueName`). */
  reserveName(name: string): void {
    this.#nameSet().add(name);
  }

  // ---- editing -------------------------------------------------------------------------------

  /**
   * Adds a node (at `index`, default the end). An empty or already-taken node name is replaced by a
   * fresh one; an output name already produced in this graph is an error.
   */
  addNode(spec: NewNode | Node, index = this.nodes.length): Node {
    const node: Node = {
      name: '',
      domain: '',
      attributes: [],
      ...spec,
    } as Node;
    const names = this.#nameSet();
    if (!node.name || this.nodes.some((n) => n.name === node.name)) {
      node.name = this.uniqueName(node.name || node.opType);
    } else names.add(node.name);
    const { producers, consumers } = this.#index();
    for (const o of node.outputs) {
      if (!o) continue;
      const other = producers.get(o);
      if (other) throw new Error(`cannot add node '${node.name}': output '${o}' is already produced by '${other.name}'`);
      if (this.initializers.has(o) || this.isGraphInput(o)) {
        throw new Error(`cannot add node '${node.name}': output '${o}' is already a graph input or initializer`);
      }
      names.add(o);
    }
    for (const sg of subgraphsOf(node)) {
      sg.parent = this;
      collectNames(sg, names); // the subgraph was built on its own: its names join the model's pool
    }
    this.nodes.splice(index, 0, node);
    for (const o of node.outputs) if (o) producers.set(o, node);
    for (const name of nodeUses(node)) {
      const list = consumers.get(name);
      if (!list) consumers.set(name, [node]);
      else if (!list.includes(node)) list.push(node);
    }
    this.#invalidateParents();
    return node;
  }

  /** Removes a node. Its outputs stop existing; consumers must be rewired first (or removed too). */
  removeNode(node: Node): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`node '${node.name}' is not in graph '${this.name}'`);
    this.nodes.splice(i, 1);
    const { producers, consumers } = this.#index();
    for (const o of node.outputs) if (producers.get(o) === node) producers.delete(o);
    for (const name of nodeUses(node)) {
      const list = consumers.get(name);
      if (list) {
        const j = list.indexOf(node);
        if (j >= 0) list.splice(j, 1);
      }
    }
    this.#invalidateParents();
  }

  /** Replaces `node` by `replacements`, inserted where it stood. */
  replaceNode(node: Node, replacements: (NewNode | Node)[]): Node[] {
    const at = this.nodes.indexOf(node);
    if (at < 0) throw new Error(`node '${node.name}' is not in graph '${this.name}'`);
    this.removeNode(node);
    return replacements.map((r, k) => this.addNode(r, at + k));
  }

  /** Points input `slot` of `node` at `name`. */
  setNodeInput(node: Node, slot: number, name: string): void {
    node.inputs[slot] = name;
    this.#consumers = undefined;
    this.#invalidateParents();
  }

  /**
   * Makes every reader of `from` read `to` instead: node inputs here and in subgraphs, and graph
   * outputs when `includeGraphOutputs` (which renames the model's interface; off by default, in
   * which case a graph output named `from` keeps its name).
   */
  replaceAllUses(from: string, to: string, includeGraphOutputs = false): void {
    if (from === to) return;
    const rewrite = (g: Graph, outputsToo: boolean): void => {
      for (const n of g.nodes) {
        for (let k = 0; k < n.inputs.length; k++) if (n.inputs[k] === from) n.inputs[k] = to;
        for (const sg of subgraphsOf(n)) if (!definesValue(sg, from)) rewrite(sg, true);
      }
      if (outputsToo) for (const o of g.outputs) if (o.name === from) o.name = to;
      g.#producers = undefined;
      g.#consumers = undefined;
    };
    rewrite(this, includeGraphOutputs);
    this.#invalidateParents();
  }

  /**
   * Renames a value everywhere it appears: its producer (node output, graph input or initializer),
   * every use, graph outputs and value_info. `to` must be unused.
   */
  renameValue(from: string, to: string): void {
    if (from === to) return;
    const names = this.#nameSet();
    if (names.has(to)) throw new Error(`cannot rename '${from}' to '${to}': the name is already used`);
    names.add(to);
    const producer = this.producer(from);
    if (producer) producer.outputs = producer.outputs.map((o) => (o === from ? to : o));
    for (const v of this.inputs) if (v.name === from) v.name = to;
    const init = this.initializers.get(from);
    if (init) {
      this.initializers = renameKey(this.initializers, from, to);
      init.name = to;
    }
    const vi = this.valueInfo.get(from);
    if (vi) {
      this.valueInfo = renameKey(this.valueInfo, from, to);
      vi.name = to;
    }
    this.replaceAllUses(from, to, true);
  }

  /** Adds (or replaces) an initializer under `tensor.name`. */
  addInitializer(tensor: Tensor): Tensor {
    if (!tensor.name) tensor.name = this.uniqueName('const');
    else this.reserveName(tensor.name);
    this.initializers.set(tensor.name, tensor);
    return tensor;
  }

  /** Reorders `nodes` so each node comes after its producers (stable: keeps file order otherwise). */
  topologicalSort(): void {
    this.nodes = topologicalOrder(this);
    this.#dropIndex();
  }

  #invalidateParents(): void {
    if (this.parent) this.parent.#dropIndex();
  }
}

/** Adds every name used in `g` and its subgraphs (values and node names) to `names`. */
function collectNames(g: Graph, names: Set<string>): void {
  for (const v of g.inputs) names.add(v.name);
  for (const v of g.outputs) names.add(v.name);
  for (const k of g.initializers.keys()) names.add(k);
  for (const k of g.valueInfo.keys()) names.add(k);
  for (const n of g.nodes) {
    if (n.name) names.add(n.name);
    for (const o of n.outputs) if (o) names.add(o);
    for (const i of n.inputs) if (i) names.add(i);
    for (const sg of subgraphsOf(n)) collectNames(sg, names);
  }
}

/** True if `g` itself defines `name` (so it shadows an outer value of that name). */
function definesValue(g: Graph, name: string): boolean {
  return g.isGraphInput(name) || g.initializers.has(name) || g.nodes.some((n) => n.outputs.includes(name));
}

function renameKey<V>(map: Map<string, V>, from: string, to: string): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of map) out.set(k === from ? to : k, v);
  return out;
}

/** Values a node reads: its inputs plus the outer-scope references of its subgraphs. */
export function nodeUses(node: Node): Set<string> {
  const uses = new Set<string>();
  for (const i of node.inputs) if (i) uses.add(i);
  for (const sg of subgraphsOf(node)) for (const r of sg.outerReferences()) uses.add(r);
  return uses;
}

/**
 * Nodes in dependency order (stable Kahn's algorithm: among ready nodes, file order wins).
 * Throws naming a node on a cycle. Values that nothing defines do not order anything (the checker
 * reports them).
 */
export function topologicalOrder(graph: Graph): Node[] {
  const available = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  for (let g = graph.parent; g; g = g.parent) {
    for (const v of g.inputs) available.add(v.name);
    for (const k of g.initializers.keys()) available.add(k);
    for (const n of g.nodes) for (const o of n.outputs) if (o) available.add(o);
  }
  const producedHere = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producedHere.set(o, i)));

  const pending = new Array<number>(graph.nodes.length).fill(0);
  const waiters = new Map<string, number[]>();
  graph.nodes.forEach((n, i) => {
    for (const name of nodeUses(n)) {
      if (available.has(name) || !producedHere.has(name)) continue;
      pending[i]!++;
      const w = waiters.get(name);
      if (w) w.push(i);
      else waiters.set(name, [i]);
    }
  });
  // A min-heap would be O(n log n); the ready list stays short in practice, and sorted insertion keeps it simple.
  const ready: number[] = [];
  pending.forEach((p, i) => p === 0 && ready.push(i));
  const order: Node[] = [];
  while (ready.length) {
    const i = ready.shift()!;
    const node = graph.nodes[i]!;
    order.push(node);
    for (const o of node.outputs) {
      for (const j of waiters.get(o) ?? []) {
        if (--pending[j]! === 0) {
          let at = ready.findIndex((r) => r > j);
          if (at < 0) at = ready.length;
          ready.splice(at, 0, j);
        }
      }
      waiters.delete(o);
    }
  }
  if (order.length !== graph.nodes.length) {
    const stuck = graph.nodes.find((_, i) => pending[i]! > 0)!;
    throw new Error(`graph '${graph.name}' has a cycle through node '${stuck.name}' (${stuck.opType})`);
  }
  return order;
}
