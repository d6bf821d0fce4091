import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';
import type { Graph } from './graph.js';

/** A dimension: a fixed size, a symbolic name (dim_param, e.g. "batch"), or null when unknown. */
export type Dim = number | string | null;

export type TypeInfo =
  | { kind: 'tensor'; dtype: DType; shape?: Dim[]; denotation?: string; dimDenotations?: (string | undefined)[] }
  | { kind: 'sparse_tensor'; dtype: DType; shape?: Dim[]; denotation?: string }
  | { kind: 'sequence'; elem?: TypeInfo; denotation?: string }
  | { kind: 'map'; key: DType; value?: TypeInfo; denotation?: string }
  | { kind: 'optional'; elem?: TypeInfo; denotation?: string };

export interface ValueInfo {
  name: string;
  type?: TypeInfo;
  docString?: string;
  metadataProps?: { key: string; value: string }[];
}

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: Uint8Array }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'sparse_tensor'; value: unknown }
  | { type: 'type_proto'; value: TypeInfo }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: Uint8Array[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] }
  | { type: 'sparse_tensors'; value: unknown[] }
  | { type: 'type_protos'; value: TypeInfo[] }
  | { type: 'undefined'; value: undefined };

export type Attribute = AttributeValue & {
  name: string;
  /** Set inside function bodies: the attribute refers to the caller's attribute of this name. */
  refAttrName?: string;
  docString?: string;
};

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain (ai.onnx). */
  domain: string;
  /** Value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  docString?: string;
  overload?: string;
  metadataProps?: { key: string; value: string }[];
  /** Fields the IR does not model (device configurations…), kept for a faithful re-save. */
  passthrough?: unknown;
}

export interface OpsetImport {
  domain: string;
  version: number;
}
