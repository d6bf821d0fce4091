import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { buildExampleModel, EXAMPLE_LABELS } from '../../src/examples/classifier.js';
import { saveModel } from '../../src/io/index.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/ir/index.js';
import {
  ALL_DTYPES, QUALITY_FEATURES, binaryRequest, corpusInput, corpusModel, corpusOutput, digitsPackage, parseBinaryResponse, qualityPackage, tempDir, writeDtypeModel, writeLookupModel,
} from './helpers.js';

const root = tempDir('serve-protocol');
let app: FastifyInstance;

const digitsImages = corpusInput('digits_cnn').data as Float32Array; // [397,1,8,8]
const digitsExpected = corpusOutput('digits_cnn').data as Float32Array; // [397,10]
const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
};

beforeAll(async () => {
  const repo = path.join(root, 'repo');
  digitsPackage(repo);
  qualityPackage(repo);
  writeDtypeModel(repo);
  saveModel(buildExampleModel(), path.join(repo, 'example.onnx'));
  app = createServer({ targets: [repo], logLevel: false, cacheSize: 64, maxQueueDelayMs: 1 });
  await app.ready();
});
afterAll(() => app?.close());

const infer = (model: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

describe('v2 metadata and health', () => {
  it('answers health, server metadata with extensions, model metadata with -1 for dynamic dims', async () => {
    expect((await app.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await app.inject('/v2/health/ready')).json()).toEqual({ ready: true });
    const server = (await app.inject('/v2')).json();
    expect(server.name).toBe('modelship');
    expect(server.extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'model_configuration', 'statistics', 'model_repository']));
    const meta = (await app.inject('/v2/models/digits')).json();
    expect(meta).toEqual({
      name: 'digits', versions: ['3'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }], outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    });
    expect((await app.inject('/v2/models/digits/versions/3')).statusCode).toBe(200);
    expect((await app.inject('/v2/models/digits/versions/3/ready')).json()).toEqual({ name: 'digits', ready: true });
    const wrongVersion = await app.inject('/v2/models/digits/versions/9');
    expect(wrongVersion.statusCode).toBe(404);
    expect(wrongVersion.json().error).toMatch(/no version '9'/);
  });

  it('gives Triton config (batch dim left out of dims) and statistics', async () => {
    const config = (await app.inject('/v2/models/digits/config')).json();
    expect(config.max_batch_size).toBe(32);
    expect(config.input).toEqual([{ name: 'image', data_type: 'TYPE_FP32', dims: [1, 8, 8] }]);
    expect(config.output).toEqual([{ name: 'logits', data_type: 'TYPE_FP32', dims: [10] }]);
    expect(config.dynamic_batching.max_queue_delay_microseconds).toBe(1000);
    expect(config.instance_group[0].count).toBe(1);
    expect((await app.inject('/v2/models/dtypes/config')).json().input[12]).toEqual({ name: 'in_string', data_type: 'TYPE_STRING', dims: [2] });
  });
});

