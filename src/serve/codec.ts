/**
 * KServe v2 inference requests and responses: JSON tensors (data flat or nested) and Triton's binary
 * tensor extension (a JSON header of `Inference-Header-Content-Length` bytes, then the raw tensors in
 * input order, sized by each input's `parameters.binary_data_size`). Every check a request can fail
 * is a 400 naming the input and what was expected.
 */
import { DTYPE_INFO, float16BitsToFloat32, float32ToFloat16Bits, type Dim, type DType, type TypedArray } from '../ir/index.js';
import type { ManifestTensor } from '../package/index.js';
import { V2_DATATYPES, elementBytes, isV2Datatype, newTypedArray, toV2Datatype, type WireTensor } from './datatypes.js';
import { badRequest } from './errors.js';

export interface OutputRequest {
  name: string;
  binary: boolean;
}

export interface InferRequest {
  id?: string;
  /** In the model's input order. */
  inputs: WireTensor[];
  /** True when every typed array's buffer belongs to this request alone (built from JSON, or viewing an owned body), so it may be transferred to a worker. */
  owned: boolean;
  /** Requested outputs; all outputs (as JSON, or binary with binary_data_output) when absent. */
  outputs?: OutputRequest[];
  binaryOutput: boolean;
  /** Per-request `parameters.timeout`, in microseconds as in Triton. */
  timeoutUs?: number;
}

export interface ModelIO {
  inputs: ManifestTensor[];
  outputs: ManifestTensor[];
}

/** Largest tensor a request may describe (elements); real limits come from the body size limit. */
const MAX_ELEMENTS = 2 ** 31 - 1;
const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

const INT_RANGES: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 40) ?? String(v);

export function v2Shape(shape: Dim[]): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : -1));
}

const describe = (t: ManifestTensor) => `${toV2Datatype(t.dtype)} ${JSON.stringify(v2Shape(t.shape))}`;

/**
 * Parses and validates an inference request body against the model's interface. With `bodyOwned`
 * the body's buffer belongs to this request alone, so binary tensors viewing it may be transferred.
 */
