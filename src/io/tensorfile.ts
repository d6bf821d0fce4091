/**
 * Serialized TensorProto files (.pb), JSON tensors, and the ONNX test-case layout
 * (`model.onnx` + `test_data_set_N/input_i.pb, output_i.pb`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from 'onnx-buf';
import {
  DTYPE_INFO,
  Tensor,
  elementCount,
  isDType,
  type DType,
  type TypedArray,
} from '../ir/index.js';
import { decodeTensor, describeDecodeFailure, encodeTensor, type EncodeTensorOptions } from './proto.js';
import { writeFileAtomic } from './atomic.js';
import { decodeDataValue, type DataValue } from './dataproto.js';

export function decodeTensorProto(bytes: Uint8Array, label = 'tensor'): Tensor {
  let tp;
  try {
    tp = fromBinary(TensorProtoSchema, bytes);
  } catch (e) {
    throw new Error(`${label}: not a serialized ONNX TensorProto: ${describeDecodeFailure(e)}`);
  }
  try {
    return decodeTensor(tp);
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  }
}

export function encodeTensorProto(t: Tensor, opts: EncodeTensorOptions = {}): Uint8Array {
  return toBinary(TensorProtoSchema, encodeTensor(t, opts));
}

export function readTensorFile(file: string): Tensor {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read tensor (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeTensorProto(bytes, file);
}

export function writeTensorFile(file: string, t: Tensor, opts: EncodeTensorOptions = {}): void {
  writeFileAtomic(file, encodeTensorProto(t, opts));
}

/**
 * A tensor from JSON: `{"dtype": "float32", "dims": [2,2], "data": [1,2,3,4]}` or a (nested) array of
 * numbers, whose dtype and shape then come from `expected` (the model input it is meant for).
 */
export function tensorFromJson(value: unknown, label: string, expected?: { dtype: DType; name: string }): Tensor {
  let dtype = expected?.dtype;
  let dims: number[] | undefined;
  let data: unknown = value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (o.dtype !== undefined) {
      if (typeof o.dtype !== 'string' || !isDType(o.dtype)) throw new Error(`${label}: unknown dtype ${JSON.stringify(o.dtype)}`);
      dtype = o.dtype;
    }
    if (o.dims !== undefined || o.shape !== undefined) {
      const d = o.dims ?? o.shape;
      if (!Array.isArray(d) || d.some((x) => !Number.isInteger(x) || x < 0)) {
        throw new Error(`${label}: 'dims' must be an array of non-negative integers`);
      }
      dims = d as number[];
    }
    if (!('data' in o)) throw new Error(`${label}: expected a 'data' field`);
    data = o.data;
  }
  if (!dtype) throw new Error(`${label}: no dtype given and no model input to take it from`);
  const flat: unknown[] = [];
  const shape = nestedShape(data, flat, label);
  dims ??= shape;
  if (elementCount(dims) !== flat.length) {
    throw new Error(`${label}: ${flat.length} values do not fill shape [${dims.join(',')}]`);
  }
  const name = expected?.name ?? '';
  if (dtype === 'string') return Tensor.from('string', dims, flat.map(String), name);
  const info = DTYPE_INFO[dtype];
  if (!info.array || info.perByte > 1 || info.lanes > 1 || dtype.startsWith('float8')) {
    throw new Error(`${label}: JSON input of type ${dtype} is not supported`);
  }
  const values = flat.map((v, i) => jsonNumber(v, dtype, `${label}: element ${i}`));
  if (info.isFloat) return Tensor.fromFloats(dtype, dims, values as number[], name);
  return Tensor.fromNumbers(dtype, dims, values, name);
}

// What tensorToJson and the CLI's --json write for values JSON has no number for.
const SPECIAL_FLOATS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** One JSON element as a number (or bigint for 64-bit integers), checked against `dtype`'s range. */
function jsonNumber(v: unknown, dtype: DType, where: string): number | bigint {
  const info = DTYPE_INFO[dtype];
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (info.isFloat) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v in SPECIAL_FLOATS) return SPECIAL_FLOATS[v]!;
    throw new Error(`${where}: ${JSON.stringify(v)} is not a number`);
  }
  let n: bigint;
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = BigInt(v);
  else throw new Error(`${where}: ${JSON.stringify(v)} is not an integer (${dtype})`);
  const bits = BigInt(info.bits);
  const [min, max] = dtype === 'bool' ? [0n, 1n] : info.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
  if (n < min || n > max) throw new Error(`${where}: ${n} is out of range for ${dtype} (${min}..${max})`);
  return info.bits === 64 ? n : Number(n);
}

