import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, loadModel, saveModel } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const digits = path.join(CORPUS, 'digits_cnn/model.onnx');
const mobilenet = path.join(CORPUS, 'mobilenet_v2/model.onnx');

describe('modelship bench', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));

  it('--json carries every statistic; --report writes the HTML', async () => {
    const report = path.join(tmp, 'bench.html');
    const r = await runCli(['bench', digits, mobilenet, '--batch', '1,2', '--iterations', '20', '--warmup', '1', '--json', '--report', report]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.report).toBe(report);
    expect(out.models.map((m: { name: string; sizeBytes: number }) => [m.name, m.sizeBytes])).toEqual([
      ['digits_cnn', fs.statSync(digits).size],
      ['mobilenet_v2', fs.statSync(mobilenet).size],
    ]);
    expect(out.runs).toHaveLength(2);
    for (const run of out.runs) {
      expect(Object.keys(run.memory).sort()).toEqual(['endBytes', 'growthBytes', 'peakBytes', 'startBytes', 'timeline']);
      for (const m of run.models) {
        expect(Object.keys(m.latencyMs).sort()).toEqual(['count', 'max', 'mean', 'min', 'p50', 'p90', 'p95', 'p99', 'std']);
        expect(m).toHaveProperty('throughput');
        expect(m).toHaveProperty('sessionCreateMs');
        expect(m).toHaveProperty('firstRunMs');
        expect(m).not.toHaveProperty('samplesMs'); // --raw only
      }
      // mobilenet_v2 is ~100× slower than digits_cnn: 20 samples each keep the interval clear of 1 on a noisy machine.
      expect(run.comparisons[0].summary).toMatch(/slower \(\d/);
    }
    expect(fs.readFileSync(report, 'utf8')).toContain('<svg class="chart"');
  });

  it('prints a table and the comparison for people; --runtime node,wasm compares the runtimes', async () => {
    const r = await runCli(['bench', digits, digits, '--iterations', '5', '--warmup', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/model +mean ms +std +min +p50 +p90 +p95 +p99 +max +samples\/s +load ms +first ms/);
    expect(r.stdout).toMatch(/digits_cnn \(2\) vs digits_cnn: /);
    const both = await runCli(['bench', digits, '--runtime', 'node,wasm', '--iterations', '5', '--warmup', '1', '--json']);
    const out = JSON.parse(both.stdout);
    expect(out.runtimes).toEqual(['node', 'wasm']);
    expect(out.environment.onnxruntime).toBe('onnxruntime-node 1.30.0, onnxruntime-web 1.30.0');
    expect(out.runs[0].comparisons[0]).toMatchObject({ model: 'digits_cnn [wasm]', baseline: 'digits_cnn [node]' });
  });

  it('--validate adds accuracy against the first model and exits 1 when it fails', async () => {
    const m = loadModel(digits);
    for (const [name, t] of m.graph.initializers) {
      if (t.dtype === 'float32' && t.dims.length === 2) m.graph.initializers.set(name, Tensor.from('float32', t.dims, (t.data as Float32Array).map((v) => Math.round(v * 8) / 8), name));
    }
    const coarse = path.join(tmp, 'digits_coarse.onnx');
    saveModel(m, coarse);
    const data = path.join(CORPUS, 'digits_cnn');
    const r = await runCli(['bench', digits, coarse, '--validate', '--data', data, '--labels', path.join(data, 'labels.json'), '--iterations', '2', '--json']);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.stdout).validations[0];
    expect(v).toMatchObject({ label: 'digits_coarse', passed: false, accuracy: { labels: 397 } });
    expect(v.failures[0]).toMatch(/^output 'logits': cosine /);
  });

  it('bad input: one clear line each, non-zero exit, inputs untouched', async () => {
    const before = fs.statSync(digits).mtimeMs;
    const [overwrite, notModel, missing, badBatch] = await Promise.all([
      runCli(['bench', digits, '--report', digits]),
      runCli(['bench', path.join(CORPUS, 'digits_cnn/labels.json'), '--iterations', '1']),
      runCli(['bench', path.join(tmp, 'nope.onnx')]),
      runCli(['bench', digits, '--batch', '0,2']),
    ]);
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr).toBe(`modelship: error: ${digits}: the output would overwrite an input; choose another path\n`);
    expect(fs.statSync(digits).mtimeMs).toBe(before);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr).toMatch(/^modelship: error: .*labels\.json: not a valid ONNX model.*\n$/);
    expect(missing.stderr).toBe(`modelship: error: ${path.join(tmp, 'nope.onnx')}: no such model file\n`);
    expect(badBatch.code).not.toBe(0);
    expect(badBatch.stderr).toMatch(/--batch <list>' argument '0,2' is invalid. expected a comma-separated list of positive integers/);
  });
});
