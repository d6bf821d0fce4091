/**
 * Conversion between ONNX protobuf messages (onnx-buf, decoded by @bufbuild/protobuf) and the IR.
 * Decoding never copies raw_data: tensors keep views into the buffer the message was decoded from.
 */
import { create } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AttrType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type SparseTensorProto,
  type StringStringEntryProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import {
  DTYPE_INFO,
  Graph,
  Model,
  Tensor,
  dtypeCode,
  dtypeFromCode,
  elementCount,
  storageLength,
  type Attribute,
  type Dim,
  type DType,
  type Node,
  type TypeInfo,
  type TypedArray,
  type ValueInfo,
} from '../ir/index.js';

/** Reads `length` bytes at `offset` of an external data file named relative to the model. */
export type ExternalDataReader = (location: string, offset: number, length: number | undefined, tensor: string) => Uint8Array;

export interface DecodeOptions {
  readExternal?: ExternalDataReader;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** JS number → int64 for the wire; ±2^63 (what INT64_MAX/MIN become as numbers) clamp back exactly. */
export function toInt64(n: number): bigint {
  if (!Number.isFinite(n)) return n > 0 ? INT64_MAX : INT64_MIN;
  const b = BigInt(Math.trunc(n));
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

/** Why protobuf decoding failed, in words a user can act on. */
export function describeDecodeFailure(e: unknown): string {
  const message = (e as Error).message;
  if (message === 'premature EOF') return 'the data ends in the middle of a field (a truncated file, or not protobuf at all)';
  return `the bytes are not a protobuf message of that type (${message})`;
}

const props = (p: StringStringEntryProto[]): { key: string; value: string }[] | undefined =>
  p.length ? p.map((e) => ({ key: e.key, value: e.value })) : undefined;
const toProps = (p: { key: string; value: string }[] | undefined): StringStringEntryProto[] =>
  (p ?? []).map((e) => create(StringStringEntryProtoSchema, { key: e.key, value: e.value }));

// ---- tensors -------------------------------------------------------------------------------------

export function decodeTensor(tp: TensorProto, opts: DecodeOptions = {}): Tensor {
  const name = tp.name;
  const where = name ? `tensor '${name}'` : 'tensor';
  let dtype: DType;
  try {
    dtype = dtypeFromCode(tp.dataType);
  } catch {
    throw new Error(`${where}: unknown data_type ${tp.dataType}`);
  }
  const dims = tp.dims.map((d) => {
    const n = Number(d);
    if (n < 0) throw new Error(`${where}: negative dimension ${d}`);
    return n;
  });
  if (tp.segment) throw new Error(`${where}: segmented tensors are not supported`);
  let t: Tensor;
  if (tp.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    const ext = Object.fromEntries(tp.externalData.map((e) => [e.key, e.value]));
    if (!ext.location) throw new Error(`${where}: external data without a 'location'`);
    if (!opts.readExternal) throw new Error(`${where}: stored in external file '${ext.location}', which was not loaded`);
    const offset = ext.offset ? Number(ext.offset) : 0;
    const length = ext.length ? Number(ext.length) : undefined;
    const bytes = opts.readExternal(ext.location, offset, length, name);
    t = Tensor.fromBytes(dtype, dims, bytes, name);
    t.external = { location: ext.location, offset, length: bytes.byteLength, checksum: ext.checksum };
  } else if (dtype === 'string') {
    t = Tensor.fromStringBytes(dims, tp.stringData, name);
  } else if (tp.rawData.byteLength > 0 || elementCount(dims) === 0 || !hasTypedData(tp)) {
    t = Tensor.fromBytes(dtype, dims, tp.rawData, name);
  } else {
    t = Tensor.from(dtype, dims, typedFieldToArray(tp, dtype, dims, where), name);
  }
  t.docString = tp.docString;
  t.metadataProps = props(tp.metadataProps);
  return t;
}

function hasTypedData(tp: TensorProto): boolean {
  return (
    tp.floatData.length + tp.int32Data.length + tp.int64Data.length + tp.doubleData.length + tp.uint64Data.length > 0
  );
}

function typedFieldToArray(tp: TensorProto, dtype: DType, dims: number[], where: string): TypedArray {
  const info = DTYPE_INFO[dtype];
  const values = tp[info.field] as ArrayLike<number | bigint>;
  const want = storageLength(dtype, elementCount(dims));
  if (values.length !== want) {
    throw new Error(`${where}: ${dtype}[${dims.join(',')}] needs ${want} values in ${info.field}, found ${values.length}`);
  }
  const out = new info.array!(want);
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let i = 0; i < want; i++) {
    const v = values[i]!;
    (out as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
  }
  return out;
}

export interface EncodeTensorOptions {
  /** Write numbers in the typed fields (float_data, int64_data, …) instead of raw_data. */
  typedFields?: boolean;
  /** Leave the data out (the caller appends raw_data or points at external data). */
  omitData?: boolean;
}

export function encodeTensor(t: Tensor, opts: EncodeTensorOptions = {}): TensorProto {
  const tp = create(TensorProtoSchema, {
    dims: t.dims.map((d) => BigInt(d)),
    dataType: dtypeCode(t.dtype),
  });
  // proto2 keeps field presence: an unnamed tensor stays without a name field, as it was read.
  if (t.name) tp.name = t.name;
  if (t.docString) tp.docString = t.docString;
  if (t.metadataProps) tp.metadataProps = toProps(t.metadataProps);
  if (opts.omitData) return tp;
  if (t.dtype === 'string') tp.stringData = t.strings as Uint8Array<ArrayBuffer>[];
  else if (opts.typedFields) {
    const data = t.data as TypedArray;
    const field = DTYPE_INFO[t.dtype].field;
    if (field === 'int64Data' || field === 'uint64Data') {
      tp[field] = Array.from(data as ArrayLike<number | bigint>, (v) => BigInt(v));
    } else (tp[field] as number[]) = Array.from(data as ArrayLike<number>);
  } else tp.rawData = t.bytes as Uint8Array<ArrayBuffer>;
  return tp;
}

// ---- types ---------------------------------------------------------------------------------------

export function decodeType(tp: TypeProto | undefined): TypeInfo | undefined {
  if (!tp) return undefined;
  const denotation = tp.denotation || undefined;
  const v = tp.value;
  switch (v.case) {
    case 'tensorType':
    case 'sparseTensorType': {
      const kind = v.case === 'tensorType' ? 'tensor' : 'sparse_tensor';
      const dtype = v.value.elemType ? dtypeFromCode(v.value.elemType) : 'float32';
      const shape = v.value.shape?.dim.map(decodeDim);
      const out: TypeInfo = { kind, dtype, shape } as TypeInfo;
      if (denotation) out.denotation = denotation;
      const dimDen = v.value.shape?.dim.map((d) => d.denotation || undefined);
      if (kind === 'tensor' && dimDen?.some(Boolean)) (out as { dimDenotations?: unknown }).dimDenotations = dimDen;
      return out;
    }
    case 'sequenceType':
      return { kind: 'sequence', elem: decodeType(v.value.elemType), denotation };
    case 'mapType':
      return { kind: 'map', key: dtypeFromCode(v.value.keyType), value: decodeType(v.value.valueType), denotation };
    case 'optionalType':
      return { kind: 'optional', elem: decodeType(v.value.elemType), denotation };
    default:
      return undefined;
  }
}

function decodeDim(d: { value: { case: 'dimValue'; value: bigint } | { case: 'dimParam'; value: string } | { case: undefined } }): Dim {
  if (d.value.case === 'dimValue') return Number(d.value.value);
  if (d.value.case === 'dimParam') return d.value.value;
  return null;
}

export function encodeType(t: TypeInfo): TypeProto {
  let value: unknown;
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor': {
      const inner = {
        elemType: dtypeCode(t.dtype),
        shape: t.shape ? encodeShape(t.shape, t.kind === 'tensor' ? t.dimDenotations : undefined) : undefined,
      };
      value = { case: t.kind === 'tensor' ? 'tensorType' : 'sparseTensorType', value: inner };
      break;
    }
    case 'sequence':
      value = { case: 'sequenceType', value: { elemType: t.elem ? encodeType(t.elem) : undefined } };
      break;
    case 'map':
      value = { case: 'mapType', value: { keyType: dtypeCode(t.key), valueType: t.value ? encodeType(t.value) : undefined } };
      break;
    case 'optional':
      value = { case: 'optionalType', value: { elemType: t.elem ? encodeType(t.elem) : undefined } };
      break;
  }
  const init: Record<string, unknown> = { value };
  if (t.denotation) init.denotation = t.denotation;
  return create(TypeProtoSchema, init as never);
}