function nestedShape(data: unknown, flat: unknown[], label: string): number[] {
  if (!Array.isArray(data)) {
    flat.push(data);
    return [];
  }
  if (data.length === 0) return [0];
  const inner = data.map((d) => nestedShape(d, flat, label));
  const first = JSON.stringify(inner[0]);
  if (inner.some((s) => JSON.stringify(s) !== first)) throw new Error(`${label}: ragged nested array (rows of different lengths)`);
  return [data.length, ...inner[0]!];
}

/**
 * Plain-JSON form of a tensor, read back by tensorFromJson: 64-bit integers as numbers when safe,
 * strings otherwise; NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity".
 */
export function tensorToJson(t: Tensor): { name: string; dtype: DType; dims: number[]; data: unknown[] } {
  let data: unknown[];
  if (t.dtype === 'string') data = t.data as string[];
  else if (['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype)) data = Array.from(t.dtype === 'float64' ? (t.data as Float64Array) : t.toFloat32(), (v) => (Number.isFinite(v) ? v : String(v)));
  else {
    data = Array.from(t.data as TypedArray as ArrayLike<number | bigint>, (v) =>
      typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : String(v)) : v,
    );
    if (t.dtype === 'bool') data = data.map((v) => v !== 0);
  }
  return { name: t.name, dtype: t.dtype, dims: t.dims, data };
}

// ---- ONNX test cases ------------------------------------------------------------------------------

export interface TestDataSet {
  dir: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

export interface TestCase {
  dir: string;
  name: string;
  modelPath: string;
  dataSets: TestDataSet[];
}

const numbered = (files: string[], prefix: string) =>
  files
    .map((f) => ({ f, m: new RegExp(`^${prefix}_(\\d+)\\.pb$`).exec(f) }))
    .filter((x) => x.m)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    .map((x) => x.f);

/** Reads one `test_data_set_N` folder (inputs and, when present, expected outputs), all tensors. */
export function readTestDataSet(dir: string): TestDataSet {
  const files = fs.readdirSync(dir);
  return {
    dir,
    inputs: numbered(files, 'input').map((f) => readTensorFile(path.join(dir, f))),
    outputs: numbered(files, 'output').map((f) => readTensorFile(path.join(dir, f))),
  };
}

export type ValueKind = 'tensor' | 'sequence' | 'map' | 'optional';

/**
 * Reads a `test_data_set_N` folder whose values may be sequences, maps or optionals: the i-th file
 * is decoded as `inputKinds[i]` / `outputKinds[i]` (the model's declared types; tensor when absent).
 */
export function readTestDataValues(
  dir: string,
  inputKinds: ValueKind[],
  outputKinds: ValueKind[],
): { inputs: DataValue[]; outputs: DataValue[] } {
  const files = fs.readdirSync(dir);
  const read = (f: string, kind: ValueKind | undefined): DataValue => {
    const file = path.join(dir, f);
    if (!kind || kind === 'tensor') return readTensorFile(file);
    return decodeDataValue(fs.readFileSync(file), kind, file);
  };
  return {
    inputs: numbered(files, 'input').map((f, i) => read(f, inputKinds[i])),
    outputs: numbered(files, 'output').map((f, i) => read(f, outputKinds[i])),
  };
}

export function writeTestDataSet(dir: string, inputs: Tensor[], outputs: Tensor[] = []): void {
  fs.mkdirSync(dir, { recursive: true });
  inputs.forEach((t, i) => writeTensorFile(path.join(dir, `input_${i}.pb`), t));
  outputs.forEach((t, i) => writeTensorFile(path.join(dir, `output_${i}.pb`), t));
}

export function isTestCaseDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.onnx'));
}

/** A test-case folder: `model.onnx` plus its `test_data_set_*` folders (data read lazily by the caller). */
export function findTestCase(dir: string): { dir: string; name: string; modelPath: string; dataSetDirs: string[] } {
  const modelPath = path.join(dir, 'model.onnx');
  if (!fs.existsSync(modelPath)) throw new Error(`${dir}: not an ONNX test case (no model.onnx)`);
  const dataSetDirs = fs
    .readdirSync(dir)
    .filter((d) => /^test_data_set_\d+$/.test(d) && fs.statSync(path.join(dir, d)).isDirectory())
    .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()))
    .map((d) => path.join(dir, d));
  return { dir, name: path.basename(dir), modelPath, dataSetDirs };
}

/** Test-case folders under `dir`: itself if it is one, else its direct subfolders that are. */
export function listTestCases(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder`);
  if (isTestCaseDir(dir)) return [dir];
  const found = fs
    .readdirSync(dir)
    .map((d) => path.join(dir, d))
    .filter((d) => fs.statSync(d).isDirectory() && isTestCaseDir(d))
    .sort();
  if (!found.length) throw new Error(`${dir}: no ONNX test cases (folders with model.onnx) found`);
  return found;
}
