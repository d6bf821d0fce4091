/**
 * A plain-data description of everything a model holds (graph structure, types, attributes, tensor
 * values by hash), so two loads of "the same model" can be compared with one toEqual.
 */
import { createHash } from 'node:crypto';
import type { Attribute, Graph, Model, Tensor, TypeInfo } from '../../src/index.js';

const hex = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

export function tensorSignature(t: Tensor): unknown {
  const data = t.dtype === 'string' ? t.strings.map((s) => Buffer.from(s).toString('base64')) : hex(t.bytes);
  return { name: t.name, dtype: t.dtype, dims: t.dims, data, doc: t.docString, meta: t.metadataProps };
}

function typeSignature(t: TypeInfo | undefined): unknown {
  return t ? JSON.parse(JSON.stringify(t)) : null;
}

function attributeSignature(a: Attribute): unknown {
  const base = { name: a.name, type: a.type, ref: a.refAttrName ?? '', doc: a.docString ?? '' };
  switch (a.type) {
    case 'string':
      return { ...base, value: Buffer.from(a.value).toString('base64') };
    case 'strings':
      return { ...base, value: a.value.map((s) => Buffer.from(s).toString('base64')) };
    case 'tensor':
      return { ...base, value: tensorSignature(a.value) };
    case 'tensors':
      return { ...base, value: a.value.map(tensorSignature) };
    case 'graph':
      return { ...base, value: graphSignature(a.value) };
    case 'graphs':
      return { ...base, value: a.value.map(graphSignature) };
    case 'type_proto':
      return { ...base, value: typeSignature(a.value) };
    case 'type_protos':
      return { ...base, value: a.value.map(typeSignature) };
    case 'sparse_tensor':
    case 'sparse_tensors':
      return { ...base, value: JSON.stringify(a.value, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) };
    default:
      return { ...base, value: a.value };
  }
}

export function graphSignature(g: Graph): unknown {
  return {
    name: g.name,
    doc: g.docString,
    inputs: g.inputs.map((v) => ({ name: v.name, type: typeSignature(v.type), doc: v.docString ?? '' })),
    outputs: g.outputs.map((v) => ({ name: v.name, type: typeSignature(v.type), doc: v.docString ?? '' })),
    valueInfo: [...g.valueInfo.values()].map((v) => ({ name: v.name, type: typeSignature(v.type) })),
    initializers: [...g.initializers.values()].map(tensorSignature),
    nodes: g.nodes.map((n) => ({
      name: n.name,
      op: n.opType,
      domain: n.domain,
      inputs: n.inputs,
      outputs: n.outputs,
      doc: n.docString ?? '',
      attributes: n.attributes.map(attributeSignature),
    })),
  };
}

export function modelSignature(m: Model): unknown {
  return {
    irVersion: m.irVersion,
    opsets: m.opsetImports,
    producer: [m.producerName, m.producerVersion],
    domain: m.domain,
    modelVersion: m.modelVersion,
    doc: m.docString,
    metadata: m.metadataProps,
    graph: graphSignature(m.graph),
  };
}