export function parseInferRequest(body: Buffer, headerLength: string | undefined, io: ModelIO, opts: { bodyOwned?: boolean } = {}): InferRequest {
  let json = body;
  let binary: Buffer | undefined;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!/^\d+$/.test(headerLength) || n > body.length) {
      throw badRequest(`Inference-Header-Content-Length must be an integer ≤ the body size (${body.length} bytes), got '${headerLength}'`);
    }
    json = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let req: unknown;
  try {
    req = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw badRequest(`request body is not valid JSON (${(e as Error).message})`);
  }
  if (!req || typeof req !== 'object' || Array.isArray(req)) throw badRequest('request body must be a JSON object with an "inputs" array');
  const r = req as Record<string, unknown>;
  if (r.id !== undefined && typeof r.id !== 'string') throw badRequest(`"id" must be a string, got ${show(r.id)}`);
  if (!Array.isArray(r.inputs) || !r.inputs.length) throw badRequest('"inputs" must be a non-empty array of {name, shape, datatype, data}');
  const params = (r.parameters ?? {}) as Record<string, unknown>;
  if (typeof params !== 'object' || Array.isArray(params)) throw badRequest('"parameters" must be an object');

  const byName = new Map<string, WireTensor>();
  let cursor = 0;
  let owned = true;
  for (const [i, item] of (r.inputs as unknown[]).entries()) {
    if (!item || typeof item !== 'object') throw badRequest(`inputs[${i}] must be an object {name, shape, datatype, data}`);
    const o = item as Record<string, unknown>;
    if (typeof o.name !== 'string') throw badRequest(`inputs[${i}].name must be a string`);
    const name = o.name;
    const spec = io.inputs.find((t) => t.name === name);
    if (!spec) throw badRequest(`unknown input '${name}' (the model's inputs: ${io.inputs.map((t) => t.name).join(', ')})`);
    if (byName.has(name)) throw badRequest(`input '${name}' is given twice`);
    if (!isV2Datatype(o.datatype)) throw badRequest(`input '${name}': datatype ${show(o.datatype)} is not one of ${Object.keys(V2_DATATYPES).join(', ')}`);
    if (V2_DATATYPES[o.datatype] !== spec.dtype) throw badRequest(`input '${name}': datatype ${o.datatype}, the model expects ${describe(spec)}`);
    const dims = parseShape(o.shape, name, spec);
    const count = dims.reduce((a, b) => a * b, 1);
    const p = (o.parameters ?? {}) as Record<string, unknown>;
    let data: TypedArray | string[];
    if (p.binary_data_size !== undefined) {
      const size = p.binary_data_size;
      if (!binary) throw badRequest(`input '${name}': binary_data_size given but the request has no Inference-Header-Content-Length header`);
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw badRequest(`input '${name}': binary_data_size must be an integer ≥ 0, got ${show(size)}`);
      if (cursor + size > binary.length) {
        throw badRequest(`input '${name}': truncated binary payload: needs ${size} bytes at offset ${cursor}, the body has ${binary.length - cursor} left`);
      }
      data = fromBinary(binary.subarray(cursor, cursor + size), spec.dtype, count, name);
      cursor += size;
      // Unaligned tensors were copied into buffers of their own; aligned ones view the body.
      owned &&= opts.bodyOwned === true || Array.isArray(data) || data.buffer !== body.buffer;
    } else {
      if (o.data === undefined) throw badRequest(`input '${name}': no "data" (or parameters.binary_data_size)`);
      data = fromJson(o.data, spec.dtype, count, name);
    }
    byName.set(name, { name, dtype: spec.dtype, dims, data });
  }
  if (binary && cursor !== binary.length) {
    throw badRequest(`binary payload has ${binary.length - cursor} bytes more than the inputs' binary_data_size add up to`);
  }
  const missing = io.inputs.filter((t) => !byName.has(t.name));
  if (missing.length) throw badRequest(`missing input${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t.name}' (${describe(t)})`).join(', ')}`);
  const inputs = io.inputs.map((t) => byName.get(t.name)!);
  checkSharedDims(inputs, io.inputs);

  let outputs: OutputRequest[] | undefined;
  if (r.outputs !== undefined) {
    if (!Array.isArray(r.outputs)) throw badRequest('"outputs" must be an array of {name}');
    outputs = (r.outputs as unknown[]).map((item, i) => {
      const o = (item ?? {}) as Record<string, unknown>;
      if (typeof o.name !== 'string' || !io.outputs.some((t) => t.name === o.name)) {
        throw badRequest(`outputs[${i}]: unknown output ${show(o.name)} (the model's outputs: ${io.outputs.map((t) => t.name).join(', ')})`);
      }
      const binaryData = (o.parameters as Record<string, unknown> | undefined)?.binary_data;
      return { name: o.name, binary: binaryData === true };
    });
  }
  let timeoutUs: number | undefined;
  if (params.timeout !== undefined) {
    if (typeof params.timeout !== 'number' || !Number.isInteger(params.timeout) || params.timeout <= 0) {
      throw badRequest(`parameters.timeout must be a positive integer (microseconds), got ${show(params.timeout)}`);
    }
    timeoutUs = params.timeout;
  }
  return { id: r.id as string | undefined, inputs, owned, outputs, binaryOutput: params.binary_data_output === true, timeoutUs };
}

function parseShape(shape: unknown, name: string, spec: ManifestTensor): number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw badRequest(`input '${name}': shape must be an array of integers ≥ 0, got ${show(shape)}`);
  }
  const dims = shape as number[];
  if (dims.length !== spec.shape.length) throw badRequest(`input '${name}': shape ${show(dims)} has rank ${dims.length}, the model expects ${describe(spec)}`);
  spec.shape.forEach((d, k) => {
    if (typeof d === 'number' && d !== dims[k]) throw badRequest(`input '${name}': shape ${show(dims)}, dimension ${k} must be ${d} (the model expects ${describe(spec)})`);
  });
  let count = 1;
  for (const d of dims) count *= d;
  if (count > MAX_ELEMENTS) throw badRequest(`input '${name}': shape ${show(dims)} has ${count} elements, more than this server accepts`);
  return dims;
}

/** Symbolic dims with one name (e.g. `batch`, `seq`) must have one size across inputs. */
function checkSharedDims(inputs: WireTensor[], specs: ManifestTensor[]): void {
  const bound = new Map<string, [number, string]>();
  specs.forEach((spec, i) =>
    spec.shape.forEach((d, k) => {
      if (typeof d !== 'string') return;
      const size = inputs[i]!.dims[k]!;
      const prev = bound.get(d);
      if (prev && prev[0] !== size) throw badRequest(`input '${spec.name}': dimension ${k} ('${d}') is ${size}, but it is ${prev[0]} in input '${prev[1]}'`);
      bound.set(d, [size, spec.name]);
    }),
  );
}

function flatten(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (!data.some(Array.isArray)) return data;
  return data.flat(Infinity);
}

