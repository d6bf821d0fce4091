/**
 * The project's own example model: a small MLP classifier trained here, in plain JavaScript, on a
 * seeded synthetic data set (8 classes of noisy points in 32 dimensions). Built through the IR, so
 * a fresh checkout needs no downloads and no files from elsewhere to show the whole pipeline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph, Model, Tensor, attr } from '../ir/index.js';
import { saveModel, writeFileAtomic, writeTestDataSet } from '../io/index.js';
import { createRng, normal } from '../data/index.js';
import { createSession } from '../runtime/index.js';
import { VERSION } from '../version.js';

export const EXAMPLE_FEATURES = 32;
export const EXAMPLE_HIDDEN = 64;
export const EXAMPLE_CLASSES = 8;
export const EXAMPLE_LABELS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

export interface ExampleData {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

/** Points around one random centre per class; the same seed gives the same data. */
export function exampleData(n: number, seed: number): ExampleData {
  const centres = createRng(1234);
  const c = Float32Array.from({ length: EXAMPLE_CLASSES * EXAMPLE_FEATURES }, () => normal(centres) * 1.2);
  const rng = createRng(seed);
  const x = new Float32Array(n * EXAMPLE_FEATURES);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rng() * EXAMPLE_CLASSES);
    y[i] = k;
    for (let j = 0; j < EXAMPLE_FEATURES; j++) x[i * EXAMPLE_FEATURES + j] = c[k * EXAMPLE_FEATURES + j]! + normal(rng) * 1.6;
  }
  return { x, y, n };
}

interface Weights {
  w1: Float32Array; // [F, H]
  b1: Float32Array;
  w2: Float32Array; // [H, C]
  b2: Float32Array;
}

/** Mini-batch SGD on softmax cross-entropy; deterministic. */
export function trainExample(data: ExampleData, epochs = 12, lr = 0.05): Weights {
  const F = EXAMPLE_FEATURES, H = EXAMPLE_HIDDEN, C = EXAMPLE_CLASSES;
  const rng = createRng(7);
  const init = (n: number, fanIn: number) => Float32Array.from({ length: n }, () => normal(rng) * Math.sqrt(2 / fanIn));
  const W: Weights = { w1: init(F * H, F), b1: new Float32Array(H), w2: init(H * C, H), b2: new Float32Array(C) };
  const h = new Float32Array(H);
  const p = new Float32Array(C);
  const dh = new Float32Array(H);
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const idx of order) {
      const xo = idx * F;
      for (let k = 0; k < H; k++) {
        let s = W.b1[k]!;
        for (let f = 0; f < F; f++) s += data.x[xo + f]! * W.w1[f * H + k]!;
        h[k] = s > 0 ? s : 0;
      }
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = W.b2[c]!;
        for (let k = 0; k < H; k++) s += h[k]! * W.w2[k * C + c]!;
        p[c] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let c = 0; c < C; c++) z += p[c] = Math.exp(p[c]! - max);
      for (let c = 0; c < C; c++) p[c] = p[c]! / z - (c === data.y[idx] ? 1 : 0);
      dh.fill(0);
      for (let k = 0; k < H; k++) {
        if (h[k] === 0) continue;
        for (let c = 0; c < C; c++) {
          dh[k] += p[c]! * W.w2[k * C + c]!;
          W.w2[k * C + c] -= lr * p[c]! * h[k]!;
        }
      }
      for (let c = 0; c < C; c++) W.b2[c] -= lr * p[c]!;
      for (let k = 0; k < H; k++) {
        if (h[k] === 0) continue;
        for (let f = 0; f < F; f++) W.w1[f * H + k] -= lr * dh[k]! * data.x[xo + f]!;
        W.b1[k] -= lr * dh[k]!;
      }
    }
  }
  return W;
}

/** The trained weights as an ONNX model: features[batch,32] → Gemm → Relu → Gemm → logits[batch,8]. */
export function buildExampleModel(weights: Weights = trainExample(exampleData(2000, 1))): Model {
  const g = new Graph('example_classifier');
  g.inputs.push({ name: 'features', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', EXAMPLE_FEATURES] } });
  g.outputs.push({ name: 'logits', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', EXAMPLE_CLASSES] } });
  g.addInitializer(Tensor.from('float32', [EXAMPLE_FEATURES, EXAMPLE_HIDDEN], weights.w1, 'fc1.weight'));
  g.addInitializer(Tensor.from('float32', [EXAMPLE_HIDDEN], weights.b1, 'fc1.bias'));
  g.addInitializer(Tensor.from('float32', [EXAMPLE_HIDDEN, EXAMPLE_CLASSES], weights.w2, 'fc2.weight'));
  g.addInitializer(Tensor.from('float32', [EXAMPLE_CLASSES], weights.b2, 'fc2.bias'));
  g.addNode({ name: 'fc1', opType: 'Gemm', inputs: ['features', 'fc1.weight', 'fc1.bias'], outputs: ['fc1_out'], attributes: [attr.float('alpha', 1)] });
  g.addNode({ name: 'relu', opType: 'Relu', inputs: ['fc1_out'], outputs: ['hidden'] });
  g.addNode({ name: 'fc2', opType: 'Gemm', inputs: ['hidden', 'fc2.weight', 'fc2.bias'], outputs: ['logits'] });
  g.setValueType('fc1_out', { kind: 'tensor', dtype: 'float32', shape: ['batch', EXAMPLE_HIDDEN] });
  g.setValueType('hidden', { kind: 'tensor', dtype: 'float32', shape: ['batch', EXAMPLE_HIDDEN] });
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 17 }];
  m.producerName = 'modelship';
  m.producerVersion = VERSION;
  m.docString = 'Example MLP classifier trained by modelship on seeded synthetic data (8 classes, 32 features).';
  m.setMetadata('labels', JSON.stringify(EXAMPLE_LABELS));
  return m;
}

export interface ExampleFiles {
  dir: string;
  modelPath: string;
  labelsPath: string;
  dataSetDir: string;
  testAccuracy: number;
}

/**
 * Writes the example as an ONNX test case: `model.onnx`, `test_data_set_0/` (400 held-out rows and
 * onnxruntime's outputs for them), `labels.json` (their true classes) and `meta.json`.
 */
export async function writeExample(dir: string): Promise<ExampleFiles> {
  fs.mkdirSync(dir, { recursive: true });
  const model = buildExampleModel();
  const modelPath = path.join(dir, 'model.onnx');
  saveModel(model, modelPath);
  const test = exampleData(400, 99);
  const input = Tensor.from('float32', [test.n, EXAMPLE_FEATURES], test.x, 'features');
  const session = await createSession(modelPath);
  const { logits } = await session.run({ features: input });
  await session.release();
  const dataSetDir = path.join(dir, 'test_data_set_0');
  writeTestDataSet(dataSetDir, [input], [logits!]);
  const scores = logits!.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    const row = scores.subarray(i * EXAMPLE_CLASSES, (i + 1) * EXAMPLE_CLASSES);
    if (row.indexOf(Math.max(...row)) === test.y[i]) correct++;
  }
  const labelsPath = path.join(dir, 'labels.json');
  writeFileAtomic(labelsPath, JSON.stringify(Array.from(test.y)));
  const testAccuracy = correct / test.n;
  writeFileAtomic(
    path.join(dir, 'meta.json'),
    JSON.stringify({ name: 'example_classifier', task: 'classification', inputs: ['features'], outputs: ['logits'], class_names: EXAMPLE_LABELS, labels: 'labels.json', fp32_top1: testAccuracy }, null, 2),
  );
  return { dir, modelPath, labelsPath, dataSetDir, testAccuracy };
}
