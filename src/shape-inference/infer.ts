/**
 * Type and shape inference over a model, in the spirit of onnx.shape_inference: every node output
 * whose type follows from its inputs gets a value_info entry (and the main graph's outputs their
 * precise shapes). Symbolic dims flow through; small integer tensors (shape arithmetic such as
 * Shape → Gather → Concat → Reshape) are evaluated symbolically so Reshape targets built from
 * shapes still give exact output shapes. Ops without a rule (custom domains, unknown ops) leave
 * their outputs as the model declared them, or unknown.
 */
import {
  subgraphsOf,
  topologicalOrder,
  type Dim,
  type DType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TypeInfo,
} from '../ir/index.js';
import { constantNodeTensor, InferContext, Scope } from './context.js';
import { RULES } from './rules/index.js';

export interface ShapeInferenceOptions {
  /** Write inferred types into value_info and the main graph's outputs (default true). */
  write?: boolean;
}

export const isDefaultDomain = (domain: string): boolean => domain === '' || domain === 'ai.onnx';

/** What inference learned, per graph: types, and integer contents of small shape tensors. */
export class ShapeInfo {
  /** Node outputs (all graphs) whose type is unknown after inference. */
  readonly unknown: { graph: Graph; name: string; node: Node }[] = [];
  /** Node outputs whose type was inferred. */
  inferred = 0;

  constructor(private readonly scopes: Map<Graph, Scope>) {}

  #scope(graph: Graph): Scope | undefined {
    return this.scopes.get(graph);
  }

  type(graph: Graph, name: string): TypeInfo | undefined {
    return this.#scope(graph)?.type(name);
  }

  dtype(graph: Graph, name: string): DType | undefined {
    const t = this.type(graph, name);
    return t?.kind === 'tensor' ? t.dtype : undefined;
  }

  /** Shape of a tensor value; undefined when its rank is unknown. */
  shape(graph: Graph, name: string): Dim[] | undefined {
    const t = this.type(graph, name);
    return t?.kind === 'tensor' ? t.shape : undefined;
  }

  /** Integer contents of a rank-0/1 value when known (fixed numbers or symbols). */
  value(graph: Graph, name: string): Dim[] | undefined {
    return this.#scope(graph)?.value(name);
  }
}

const tensorType = (t: Tensor): TypeInfo => ({ kind: 'tensor', dtype: t.dtype, shape: [...t.dims] });

/**
 * Combines what the model declared with what was inferred: inference wins where it knows a dim,
 * the declaration fills dims inference could not work out.
 */
export function mergeTypes(declared: TypeInfo | undefined, inferred: TypeInfo): TypeInfo {
  if (!declared || declared.kind !== 'tensor' || inferred.kind !== 'tensor' || declared.dtype !== inferred.dtype) return inferred;
  if (!inferred.shape) return declared.shape ? { ...inferred, shape: declared.shape } : inferred;
  if (!declared.shape || declared.shape.length !== inferred.shape.length) return inferred;
  const shape = inferred.shape.map((d, i) => {
    const old = declared.shape![i]!;
    if (d === null || (typeof d === 'string' && typeof old === 'number')) return old;
    return d;
  });
  return { ...inferred, shape };
}

function inferGraph(model: Model, g: Graph, parent: Scope | undefined, scopes: Map<Graph, Scope>, info: ShapeInfo, write: boolean): void {
  const scope = new Scope(parent);
  scopes.set(g, scope);
  for (const v of g.inputs) if (v.type) scope.types.set(v.name, v.type);
  for (const [name, t] of g.initializers) {
    if (!g.isGraphInput(name)) scope.tensors.set(name, t);
    if (!scope.types.has(name)) scope.types.set(name, tensorType(t));
  }
  let order: Node[];
  try {
    order = topologicalOrder(g);
  } catch {
    order = g.nodes;
  }
  const isRoot = !g.parent;
  for (const node of order) {
    const ctx = new InferContext(node, model.opset(node.domain) ?? 1, scope);
    if (isDefaultDomain(node.domain)) {
      if (node.opType === 'Constant') {
        const t = constantNodeTensor(node);
        if (t && node.outputs[0]) {
          scope.tensors.set(node.outputs[0], t);
          ctx.set(0, t.dtype, [...t.dims]);
        }
      } else {
        try {
          RULES[node.opType]?.(ctx);
        } catch {
          // A malformed node (wrong attribute type, …) is onnxruntime's to report; its outputs stay unknown.
        }
      }
    }
    node.outputs.forEach((name, i) => {
      if (!name) return;
      const inferred = ctx.outputTypes[i];
      const declared = g.valueType(name);
      const type = inferred ? mergeTypes(declared, inferred) : declared;
      if (type) scope.types.set(name, type);
      else info.unknown.push({ graph: g, name, node });
      if (inferred) info.inferred++;
      const value = ctx.outputValues[i];
      if (value) scope.values.set(name, value);
      if (write && inferred && type) writeType(g, name, type, isRoot);
    });
    if (write) typeBodyInputs(node, ctx);
    for (const sg of subgraphsOf(node)) inferGraph(model, sg, scope, scopes, info, write);
  }
}

/**
 * Loop and Scan bodies may leave their inputs untyped (the owner fixes them); the element types
 * follow from the owner's inputs, so they are filled in (shape left open: it may vary per iteration).
 */
function typeBodyInputs(node: Node, ctx: InferContext): void {
  if (!isDefaultDomain(node.domain)) return;
  const body = node.attributes.find((a) => a.name === 'body' && a.type === 'graph')?.value as Graph | undefined;
  if (!body) return;
  let dtypes: (DType | undefined)[];
  if (node.opType === 'Loop') dtypes = ['int64', 'bool', ...node.inputs.slice(2).map((_, i) => ctx.dtype(i + 2))];
  else if (node.opType === 'Scan' && ctx.opset >= 9) dtypes = node.inputs.map((_, i) => ctx.dtype(i));
  else return;
  body.inputs.forEach((v, i) => {
    if (!v.type && dtypes[i]) v.type = { kind: 'tensor', dtype: dtypes[i]! };
  });
}

function writeType(g: Graph, name: string, type: TypeInfo, isRoot: boolean): void {
  const output = g.outputs.find((v) => v.name === name);
  // A subgraph's outputs are part of its owner's contract (Loop carries, If branches): left as declared.
  if (output) {
    if (isRoot) output.type = type;
    return;
  }
  if (g.isGraphInput(name) || g.initializers.has(name)) return;
  const vi = g.valueInfo.get(name);
  if (vi) vi.type = type;
  else g.valueInfo.set(name, { name, type });
}

/** Infers types and shapes of every value (subgraphs too) and, unless `write: false`, records them in the model. */
export function inferShapes(model: Model, opts: ShapeInferenceOptions = {}): ShapeInfo {
  const scopes = new Map<Graph, Scope>();
  const info = new ShapeInfo(scopes);
  inferGraph(model, model.graph, undefined, scopes, info, opts.write ?? true);
  return info;
}