function fromJson(raw: unknown, dtype: DType, count: number, name: string): TypedArray | string[] {
  const values = flatten(raw);
  if (values.length !== count) throw badRequest(`input '${name}': ${values.length} values in "data" do not fill the shape (${count} elements)`);
  const bad = (i: number, expected: string) => badRequest(`input '${name}': data[${i}] is ${show(values[i])}, expected ${expected}`);
  if (dtype === 'string') {
    for (let i = 0; i < count; i++) if (typeof values[i] !== 'string') throw bad(i, 'a string (BYTES)');
    return values as string[];
  }
  if (dtype === 'bool') {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (v !== true && v !== false && v !== 0 && v !== 1) throw bad(i, 'true or false');
      out[i] = v ? 1 : 0;
    }
    return out;
  }
  if (dtype === 'int64' || dtype === 'uint64') {
    const out = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (!(typeof v === 'number' && Number.isSafeInteger(v)) && !(typeof v === 'string' && /^-?\d+$/.test(v))) throw bad(i, 'an integer');
      const b = BigInt(v as number | string);
      if (dtype === 'uint64' ? b < 0n || b >= 2n ** 64n : b < -(2n ** 63n) || b >= 2n ** 63n) throw bad(i, `an integer in ${toV2Datatype(dtype)}'s range`);
      out[i] = b as never;
    }
    return out;
  }
  const out = newTypedArray(dtype, count) as Float32Array;
  const range = INT_RANGES[dtype];
  if (range) {
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) throw bad(i, `an integer in ${toV2Datatype(dtype)}'s range [${range[0]}, ${range[1]}]`);
      out[i] = v;
    }
    return out;
  }
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw bad(i, 'a number');
    out[i] = dtype === 'float16' ? float32ToFloat16Bits(v) : v;
  }
  return out;
}

function fromBinary(bytes: Buffer, dtype: DType, count: number, name: string): TypedArray | string[] {
  if (dtype === 'string') {
    const out: string[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (at + 4 > bytes.length) throw badRequest(`input '${name}': truncated BYTES element at offset ${at}`);
      const len = bytes.readUInt32LE(at);
      if (at + 4 + len > bytes.length) throw badRequest(`input '${name}': BYTES element ${out.length} needs ${len} bytes, ${bytes.length - at - 4} left`);
      out.push(textDecoder.decode(bytes.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
    if (out.length !== count) throw badRequest(`input '${name}': ${out.length} BYTES elements do not fill the shape (${count} elements)`);
    return out;
  }
  const size = elementBytes(dtype);
  if (bytes.length !== count * size) {
    throw badRequest(`input '${name}': binary_data_size is ${bytes.length} bytes, the shape needs ${count * size} (${count} × ${size}-byte ${toV2Datatype(dtype)})`);
  }
  const ctor = DTYPE_INFO[dtype].array!;
  // A view when aligned; one copy otherwise (typed arrays need aligned offsets).
  if (bytes.byteOffset % size === 0) return new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  const copy = new ctor(count);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** JSON values of a wire tensor (half floats decoded, int64 as numbers, bools as booleans). */
export function tensorValues(t: WireTensor): unknown[] {
  const d = t.data;
  if (Array.isArray(d)) return d;
  if (t.dtype === 'float16') return Array.from(d as Uint16Array, float16BitsToFloat32);
  if (t.dtype === 'bool') return Array.from(d as Uint8Array, (v) => v !== 0);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, Number);
  return Array.from(d as Float32Array);
}

function toBinary(t: WireTensor): Uint8Array {
  if (!Array.isArray(t.data)) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const parts = t.data.map((s) => textEncoder.encode(s));
  const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

export interface EncodedResponse {
  body: string | Buffer;
  /** Set for binary responses: the length of the JSON header at the start of the body. */
  headerLength?: number;
}

/** The v2 response for a request's outputs (selected, in the order asked for). */
export function encodeInferResponse(modelName: string, version: string, req: Pick<InferRequest, 'id' | 'outputs' | 'binaryOutput'>, outputs: WireTensor[]): EncodedResponse {
  const chosen = req.outputs
    ? req.outputs.map((o) => ({ tensor: outputs.find((t) => t.name === o.name)!, binary: o.binary || req.binaryOutput }))
    : outputs.map((tensor) => ({ tensor, binary: req.binaryOutput }));
  const blobs: Uint8Array[] = [];
  const header = {
    model_name: modelName,
    model_version: version,
    ...(req.id !== undefined ? { id: req.id } : {}),
    outputs: chosen.map(({ tensor, binary }) => {
      const base = { name: tensor.name, datatype: toV2Datatype(tensor.dtype), shape: tensor.dims };
      if (!binary) return { ...base, data: tensorValues(tensor) };
      const blob = toBinary(tensor);
      blobs.push(blob);
      return { ...base, parameters: { binary_data_size: blob.byteLength } };
    }),
  };
  const json = JSON.stringify(header);
  if (!blobs.length) return { body: json };
  const head = Buffer.from(json);
  return { body: Buffer.concat([head, ...blobs]), headerLength: head.length };
}