function encodeShape(shape: Dim[], denotations?: (string | undefined)[]) {
  return create(TensorShapeProtoSchema, {
    dim: shape.map((d, i) => {
      const dim = create(TensorShapeProto_DimensionSchema, {});
      if (typeof d === 'number') dim.value = { case: 'dimValue', value: BigInt(d) };
      else if (typeof d === 'string') dim.value = { case: 'dimParam', value: d };
      const den = denotations?.[i];
      if (den) dim.denotation = den;
      return dim;
    }),
  });
}

export function decodeValueInfo(v: ValueInfoProto): ValueInfo {
  const out: ValueInfo = { name: v.name, type: decodeType(v.type) };
  if (v.docString) out.docString = v.docString;
  const mp = props(v.metadataProps);
  if (mp) out.metadataProps = mp;
  return out;
}

export function encodeValueInfo(v: ValueInfo): ValueInfoProto {
  const out = create(ValueInfoProtoSchema, { name: v.name });
  if (v.type) out.type = encodeType(v.type);
  if (v.docString) out.docString = v.docString;
  if (v.metadataProps) out.metadataProps = toProps(v.metadataProps);
  return out;
}

// ---- attributes, nodes, graphs --------------------------------------------------------------------

function inferAttrType(a: AttributeProto): AttrType {
  if (a.type !== AttrType.UNDEFINED) return a.type;
  // IR version 1 models may omit the type: infer it from the field that is set.
  if (a.floats.length) return AttrType.FLOATS;
  if (a.ints.length) return AttrType.INTS;
  if (a.strings.length) return AttrType.STRINGS;
  if (a.tensors.length) return AttrType.TENSORS;
  if (a.graphs.length) return AttrType.GRAPHS;
  if (a.t) return AttrType.TENSOR;
  if (a.g) return AttrType.GRAPH;
  if (a.s.length) return AttrType.STRING;
  if (a.i) return AttrType.INT;
  if (a.f) return AttrType.FLOAT;
  return AttrType.UNDEFINED;
}

