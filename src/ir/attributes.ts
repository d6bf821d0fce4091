import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';
import type { Attribute, AttributeValue, Node } from './types.js';

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

export function findAttribute(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

function expect<T extends AttributeValue['type']>(
  node: Node,
  name: string,
  type: T,
): Extract<Attribute, { type: T }> | undefined {
  const a = findAttribute(node, name);
  if (!a) return undefined;
  if (a.type !== type) {
    throw new Error(`node '${node.name}' (${node.opType}): attribute '${name}' is ${a.type}, expected ${type}`);
  }
  return a as Extract<Attribute, { type: T }>;
}

export function getInt(node: Node, name: string): number | undefined;
export function getInt(node: Node, name: string, fallback: number): number;
export function getInt(node: Node, name: string, fallback?: number): number | undefined {
  return expect(node, name, 'int')?.value ?? fallback;
}

export function getFloat(node: Node, name: string): number | undefined;
export function getFloat(node: Node, name: string, fallback: number): number;
export function getFloat(node: Node, name: string, fallback?: number): number | undefined {
  return expect(node, name, 'float')?.value ?? fallback;
}

export function getString(node: Node, name: string): string | undefined;
export function getString(node: Node, name: string, fallback: string): string;
export function getString(node: Node, name: string, fallback?: string): string | undefined {
  const a = expect(node, name, 'string');
  return a ? textDecoder.decode(a.value) : fallback;
}

export function getInts(node: Node, name: string): number[] | undefined {
  return expect(node, name, 'ints')?.value;
}

export function getFloats(node: Node, name: string): number[] | undefined {
  return expect(node, name, 'floats')?.value;
}

export function getTensorAttr(node: Node, name: string): Tensor | undefined {
  return expect(node, name, 'tensor')?.value;
}

export function getGraphAttr(node: Node, name: string): Graph | undefined {
  return expect(node, name, 'graph')?.value;
}

/** Sets (or replaces) an attribute, keeping the position of an existing one. */
export function setAttribute(node: Node, attr: Attribute): void {
  const i = node.attributes.findIndex((a) => a.name === attr.name);
  if (i >= 0) node.attributes[i] = attr;
  else node.attributes.push(attr);
}

export function removeAttribute(node: Node, name: string): boolean {
  const i = node.attributes.findIndex((a) => a.name === name);
  if (i < 0) return false;
  node.attributes.splice(i, 1);
  return true;
}

/** Attribute constructors, so passes write `attr.int('axis', 1)` instead of object literals. */
export const attr = {
  int: (name: string, value: number): Attribute => ({ name, type: 'int', value }),
  float: (name: string, value: number): Attribute => ({ name, type: 'float', value }),
  string: (name: string, value: string): Attribute => ({ name, type: 'string', value: textEncoder.encode(value) }),
  ints: (name: string, value: number[]): Attribute => ({ name, type: 'ints', value }),
  floats: (name: string, value: number[]): Attribute => ({ name, type: 'floats', value }),
  tensor: (name: string, value: Tensor): Attribute => ({ name, type: 'tensor', value }),
  graph: (name: string, value: Graph): Attribute => ({ name, type: 'graph', value }),
};

/** Every graph held by a node's attributes (If branches, Loop/Scan bodies, …). */
export function subgraphsOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of node.attributes) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}
