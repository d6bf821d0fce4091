/**
 * Graph edits that every pass needs, done so the model's interface (graph output names) and
 * subgraph scoping stay intact.
 */
import { subgraphsOf, walkGraphs, Tensor, type Graph, type Node } from '../ir/index.js';

/** True when a subgraph nested in `g` defines a value called `name` (which would shadow an outer one). */
export function definedInSubgraphs(g: Graph, name: string): boolean {
  for (const node of g.nodes) {
    for (const sg of subgraphsOf(node)) {
      for (const { graph } of walkGraphs(sg)) {
        if (graph.isGraphInput(name) || graph.initializers.has(name) || graph.nodes.some((n) => n.outputs.includes(name))) return true;
      }
    }
  }
  return false;
}

/**
 * Removes `node` and makes every reader of its output `out` read `src` instead (`src` carries the
 * same value). When `out` is a graph output its name must survive, so `src` is renamed to `out`,
 * which is only possible when `src` is an ordinary output of another node of this graph. Returns
 * false, leaving the graph untouched, when the rewrite is not possible.
 */
export function bypassNode(g: Graph, node: Node, out: string, src: string): boolean {
  if (out === src) return false;
  if (!g.isGraphOutput(out)) {
    if (definedInSubgraphs(g, src)) return false;
    g.removeNode(node);
    g.replaceAllUses(out, src);
    return true;
  }
  const producer = g.producer(src);
  if (!producer || producer === node || g.isGraphOutput(src) || definedInSubgraphs(g, out)) return false;
  g.removeNode(node);
  producer.outputs = producer.outputs.map((o) => (o === src ? out : o));
  g.valueInfo.delete(src);
  g.invalidate();
  g.replaceAllUses(src, out);
  return true;
}

export interface Bypass {
  node: Node;
  /** The node's output that goes away… */
  out: string;
  /** …and the value that carries the same contents. */
  src: string;
}

/** Rewrites every read of a substituted name, in `g` and its subgraphs (where a name a subgraph defines itself is its own). */
export function substituteInputs(g: Graph, resolve: (name: string) => string, shadowed: ReadonlySet<string> = new Set()): void {
  const mapped = (name: string) => (name && !shadowed.has(name) ? resolve(name) : name);
  for (const node of g.nodes) {
    node.inputs = node.inputs.map(mapped);
    for (const sg of subgraphsOf(node)) {
      const own = new Set([...shadowed, ...sg.inputs.map((v) => v.name), ...sg.initializers.keys(), ...sg.nodes.flatMap((n) => n.outputs)]);
      substituteInputs(sg, resolve, own);
      for (const o of sg.outputs) if (!own.has(o.name)) o.name = resolve(o.name);
    }
  }
  g.invalidate();
}

/**
 * Many bypasses at once (see bypassNode): one sweep over the graph instead of one per node, which
 * keeps removing thousands of Identity nodes linear. Chains (an Identity of an Identity) resolve
 * to their first source. Returns the nodes actually removed.
 */
export function bypassNodes(g: Graph, bypasses: Bypass[]): Node[] {
  const subst = new Map<string, string>();
  const removed = new Set<Node>();
  const renames: Bypass[] = [];
  const hasSubgraphs = g.nodes.some((n) => subgraphsOf(n).length);
  for (const b of bypasses) {
    if (hasSubgraphs && definedInSubgraphs(g, b.src)) continue;
    if (g.isGraphOutput(b.out)) renames.push(b);
    else {
      subst.set(b.out, b.src);
      removed.add(b.node);
    }
  }
  const resolve = (name: string): string => {
    let n = name;
    for (let hops = 0; subst.has(n) && hops <= subst.size; hops++) n = subst.get(n)!;
    return n;
  };
  if (removed.size) {
    g.nodes = g.nodes.filter((n) => !removed.has(n));
    for (const name of subst.keys()) g.valueInfo.delete(name);
    substituteInputs(g, resolve);
  }
  for (const b of renames) if (bypassNode(g, b.node, b.out, resolve(b.src))) removed.add(b.node);
  return [...removed];
}

/**
 * Makes value `name` (an output of `node`) a constant: the tensor becomes an initializer under the
 * same name and the node's output slot gets a fresh, unused name (dead-code elimination removes
 * the node once nothing else reads it).
 */
export function replaceWithConstant(g: Graph, node: Node, name: string, value: Tensor): void {
  const slot = node.outputs.indexOf(name);
  if (slot < 0) throw new Error(`node '${node.name}' does not produce '${name}'`);
  node.outputs[slot] = g.uniqueName(`${name}_folded`);
  g.invalidate();
  g.valueInfo.delete(name);
  g.initializers.set(name, renamed(value, name));
}

/** Whether `name` is read by anything: a node (here or in a subgraph) or the graph's outputs. */
export function isUsed(g: Graph, name: string): boolean {
  return g.consumers(name).length > 0 || g.isGraphOutput(name);
}

/** The only node reading `name`, when it is read by exactly one node and is not a graph output. */
export function soleConsumer(g: Graph, name: string): Node | undefined {
  const users = g.consumers(name);
  return users.length === 1 && !g.isGraphOutput(name) && users[0]!.inputs.filter((i) => i === name).length === 1 ? users[0] : undefined;
}

/** The constant tensor feeding `name`: an initializer of `g` or an enclosing graph that is not a graph input. */
export function constantOf(g: Graph, name: string): Tensor | undefined {
  for (let s: Graph | undefined = g; s; s = s.parent) {
    if (s.isGraphInput(name)) return undefined;
    const t = s.initializers.get(name);
    if (t) return t;
    if (s.producer(name)) return undefined;
  }
  return undefined;
}

/** `t` under another name, sharing its bytes (tensors may be shared with the caller's model, so never renamed in place). */
export function renamed(t: Tensor, name: string): Tensor {
  if (t.name === name) return t;
  return t.dtype === 'string' ? Tensor.fromStringBytes([...t.dims], t.strings, name) : Tensor.fromBytes(t.dtype, [...t.dims], t.bytes, name);
}