function decodeAttribute(a: AttributeProto, parent: Graph, opts: DecodeOptions): Attribute {
  const base = { name: a.name } as { name: string; refAttrName?: string; docString?: string };
  if (a.refAttrName) base.refAttrName = a.refAttrName;
  if (a.docString) base.docString = a.docString;
  switch (inferAttrType(a)) {
    case AttrType.FLOAT:
      return { ...base, type: 'float', value: a.f };
    case AttrType.INT:
      return { ...base, type: 'int', value: Number(a.i) };
    case AttrType.STRING:
      return { ...base, type: 'string', value: a.s };
    case AttrType.TENSOR:
      return { ...base, type: 'tensor', value: decodeTensor(a.t!, opts) };
    case AttrType.GRAPH:
      return { ...base, type: 'graph', value: decodeGraph(a.g!, opts, parent) };
    case AttrType.SPARSE_TENSOR:
      return { ...base, type: 'sparse_tensor', value: a.sparseTensor };
    case AttrType.TYPE_PROTO:
      return { ...base, type: 'type_proto', value: decodeType(a.tp)! };
    case AttrType.FLOATS:
      return { ...base, type: 'floats', value: [...a.floats] };
    case AttrType.INTS:
      return { ...base, type: 'ints', value: a.ints.map(Number) };
    case AttrType.STRINGS:
      return { ...base, type: 'strings', value: [...a.strings] };
    case AttrType.TENSORS:
      return { ...base, type: 'tensors', value: a.tensors.map((t) => decodeTensor(t, opts)) };
    case AttrType.GRAPHS:
      return { ...base, type: 'graphs', value: a.graphs.map((g) => decodeGraph(g, opts, parent)) };
    case AttrType.SPARSE_TENSORS:
      return { ...base, type: 'sparse_tensors', value: [...a.sparseTensors] };
    case AttrType.TYPE_PROTOS:
      return { ...base, type: 'type_protos', value: a.typeProtos.map((t) => decodeType(t)!) };
    default:
      return { ...base, type: 'undefined', value: undefined };
  }
}

