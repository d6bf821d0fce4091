/** Shared material for the serve tests: corpus paths, packages written to temp folders, a dtype model. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph, Model, Tensor } from '../../src/ir/index.js';
import { readTensorFile, saveModel } from '../../src/io/index.js';
import { MANIFEST_FILE, type Manifest } from '../../src/package/index.js';
import type { DType } from '../../src/ir/index.js';

export const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
export const corpusModel = (name: string) => path.join(CORPUS, name, 'model.onnx');
export const corpusInput = (name: string) => readTensorFile(path.join(CORPUS, name, 'test_data_set_0', 'input_0.pb'));
export const corpusOutput = (name: string) => readTensorFile(path.join(CORPUS, name, 'test_data_set_0', 'output_0.pb'));

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `modelship-${prefix}-`));
}

/** A deployment package: the model copied into `dir/<name>/` beside a modelship.json. */
export function writePackage(root: string, modelPath: string, manifest: Partial<Manifest> & { name: string }): string {
  const dir = path.join(root, manifest.name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(modelPath, path.join(dir, 'model.onnx'));
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ schemaVersion: 1, model: 'model.onnx', ...manifest }, null, 2));
  return dir;
}

export function digitsPackage(root: string, name = 'digits'): string {
  return writePackage(root, corpusModel('digits_cnn'), {
    name,
    version: '3',
    inputs: [{ name: 'image', dtype: 'float32', shape: ['batch', 1, 8, 8] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }],
    preprocess: { kind: 'image', input: 'image', layout: 'NCHW', size: [8, 8], channels: 1, scale: 1 / 255, mean: [0], std: [1], fit: 'fill' },
    postprocess: { kind: 'classification', output: 'logits', labels: Array.from({ length: 10 }, (_, i) => `digit ${i}`), softmax: true, topK: 3 },
  });
}

export const QUALITY_FEATURES = ['edge_density', 'unique_colors', 'entropy', 'corner_density', 'gradient_strength', 'complexity_score'];

export function qualityPackage(root: string, name = 'quality'): string {
  return writePackage(root, corpusModel('quality_mlp'), {
    name,
    inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', 6] }],
    outputs: [{ name: 'ssim', dtype: 'float32', shape: ['batch', 1] }],
    preprocess: { kind: 'features', input: 'features', names: QUALITY_FEATURES },
    postprocess: { kind: 'regression', output: 'ssim', names: ['ssim'] },
  });
}

/** Saves a test graph as an opset-13 model at `file`, returning the path. */
function saveOpset13(g: Graph, file: string): string {
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 13 }];
  saveModel(m, file);
  return file;
}

/** The v2 datatypes this server accepts, with the element types they map to. */
export const ALL_DTYPES: [string, DType][] = [
  ['BOOL', 'bool'], ['UINT8', 'uint8'], ['UINT16', 'uint16'], ['UINT32', 'uint32'], ['UINT64', 'uint64'],
  ['INT8', 'int8'], ['INT16', 'int16'], ['INT32', 'int32'], ['INT64', 'int64'],
  ['FP16', 'float16'], ['FP32', 'float32'], ['FP64', 'float64'], ['BYTES', 'string'],
];

/** One Identity per datatype: input `in_<dtype>` [batch, 2] → output `out_<dtype>`. */
export function writeDtypeModel(dir: string): string {
  const g = new Graph('dtypes');
  for (const [, dtype] of ALL_DTYPES) {
    g.inputs.push({ name: `in_${dtype}`, type: { kind: 'tensor', dtype, shape: ['batch', 2] } });
    g.outputs.push({ name: `out_${dtype}`, type: { kind: 'tensor', dtype, shape: ['batch', 2] } });
    g.addNode({ opType: 'Identity', inputs: [`in_${dtype}`], outputs: [`out_${dtype}`] });
  }
  return saveOpset13(g, path.join(dir, 'dtypes.onnx'));
}

/** A model slow enough to keep an instance busy: x[batch,1024] through 8 MatMuls with one shared weight. */
export function writeSlowModel(dir: string): string {
  const g = new Graph('slow');
  g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', 1024] } });
  g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', 1024] } });
  const w = new Float32Array(1024 * 1024);
  for (let i = 0; i < 1024; i++) w[i * 1024 + i] = 1;
  g.addInitializer(Tensor.from('float32', [1024, 1024], w, 'w'));
  let prev = 'x';
  for (let i = 0; i < 8; i++) {
    const out = i === 7 ? 'y' : `h${i}`;
    g.addNode({ opType: 'MatMul', inputs: [prev, 'w'], outputs: [out] });
    prev = out;
  }
  return saveOpset13(g, path.join(dir, 'slow.onnx'));
}

/** A model that fails at run time for some inputs: y[batch,1] = table[i] (Gather), where an index outside 0–3 is onnxruntime's error. */
export function writeLookupModel(dir: string): string {
  const g = new Graph('lookup');
  g.inputs.push({ name: 'i', type: { kind: 'tensor', dtype: 'int64', shape: ['batch', 1] } });
  g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', 1] } });
  g.addInitializer(Tensor.from('float32', [4], Float32Array.of(10, 20, 30, 40), 'table'));
  g.addNode({ opType: 'Gather', inputs: ['table', 'i'], outputs: ['y'] });
  return saveOpset13(g, path.join(dir, 'lookup.onnx'));
}

/** Splits a binary v2 response (JSON header + tensors) into the header and each output's bytes. */
export function parseBinaryResponse(body: Buffer, headerLength: number): { header: { outputs: { name: string; datatype: string; shape: number[]; parameters?: { binary_data_size?: number }; data?: unknown[] }[]; id?: string }; blobs: Map<string, Buffer> } {
  const header = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  const blobs = new Map<string, Buffer>();
  let at = headerLength;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    blobs.set(o.name, body.subarray(at, at + size));
    at += size;
  }
  if (at !== body.length) throw new Error(`binary response has ${body.length - at} stray bytes`);
  return { header, blobs };
}

/** A binary v2 request body: JSON header then the tensors' bytes. */
export function binaryRequest(header: object, blobs: Uint8Array[]): { payload: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(header));
  return { payload: Buffer.concat([head, ...blobs]), headers: { 'inference-header-content-length': String(head.length), 'content-type': 'application/octet-stream' } };
}
