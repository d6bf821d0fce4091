/**
 * Layers models built and trained here with TF.js, saved through TF.js's own save path (in-memory
 * IOHandler, or model.json + shards on disk), converted, and checked against TF.js's predictions.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertTfjs, createSession, saveModel, Tensor, type ConvertReport, type Model } from '../../src/index.js';
import { onnxCheckFiles } from '../helpers/onnx-checker.js';
import { saveToMemory, tfjs, trainBriefly, writeModelJson } from './helpers.js';

let tf: typeof Tf;
let dir: string;
beforeAll(async () => {
  tf = await tfjs();
  tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-layers-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs both models on a fresh seeded batch (not the converter's own verification inputs). */
async function agreement(model: Model, tfModel: Tf.LayersModel, inputs: Tf.Tensor[]): Promise<number> {
  const session = await createSession(model);
  const feeds: Record<string, Tensor> = {};
  session.inputs.forEach((i, k) => {
    const t = inputs[k]!;
    feeds[i.name] = Tensor.from(t.dtype === 'int32' ? 'int32' : 'float32', [...t.shape], t.dataSync() as Float32Array);
  });
  const got = await session.run(feeds);
  await session.release();
  const want = tfModel.predict(inputs.length === 1 ? inputs[0]! : inputs);
  const wants = Array.isArray(want) ? want : [want];
  let worst = 0;
  session.outputs.forEach((o, k) => {
    const a = got[o.name]!.toFloat32();
    const b = wants[k]!.dataSync();
    expect(got[o.name]!.dims).toEqual(wants[k]!.shape);
    let diff = 0;
    let ref = 0;
    for (let i = 0; i < b.length; i++) {
      diff += (a[i]! - b[i]!) ** 2;
      ref += b[i]! ** 2;
    }
    worst = Math.max(worst, Math.sqrt(diff / Math.max(ref, 1e-12)));
  });
  return worst;
}

function expectVerified(report: ConvertReport): void {
  expect(report.verify?.passed).toBe(true);
  for (const o of report.verify!.outputs) expect(o.relError).toBeLessThan(1e-4);
}

const seeded = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

