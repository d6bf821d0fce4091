/**
 * Loading and saving .onnx files, with external data.
 *
 * Saving streams: the graph's initializers are written as their own chunks (raw_data straight from
 * the tensor's buffer), so peak memory stays near the model's own size and no protobuf message ever
 * has to hold more than one tensor. Files are written to a temporary name and renamed into place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearField, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
} from 'onnx-buf';
import type { Model, Tensor } from '../ir/index.js';
import { check } from '../checker/index.js';
import { decodeModelProto, describeDecodeFailure, encodeGraph, encodeModelHeaderAndTrailer, encodeTensor, type ExternalDataReader } from './proto.js';
import { IO_CHUNK, writeFilesAtomic, concatChunks } from './atomic.js';

/** Protobuf cannot serialize a message of 2 GiB or more. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface LoadOptions {
  /** Folder that external data locations are relative to (default: the model file's folder). */
  baseDir?: string;
}

/** Where a loaded model came from. */
export interface ModelSource {
  path?: string;
  sizeBytes: number;
  externalDataBytes: number;
}

const sources = new WeakMap<Model, ModelSource>();

export function modelSource(model: Model): ModelSource | undefined {
  return sources.get(model);
}

/** Decodes a model from bytes. Tensors keep views into `bytes`. */
export function decodeModel(bytes: Uint8Array, opts: LoadOptions & { name?: string } = {}): Model {
  const label = opts.name ?? 'model';
  let mp;
  try {
    mp = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new Error(`${label}: not a valid ONNX model: ${describeDecodeFailure(e)}`);
  }
  if (!mp.graph || mp.irVersion <= 0n) {
    throw new Error(`${label}: not an ONNX model (no ${mp.graph ? 'ir_version' : 'graph'} field)`);
  }
  const reader = opts.baseDir ? externalReader(opts.baseDir) : undefined;
  try {
    const model = decodeModelProto(mp, { readExternal: reader?.read });
    sources.set(model, { sizeBytes: bytes.byteLength, externalDataBytes: reader?.bytesRead() ?? 0 });
    return model;
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  } finally {
    reader?.close();
  }
}

/** Loads a .onnx file (and any external data files beside it). */
export function loadModel(file: string, opts: LoadOptions = {}): Model {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (bytes.byteLength === 0) throw new Error(`${file}: empty file, not an ONNX model`);
  const model = decodeModel(bytes, { baseDir: opts.baseDir ?? path.dirname(path.resolve(file)), name: file });
  sources.set(model, { ...sources.get(model)!, path: path.resolve(file) });
  return model;
}

function externalReader(baseDir: string) {
  const fds = new Map<string, { fd: number; size: number }>();
  let total = 0;
  const read: ExternalDataReader = (location, offset, length, tensor) => {
    if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new Error(`tensor '${tensor}': external data location '${location}' points outside the model's folder`);
    }
    let f = fds.get(location);
    if (!f) {
      const file = path.join(baseDir, location);
      try {
        const fd = fs.openSync(file, 'r');
        f = { fd, size: fs.fstatSync(fd).size };
      } catch {
        throw new Error(`tensor '${tensor}': external data file '${location}' not found (looked for ${file})`);
      }
      fds.set(location, f);
    }
    const len = length ?? f.size - offset;
    if (offset < 0 || offset + len > f.size) {
      throw new Error(
        `tensor '${tensor}': external data '${location}' has ${f.size} bytes, but the tensor needs bytes ${offset}..${offset + len}`,
      );
    }
    // Read straight into a buffer of the tensor's own (aligned, so typed views need no copy).
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(f.fd, buf, done, Math.min(len - done, IO_CHUNK), offset + done);
      if (n === 0) break;
      done += n;
    }
    total += len;
    return buf;
  };
  return {
    read,
    bytesRead: () => total,
    close: () => fds.forEach((f) => fs.closeSync(f.fd)),
  };
}

// ---- encoding -----------------------------------------------------------------------------------

export interface SaveOptions {
  /**
   * true: tensors of at least `sizeThreshold` bytes go to an external data file; false: everything
   * inline (fails past `inlineLimit`); 'auto' (default): external when the model was loaded with
   * external data or does not fit in `inlineLimit` inline.
   */
  externalData?: boolean | 'auto';
  /** External data file name, relative to the model (default `<model file name>.data`). */
  location?: string;
  /** Smallest tensor (bytes) that goes to the external file (default 1024). */
  sizeThreshold?: number;
  /**
   * Largest .onnx file (bytes) written with every tensor inline (default and maximum: protobuf's
   * 2 GiB limit). Lower it to keep .onnx files small, e.g. under a file host's size limit.
   */
  inlineLimit?: number;
  /** Run the structural checker first and refuse to write an invalid model (default true). */
  check?: boolean;
}

interface ExternalPlan {
  location: string;
  threshold: number;
}

const ALIGN_SMALL = 16;
const ALIGN_LARGE = 64 * 1024; // lets runtimes memory-map large tensors
const LARGE_TENSOR = 1024 * 1024;

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** Field key + length prefix of a length-delimited field. */
function lengthDelimited(field: number, length: number): Uint8Array {
  const key = varint(field * 8 + 2);
  const len = varint(length);
  const out = new Uint8Array(key.length + len.length);
  out.set(key);
  out.set(len, key.length);
  return out;
}

const sum = (chunks: Uint8Array[]) => chunks.reduce((n, c) => n + c.byteLength, 0);

