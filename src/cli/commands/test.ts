import type { Command } from 'commander';
import { listTestCases } from '../../io/index.js';
import { runTestCase, DEFAULT_TOLERANCE, type TestCaseResult } from '../../testcases/index.js';
import type { RuntimeName } from '../../runtime/index.js';
import { interactive, parseChoice, parseFloatOption, printJson, progress, withExamples } from '../common.js';

interface TestOptions {
  rtol: number;
  atol: number;
  runtime: RuntimeName;
  json?: boolean;
}

export function register(program: Command): void {
  withExamples(
    program
      .command('test')
      .description('run ONNX test cases (model.onnx + test_data_set_*) in onnxruntime and compare with their expected outputs')
      .argument('<dir...>', 'test-case folders, or folders of them')
      .option('--rtol <x>', 'relative tolerance', parseFloatOption, DEFAULT_TOLERANCE.rtol)
      .option('--atol <x>', 'absolute tolerance', parseFloatOption, DEFAULT_TOLERANCE.atol)
      .option('--runtime <name>', 'node or wasm', parseChoice(['node', 'wasm', 'cuda'] as const), 'node')
      .option('--json', 'print every result as JSON')
      .action(async (dirs: string[], opts: TestOptions) => {
        const cases = dirs.flatMap((d) => listTestCases(d));
        const results: TestCaseResult[] = [];
        const bar = progress(cases.length, 'testing', interactive(opts.json));
        for (const [i, dir] of cases.entries()) {
          const r = await runTestCase(dir, { rtol: opts.rtol, atol: opts.atol, runtime: opts.runtime });
          results.push(r);
          bar.update(i + 1, r.name);
          if (!opts.json && !interactive(opts.json)) printResult(r);
        }
        bar.stop();
        const failed = results.filter((r) => r.status === 'failed');
        if (opts.json) {
          printJson({ passed: results.length - failed.length, failed: failed.length, results });
        } else {
          if (interactive(opts.json)) results.forEach(printResult);
          console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
        }
        if (failed.length) process.exitCode = 1;
      }),
    'modelship test ../shared/corpus/digits_cnn',
    'modelship test /usr/share/libonnx-testdata/data/node --json',
  );
}

function printResult(r: TestCaseResult): void {
  if (r.status === 'passed') console.log(`PASS ${r.name} (${r.durationMs.toFixed(0)} ms)`);
  else console.log(`FAIL ${r.name} [${r.stage}] ${r.message}`);
}
