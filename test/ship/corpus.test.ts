/**
 * ship on real models: digits_cnn with its labelled test set (a smaller quantized variant within the
 * accuracy budget; the manifest and report agree with a separate validate and bench of the shipped
 * file; the same choice on a second run unless within noise), text_transformer (q8/q4/fp16 with
 * reasons), and the package served as it is.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bench, createServer, loadLabels, loadModel, readManifest, readTensorFile, ship, validate, Tensor, type PackageManifest, type ShipResult } from '../../src/index.js';
import { CORPUS, tempDir } from '../serve/helpers.js';

const FAST = { benchSeconds: 0.5, threads: 1 };
let root: string;
beforeAll(() => {
  root = tempDir('ship');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'modelship.json'), 'utf8')) as PackageManifest;

/** Odd rows of a [rows, …] tensor: the evaluation half of ship's split. */
function oddRows(t: Tensor): Tensor {
  const rows = t.dims[0]!;
  const size = t.size / rows;
  const keep = Array.from({ length: Math.floor(rows / 2) }, (_, i) => 2 * i + 1);
  const src = t.data as Float32Array;
  const out = new Float32Array(keep.length * size);
  keep.forEach((r, i) => out.set(src.subarray(r * size, (r + 1) * size), i * size));
  return Tensor.from('float32', [keep.length, ...t.dims.slice(1)], out, t.name);
}

describe('digits_cnn with its labelled test set', () => {
  let first: ShipResult;
  let pkg: string;
  beforeAll(async () => {
    pkg = path.join(root, 'digits');
    // Objective size: sizes and accuracy are deterministic, so this choice does not hang on timing.
    first = await ship(path.join(CORPUS, 'digits_cnn'), { outDir: pkg, objective: 'size', ...FAST });
  });

  it('ships a smaller quantized variant that keeps accuracy within the budget, with reasons for every strategy', () => {
    expect(first.reason).toMatch(/the smallest of \d candidates meeting every constraint/);
    const m = manifestOf(pkg);
    expect(first.passed).toBe(true);
    const chosen = m.candidates.find((c) => c.name === m.ship.chosen)!;
    expect(chosen.mode).toBeDefined(); // a quantize mode, not the fp32 graph
    expect(chosen.sizeRatio).toBeLessThan(0.6);
    expect(chosen.accuracy!.drop).toBeLessThanOrEqual(0.01);
    expect(m.ship.thresholds.maxAccuracyDrop).toBe(0.01);
    // The analysis saw a CNN and tried static int8 (calibrated) and fp16 besides fp32.
    expect(m.ship.analysis.family).toBe('cnn');
    expect(m.candidates.map((c) => c.name)).toEqual(expect.arrayContaining(['fp32', 'fp16', 'int8']));
    for (const c of m.candidates) expect(c.reason.length).toBeGreaterThan(20);
    expect(m.ship.analysis.notTried.find((s) => s.name === 'uint8')?.reason).toMatch(/U8S8/);
    // Calibration and evaluation never share a row: even rows calibrate, odd rows evaluate.
    const data = m.ship.data as { calibration: { rows: number }; evaluation: { rows: number; generatedRows: number } };
    expect(data.calibration.rows).toBe(199);
    expect(data.evaluation.rows).toBe(198);
    expect(data.evaluation.generatedRows).toBe(0);
    expect(chosen.accuracy!.rows).toBe(198);
  });

  it('agrees with a separate validate and bench of the shipped file', async () => {
    const m = manifestOf(pkg);
    const file = path.join(pkg, 'model.onnx');
    const bytes = fs.readFileSync(file);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(m.modelSha256);
    expect(m.source.sha256).toBe(createHash('sha256').update(fs.readFileSync(path.join(CORPUS, 'digits_cnn/model.onnx'))).digest('hex'));
    const chosen = m.candidates.find((c) => c.name === m.ship.chosen)!;
    expect(chosen.sizeBytes).toBe(bytes.byteLength);

    const image = oddRows(readTensorFile(path.join(CORPUS, 'digits_cnn/test_data_set_0/input_0.pb')));
    const labels = loadLabels(path.join(CORPUS, 'digits_cnn/labels.json')).filter((_, i) => i % 2 === 1);
    const v = await validate(path.join(CORPUS, 'digits_cnn/model.onnx'), file, { data: [{ source: 'odd rows', inputs: { image } }], labels, threads: 1 });
    expect(v.accuracy!.candidate).toBeCloseTo(chosen.accuracy!.candidate, 12);
    expect(v.accuracy!.drop).toBeCloseTo(chosen.accuracy!.drop, 12);
    expect(v.outputs[0]!.metrics!.top1Agreement).toBeCloseTo(chosen.agreement!, 12);
    expect(v.outputs[0]!.metrics!.cosine).toBeCloseTo(chosen.outputs![0]!.cosine!, 9);

    const b = await bench([path.join(CORPUS, 'digits_cnn/model.onnx'), file], { iterations: 20, threads: [1] });
    expect(b.models[1]!.sizeBytes).toBe(m.modelBytes);
    expect(b.runs[0]!.models[1]!.latencyMs!.p50).toBeGreaterThan(0);

    // The report shows every candidate and the choice, with the manifest's numbers.
    const html = fs.readFileSync(path.join(pkg, 'report.html'), 'utf8');
    expect(html).toContain(`${m.ship.chosen} (shipped)`);
    for (const c of m.candidates) expect(html).toContain(`${(c.accuracy!.candidate * 100).toFixed(2)}% (drop ${(c.accuracy!.drop * 100).toFixed(2)})`);
    expect(html).toContain(chosen.latencyVsOriginal!.summary);
  });

  it('by latency, gives the same choice on a second run unless the top two are within noise', async () => {
    const [a, b] = [await ship(path.join(CORPUS, 'digits_cnn'), { outDir: path.join(root, 'digits-a'), ...FAST }), await ship(path.join(CORPUS, 'digits_cnn'), { outDir: path.join(root, 'digits-b'), ...FAST })];
    const noisy = Boolean(a.runnerUp?.withinNoise || b.runnerUp?.withinNoise);
    if (a.chosen !== b.chosen) expect(noisy).toBe(true);
    if (a.runnerUp?.withinNoise) expect(a.reason).toMatch(/within noise/);
    // Everything but the timings is the same run to run.
    const stable = (r: ShipResult) => r.candidates.map((c) => [c.name, c.sizeBytes, c.agreement, c.accuracy?.drop]);
    expect(stable(b)).toEqual(stable(a));
    expect(stable(a)).toEqual(stable(first));
  });

  it('is served as it is: v2 infer with the example request, /predict with the example image', async () => {
    const app = createServer({ targets: [pkg], logLevel: 'silent', threads: 1 });
    try {
      await app.ready();
      const request = JSON.parse(fs.readFileSync(path.join(pkg, 'request.json'), 'utf8'));
      const infer = await app.inject({ method: 'POST', url: '/v2/models/digits_cnn/infer', payload: request });
      expect(infer.statusCode).toBe(200);
      const out = infer.json().outputs[0];
      expect(out.shape).toEqual([1, 10]);
      const predict = await app.inject({ method: 'POST', url: '/v2/models/digits_cnn/predict', headers: { 'content-type': 'image/png' }, payload: fs.readFileSync(path.join(pkg, 'example.png')) });
      expect(predict.statusCode).toBe(200);
      const top = predict.json().predictions[0];
      // The example image is the first evaluation row: the same class as the tensor request.
      const logits = out.data as number[];
      expect(top.index).toBe(logits.indexOf(Math.max(...logits)));
    } finally {
      await app.close();
    }
  });
});