describe('inference', () => {
  it('matches PyTorch on the whole digits test set (nested JSON data, id echoed)', async () => {
    for (let start = 0; start < 397; start += 25) {
      const rows = Math.min(25, 397 - start);
      const flat = Array.from(digitsImages.subarray(start * 64, (start + rows) * 64));
      const nested = Array.from({ length: rows }, (_, r) => [Array.from({ length: 8 }, (_, y) => flat.slice(r * 64 + y * 8, r * 64 + y * 8 + 8))]);
      const res = await infer('digits', { id: `chunk-${start}`, inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', data: nested }] });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.id).toBe(`chunk-${start}`);
      expect(body.model_name).toBe('digits');
      expect(body.model_version).toBe('3');
      expect(body.outputs[0].shape).toEqual([rows, 10]);
      const got = body.outputs[0].data as number[];
      const want = digitsExpected.subarray(start * 10, (start + rows) * 10);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4);
    }
  });

  it('round-trips every datatype as JSON, with an outputs selection', async () => {
    const values: Record<string, unknown[]> = {
      BOOL: [true, false, false, true], UINT8: [0, 255, 7, 1], UINT16: [0, 65535, 3, 4], UINT32: [0, 4294967295, 5, 6], UINT64: [0, 2 ** 53 - 1, 7, 8],
      INT8: [-128, 127, 0, 1], INT16: [-32768, 32767, 0, 2], INT32: [-(2 ** 31), 2 ** 31 - 1, 0, 3], INT64: [-(2 ** 53 - 1), 2 ** 53 - 1, 0, 4],
      FP16: [0.5, -2, 65504, 0.0999755859375], FP32: [0.1, -1e-8, 3e38, 0], FP64: [0.1, -1e-300, 1e300, Math.PI], BYTES: ['a', '', 'héllo', 'x y'],
    };
    const res = await infer('dtypes', {
      inputs: ALL_DTYPES.map(([v2, dtype]) => ({ name: `in_${dtype}`, shape: [2, 2], datatype: v2, data: values[v2] })),
      outputs: [{ name: 'out_float16' }, { name: 'out_string' }, { name: 'out_int64' }, { name: 'out_bool' }, { name: 'out_float32' }, { name: 'out_uint32' }],
    });
    expect(res.statusCode).toBe(200);
    const outs = res.json().outputs as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
    expect(outs.map((o) => o.name)).toEqual(['out_float16', 'out_string', 'out_int64', 'out_bool', 'out_float32', 'out_uint32']);
    expect(outs.map((o) => o.datatype)).toEqual(['FP16', 'BYTES', 'INT64', 'BOOL', 'FP32', 'UINT32']);
    expect(outs[0]!.data).toEqual(values.FP16);
    expect(outs[1]!.data).toEqual(values.BYTES);
    expect(outs[2]!.data).toEqual(values.INT64);
    expect(outs[3]!.data).toEqual(values.BOOL);
    expect(outs[4]!.data).toEqual(Array.from(Float32Array.from(values.FP32 as number[])));
    expect(outs[5]!.data).toEqual(values.UINT32);
  });

  it('speaks the binary tensor extension both ways, for every datatype', async () => {
    const blobs: Uint8Array[] = [];
    const inputs = ALL_DTYPES.map(([v2, dtype], k) => {
      let bytes: Uint8Array;
      if (dtype === 'string') {
        const parts = ['α', 'bb', '', 'dddd'].map((s) => Buffer.from(s));
        bytes = Buffer.concat(parts.flatMap((p) => [Buffer.from(new Uint32Array([p.length]).buffer), p]));
      } else if (dtype === 'float16') bytes = new Uint8Array(Uint16Array.from([1.5, -3, 0.25, 1000].map(float32ToFloat16Bits)).buffer);
      else {
        const size = { bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8 }[dtype as string]!;
        bytes = new Uint8Array(4 * size).map((_, i) => (dtype === 'bool' ? i % 2 : (i * 37 + k) & 0xff));
      }
      blobs.push(bytes);
      return { name: `in_${dtype}`, shape: [2, 2], datatype: v2, parameters: { binary_data_size: bytes.byteLength } };
    });
    const { payload, headers } = binaryRequest({ id: 'bin', inputs, parameters: { binary_data_output: true } }, blobs);
    const res = await infer('dtypes', payload, headers);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/octet-stream/);
    const { header, blobs: out } = parseBinaryResponse(res.rawPayload, Number(res.headers['inference-header-content-length']));
    expect(header.id).toBe('bin');
    ALL_DTYPES.forEach(([, dtype], k) => expect(Buffer.compare(out.get(`out_${dtype}`)!, Buffer.from(blobs[k]!))).toBe(0));
    expect(Array.from(new Uint16Array(new Uint8Array(out.get('out_float16')!).buffer), float16BitsToFloat32)).toEqual([1.5, -3, 0.25, 1000]);

    // Binary in, JSON out for a chosen output; per-output binary_data for another.
    const mixed = binaryRequest({ inputs, outputs: [{ name: 'out_int8' }, { name: 'out_float64', parameters: { binary_data: true } }] }, blobs);
    const res2 = await infer('dtypes', mixed.payload, mixed.headers);
    const parsed = parseBinaryResponse(res2.rawPayload, Number(res2.headers['inference-header-content-length']));
    expect(parsed.header.outputs[0]!.data).toEqual(Array.from(new Int8Array(blobs[5]!.buffer as ArrayBuffer)));
    expect(Buffer.compare(parsed.blobs.get('out_float64')!, Buffer.from(blobs[11]!))).toBe(0);
  });

  it('answers every bad request with a one-line 4xx and keeps serving', async () => {
    const good = { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array(64).fill(0.5) }] };
    const withInput = (patch: object) => ({ inputs: [{ ...good.inputs[0], ...patch }] });
    const fp32 = new Uint8Array(256);
    const cases: [string, () => Promise<{ statusCode: number; body: string }>, number, RegExp][] = [
      ['malformed JSON', () => infer('digits', '{"inputs": [1,'), 400, /not valid JSON/],
      ['empty body', () => infer('digits', ''), 400, /not valid JSON/],
      ['not an object', () => infer('digits', '[1,2]'), 400, /JSON object/],
      ['no inputs', () => infer('digits', { inputs: [] }), 400, /non-empty array/],
      ['wrong datatype', () => infer('digits', withInput({ datatype: 'INT32' })), 400, /datatype INT32, the model expects FP32/],
      ['unknown datatype', () => infer('digits', withInput({ datatype: 'FP33' })), 400, /not one of BOOL/],
      ['shape not matching data length', () => infer('digits', withInput({ shape: [2, 1, 8, 8] })), 400, /64 values .* do not fill the shape \(128 elements\)/],
      ['wrong fixed dimension', () => infer('digits', withInput({ shape: [1, 1, 8, 9], data: Array(72).fill(0) })), 400, /dimension 3 must be 8/],
      ['wrong rank', () => infer('digits', withInput({ shape: [64], data: Array(64).fill(0) })), 400, /rank 1/],
      ['missing input', () => infer('quality', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }), 400, /unknown input 'x'/],
      ['missing input (none of them)', () => infer('dtypes', { inputs: [{ name: 'in_bool', shape: [1, 2], datatype: 'BOOL', data: [true, false] }] }), 400, /missing inputs 'in_uint8' \(UINT8 \[-1,2\]\)/],
      ['extra input', () => infer('digits', { inputs: [...good.inputs, { name: 'extra', shape: [1], datatype: 'FP32', data: [1] }] }), 400, /unknown input 'extra' \(the model's inputs: image\)/],
      ['duplicate input', () => infer('digits', { inputs: [good.inputs[0], good.inputs[0]] }), 400, /given twice/],
      ['negative dims', () => infer('digits', withInput({ shape: [-1, 1, 8, 8] })), 400, /shape must be an array of integers ≥ 0/],
      ['NaN dims', () => infer('digits', '{"inputs":[{"name":"image","shape":[NaN,1,8,8],"datatype":"FP32","data":[]}]}'), 400, /not valid JSON/],
      ['null dims', () => infer('digits', withInput({ shape: [null, 1, 8, 8] })), 400, /shape must be an array of integers/],
      ['huge dims', () => infer('digits', withInput({ shape: [1e12, 1, 8, 8] })), 400, /more than this server accepts/],
      ['BYTES where FP32 is expected', () => infer('digits', withInput({ datatype: 'BYTES', data: Array(64).fill('x') })), 400, /datatype BYTES, the model expects FP32/],
      ['strings in FP32 data', () => infer('digits', withInput({ data: [...Array(63).fill(0), 'x'] })), 400, /data\[63\] is "x", expected a number/],
      ['integer out of range', () => infer('dtypes', { inputs: ALL_DTYPES.map(([v2, d]) => ({ name: `in_${d}`, shape: [1, 2], datatype: v2, data: v2 === 'BYTES' ? ['a', 'b'] : v2 === 'BOOL' ? [true, true] : v2 === 'UINT8' ? [256, 0] : [1, 1] })) }), 400, /data\[0\] is 256, expected an integer in UINT8's range/],
      ['unknown output', () => infer('digits', { ...good, outputs: [{ name: 'probs' }] }), 400, /unknown output "probs"/],
      ['bad timeout parameter', () => infer('digits', { ...good, parameters: { timeout: -5 } }), 400, /parameters.timeout/],
      ['truncated binary payload', () => {
        const b = binaryRequest({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: 256 } }] }, [fp32.subarray(0, 200)]);
        return infer('digits', b.payload, b.headers);
      }, 400, /truncated binary payload: needs 256 bytes at offset 0, the body has 200 left/],
      ['binary size not matching the shape', () => {
        const b = binaryRequest({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: 128 } }] }, [fp32.subarray(0, 128)]);
        return infer('digits', b.payload, b.headers);
      }, 400, /binary_data_size is 128 bytes, the shape needs 256/],
      ['stray binary bytes', () => {
        const b = binaryRequest({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: 256 } }] }, [fp32, fp32.subarray(0, 8)]);
        return infer('digits', b.payload, b.headers);
      }, 400, /8 bytes more/],
      ['header length beyond the body', () => infer('digits', JSON.stringify(good), { 'inference-header-content-length': '99999' }), 400, /Inference-Header-Content-Length must be an integer ≤ the body size/],
      ['unknown model', () => infer('nope', good), 404, /no model named 'nope'/],
      ['unknown route', () => app.inject('/v2/nothing/here'), 404, /no route GET/],
    ];
    for (const [what, send, status, message] of cases) {
      const res = await send();
      expect(res.statusCode, what).toBe(status);
      const body = JSON.parse(res.body);
      expect(Object.keys(body), what).toEqual(['error']);
      expect(body.error, what).toMatch(message);
      expect(body.error, what).not.toContain('\n');
    }
    const after = await infer('digits', good);
    expect(after.statusCode).toBe(200);
    const failures = (await app.inject('/metrics')).body;
    expect(failures).toMatch(/modelship_inference_failure_total\{model="digits",status="400"\} \d+/);
  });
});