function randomizeWeights(model: Tf.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => w.write(tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', seed + i)));
}

describe('Layers models trained with TF.js convert and match TF.js', () => {
  it('MLP (Sequential: Dense, Dropout, softmax), saved as model.json with two weight shards', async () => {
    const model = tf.sequential({
      // Seeded initializers and dropout: the loss check below must not depend on the draw.
      layers: [
        tf.layers.dense({ units: 16, activation: 'relu', inputShape: [6], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dropout({ rate: 0.2, seed: 2 }),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    const x = seeded([64, 6], 1);
    const y = tf.oneHot(tf.argMax(x.slice([0, 0], [64, 3]), 1), 3);
    const losses = await trainBriefly(model, x, y, 'categoricalCrossentropy', 20);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    const file = writeModelJson(path.join(dir, 'mlp'), await saveToMemory(model), 200);
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')).weightsManifest[0].paths;
    expect(manifest.length).toBeGreaterThan(1);
    const { model: onnx, report } = await convertTfjs(file, { batchDynamic: true });
    expectVerified(report);
    expect(report.format).toBe('layers-model');
    expect(report.files).toHaveLength(1 + manifest.length);
    expect(onnx.graph.inputs[0]!.type).toMatchObject({ dtype: 'float32', shape: ['batch', 6] });
    expect(onnx.getMetadata('source_format')).toBe('tfjs-layers-model');
    expect(onnx.getMetadata('converter')).toMatch(/^modelship \d/);
    expect(await agreement(onnx, model, [seeded([5, 6], 7)])).toBeLessThan(1e-5);
  });

  it('CNN with BatchNormalization (moving statistics from training), pooling, ELU', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', inputShape: [12, 12, 3], name: 'conv_a' }),
        tf.layers.batchNormalization({ name: 'bn_a' }),
        tf.layers.reLU(),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, activation: 'elu' }),
        tf.layers.batchNormalization(),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    const x = tf.randomUniform([32, 12, 12, 3], 0, 1, 'float32', 2);
    const y = tf.oneHot(tf.randomUniform([32], 0, 4, 'int32', 3), 4);
    await trainBriefly(model, x, y);
    const movingMean = model.getLayer('bn_a').getWeights()[2]!.dataSync();
    expect(Math.max(...Array.from(movingMean, Math.abs))).toBeGreaterThan(0);
    const { model: onnx, report } = await convertTfjs(await saveToMemory(model));
    expectVerified(report);
    expect(onnx.graph.nodes.find((n) => n.opType === 'Conv')!.name).toBe('conv_a');
    // NHWC interface, one Transpose into the channels-first convolutions and none back (pooling ends it).
    expect(report.opCounts.Transpose).toBe(1);
    expect(await agreement(onnx, model, [tf.randomUniform([1, 12, 12, 3], 0, 1, 'float32', 9)])).toBeLessThan(1e-5);
  });

  it('depthwise and separable convolutions, transposed convolution, upsampling, padding; NCHW interface', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', inputShape: [10, 10, 3], activation: 'relu6' }),
        tf.layers.separableConv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
        tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }),
        tf.layers.upSampling2d({ size: [2, 2] }),
        tf.layers.zeroPadding2d({ padding: 1 }),
        tf.layers.averagePooling2d({ poolSize: 2 }),
        tf.layers.leakyReLU(),
        tf.layers.conv2d({ filters: 2, kernelSize: 1 }),
      ],
    });
    await trainBriefly(model, tf.randomUniform([16, 10, 10, 3], 0, 1, 'float32', 4), tf.randomUniform([16, 17, 17, 2], 0, 1, 'float32', 5), 'meanSquaredError', 2);
    const { model: onnx, report } = await convertTfjs(await saveToMemory(model), { nchw: true });
    expectVerified(report);
    expect(onnx.graph.inputs[0]!.type).toMatchObject({ shape: [1, 3, 10, 10] });
    expect(onnx.graph.outputs[0]!.type).toMatchObject({ shape: [1, 2, 17, 17] });
    expect(report.opCounts.Transpose ?? 0).toBe(0);
    expect(report.opCounts).toMatchObject({ ConvTranspose: 1, Resize: 1 });
  });

  it('LSTM and GRU (stacked, sequences), bidirectional LSTM, backwards SimpleRNN and GRU', async () => {
    const stacked = tf.sequential({
      layers: [tf.layers.lstm({ units: 8, returnSequences: true, inputShape: [9, 5] }), tf.layers.gru({ units: 6 }), tf.layers.dense({ units: 2 })],
    });
    await trainBriefly(stacked, seeded([32, 9, 5], 6), seeded([32, 2], 7), 'meanSquaredError', 2);
    const a = await convertTfjs(await saveToMemory(stacked), { batchDynamic: true });
    expectVerified(a.report);
    expect(a.report.opCounts).toMatchObject({ LSTM: 1, GRU: 1 });
    expect(await agreement(a.model, stacked, [seeded([3, 9, 5], 8)])).toBeLessThan(1e-5);

    const both = tf.sequential({
      layers: [
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4, returnSequences: true }) as Tf.RNN, inputShape: [7, 3] }),
        tf.layers.simpleRNN({ units: 5, goBackwards: true, returnSequences: true }),
        tf.layers.gru({ units: 3, goBackwards: true }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    await trainBriefly(both, seeded([16, 7, 3], 9), seeded([16, 2], 10), 'meanSquaredError', 1);
    const b = await convertTfjs(await saveToMemory(both));
    expectVerified(b.report);
    expect(b.report.opCounts).toMatchObject({ LSTM: 1, RNN: 1, GRU: 1 });
    // The recurrent ops' attributes and weight layouts also satisfy ONNX's own checker.
    const files = [a.model, b.model].map((m, i) => {
      const file = path.join(dir, `rnn${i}.onnx`);
      saveModel(m, file);
      return file;
    });
    expect(onnxCheckFiles(files).filter((r) => r.status !== 'passed')).toEqual([]);
  });

  it('functional model: skip connection, a shared layer applied twice, a nested Sequential, two outputs', async () => {
    const input = tf.input({ shape: [8], name: 'features' });
    const a = tf.layers.dense({ units: 8, activation: 'tanh', name: 'a' }).apply(input) as Tf.SymbolicTensor;
    const shared = tf.layers.dense({ units: 8, name: 'shared' });
    const b = shared.apply(a) as Tf.SymbolicTensor;
    const c = shared.apply(b) as Tf.SymbolicTensor;
    const skip = tf.layers.add({ name: 'skip' }).apply([a, c]) as Tf.SymbolicTensor;
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ units: 6, inputShape: [8], activation: 'relu', name: 'inner_dense' }), tf.layers.dense({ units: 4, name: 'inner_out' })] });
    const n = inner.apply(skip) as Tf.SymbolicTensor;
    const joined = tf.layers.concatenate({ name: 'joined' }).apply([n, b]) as Tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }).apply(joined) as Tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [out, n] });
    model.compile({ optimizer: 'adam', loss: ['categoricalCrossentropy', 'meanSquaredError'] });
    await model.fit(seeded([32, 8], 11), [tf.oneHot(tf.randomUniform([32], 0, 3, 'int32', 12), 3), seeded([32, 4], 13)], { epochs: 2, verbose: 0 });
    const { model: onnx, report } = await convertTfjs(await saveToMemory(model), { batchDynamic: true });
    expectVerified(report);
    expect(onnx.graph.inputs.map((i) => i.name)).toEqual(['features']);
    expect(onnx.graph.outputs.map((o) => o.name)).toEqual(['probs', 'inner']);
    const names = onnx.graph.nodes.map((nd) => nd.name);
    // The shared layer appears twice (same weights), the nested model's layers under its path.
    expect(names.filter((nm) => nm.startsWith('shared'))).toHaveLength(2);
    expect(names).toContain('inner/inner_dense');
    const sharedGemms = onnx.graph.nodes.filter((nd) => nd.name.startsWith('shared'));
    expect(sharedGemms[0]!.inputs[1]).toBe(sharedGemms[1]!.inputs[1]);
    expect(await agreement(onnx, model, [seeded([4, 8], 14)])).toBeLessThan(1e-5);
  });

  // TF.js cannot train these two (no gradients for dilated convolutions or ThresholdedReLU): seeded weights instead.
  it('more layers: Embedding, Conv1D, LayerNormalization, 1-D pooling, RepeatVector, TimeDistributed, Permute (opsets 13 and 17)', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 20, outputDim: 6, inputLength: 10 }),
        tf.layers.conv1d({ filters: 5, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu' }),
        tf.layers.layerNormalization(),
        tf.layers.maxPooling1d({ poolSize: 2 }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.repeatVector({ n: 3 }),
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4 }) }),
        tf.layers.permute({ dims: [2, 1] }),
        tf.layers.flatten(),
        tf.layers.softmax(),
      ],
    });
    randomizeWeights(model, 15);
    const artifacts = await saveToMemory(model);
    for (const opset of [13, 17]) {
      const { report } = await convertTfjs(artifacts, { opset });
      expectVerified(report);
      expect(report.opCounts.LayerNormalization ?? 0).toBe(opset >= 17 ? 1 : 0);
    }
  });

  it('more layers: PReLU with shared axes, merge layers, bilinear upsampling, cropping, channels_first convolution, Reshape', async () => {
    const input = tf.input({ shape: [8, 8, 2], name: 'img' });
    const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as Tf.SymbolicTensor;
    const p = tf.layers.prelu({ sharedAxes: [1, 2] }).apply(a) as Tf.SymbolicTensor;
    const t = tf.layers.thresholdedReLU({ theta: 0.1 }).apply(p) as Tf.SymbolicTensor;
    const m = tf.layers.multiply().apply([t, a]) as Tf.SymbolicTensor;
    const av = tf.layers.average().apply([m, a]) as Tf.SymbolicTensor;
    const mx = tf.layers.maximum().apply([av, p]) as Tf.SymbolicTensor;
    const mn = tf.layers.minimum().apply([mx, a]) as Tf.SymbolicTensor;
    const up = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(mn) as Tf.SymbolicTensor;
    const crop = tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }).apply(up) as Tf.SymbolicTensor;
    const cf = tf.layers.conv2d({ filters: 3, kernelSize: 2, dataFormat: 'channelsFirst' }).apply(crop) as Tf.SymbolicTensor;
    const r = tf.layers.reshape({ targetShape: [-1, 3] }).apply(cf) as Tf.SymbolicTensor;
    const g = tf.layers.globalMaxPooling1d({}).apply(r) as Tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: 'sigmoid' }).apply(g) as Tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeWeights(model, 17);
    const { report } = await convertTfjs(await saveToMemory(model));
    expectVerified(report);
    expect(report.opCounts).toMatchObject({ PRelu: 1, ThresholdedRelu: 1, Resize: 1 });
  });
});
