import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { attr, encodeModel, loadModel } from '../../src/index.js';
import { register } from '../../src/cli/commands/optimize.js';
import { buildModel } from './build.js';
import { ROOT, runCliSync } from '../helpers/cli.js';

const MLP = path.resolve(ROOT, '../shared/corpus/quality_mlp/model.onnx');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-optimize-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The real CLI in a child process (for exit codes and what reaches stdout/stderr). */
const cli = (...args: string[]) => runCliSync('optimize', ...args);

/** The command in this process (fast): resolves with its console output, rejects with its error. */
async function run(...args: string[]): Promise<string> {
  const program = new Command('modelship').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  try {
    await program.parseAsync(['node', 'modelship', 'optimize', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

describe('modelship optimize', () => {
  it('--help lists examples and the passes', () => {
    const program = new Command('modelship');
    register(program);
    const cmd = program.commands.find((c) => c.name() === 'optimize')!;
    let help = '';
    cmd.configureOutput({ writeOut: (s) => void (help += s) });
    cmd.outputHelp();
    expect(help).toContain('$ modelship optimize model.onnx -o model.opt.onnx');
    expect(help).toMatch(/fold-batchnorm\s+fold inference BatchNormalization/);
    expect(help).toContain('--input-shape <NAME=DIMS>');
  });

  it('optimizes, verifies and prints one JSON object (child process)', () => {
    const out = path.join(tmp, 'mlp.onnx');
    const r = cli(MLP, '-o', out, '--input-shape', 'features=4,6', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.verify.passed).toBe(true);
    // The test set beside the model holds 500 rows: it does not fit batch 4, so inputs were generated.
    expect(report.verifyInputs).toMatch(/^generated inputs/);
    expect(report.fileBytes.after).toBe(fs.statSync(out).size);
    expect(loadModel(out).graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [4, 1] });
  });

  it('reports for people: sizes, passes, and the test set it verified on', async () => {
    const text = await run(MLP, '-o', path.join(tmp, 'mlp2.onnx'));
    expect(text).toMatch(/nodes\s+6\s+6/);
    expect(text).toMatch(/Verified in onnxruntime on 1 input set \(.*test_data_set_0\)/);
  });

  it('fails in one line with a non-zero exit on a missing model (child process)', () => {
    const missing = cli(path.join(tmp, 'nope.onnx'), '-o', path.join(tmp, 'x.onnx'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^modelship: error: .*nope\.onnx: no such file$/);
  });

  it('refuses bad options and unverifiable models, writing nothing', async () => {
    await expect(run(MLP, '-o', MLP)).rejects.toThrow(/would overwrite an input/);
    await expect(run(MLP, '-o', path.join(tmp, 'y.onnx'), '--input-shape', 'features=1,six')).rejects.toThrow(/expected NAME=DIM,DIM/);
    await expect(run(MLP, '-o', path.join(tmp, 'y.onnx'), '--input-shape', 'features=1,2,3')).rejects.toThrow(/input shape features: the input has rank 2/);
    await expect(run(MLP, '-o', path.join(tmp, 'z.onnx'), '--skip', 'nonsense')).rejects.toThrow(/unknown pass 'nonsense'/);
    await expect(run(MLP, '-o', path.join(tmp, 'z.onnx'), '--test-data', path.join(ROOT, 'README.md'))).rejects.toThrow(/expected a folder, a \.pb tensor or a \.json file/);

    const custom = path.join(tmp, 'custom.onnx');
    fs.writeFileSync(
      custom,
      encodeModel(
        buildModel({
          inputs: { x: ['float32', [2]] },
          outputs: { y: ['float32', [2]] },
          domains: { 'com.example': 1 },
          nodes: [{ opType: 'Mystery', domain: 'com.example', inputs: ['x'], outputs: ['y'], attributes: [attr.int('k', 1)] }],
        }),
      ),
    );
    await expect(run(custom, '-o', path.join(tmp, 'custom.opt.onnx'))).rejects.toThrow(/cannot run the original model.*--no-verify/);
    expect(fs.readdirSync(tmp).sort()).toEqual(['custom.onnx', 'mlp.onnx', 'mlp2.onnx']);
    await run(custom, '-o', path.join(tmp, 'custom.opt.onnx'), '--no-verify');
    expect(fs.existsSync(path.join(tmp, 'custom.opt.onnx'))).toBe(true);
  });
});
