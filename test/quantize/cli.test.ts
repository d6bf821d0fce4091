import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const digits = path.join(CORPUS, 'digits_cnn/model.onnx');
const digitsData = path.join(CORPUS, 'digits_cnn/test_data_set_0');
const digitsLabels = path.join(CORPUS, 'digits_cnn/labels.json');
const mlp = path.join(CORPUS, 'quality_mlp/model.onnx');

describe('modelship quantize', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quantize-cli-'));

  it('--help lists the modes with an example', async () => {
    const r = await runCli(['quantize', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fp16 | q8 | int8 | uint8 | q4 | q4f16');
    expect(r.stdout).toMatch(/Examples:\n {2}\$ modelship quantize /);
  });

  it('int8 with --json: one object; the model is written, loads, and holds QDQ; --debug FILE gets the per-layer report', async () => {
    const out = path.join(tmp, 'digits.int8.onnx');
    const layers = path.join(tmp, 'layers.json');
    const r = await runCli(['quantize', digits, '-o', out, '--mode', 'int8', '--calibration', digitsData, '--labels', digitsLabels, '--max-drop', '0.5', '--debug', layers, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ input: digits, output: out, mode: 'int8', budget: { metric: 'accuracy', maxDrop: 0.5, passed: true } });
    expect(report.size.after).toBeLessThan(report.size.before * 0.3);
    expect(report.validation.runtimes).toEqual(['node', 'wasm']);
    expect(report.calibration).toMatchObject({ method: 'minmax', rows: 397, data: 'data' });
    expect(report.cpu.note).toMatch(/VNNI|dot product|7-bit/);
    const model = loadModel(out);
    expect(model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length).toBeGreaterThan(0);
    const debug = JSON.parse(fs.readFileSync(layers, 'utf8'));
    expect(debug).toHaveLength(4);
    // Worst first, by the error each layer adds itself.
    for (let i = 1; i < debug.length; i++) expect(debug[i].localSqnrDb).toBeGreaterThanOrEqual(debug[i - 1].localSqnrDb);
  });

  it('human output states size, CPU choice, validation on node and WASM', async () => {
    const out = path.join(tmp, 'mlp.q8.onnx');
    const r = await runCli(['quantize', mlp, '-o', out, '--mode', 'q8']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/size {9}[\d.]+ KiB → [\d.]+ KiB \([\d.]+×\)/);
    expect(r.stdout).toMatch(/CPU {10}/);
    expect(r.stdout).toMatch(/validation {3}8 rows of generated inputs, on node and wasm/);
    expect(fs.existsSync(out)).toBe(true);
  });

  it('a missed --max-drop fails with one line and writes nothing', async () => {
    const out = path.join(tmp, 'never.onnx');
    // 4-bit weights cannot hold a 0.001-point cosine budget.
    const r = await runCli(['quantize', mlp, '-o', out, '--mode', 'q4', '--max-drop', '0.00001', '--metric', 'cosine', '--block-size', '16']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/modelship: error: .*cosine dropped [\d.]+ points, more than --max-drop 0\.00001.*no model written/);
    expect(r.stdout).toContain('FAILED');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('bad input: one clear line each, non-zero exit, nothing written', async () => {
    const quantized = path.join(tmp, 'q.onnx');
    await runCli(['quantize', mlp, '-o', quantized, '--mode', 'q8']);
    const out = path.join(tmp, 'bad.onnx');
    const cases = await Promise.all([
      runCli(['quantize', mlp, '-o', out, '--mode', 'int8']),
      runCli(['quantize', quantized, '-o', out, '--mode', 'q8']),
      runCli(['quantize', mlp, '-o', mlp, '--mode', 'q8']),
      runCli(['quantize', mlp, '-o', out, '--mode', 'q8', '--op-types', 'Softmax']),
      runCli(['quantize', mlp, '-o', out, '--mode', 'int9']),
      runCli(['quantize', mlp, '-o', out, '--mode', 'int8', '--calibration', path.join(tmp, 'nowhere')]),
      runCli(['quantize', mlp, '-o', out, '--mode', 'q8', '--auto-exclude']),
    ]);
    const messages = [
      /--mode int8 needs --calibration DIR .*--calibration random/,
      /cannot be quantized: it is already quantized \(dynamic\); start from the float32 model/,
      /the output would overwrite an input/,
      /--op-types: Softmax cannot be quantized in mode q8 \(it handles MatMul, Gemm, Conv, LSTM, Gather\)/,
      /option '--mode <mode>' argument 'int9' is invalid/,
      /nowhere: no such file or folder/,
      /--auto-exclude needs --max-drop/,
    ];
    cases.forEach((r, i) => {
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr.trim().split('\n')[0]).toMatch(messages[i]!);
    });
    expect(fs.existsSync(out)).toBe(false);
  });
});