const ATTR_TYPE_CODE: Record<Attribute['type'], AttrType> = {
  float: AttrType.FLOAT,
  int: AttrType.INT,
  string: AttrType.STRING,
  tensor: AttrType.TENSOR,
  graph: AttrType.GRAPH,
  sparse_tensor: AttrType.SPARSE_TENSOR,
  type_proto: AttrType.TYPE_PROTO,
  floats: AttrType.FLOATS,
  ints: AttrType.INTS,
  strings: AttrType.STRINGS,
  tensors: AttrType.TENSORS,
  graphs: AttrType.GRAPHS,
  sparse_tensors: AttrType.SPARSE_TENSORS,
  type_protos: AttrType.TYPE_PROTOS,
  undefined: AttrType.UNDEFINED,
};

function encodeAttribute(a: Attribute): AttributeProto {
  const out = create(AttributeProtoSchema, { name: a.name, type: ATTR_TYPE_CODE[a.type] });
  if (a.refAttrName) out.refAttrName = a.refAttrName;
  if (a.docString) out.docString = a.docString;
  switch (a.type) {
    case 'float':
      out.f = a.value;
      break;
    case 'int':
      out.i = toInt64(a.value);
      break;
    case 'string':
      out.s = a.value as Uint8Array<ArrayBuffer>;
      break;
    case 'tensor':
      out.t = encodeTensor(a.value);
      break;
    case 'graph':
      out.g = encodeGraph(a.value);
      break;
    case 'sparse_tensor':
      out.sparseTensor = a.value as SparseTensorProto;
      break;
    case 'type_proto':
      out.tp = encodeType(a.value);
      break;
    case 'floats':
      out.floats = a.value;
      break;
    case 'ints':
      out.ints = a.value.map(toInt64);
      break;
    case 'strings':
      out.strings = a.value as Uint8Array<ArrayBuffer>[];
      break;
    case 'tensors':
      out.tensors = a.value.map((t) => encodeTensor(t));
      break;
    case 'graphs':
      out.graphs = a.value.map((g) => encodeGraph(g));
      break;
    case 'sparse_tensors':
      out.sparseTensors = a.value as SparseTensorProto[];
      break;
    case 'type_protos':
      out.typeProtos = a.value.map(encodeType);
      break;
  }
  return out;
}

export function decodeNode(n: NodeProto, parent: Graph, opts: DecodeOptions): Node {
  const node: Node = {
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    inputs: [...n.input],
    outputs: [...n.output],
    attributes: [],
  };
  node.attributes = n.attribute.map((a) => {
    try {
      return decodeAttribute(a, parent, opts);
    } catch (e) {
      throw new Error(`node '${n.name}' (${n.opType}) attribute '${a.name}': ${(e as Error).message}`);
    }
  });
  if (n.docString) node.docString = n.docString;
  if (n.overload) node.overload = n.overload;
  const mp = props(n.metadataProps);
  if (mp) node.metadataProps = mp;
  if (n.deviceConfigurations.length) node.passthrough = { deviceConfigurations: n.deviceConfigurations };
  return node;
}

export function encodeNode(node: Node): NodeProto {
  const out = create(NodeProtoSchema, {
    input: node.inputs,
    output: node.outputs,
    opType: node.opType,
    attribute: node.attributes.map(encodeAttribute),
  });
  if (node.name) out.name = node.name;
  if (node.domain) out.domain = node.domain;
  if (node.overload) out.overload = node.overload;
  if (node.docString) out.docString = node.docString;
  if (node.metadataProps) out.metadataProps = toProps(node.metadataProps);
  const pt = node.passthrough as { deviceConfigurations?: NodeProto['deviceConfigurations'] } | undefined;
  if (pt?.deviceConfigurations) out.deviceConfigurations = pt.deviceConfigurations;
  return out;
}

