/**
 * TensorProto files (.pb) for every ONNX data type, with raw_data and with the typed fields, checked
 * against python3-onnx in both directions; zero-size tensors; JSON tensors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from 'onnx-buf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DTYPE_INFO,
  Tensor,
  dtypeCode,
  encodeTensorProto,
  decodeTensorProto,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  readTensorFile,
  tensorFromJson,
  tensorToJson,
  writeTensorFile,
  type DType,
} from '../../src/index.js';
import { runPython } from '../helpers/onnx-python.js';

const f16 = (v: number[]) => Uint16Array.from(v, float32ToFloat16Bits);
const bf16 = (v: number[]) => Uint16Array.from(v, float32ToBfloat16Bits);

/** Per dtype: shape and values reaching the type's limits (and NaN/±Infinity/denormals for floats). */
const SAMPLES: Record<string, { dims: number[]; data: Tensor['data'] }> = {
  float32: { dims: [2, 3], data: Float32Array.of(0, -1.5, 3.4028234663852886e38, 1e-45, -Infinity, NaN) },
  float64: { dims: [2, 3], data: Float64Array.of(-2.5, 1 / 3, 1.7976931348623157e308, 5e-324, Infinity, NaN) },
  float16: { dims: [5], data: f16([0, -1.5, 65504, 6e-8, -Infinity]) },
  bfloat16: { dims: [5], data: bf16([1, -2.5, 0.15625, 3.3895313892515355e38, -Infinity]) },
  int8: { dims: [5], data: Int8Array.of(-128, -1, 0, 1, 127) },
  int16: { dims: [4], data: Int16Array.of(-32768, -1, 1, 32767) },
  int32: { dims: [4], data: Int32Array.of(-2147483648, -1, 1, 2147483647) },
  int64: { dims: [4], data: BigInt64Array.of(-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n) },
  uint8: { dims: [3], data: Uint8Array.of(0, 1, 255) },
  uint16: { dims: [3], data: Uint16Array.of(0, 1, 65535) },
  uint32: { dims: [3], data: Uint32Array.of(0, 1, 4294967295) },
  uint64: { dims: [3], data: BigUint64Array.of(0n, 2n ** 53n + 1n, 2n ** 64n - 1n) },
  bool: { dims: [2, 2], data: Uint8Array.of(1, 0, 0, 1) },
  string: { dims: [4], data: ['', 'plain', 'héllo wörld', '日本語'] },
  complex64: { dims: [2], data: Float32Array.of(1, -2, NaN, Infinity) },
  complex128: { dims: [2], data: Float64Array.of(1e300, -2, 0.1, -0.5) },
  // Packed two per byte, low nibble first: [-8, 7, -1, 0, 3] and [0, 15, 1, 8, 9].
  int4: { dims: [5], data: Uint8Array.of(0x78, 0x0f, 0x03) },
  uint4: { dims: [5], data: Uint8Array.of(0xf0, 0x81, 0x09) },
  float8e4m3fn: { dims: [3], data: Uint8Array.of(0x00, 0x7e, 0xfe) },
  float8e5m2: { dims: [3], data: Uint8Array.of(0x3c, 0x7b, 0xfc) },
};
const DTYPES = Object.keys(SAMPLES) as DType[];
// python3-onnx 1.12 predates int4/uint4 and float8.
const PYTHON_DTYPES = DTYPES.filter((d) => !/int4|float8/.test(d));

const sample = (dtype: DType, name = `t_${dtype}`) => Tensor.from(dtype, SAMPLES[dtype]!.dims, SAMPLES[dtype]!.data, name);