describe('text_transformer', () => {
  it('picks among q8, q4 and fp16 with reasons; int8 is not tried, and says why', async () => {
    const pkg = path.join(root, 'transformer');
    const r = await ship(path.join(CORPUS, 'text_transformer'), { outDir: pkg, objective: 'size', ...FAST });
    const m = manifestOf(pkg);
    expect(m.ship.analysis.family).toBe('transformer');
    const byName = Object.fromEntries(m.ship.analysis.strategies.map((s) => [s.name, s.reason]));
    expect(byName.q8).toMatch(/dynamic int8/);
    expect(byName.q4).toMatch(/4-bit/);
    expect(byName.fp16).toMatch(/float16/);
    expect(m.ship.analysis.notTried.find((s) => s.name === 'int8')?.reason).toMatch(/attention/);
    expect(['q8', 'q4', 'fp16']).toContain(r.chosen);
    expect(r.reason).toMatch(/smallest/);
    // Two rows of data: evaluation adds generated rows so one changed prediction is 1%, not 50%.
    expect(r.data.evaluation.dataRows).toBe(2);
    expect(r.data.evaluation.rows).toBeGreaterThanOrEqual(100);
    // Every candidate that misses the agreement says by how much.
    for (const c of r.candidates.filter((x) => x.passed === false)) expect(c.constraints!.find((k) => !k.passed)!.text).toMatch(/short by/);
    expect(readManifest(pkg).inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask']);
    expect(loadModel(path.join(pkg, 'model.onnx')).graph.inputs.length).toBe(2);
  });
});