/** One initializer as TensorProto chunks; raw_data is a view of the tensor's bytes, never copied. */
function tensorChunks(t: Tensor, external: { location: string; offset: number } | undefined): Uint8Array[] {
  if (t.dtype === 'string') return [toBinary(TensorProtoSchema, encodeTensor(t))];
  const head = encodeTensor(t, { omitData: true });
  if (external) {
    head.externalData = [
      create(StringStringEntryProtoSchema, { key: 'location', value: external.location }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: String(external.offset) }),
      create(StringStringEntryProtoSchema, { key: 'length', value: String(t.byteLength) }),
    ];
    head.dataLocation = TensorProto_DataLocation.EXTERNAL;
    return [toBinary(TensorProtoSchema, head)];
  }
  // raw_data is field 9: dims, data_type and name (1, 2, 8) come before it, doc_string and
  // metadata_props (12, 16) after, so the tensor is split around a raw_data chunk that is a view.
  const tail = create(TensorProtoSchema, {});
  if (head.docString) tail.docString = head.docString;
  tail.metadataProps = head.metadataProps;
  clearField(head, TensorProtoSchema.field.docString);
  head.metadataProps = [];
  const raw = t.bytes;
  return [toBinary(TensorProtoSchema, head), lengthDelimited(9, raw.byteLength), raw, toBinary(TensorProtoSchema, tail)];
}

interface Encoded {
  model: Uint8Array[];
  data: Uint8Array[];
}

function encodeChunks(model: Model, ext: ExternalPlan | undefined): Encoded {
  const { header, trailer } = encodeModelHeaderAndTrailer(model);
  const g = model.graph;
  const graphMsg = encodeGraph(g, { initializers: false });
  // GraphProto canonical order: node(1), name(2), initializer(5), then the rest (10+).
  const before = create(GraphProtoSchema, { node: graphMsg.node, name: graphMsg.name });
  graphMsg.node = [];
  clearField(graphMsg, GraphProtoSchema.field.name);
  const graph: Uint8Array[] = [toBinary(GraphProtoSchema, before)];
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const t of g.initializers.values()) {
    let where: { location: string; offset: number } | undefined;
    if (ext && t.dtype !== 'string' && t.byteLength >= ext.threshold) {
      const align = t.byteLength >= LARGE_TENSOR ? ALIGN_LARGE : ALIGN_SMALL;
      const pad = (align - (offset % align)) % align;
      if (pad) data.push(new Uint8Array(pad));
      offset += pad;
      where = { location: ext.location, offset };
      data.push(t.bytes);
      offset += t.byteLength;
    }
    const chunks = tensorChunks(t, where);
    graph.push(lengthDelimited(5, sum(chunks)), ...chunks);
  }
  graph.push(toBinary(GraphProtoSchema, graphMsg));
  const modelChunks = [toBinary(ModelProtoSchema, header), lengthDelimited(7, sum(graph)), ...graph, toBinary(ModelProtoSchema, trailer)];
  return { model: modelChunks, data };
}

function hadExternalData(model: Model): boolean {
  for (const t of model.graph.initializers.values()) if (t.external) return true;
  return false;
}

/** Serializes a model with all tensors inline (for sessions created from bytes, and small files). */
export function encodeModel(model: Model): Uint8Array {
  const { model: chunks } = encodeChunks(model, undefined);
  const size = sum(chunks);
  if (size > PROTOBUF_LIMIT) {
    throw new Error(`model is ${(size / 2 ** 30).toFixed(2)} GiB: over protobuf's 2 GiB limit, save it with external data`);
  }
  return concatChunks(chunks, size);
}

export interface SaveResult {
  path: string;
  bytes: number;
  externalDataPath?: string;
  externalDataBytes?: number;
}

const fmtSize = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${n} bytes`);

/** Writes a model to `file` (atomically), with external data as `opts` decides. */
export function saveModel(model: Model, file: string, opts: SaveOptions = {}): SaveResult {
  if (opts.check !== false) check(model);
  const mode = opts.externalData ?? 'auto';
  const limit = Math.min(opts.inlineLimit ?? PROTOBUF_LIMIT, PROTOBUF_LIMIT);
  const external: ExternalPlan = {
    location: opts.location ?? `${path.basename(file)}.data`,
    threshold: opts.sizeThreshold ?? 1024,
  };
  let ext = mode === true || (mode === 'auto' && hadExternalData(model)) ? external : undefined;
  // Encoding is cheap (tensor bytes are views, not copies), so 'auto' simply tries inline first.
  let encoded = encodeChunks(model, ext);
  if (!ext && mode === 'auto' && sum(encoded.model) > limit) {
    ext = external;
    encoded = encodeChunks(model, ext);
  }
  const size = sum(encoded.model);
  if (size > limit) {
    const why = limit === PROTOBUF_LIMIT ? "protobuf's 2 GiB limit" : `the inline limit of ${fmtSize(limit)}`;
    throw new Error(`${file}: model is ${fmtSize(size)} inline, over ${why}; save with external data`);
  }
  const result: SaveResult = { path: file, bytes: size };
  const files = [{ file, chunks: encoded.model }];
  if (ext) {
    const dataPath = path.join(path.dirname(path.resolve(file)), ext.location);
    files.unshift({ file: dataPath, chunks: encoded.data });
    result.externalDataPath = dataPath;
    result.externalDataBytes = sum(encoded.data);
  }
  writeFilesAtomic(files);
  return result;
}
