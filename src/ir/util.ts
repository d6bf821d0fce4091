import { subgraphsOf } from './attributes.js';
import type { Graph } from './graph.js';
import type { Dim, Node, TypeInfo } from './types.js';

/** Visits `graph` and every nested subgraph, outermost first, with the node that owns each subgraph. */
export function* walkGraphs(graph: Graph, owner?: Node): Generator<{ graph: Graph; owner?: Node }> {
  yield { graph, owner };
  for (const node of graph.nodes) for (const sg of subgraphsOf(node)) yield* walkGraphs(sg, node);
}

/** The shape of a tensor type, or undefined when the value is not a tensor or its rank is unknown. */
export function tensorShape(type: TypeInfo | undefined): Dim[] | undefined {
  return type && (type.kind === 'tensor' || type.kind === 'sparse_tensor') ? type.shape : undefined;
}

export function formatShape(shape: Dim[] | undefined): string {
  if (!shape) return '[?]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

export function formatType(type: TypeInfo | undefined): string {
  if (!type) return '?';
  switch (type.kind) {
    case 'tensor':
      return `${type.dtype}${formatShape(type.shape)}`;
    case 'sparse_tensor':
      return `sparse ${type.dtype}${formatShape(type.shape)}`;
    case 'sequence':
      return `sequence<${formatType(type.elem)}>`;
    case 'map':
      return `map<${type.key}, ${formatType(type.value)}>`;
    case 'optional':
      return `optional<${formatType(type.elem)}>`;
  }
}
