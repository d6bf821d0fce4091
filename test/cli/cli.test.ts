/**
 * The CLI as users run it (`node dist/cli/main.js`, built by test/global-setup.ts): bad input gives
 * exactly one clear line on stderr and a non-zero exit; inspect/run/test produce what they say, demo ships the example model.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, allClose, loadModel, readTensorFile, saveModel, writeTensorFile } from '../../src/index.js';
import { runCliSync } from '../helpers/cli.js';

const CORPUS = path.resolve('../shared/corpus');
const NODE_SUITE = '/usr/share/libonnx-testdata/data/node';

const cli = runCliSync;

/** Exactly one stderr line, `modelship: error: …` matching `pattern`, non-zero exit, nothing on stdout. */
function expectOneErrorLine(r: ReturnType<typeof cli>, pattern: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.length);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^modelship: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).not.toMatch(/\bat .*\.js:\d+|onnxruntime_src|\x1b\[/); // no stack, no C++ paths, no colour codes
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('corrupt and wrong input: one clear line, non-zero exit', () => {
  it('a truncated model', () => {
    const file = path.join(tmp, 'truncated.onnx');
    fs.writeFileSync(file, fs.readFileSync(path.join(CORPUS, 'mobilenet_v2/model.onnx')).subarray(0, 100_000));
    expectOneErrorLine(cli('inspect', file), /truncated\.onnx: not a valid ONNX model: the data ends in the middle of a field \(a truncated file/);
    expectOneErrorLine(cli('run', file, '--random'), /truncated\.onnx: not a valid ONNX model/);
  });

  it('files that are not ONNX models: text, a tensor .pb, empty, missing', () => {
    const text = path.join(tmp, 'notes.onnx');
    fs.writeFileSync(text, 'these are not the weights you are looking for\n');
    expectOneErrorLine(cli('inspect', text), /notes\.onnx: not a valid ONNX model: the data ends in the middle of a field \(a truncated file, or not protobuf at all\)/);
    const binary = path.join(tmp, 'random.onnx');
    fs.writeFileSync(binary, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
    expectOneErrorLine(cli('inspect', binary), /random\.onnx: not a valid ONNX model: /);
    expectOneErrorLine(cli('inspect', path.join(CORPUS, 'digits_cnn/test_data_set_0/input_0.pb')), /input_0\.pb: not a valid ONNX model/);
    const empty = path.join(tmp, 'empty.onnx');
    fs.writeFileSync(empty, '');
    expectOneErrorLine(cli('inspect', empty), /empty\.onnx: empty file, not an ONNX model/);
    expectOneErrorLine(cli('inspect', path.join(tmp, 'absent.onnx')), /absent\.onnx: no such file/);
  });

  it('a model whose external data file is missing', () => {
    const dir = path.join(tmp, 'ext');
    saveModel(loadModel(path.join(CORPUS, 'quality_mlp/model.onnx')), path.join(dir, 'model.onnx'), { externalData: true, sizeThreshold: 64 });
    fs.rmSync(path.join(dir, 'model.onnx.data'));
    expectOneErrorLine(cli('inspect', path.join(dir, 'model.onnx')), /model\.onnx: tensor '.+': external data file 'model\.onnx\.data' not found/);
    expectOneErrorLine(cli('run', path.join(dir, 'model.onnx'), '--random'), /external data file 'model\.onnx\.data' not found/);
  });

  it('run: a wrong-dtype or wrong-shape .pb, a missing or unknown input, a corrupt .pb', () => {
    const model = path.join(CORPUS, 'digits_cnn/model.onnx');
    const ints = path.join(tmp, 'ints.pb');
    writeTensorFile(ints, Tensor.from('int64', [1, 1, 8, 8], new BigInt64Array(64), 'image'));
    expectOneErrorLine(cli('run', model, '--input', `image=${ints}`), /ints\.pb: input 'image': got int64, the model expects float32/);
    const flat = path.join(tmp, 'flat.pb');
    writeTensorFile(flat, Tensor.from('float32', [64], new Float32Array(64), 'image'));
    expectOneErrorLine(cli('run', model, '--input', flat), /flat\.pb: input 'image': got shape \[64\] \(rank 1\), the model expects float32\[batch,1,8,8\] \(rank 4\)/);
    expectOneErrorLine(cli('run', model), /needs input image \(float32\[batch, 1, 8, 8\]\): pass --input NAME=FILE\.pb\|FILE\.json, or --random/);
    expectOneErrorLine(cli('run', model, '--input', `pixels=${flat}`), /the model has no input 'pixels' \(inputs: image\)/);
    const bad = path.join(tmp, 'bad.pb');
    fs.writeFileSync(bad, fs.readFileSync(path.join(CORPUS, 'digits_cnn/test_data_set_0/input_0.pb')).subarray(0, 500));
    expectOneErrorLine(cli('run', model, '--input', bad), /bad\.pb: not a serialized ONNX TensorProto: the data ends in the middle of a field/);
    const json = path.join(tmp, 'bad.json');
    fs.writeFileSync(json, '[[1, 2], [3]]');
    expectOneErrorLine(cli('run', path.join(CORPUS, 'quality_mlp/model.onnx'), '--input', json), /bad\.json: ragged nested array/);
  });

  it('a model onnxruntime rejects: its reason on one line, without its native log', () => {
    expectOneErrorLine(
      cli('run', path.join(NODE_SUITE, 'test_lstm_batchwise/model.onnx'), '--random'),
      /model\.onnx: onnxruntime \(node\) cannot load it: .*Batchwise recurrent operations \(layout == 1\) are not supported/,
    );
  });

  it('test: a folder without test cases; an unknown option', () => {
    const empty = path.join(tmp, 'no-cases');
    fs.mkdirSync(empty);
    expectOneErrorLine(cli('test', empty), /no-cases: no ONNX test cases \(folders with model\.onnx\) found/);
    const r = cli('inspect', '--frobnicate', 'x.onnx');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^modelship: unknown option '--frobnicate'/);
  });
});

describe('inspect', () => {
  const FAMILIES: Record<string, string> = {
    digits_cnn: 'cnn',
    mobilenet_v2: 'cnn',
    text_transformer: 'transformer',
    lstm_tagger: 'recurrent',
    quality_mlp: 'mlp',
  };

  it.each(Object.keys(FAMILIES))('--json for %s: one object with the documented fields and its family', (name) => {
    const file = path.join(CORPUS, name, 'model.onnx');
    const r = cli('inspect', file, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    const model = loadModel(file);
    const meta = JSON.parse(fs.readFileSync(path.join(CORPUS, name, 'meta.json'), 'utf8'));
    expect(report.inputs.map((v: { name: string }) => v.name)).toEqual(meta.inputs);
    expect(report.outputs.map((v: { name: string }) => v.name)).toEqual(meta.outputs);
    expect(report.opsets).toEqual({ 'ai.onnx': meta.opset });
    expect(report.nodeCount).toBe(model.graph.nodes.length);
    expect(Object.values(report.opCounts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(report.totalNodeCount);
    const params = [...model.graph.initializers.values()].reduce((n, t) => n + t.size, 0);
    expect(report.parameterCount).toBe(params);
    expect(report.sizeBytes).toBe(fs.statSync(file).size);
    expect(report.profile.family).toBe(FAMILIES[name]);
    expect(report.producer.name).toBe('pytorch');
  });

  it('reports dtypes, symbolic dims and dynamic axes', () => {
    const report = JSON.parse(cli('inspect', path.join(CORPUS, 'text_transformer/model.onnx'), '--json').stdout);
    expect(report.inputs).toEqual([
      { name: 'input_ids', kind: 'tensor', dtype: 'int64', shape: ['batch', 'seq'] },
      { name: 'attention_mask', kind: 'tensor', dtype: 'int64', shape: ['batch', 'seq'] },
    ]);
    expect(report.profile.dynamicAxes).toContainEqual({ value: 'input_ids', axis: 1, dim: 'seq' });
    expect(report.profile.controlFlow).toBe(false);
    expect(report.profile.quantized).toBe(false);
  });

  it('prints a readable summary', () => {
    const r = cli('inspect', path.join(CORPUS, 'digits_cnn/model.onnx'));
    expect(r.code).toBe(0);
    for (const part of ['Inputs', '  image: float32[batch, 1, 8, 8]', 'Profile', 'family        cnn', 'Parameters: 38.3K', 'Largest initializers', 'fc1.weight']) {
      expect(r.stdout).toContain(part);
    }
  });
});

describe('run', () => {
  it('--json prints the outputs in full, matching PyTorch’s', () => {
    const dir = path.join(CORPUS, 'quality_mlp');
    const r = cli('run', path.join(dir, 'model.onnx'), '--input', path.join(dir, 'test_data_set_0/input_0.pb'), '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const expected = readTensorFile(path.join(dir, 'test_data_set_0/output_0.pb'));
    expect(out.outputs[0].name).toBe('ssim');
    expect(out.outputs[0].dims).toEqual(expected.dims);
    const got = Tensor.from('float32', out.outputs[0].dims, Float32Array.from(out.outputs[0].data), 'ssim');
    expect(allClose(got, expected).ok).toBe(true);
  });

  it('--random with named dims, --output-dir writes a test case that `test` then passes', () => {
    const caseDir = path.join(tmp, 'lstm-case');
    fs.mkdirSync(caseDir);
    fs.copyFileSync(path.join(CORPUS, 'lstm_tagger/model.onnx'), path.join(caseDir, 'model.onnx'));
    const r = cli('run', path.join(caseDir, 'model.onnx'), '--random', '--batch', '2', '--dim', 'time=7', '--output-dir', path.join(caseDir, 'test_data_set_0'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/input {2}frames: float32\[2,7,40\]/);
    expect(readTensorFile(path.join(caseDir, 'test_data_set_0/input_0.pb')).dims).toEqual([2, 7, 40]);
    const t = cli('test', caseDir);
    expect(t.stdout).toContain('1 passed, 0 failed');
    expect(t.code).toBe(0);
  });
});

describe('test', () => {
  it('runs a folder of test cases with a total line, and --json as one object', () => {
    const r = cli('test', CORPUS);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').filter((l) => l.startsWith('PASS'))).toHaveLength(5);
    expect(r.stdout).toMatch(/\n5 passed, 0 failed\n$/);
    const j = JSON.parse(cli('test', path.join(CORPUS, 'digits_cnn'), path.join(NODE_SUITE, 'test_bernoulli'), '--json').stdout);
    expect(j.passed).toBe(1);
    expect(j.failed).toBe(1);
    expect(j.results[1]).toMatchObject({ name: 'test_bernoulli', status: 'failed', stage: 'compare' });
  });

  it('exits non-zero when a case fails, printing where it failed', () => {
    const r = cli('test', path.join(NODE_SUITE, 'test_cast_FLOAT_to_BFLOAT16'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL test_cast_FLOAT_to_BFLOAT16 \[session\] .*Unsupported data type: 16\n0 passed, 1 failed\n$/);
  });
});

describe('help and demo', () => {
  it.each(['inspect', 'run', 'test', 'demo', 'ship'])('%s --help shows examples', (cmd) => {
    const r = cli(cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n {2}\$ modelship /);
  });

  it('demo ships the example model (an MLP classifier) to a package', () => {
    const r = cli('demo', '--dir', path.join(tmp, 'demo'), '--bench-seconds', '0.2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.example.testAccuracy).toBeGreaterThan(0.8);
    expect(j.ship.analysis.family).toBe('mlp');
    expect(j.ship.passed).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'demo/example/model.onnx'))).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'demo/package/modelship.json'))).toBe(true);
  });
});