export function decodeGraph(gp: GraphProto, opts: DecodeOptions, parent?: Graph): Graph {
  const g = new Graph(gp.name);
  g.parent = parent;
  g.docString = gp.docString;
  g.inputs = gp.input.map(decodeValueInfo);
  g.outputs = gp.output.map(decodeValueInfo);
  for (const v of gp.valueInfo) g.valueInfo.set(v.name, decodeValueInfo(v));
  for (const tp of gp.initializer) {
    const t = decodeTensor(tp, opts);
    g.initializers.set(t.name, t);
  }
  g.nodes = gp.node.map((n) => decodeNode(n, g, opts));
  g.metadataProps = props(gp.metadataProps);
  if (gp.sparseInitializer.length || gp.quantizationAnnotation.length) {
    g.passthrough = {};
    if (gp.sparseInitializer.length) g.passthrough.sparseInitializer = gp.sparseInitializer;
    if (gp.quantizationAnnotation.length) g.passthrough.quantizationAnnotation = gp.quantizationAnnotation;
  }
  return g;
}

export interface EncodeGraphOptions {
  /** Encode initializers too (false: the caller streams them separately). */
  initializers?: boolean;
}

export function encodeGraph(g: Graph, opts: EncodeGraphOptions = {}): GraphProto {
  const out = create(GraphProtoSchema, {
    node: g.nodes.map(encodeNode),
    name: g.name,
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    valueInfo: [...g.valueInfo.values()].map(encodeValueInfo),
  });
  if (opts.initializers !== false) out.initializer = [...g.initializers.values()].map((t) => encodeTensor(t));
  if (g.docString) out.docString = g.docString;
  if (g.metadataProps) out.metadataProps = toProps(g.metadataProps);
  if (g.passthrough?.sparseInitializer) out.sparseInitializer = g.passthrough.sparseInitializer as never;
  if (g.passthrough?.quantizationAnnotation) out.quantizationAnnotation = g.passthrough.quantizationAnnotation as never;
  return out;
}

// ---- models -------------------------------------------------------------------------------------

export function decodeModelProto(mp: ModelProto, opts: DecodeOptions = {}): Model {
  if (!mp.graph) throw new Error('the file has no graph: not an ONNX model');
  const m = new Model(decodeGraph(mp.graph, opts));
  m.irVersion = Number(mp.irVersion);
  m.opsetImports = mp.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) }));
  m.producerName = mp.producerName;
  m.producerVersion = mp.producerVersion;
  m.domain = mp.domain;
  m.modelVersion = Number(mp.modelVersion);
  m.docString = mp.docString;
  m.metadataProps = mp.metadataProps.map((e) => ({ key: e.key, value: e.value }));
  if (mp.functions.length || mp.trainingInfo.length || mp.configuration.length) {
    m.passthrough = {};
    if (mp.functions.length) m.passthrough.functions = mp.functions;
    if (mp.trainingInfo.length) m.passthrough.trainingInfo = mp.trainingInfo;
    if (mp.configuration.length) m.passthrough.configuration = mp.configuration;
  }
  return m;
}

/**
 * The ModelProto fields that come before `graph` (field 7) and those after it, as two messages, so a
 * writer can stream the graph in between and keep canonical field order.
 */
export function encodeModelHeaderAndTrailer(m: Model): { header: ModelProto; trailer: ModelProto } {
  const header = create(ModelProtoSchema, { irVersion: BigInt(m.irVersion) });
  if (m.producerName) header.producerName = m.producerName;
  if (m.producerVersion) header.producerVersion = m.producerVersion;
  if (m.domain) header.domain = m.domain;
  if (m.modelVersion) header.modelVersion = BigInt(m.modelVersion);
  if (m.docString) header.docString = m.docString;
  const trailer = create(ModelProtoSchema, {
    opsetImport: m.opsetImports.map((o) => create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) })),
    metadataProps: toProps(m.metadataProps),
  });
  if (m.passthrough?.trainingInfo) trailer.trainingInfo = m.passthrough.trainingInfo as never;
  if (m.passthrough?.functions) trailer.functions = m.passthrough.functions as never;
  if (m.passthrough?.configuration) trailer.configuration = m.passthrough.configuration as never;
  return { header, trailer };
}
