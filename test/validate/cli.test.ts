import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, loadModel, saveModel } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const digits = path.join(CORPUS, 'digits_cnn/model.onnx');
const digitsData = path.join(CORPUS, 'digits_cnn');

describe('modelship validate', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-cli-'));

  it('--json prints one object with passed and metrics per output; exit 0', async () => {
    const r = await runCli(['validate', digits, digits, '--data', digitsData, '--labels', path.join(digitsData, 'labels.json'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.passed).toBe(true);
    expect(out.outputs[0].metrics).toMatchObject({ maxAbsError: 0, cosine: 1, sqnrDb: 'Infinity', top1Agreement: 1 });
    expect(out.accuracy).toMatchObject({ labels: 397, drop: 0 });
  });

  it('a failing candidate exits 1 and names the metric', async () => {
    const m = loadModel(digits);
    // Scale the classifier's last layer: logits change, argmax too for close calls.
    const fc = [...m.graph.initializers.values()].filter((t) => t.dtype === 'float32' && t.dims.length === 2).pop()!;
    const w = (fc.data as Float32Array).map((v, i) => (i % 3 === 0 ? -v : v));
    m.graph.initializers.set(fc.name, Tensor.from('float32', fc.dims, w, fc.name));
    const bad = path.join(tmp, 'bad.onnx');
    saveModel(m, bad);
    const r = await runCli(['validate', digits, bad, '--data', digitsData, '--min-top1-agreement', '0.99']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED\n {2}output 'logits': cosine [\d.]+ < 0\.99/);
    expect(r.stdout).toMatch(/output 'logits': top1Agreement [\d.]+ < 0\.99/);
  });

  it('--expected compares with test-case outputs', async () => {
    const r = await runCli(['validate', digits, '--expected', digitsData]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(expected outputs)');
    expect(r.stdout).toMatch(/PASSED\n$/);
  });

  it('bad input: one clear line each, non-zero exit', async () => {
    const labels = path.join(tmp, 'labels.json');
    fs.writeFileSync(labels, '[1, 2]');
    const [notModel, wrongLabels, shapes, neither] = await Promise.all([
      runCli(['validate', path.join(digitsData, 'meta.json'), digits]),
      runCli(['validate', digits, digits, '--data', digitsData, '--labels', labels]),
      runCli(['validate', digits, digits, '--data', path.join(CORPUS, 'quality_mlp')]),
      runCli(['validate', digits]),
    ]);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr).toMatch(/^modelship: error: .*meta\.json: not a valid ONNX model .*\n$/);
    expect(wrongLabels.code).toBe(1);
    expect(wrongLabels.stderr).toBe(`modelship: error: ${labels}: 2 labels, but output 'logits' has more rows than that (397 after 1 of 1 samples)\n`);
    expect(shapes.code).toBe(1);
    expect(shapes.stderr).toMatch(/^modelship: error: .*quality_mlp\/test_data_set_0: reference: input 'image': got shape \[500,6\] \(rank 2\), the model expects float32\[batch,1,8,8\] \(rank 4\)\n$/);
    expect(neither.stderr).toBe('modelship: error: validate: give a CANDIDATE model, or --expected DIR to compare with test-case outputs\n');
  });
});
