/**
 * Structural validity of a model, in the spirit of onnx.checker: every value is defined once and
 * before use, graph interfaces are typed, opsets are imported. Operator schemas (attribute names,
 * arity) are onnxruntime's job at session creation; this catches what breaks the graph itself.
 */
import { subgraphsOf, type Graph, type Model, type Node } from '../ir/index.js';

export interface CheckIssue {
  /** Where: graph path, and the node when there is one. */
  where: string;
  message: string;
}

export class ModelCheckError extends Error {
  constructor(readonly issues: CheckIssue[]) {
    const first = issues.slice(0, 5).map((i) => `${i.where}: ${i.message}`);
    const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
    super(`invalid model: ${first.join('; ')}${more}`);
    this.name = 'ModelCheckError';
  }
}

const nodeLabel = (n: Node) => `node '${n.name || '<unnamed>'}' (${n.domain ? `${n.domain}.` : ''}${n.opType})`;

/** Returns every structural problem found (empty when the model is valid). */
export function checkModel(model: Model): CheckIssue[] {
  const issues: CheckIssue[] = [];
  if (!Number.isInteger(model.irVersion) || model.irVersion < 1) {
    issues.push({ where: 'model', message: `ir_version ${model.irVersion} is not a positive integer` });
  }
  const imported = new Set(model.opsetImports.map((o) => (o.domain === 'ai.onnx' ? '' : o.domain)));
  if (model.irVersion >= 3 && model.opsetImports.length === 0) {
    issues.push({ where: 'model', message: 'no opset_import: the model must import at least the default ONNX opset' });
  }
  for (const o of model.opsetImports) {
    if (!Number.isInteger(o.version) || o.version < 1) {
      issues.push({ where: 'model', message: `opset_import '${o.domain || 'ai.onnx'}' has invalid version ${o.version}` });
    }
  }
  const missingDomains = new Set<string>();
  checkGraph(model.graph, undefined, `graph '${model.graph.name}'`, issues, (n) => {
    const d = n.domain === 'ai.onnx' ? '' : n.domain;
    if (!imported.has(d) && model.irVersion >= 3) missingDomains.add(d);
  }, model.irVersion);
  for (const d of missingDomains) {
    issues.push({ where: 'model', message: `operator domain '${d || 'ai.onnx'}' is used but not in opset_import` });
  }
  return issues;
}

/** Throws a ModelCheckError listing what is wrong; returns nothing when the model is valid. */
export function check(model: Model): void {
  const issues = checkModel(model);
  if (issues.length) throw new ModelCheckError(issues);
}

/** `outer` is the enclosing scope of a subgraph; undefined for the main graph. */
function checkGraph(
  g: Graph,
  outer: Set<string> | undefined,
  where: string,
  issues: CheckIssue[],
  onNode: (n: Node) => void,
  irVersion: number,
): void {
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (defined.has(name)) issues.push({ where, message: `value '${name}' is defined more than once (again as ${what})` });
    defined.add(name);
  };
  const inputNames = new Set<string>();
  for (const v of g.inputs) {
    if (!v.name) issues.push({ where, message: 'a graph input has no name' });
    if (inputNames.has(v.name)) issues.push({ where, message: `graph input '${v.name}' is listed twice` });
    inputNames.add(v.name);
    // Like onnx.checker: subgraph (If/Loop/Scan body) inputs may leave their type to inference.
    if (!v.type && !outer) issues.push({ where, message: `graph input '${v.name}' has no type` });
    define(v.name, 'a graph input');
  }
  for (const [name, t] of g.initializers) {
    if (!name) issues.push({ where, message: 'an initializer has no name' });
    if (inputNames.has(name)) {
      const type = g.inputs.find((v) => v.name === name)?.type;
      if (type?.kind === 'tensor' && type.dtype !== t.dtype) {
        issues.push({ where, message: `initializer '${name}' is ${t.dtype} but the graph input of that name is ${type.dtype}` });
      }
      continue;
    }
    if (irVersion < 4) issues.push({ where, message: `initializer '${name}' is not a graph input (required before IR version 4)` });
    define(name, 'an initializer');
  }
  const visible = (name: string) => defined.has(name) || Boolean(outer?.has(name));
  for (const n of g.nodes) {
    const label = nodeLabel(n);
    onNode(n);
    if (!n.opType) issues.push({ where: `${where}, ${label}`, message: 'op_type is empty' });
    n.inputs.forEach((name, slot) => {
      if (name && !visible(name)) {
        const later = g.nodes.some((m) => m !== n && m.outputs.includes(name));
        issues.push({
          where: `${where}, ${label}`,
          message: later
            ? `input ${slot} '${name}' is used before the node that produces it (nodes must be in topological order)`
            : `input ${slot} '${name}' is not a graph input, initializer or output of any node`,
        });
      }
    });
    for (const sg of subgraphsOf(n)) {
      const scope = new Set([...(outer ?? []), ...defined]);
      checkGraph(sg, scope, `${where}, ${label}, subgraph '${sg.name}'`, issues, onNode, irVersion);
    }
    for (const o of n.outputs) {
      if (!o) continue;
      if (defined.has(o)) issues.push({ where: `${where}, ${label}`, message: `output '${o}' is already defined elsewhere in the graph` });
      defined.add(o);
    }
  }
  const outNames = new Set<string>();
  for (const v of g.outputs) {
    if (!v.name) issues.push({ where, message: 'a graph output has no name' });
    if (outNames.has(v.name)) issues.push({ where, message: `graph output '${v.name}' is listed twice` });
    outNames.add(v.name);
    if (!visible(v.name)) issues.push({ where, message: `graph output '${v.name}' is not produced by any node, input or initializer` });
  }
}
