/**
 * The pipeline's parts: a TF.js Layers model trained here ships end to end (convert is a stage); a
 * strategy that fails is recorded and skipped; the data split never shares a row; the choice under
 * noise, objectives and missed constraints; `demo` ships the project's example model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExampleModel,
  checkConstraints,
  createServer,
  selectCandidate,
  ship,
  splitData,
  Tensor,
  type ConstraintCheck,
  type LoadedSample,
  type Measured,
  type PairedRatio,
} from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../serve/helpers.js';
import { tfjs, trainBriefly, saveToMemory, writeModelJson } from '../convert/helpers.js';

let root: string;
beforeAll(() => {
  root = tempDir('ship-pipeline');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('a TF.js Layers model trained here', () => {
  it('converts, quantizes, validates, benches and packages; the package serves', async () => {
    const tf = await tfjs();
    tf.setBackend('cpu');
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [12], units: 32, activation: 'relu' }), tf.layers.dense({ units: 4, activation: 'softmax' })],
    });
    const x = tf.randomUniform([64, 12], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.randomUniform([64], 0, 4, 'int32', 2), 4);
    await trainBriefly(model, x, y);
    const json = writeModelJson(path.join(root, 'tfjs'), await saveToMemory(model));
    const pkg = path.join(root, 'tfjs-pkg');
    const r = await ship(json, { outDir: pkg, benchSeconds: 0.3, threads: 1, classNames: ['a', 'b', 'c', 'd'] });
    const m = r.manifest;
    expect(m.source.format).toBe('tfjs-layers-model');
    expect(m.source.files.map((f) => f.file)).toEqual(['model.json', 'group1-shard1of1.bin']);
    expect(m.inputs[0]!.shape[0]).toBe('batch');
    expect(r.candidates.filter((c) => c.status === 'measured').length).toBeGreaterThanOrEqual(3);
    // No data: evaluation on generated rows, static int8 calibrated on other generated inputs.
    expect(r.data.evaluation.generatedRows).toBe(100);
    expect(r.data.calibration.from).toMatch(/generated/);
    expect(r.passed).toBe(true);
    // The model ends in softmax: the classifier spec does not apply it twice; labels from the options.
    expect(m.postprocess).toMatchObject({ kind: 'classification', softmax: false, labels: ['a', 'b', 'c', 'd'] });
    const app = createServer({ targets: [pkg], logLevel: 'silent', threads: 1 });
    try {
      await app.ready();
      const res = await app.inject({ method: 'POST', url: `/v2/models/${m.name}/predict`, payload: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x${i}`, 0.5])) });
      expect(res.statusCode).toBe(200);
      expect(['a', 'b', 'c', 'd']).toContain(res.json().predictions[0].label);
    } finally {
      await app.close();
    }
  });
});

describe('a failing strategy', () => {
  it('is recorded with its stage and reason, and the others ship', async () => {
    // Opset 9 has no DynamicQuantizeLinear (q8 needs 11): q8 fails, fp32 and fp16 go on.
    const model = buildExampleModel();
    model.opsetImports = [{ domain: '', version: 9 }];
    const r = await ship(model, { outDir: path.join(root, 'opset9'), strategies: ['q8', 'fp16'], benchSeconds: 0.2, threads: 1, name: 'opset9' });
    const q8 = r.candidates.find((c) => c.name === 'q8')!;
    expect(q8.status).toBe('failed');
    expect(q8.error).toEqual({ stage: 'generate', message: expect.stringMatching(/q8 needs opset ≥ 11/) });
    expect(['fp32', 'fp16']).toContain(r.chosen);
    expect(r.manifest.candidates.find((c) => c.name === 'q8')!.status).toBe('failed');
  });
});

describe('splitData', () => {
  it('alternates rows between calibration and evaluation and keeps the labels with their rows', () => {
    const model = buildExampleModel();
    const x = Float32Array.from({ length: 7 * 32 }, (_, i) => Math.floor(i / 32));
    const sample = { source: 'seven rows', inputs: { features: Tensor.from('float32', [7, 32], x, 'features') } };
    const split = splitData(model, { data: [sample], labels: [10, 11, 12, 13, 14, 15, 16], needsCalibration: true });
    const rowIds = (t: Tensor) => Array.from({ length: t.dims[0]! }, (_, r) => (t.data as Float32Array)[r * 32]);
    expect(rowIds((split.calibration as LoadedSample[])[0]!.inputs.features!)).toEqual([0, 2, 4, 6]);
    expect(rowIds(split.evaluation[0]!.inputs.features!)).toEqual([1, 3, 5]);
    expect(Array.from(split.evaluationLabels!)).toEqual([11, 13, 15]);
    // Labels need every evaluation row to be real: no generated rows are added.
    expect(split.description.evaluation.generatedRows).toBe(0);
    // Nothing to calibrate: every row evaluates.
    const all = splitData(model, { data: [sample], labels: [0, 1, 2, 3, 4, 5, 6], needsCalibration: false });
    expect(all.evaluation[0]!.inputs.features!.dims[0]).toBe(7);
    expect(all.calibration).toBe('random');
  });
});

describe('selectCandidate', () => {
  const m = (name: string, sizeBytes: number, p50Ms: number, agreement = 1): Measured => ({ name, sizeBytes, p50Ms, agreement, outputProblems: [] });
  const ratio = (r: number, low: number, high: number): PairedRatio => ({ ratio: r, low, high, confidence: 0.95, pairs: 100, verdict: high < 1 ? 'faster' : low > 1 ? 'slower' : 'no measurable difference' });
  const checksFor = (list: Measured[], limit: number) => new Map<string, ConstraintCheck[]>(list.map((c) => [c.name, checkConstraints(c, { minAgreement: limit })]));

  it('latency decides only beyond noise; within it the smaller file wins', () => {
    const list = [m('fp32', 1000, 1.0), m('fp16', 500, 1.01), m('int8', 250, 0.6)];
    const clear = selectCandidate(list, checksFor(list, 0.99), 'latency', (_a, b) => (b === 'int8' ? ratio(0.6, 0.55, 0.65) : ratio(1.2, 1.15, 1.25)));
    expect(clear.chosen).toBe('int8');
    expect(clear.runnerUp?.withinNoise).toBe(false);
    const noisy = selectCandidate(list, checksFor(list, 0.99), 'latency', () => ratio(1.01, 0.99, 1.02));
    expect(noisy.chosen).toBe('int8');
    expect(noisy.noiseGroup).toEqual(['int8', 'fp32', 'fp16']);
    const fp32Fastest = [m('fp32', 1000, 0.5), m('fp16', 500, 0.51)];
    const tie = selectCandidate(fp32Fastest, checksFor(fp32Fastest, 0.99), 'latency', () => ratio(1.02, 1.01, 1.03));
    expect(tie.chosen).toBe('fp16');
    expect(tie.reason).toMatch(/within noise.*fp16 is the smallest.*fp32 measured fastest/);
  });

  it('objectives size and accuracy; constraints filter first', () => {
    const list = [m('fp32', 1000, 1.0), m('q8', 300, 0.8, 0.995), m('q4', 200, 0.9, 0.95)];
    const checks = checksFor(list, 0.99);
    const none = () => ratio(1, 0.9, 1.1);
    expect(selectCandidate(list, checks, 'size', none).chosen).toBe('q8');
    expect(selectCandidate(list, checks, 'accuracy', none).chosen).toBe('fp32');
    expect(checks.get('q4')![0]!.text).toBe('agreement 0.9500 < 0.99 (short by 0.0400)');
  });

  it('ships the closest when none passes, naming each missed constraint and the gap', () => {
    const list = [m('fp32', 4_000_000, 2.0), m('q8', 1_500_000, 1.2)];
    const checks = new Map(list.map((c) => [c.name, checkConstraints(c, { targetLatencyMs: 1, maxSizeBytes: 1_048_576 })]));
    const s = selectCandidate(list, checks, 'latency', () => ratio(0.6, 0.55, 0.65));
    expect(s.passed).toBe(false);
    expect(s.chosen).toBe('q8');
    expect(s.failed.map((f) => [f.constraint, Number(f.gap.toFixed(3))])).toEqual([['latency', 0.2], ['size', 1_500_000 - 1_048_576]]);
    expect(s.reason).toMatch(/no candidate meets every constraint; q8 comes closest: p50 latency 1\.20 ms > target 1 ms \(1\.20× the target, 0\.20 ms over\); size 1\.4 MiB > 1\.0 MiB/);
  });
});

describe('modelship demo', () => {
  it("ships the project's example model and says how to serve it", async () => {
    const dir = path.join(root, 'demo');
    const r = await runCli(['demo', '--dir', dir, '--bench-seconds', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Example model: .*model\.onnx \(held-out accuracy/);
    expect(r.stdout).toMatch(/shipped \S+: /);
    expect(r.stdout).toContain(`npx modelship serve ${path.join(dir, 'package')}`);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'package', 'modelship.json'), 'utf8'));
    expect(m.name).toBe('example');
    expect(m.postprocess.labels).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']);
    expect(m.ship.thresholds.maxAccuracyDrop).toBe(0.01);
  });
});
