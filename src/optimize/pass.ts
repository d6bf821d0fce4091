import type { Graph, Model, Node } from '../ir/index.js';
import { isDefaultDomain, type ShapeInfo } from '../shape-inference/index.js';

/** What a pass sees besides the graph it rewrites. */
export interface PassContext {
  readonly model: Model;
  /** Types and shapes of the model's values (re-inferred after any pass changed the model). */
  shapes(): ShapeInfo;
  /** Opset version imported for `domain` (default ai.onnx). */
  opset(domain?: string): number;
  /** Records rewrites for the report, e.g. `record('removed Identity')`. */
  record(what: string, count?: number): void;
}

export interface Pass {
  /** Kebab-case name used by `--passes` and `--skip`. */
  readonly name: string;
  readonly description: string;
  /** Rewrites one graph (the driver calls it for the main graph and every subgraph); returns the number of rewrites. */
  run(graph: Graph, ctx: PassContext): number | Promise<number>;
}

/** True when `node` is the ai.onnx operator `opType` (custom-domain ops never match a pattern). */
export const isOp = (node: Node | undefined, ...opTypes: string[]): boolean =>
  node !== undefined && isDefaultDomain(node.domain) && opTypes.includes(node.opType);

/** Operators whose result differs from run to run: never folded or merged. */
export const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
