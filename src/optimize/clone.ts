import { Graph, Model, type Attribute, type Node, type TypeInfo, type ValueInfo } from '../ir/index.js';

const copyValueInfo = (v: ValueInfo): ValueInfo => ({ ...v, type: v.type && copyType(v.type) });

function copyType(t: TypeInfo): TypeInfo {
  if (t.kind === 'tensor' || t.kind === 'sparse_tensor') return { ...t, shape: t.shape && [...t.shape] } as TypeInfo;
  return { ...t };
}

function copyAttribute(a: Attribute, parent: Graph): Attribute {
  if (a.type === 'graph') return { ...a, value: cloneGraph(a.value, parent) };
  if (a.type === 'graphs') return { ...a, value: a.value.map((g) => cloneGraph(g, parent)) };
  if (Array.isArray(a.value)) return { ...a, value: [...a.value] } as Attribute;
  return { ...a };
}

function cloneGraph(g: Graph, parent?: Graph): Graph {
  const out = new Graph(g.name);
  out.parent = parent;
  out.docString = g.docString;
  out.metadataProps = g.metadataProps;
  out.passthrough = g.passthrough;
  out.inputs = g.inputs.map(copyValueInfo);
  out.outputs = g.outputs.map(copyValueInfo);
  out.initializers = new Map(g.initializers);
  out.valueInfo = new Map([...g.valueInfo].map(([k, v]) => [k, copyValueInfo(v)]));
  out.nodes = g.nodes.map(
    (n): Node => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: n.attributes.map((a) => copyAttribute(a, out)) }),
  );
  return out;
}

/**
 * A copy of the model's structure that passes can rewrite freely. Tensors are shared, not copied:
 * passes never edit a tensor in place (they add new ones), so the original stays intact.
 */
export function cloneModel(model: Model): Model {
  const m = new Model(cloneGraph(model.graph));
  m.irVersion = model.irVersion;
  m.opsetImports = model.opsetImports.map((o) => ({ ...o }));
  m.producerName = model.producerName;
  m.producerVersion = model.producerVersion;
  m.domain = model.domain;
  m.modelVersion = model.modelVersion;
  m.docString = model.docString;
  m.metadataProps = model.metadataProps.map((p) => ({ ...p }));
  m.passthrough = model.passthrough;
  return m;
}
