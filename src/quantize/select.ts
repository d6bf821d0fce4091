/**
 * What every quantization pass shares: which nodes to touch (op types, excluded nodes), what it did
 * (units: one quantized layer each, enough to rebuild its float twin for per-layer error), and the
 * refusal of models that are already quantized.
 */
import { Tensor, getTensorAttr, type Graph, type Model, type Node } from '../ir/index.js';
import { profileModel } from '../inspect/index.js';

export interface NodeSelection {
  /** Only these operator types (default: every type the mode handles). */
  opTypes?: string[];
  /** Node names to leave as they are. */
  excludeNodes?: string[];
  /** Operator types to leave as they are. */
  excludeOpTypes?: string[];
}

/** A predicate over nodes from the selection options; unknown op types in `opTypes` are an error. */
export function nodeFilter(sel: NodeSelection, supported: readonly string[], mode: string): (node: Node) => boolean {
  const unknown = (sel.opTypes ?? []).filter((t) => !supported.includes(t));
  if (unknown.length) {
    throw new Error(`--op-types: ${unknown.join(', ')} cannot be quantized in mode ${mode} (it handles ${supported.join(', ')})`);
  }
  const types = new Set(sel.opTypes?.length ? sel.opTypes : supported);
  const excludedNodes = new Set(sel.excludeNodes ?? []);
  const excludedTypes = new Set(sel.excludeOpTypes ?? []);
  return (node) => types.has(node.opType) && !node.domain && !excludedNodes.has(node.name) && !excludedTypes.has(node.opType);
}

/** One quantized layer: where it is in both models, and how to recompute it in float from the quantized model's values. */
export interface QuantizedUnit {
  /** Name of the node that was quantized (in the float model). */
  node: string;
  opType: string;
  /** The float nodes it replaced (the node, then an activation folded into it), as they were. */
  original: Node[];
  /** Per input slot of the node: the value the float node would read in the quantized model (weights by their float name). */
  inputs: string[];
  /** The unit's output in the float model. */
  output: string;
  /** The value that carries it (in float) in the quantized model. */
  quantizedOutput: string;
  /** SQNR of the dequantized weights against the float weights, in dB. */
  weightSqnrDb?: number;
}

export interface SkippedNode {
  node: string;
  opType: string;
  reason: string;
}

export interface PassResult {
  units: QuantizedUnit[];
  skipped: SkippedNode[];
}

/** A copy of a node as it is now (attributes shared: passes never mutate attribute values in place). */
export function snapshot(node: Node): Node {
  return { ...node, inputs: [...node.inputs], outputs: [...node.outputs], attributes: [...node.attributes] };
}

/**
 * The constant behind a value: an initializer that is not a graph input, or a Constant node's tensor,
 * looking through Identity nodes (exporters share one weight between layers as Identity(initializer)).
 */
export function constantValue(g: Graph, name: string | undefined): Tensor | undefined {
  for (let depth = 0; name && depth < 4; depth++) {
    const t = g.constantTensor(name);
    if (t) return t;
    const p = g.producer(name);
    if (p?.opType === 'Constant' && !p.domain) return getTensorAttr(p, 'value');
    name = p?.opType === 'Identity' && !p.domain ? p.inputs[0] : undefined;
  }
  return undefined;
}

/** A float32 constant (see constantValue) of one of the given ranks, or undefined. */
export function floatConstant(g: Graph, name: string | undefined, ranks: number[]): Tensor | undefined {
  const t = constantValue(g, name);
  return t && t.dtype === 'float32' && ranks.includes(t.dims.length) ? t : undefined;
}

/**
 * Removes what a pass left unread: float initializers it replaced, and the nodes (Identity of a shared
 * weight) that only fed them.
 */
export function dropOrphans(g: Graph, names: Iterable<string>): void {
  const pending = [...new Set(names)];
  while (pending.length) {
    const name = pending.pop()!;
    if (!name || g.consumers(name).length || g.isGraphOutput(name)) continue;
    if (g.initializers.has(name)) {
      if (!g.isGraphInput(name)) g.initializers.delete(name);
      continue;
    }
    const p = g.producer(name);
    if (p && p.outputs.every((o) => !o || (!g.consumers(o).length && !g.isGraphOutput(o)))) {
      g.removeNode(p);
      pending.push(...p.inputs);
    }
  }
}

/** Why a model cannot be quantized again, or undefined when it is plain float. */
export function alreadyQuantized(model: Model): string | undefined {
  const p = profileModel(model);
  if (!p.quantized) return undefined;
  return p.quantization === 'fp16' ? 'its weights are already float16' : `it is already quantized (${p.quantization})`;
}

/** A fresh initializer under a unique name derived from `base`. */
export function addConstant(g: Graph, base: string, t: Tensor): string {
  t.name = g.uniqueName(base);
  g.addInitializer(t);
  return t.name;
}