describe('predict', () => {
  it('turns named features into the regression value PyTorch computed', async () => {
    const x = corpusInput('quality_mlp').data as Float32Array;
    const y = corpusOutput('quality_mlp').data as Float32Array;
    for (const row of [0, 17, 499]) {
      const features = Object.fromEntries(QUALITY_FEATURES.map((n, i) => [n, x[row * 6 + i]!]));
      const res = await app.inject({ method: 'POST', url: '/v2/models/quality/predict', payload: features });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(Math.abs(body.predictions[0].ssim - y[row]!)).toBeLessThan(1e-5);
      expect(body.latency_ms.total).toBeGreaterThan(0);
    }
    const two = await app.inject({ method: 'POST', url: '/v2/models/quality/predict', payload: [Object.fromEntries(QUALITY_FEATURES.map((n) => [n, 0.5])), Object.fromEntries(QUALITY_FEATURES.map((n) => [n, 0.1]))] });
    expect(two.json().predictions).toHaveLength(2);
    const missing = await app.inject({ method: 'POST', url: '/v2/models/quality/predict', payload: { edge_density: 0.3 } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatch(/feature 'unique_colors' must be a number, got nothing/);
    const unknown = await app.inject({ method: 'POST', url: '/v2/models/quality/predict', payload: { ...Object.fromEntries(QUALITY_FEATURES.map((n) => [n, 0.5])), colour: 1 } });
    expect(unknown.json().error).toMatch(/unknown feature 'colour'/);
  });

  it('classifies uploaded images (multipart and raw bytes) like the model does on the same pixels', async () => {
    let agree = 0;
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 100, 150, 200, 250, 300, 350, 396];
    for (const [k, row] of rows.entries()) {
      const pixels = Uint8Array.from(digitsImages.subarray(row * 64, row * 64 + 64), (v) => Math.round(v * 255));
      const png = await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
      let res;
      if (k % 2) res = await app.inject({ method: 'POST', url: '/v2/models/digits/predict', payload: png, headers: { 'content-type': 'image/png' } });
      else {
        const boundary = 'XyZ';
        const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\nContent-Type: image/png\r\n\r\n`), png, Buffer.from(`\r\n--${boundary}--\r\n`)]);
        res = await app.inject({ method: 'POST', url: '/v2/models/digits/predict', payload: body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      }
      expect(res.statusCode).toBe(200);
      const p = res.json().predictions[0];
      expect(p.top_k).toHaveLength(3);
      expect(p.top_k[0].score).toBeGreaterThanOrEqual(p.top_k[1].score);
      expect(p.label).toBe(`digit ${p.index}`);
      if (p.index === argmax(digitsExpected.subarray(row * 10, row * 10 + 10))) agree++;
    }
    // 8-bit pixels differ from the float test images by up to 1/510; the class should hold.
    expect(agree).toBeGreaterThanOrEqual(rows.length - 1);
    const notImage = await app.inject({ method: 'POST', url: '/v2/models/digits/predict', payload: Buffer.from('not an image'), headers: { 'content-type': 'image/png' } });
    expect(notImage.statusCode).toBe(400);
    expect(notImage.json().error).toMatch(/could not decode the image/);
  });

  it('infers a spec for a plain .onnx: labels from its metadata, x0… feature names', async () => {
    const res = await app.inject({ method: 'POST', url: '/v2/models/example/predict', payload: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`x${i}`, (i % 5) - 2])) });
    expect(res.statusCode).toBe(200);
    const p = res.json().predictions[0];
    expect(EXAMPLE_LABELS).toContain(p.label);
    expect(p.top_k.reduce((s: number, c: { score: number }) => s + c.score, 0)).toBeLessThanOrEqual(1.0000001);
    const several = await app.inject({ method: 'POST', url: '/predict', payload: {} });
    expect(several.statusCode).toBe(400);
    expect(several.json().error).toMatch(/several models are served/);
    const noSpec = await app.inject({ method: 'POST', url: '/v2/models/dtypes/predict', payload: {} });
    expect(noSpec.json().error).toMatch(/no pre-processing spec/);
  });
});

describe('around inference', () => {
  it('serves a repeated request from the cache', async () => {
    const body = { inputs: [{ name: 'features', shape: [1, 6], datatype: 'FP32', data: [0.11, 0.2, 0.3, 0.4, 0.5, 0.6] }] };
    const first = await infer('quality', body);
    const second = await infer('quality', body);
    expect(second.json().outputs).toEqual(first.json().outputs);
    const metrics = (await app.inject('/metrics')).body;
    expect(Number(/modelship_cache_hits_total\{model="quality"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    const stats = (await app.inject('/v2/models/quality/stats')).json().model_stats[0];
    expect(stats.inference_stats.cache_hit.count).toBeGreaterThanOrEqual(1);
    expect(stats.inference_stats.success.count).toBeGreaterThanOrEqual(2);
  });

  it('exposes Prometheus metrics, statistics and request ids', async () => {
    const res = await app.inject({ url: '/v2/models/digits', headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers['x-request-id']).toBe('trace-42');
    expect((await app.inject('/v2')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const metrics = (await app.inject('/metrics')).body;
    for (const name of ['modelship_inference_requests_total', 'modelship_inference_success_total', 'modelship_inference_queue_seconds_bucket', 'modelship_inference_compute_seconds_bucket', 'modelship_inference_request_seconds_bucket', 'modelship_batch_size_bucket', 'modelship_queue_depth', 'modelship_cache_misses_total', 'process_resident_memory_bytes']) {
      expect(metrics, name).toContain(name);
    }
    const stats = (await app.inject('/v2/models/stats')).json().model_stats;
    const digits = stats.find((s: { name: string }) => s.name === 'digits');
    expect(digits.inference_count).toBeGreaterThanOrEqual(397);
    expect(digits.execution_count).toBeGreaterThan(0);
    expect(digits.batch_stats.length).toBeGreaterThan(0);
  });

  it('compresses large responses with gzip and reads gzip request bodies', async () => {
    const res = await app.inject({ method: 'POST', url: '/v2/models/digits/infer', payload: { inputs: [{ name: 'image', shape: [32, 1, 8, 8], datatype: 'FP32', data: Array(32 * 64).fill(0.25) }] }, headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    const plain = JSON.parse(zlib.gunzipSync(res.rawPayload).toString());
    expect(plain.outputs[0].shape).toEqual([32, 10]);

    // A gzip binary request: the decompressed length differs from Content-Length.
    const pixels = new Float32Array(32 * 64).fill(0.25);
    const { payload, headers } = binaryRequest({ inputs: [{ name: 'image', shape: [32, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: pixels.byteLength } }] }, [new Uint8Array(pixels.buffer)]);
    const zipped = await app.inject({ method: 'POST', url: '/v2/models/digits/infer', payload: zlib.gzipSync(payload), headers: { ...headers, 'content-encoding': 'gzip' } });
    expect(zipped.statusCode).toBe(200);
    expect(zipped.json().outputs[0].data).toEqual(plain.outputs[0].data);
  });

  it('indexes, unloads and loads models through the repository endpoints', async () => {
    const index = (await app.inject({ method: 'POST', url: '/v2/repository/index' })).json();
    expect(index.map((m: { name: string }) => m.name).sort()).toEqual(['digits', 'dtypes', 'example', 'quality']);
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/quality/unload' })).statusCode).toBe(200);
    expect((await app.inject('/v2/models/quality/ready')).statusCode).toBe(503);
    const refused = await infer('quality', { inputs: [{ name: 'features', shape: [1, 6], datatype: 'FP32', data: [0, 0, 0, 0, 0, 0] }] });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect((await app.inject({ method: 'POST', url: '/v2/repository/index' })).json().find((m: { name: string }) => m.name === 'quality').state).toBe('UNAVAILABLE');
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/quality/load', payload: '{}' })).statusCode).toBe(200);
    expect((await app.inject('/v2/models/quality/ready')).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/nope/load' })).statusCode).toBe(404);
  });

  it('reads a plain model file again on load once it has changed', async () => {
    const file = path.join(root, 'repo', 'extra.onnx');
    fs.copyFileSync(writeLookupModel(tempDir('serve-extra')), file);
    const inputs = async () => (await app.inject('/v2/models/extra')).json().inputs.map((t: { name: string }) => t.name);
    expect((await app.inject({ method: 'POST', url: '/v2/repository/index' })).json().find((m: { name: string }) => m.name === 'extra').state).toBe('UNAVAILABLE');
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/extra/load' })).statusCode).toBe(200);
    expect(await inputs()).toEqual(['i']);
    fs.copyFileSync(corpusModel('quality_mlp'), file);
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/extra/load' })).statusCode).toBe(200);
    expect(await inputs()).toEqual(['features']);
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/extra/unload' })).statusCode).toBe(200);
    fs.rmSync(file);
  });

  it('documents the API as OpenAPI at /docs', async () => {
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v2/models/{name}/infer', '/v2/models/{name}/predict', '/v2/health/ready', '/v2/repository/index']));
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });
});