/** Values for comparison: bit patterns for floats (NaN payloads included), bigints as strings. */
function values(t: Tensor): unknown[] {
  if (t.dtype === 'string') return t.strings.map((s) => Buffer.from(s).toString('hex'));
  return Array.from(t.bytes);
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-tensors-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(DTYPES)('%s tensors', (dtype) => {
  it('round-trip through raw_data and through the typed field', () => {
    const t = sample(dtype);
    for (const typedFields of [false, true]) {
      const bytes = encodeTensorProto(t, { typedFields });
      const proto = fromBinary(TensorProtoSchema, bytes);
      const field = DTYPE_INFO[dtype].field;
      if (dtype === 'string') expect(proto.stringData.length).toBe(4);
      else if (typedFields) {
        expect(proto.rawData.byteLength).toBe(0);
        expect((proto[field] as unknown[]).length).toBeGreaterThan(0);
      } else expect(proto.rawData.byteLength).toBe(t.byteLength);
      const back = decodeTensorProto(bytes);
      expect(back.dtype).toBe(dtype);
      expect(back.dims).toEqual(t.dims);
      expect(back.name).toBe(t.name);
      expect(values(back)).toEqual(values(t));
    }
  });

  it('round-trips zero-size tensors', () => {
    for (const dims of [[0], [2, 0, 3]]) {
      const empty = dtype === 'string' ? Tensor.from('string', dims, []) : Tensor.fromBytes(dtype, dims, new Uint8Array(0));
      for (const typedFields of [false, true]) {
        const back = decodeTensorProto(encodeTensorProto(empty, { typedFields }));
        expect(back.dims).toEqual(dims);
        expect(back.size).toBe(0);
        expect(back.dtype).toBe(dtype);
      }
    }
  });
});

describe('tensor files against python3-onnx', () => {
  it('python reads what we write (raw and typed fields), with the same values', () => {
    const files: string[] = [];
    for (const dtype of PYTHON_DTYPES) {
      for (const typedFields of [false, true]) {
        const file = path.join(tmp, `ours_${dtype}_${typedFields ? 'typed' : 'raw'}.pb`);
        writeTensorFile(file, sample(dtype), { typedFields });
        files.push(file);
      }
    }
    const script = `
import json, sys, numpy as np
from onnx import TensorProto, numpy_helper
out = {}
for f in json.load(sys.stdin):
    t = TensorProto(); t.ParseFromString(open(f, 'rb').read())
    if t.data_type == TensorProto.STRING:
        vals = [s.hex() for s in t.string_data]
    elif t.data_type == TensorProto.BFLOAT16:
        # onnx widens bfloat16 to float32: keep the upper 16 bits, little-endian
        a = numpy_helper.to_array(t).astype(np.float32).view(np.uint32) >> 16
        vals = list(a.astype('<u2').tobytes())
    elif t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128) and not t.raw_data:
        # numpy_helper 1.12 cannot read complex typed fields (it casts complex to float): read the pairs
        pairs = t.float_data if t.data_type == TensorProto.COMPLEX64 else t.double_data
        vals = list(np.asarray(pairs, dtype=np.float32 if t.data_type == TensorProto.COMPLEX64 else np.float64).tobytes())
    else:
        vals = list(np.ascontiguousarray(numpy_helper.to_array(t)).tobytes())
    out[f] = [t.name, t.data_type, list(t.dims), vals]
json.dump(out, sys.stdout)
`;
    const seen = runPython(script, files) as Record<string, [string, number, number[], unknown[]]>;
    for (const file of files) {
      const dtype = path.basename(file).replace(/^ours_|_(raw|typed)\.pb$/g, '') as DType;
      const t = sample(dtype);
      expect(seen[file], file).toEqual([t.name, dtypeCode(dtype), t.dims, values(t)]);
    }
  });

  it('we read what python writes with helper.make_tensor (typed fields) and with raw_data', () => {
    const specs = PYTHON_DTYPES.map((dtype) => {
      const t = sample(dtype);
      return { dtype, code: dtypeCode(dtype), dims: t.dims, hex: dtype === 'string' ? t.strings.map((s) => Buffer.from(s).toString('hex')) : Buffer.from(t.bytes).toString('hex') };
    });
    const script = `
import json, os, sys, numpy as np
from onnx import TensorProto, helper
NP = {1: np.float32, 11: np.float64, 10: np.float16, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64,
      2: np.uint8, 4: np.uint16, 12: np.uint32, 13: np.uint64, 9: np.bool_, 14: np.complex64, 15: np.complex128}
spec = json.load(sys.stdin)
out = {}
for s in spec['tensors']:
    code, dims = s['code'], s['dims']
    if code == TensorProto.STRING:
        vals = [bytes.fromhex(h) for h in s['hex']]
    elif code == TensorProto.BFLOAT16:
        bits = np.frombuffer(bytes.fromhex(s['hex']), dtype='<u2').astype(np.uint32) << 16
        vals = bits.view(np.float32).tolist()
    else:
        vals = np.frombuffer(bytes.fromhex(s['hex']), dtype=NP[code]).tolist()
    for raw in (False, True):
        if raw and code == TensorProto.STRING:
            continue
        if raw:
            t = helper.make_tensor('p_' + s['dtype'], code, dims, bytes.fromhex(s['hex']), raw=True)
        else:
            t = helper.make_tensor('p_' + s['dtype'], code, dims, vals)
        f = os.path.join(spec['dir'], 'py_%s_%s.pb' % (s['dtype'], 'raw' if raw else 'typed'))
        open(f, 'wb').write(t.SerializeToString())
        out[f] = s['dtype']
json.dump(out, sys.stdout)
`;
    const written = runPython(script, { dir: tmp, tensors: specs }) as Record<string, DType>;
    expect(Object.keys(written).length).toBe(PYTHON_DTYPES.length * 2 - 1);
    for (const [file, dtype] of Object.entries(written)) {
      const t = readTensorFile(file);
      const want = sample(dtype);
      expect(t.dtype, file).toBe(dtype);
      expect(t.dims, file).toEqual(want.dims);
      expect(values(t), file).toEqual(values(want));
    }
  });
});

describe('bad tensor data', () => {
  it('names the tensor and what was expected', () => {
    const t = sample('float32');
    const bytes = encodeTensorProto(Tensor.fromBytes('float32', [7], new Uint8Array(28), 'w'));
    expect(() => decodeTensorProto(bytes.slice(0, bytes.length - 3), 'w.pb')).toThrow(/^w\.pb: .*truncated/);
    const proto = fromBinary(TensorProtoSchema, encodeTensorProto(t, { typedFields: true }));
    proto.floatData = proto.floatData.slice(0, 4);
    expect(() => decodeTensorProto(toBinary(TensorProtoSchema, proto), 'x.pb')).toThrow(
      "x.pb: tensor 't_float32': float32[2,3] needs 6 values in floatData, found 4",
    );
    proto.dataType = 99;
    expect(() => decodeTensorProto(toBinary(TensorProtoSchema, proto), 'x.pb')).toThrow("x.pb: tensor 't_float32': unknown data_type 99");
  });
});

describe('JSON tensors', () => {
  const JSON_DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string'];

  it.each(JSON_DTYPES)('%s: tensorToJson → JSON text → tensorFromJson gives the same tensor', (dtype) => {
    const t = sample(dtype);
    const text = JSON.stringify(tensorToJson(t));
    const back = tensorFromJson(JSON.parse(text), 'x.json');
    expect(back.dtype).toBe(dtype);
    expect(back.dims).toEqual(t.dims);
    expect(values(back)).toEqual(values(t));
  });

  it('takes a nested array whose dtype and shape come from the model input', () => {
    const t = tensorFromJson([[1, 2, 3], [4, 5, 6]], 'x.json', { dtype: 'int64', name: 'ids' });
    expect(t.dims).toEqual([2, 3]);
    expect(t.name).toBe('ids');
    expect(Array.from(t.data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(tensorFromJson({ dims: [0, 4], data: [] }, 'x.json', { dtype: 'float32', name: 'e' }).dims).toEqual([0, 4]);
  });

  it('rejects bad JSON tensors with one line naming the file and element', () => {
    const f32 = { dtype: 'float32' as DType, name: 'x' };
    expect(() => tensorFromJson([[1, 2], [3]], 'a.json', f32)).toThrow('a.json: ragged nested array (rows of different lengths)');
    expect(() => tensorFromJson([1, 'two'], 'a.json', f32)).toThrow('a.json: element 1: "two" is not a number');
    expect(() => tensorFromJson([1.5], 'a.json', { dtype: 'int32', name: 'x' })).toThrow('a.json: element 0: 1.5 is not an integer (int32)');
    expect(() => tensorFromJson([256], 'a.json', { dtype: 'uint8', name: 'x' })).toThrow('a.json: element 0: 256 is out of range for uint8 (0..255)');
    expect(() => tensorFromJson(['-1'], 'a.json', { dtype: 'uint64', name: 'x' })).toThrow(/out of range for uint64/);
    expect(() => tensorFromJson({ dims: [2, 2], data: [1, 2, 3] }, 'a.json', f32)).toThrow('a.json: 3 values do not fill shape [2,2]');
    expect(() => tensorFromJson({ dtype: 'float', data: [1] }, 'a.json')).toThrow('a.json: unknown dtype "float"');
    expect(() => tensorFromJson({ dtype: 'int4', data: [1] }, 'a.json')).toThrow('a.json: JSON input of type int4 is not supported');
    expect(() => tensorFromJson([1], 'a.json')).toThrow('a.json: no dtype given and no model input to take it from');
  });
});
