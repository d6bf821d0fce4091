import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { writeExample } from '../../examples/index.js';
import { loadModel } from '../../io/index.js';
import { inspectModel } from '../../inspect/index.js';
import { runTestCase } from '../../testcases/index.js';
import { printJson, withExamples } from '../common.js';
import { formatInspect } from './inspect.js';

export function register(program: Command): void {
  withExamples(
    program
      .command('demo')
      .description("build the project's example model (an MLP classifier trained on synthetic data), inspect it and run its test set")
      .option('--dir <dir>', 'where to write the example', path.join(os.tmpdir(), 'modelship-demo'))
      .option('--json', 'print the results as JSON')
      .action(async (opts: { dir: string; json?: boolean }) => {
        const files = await writeExample(opts.dir);
        const report = inspectModel(loadModel(files.modelPath));
        const test = await runTestCase(files.dir);
        if (opts.json) {
          printJson({ example: files, inspect: report, test });
          return;
        }
        console.log(`Example model written to ${files.dir} (held-out accuracy ${(files.testAccuracy * 100).toFixed(1)}%)\n`);
        console.log(formatInspect(report));
        console.log(`\nRun on its test set (${files.dataSetDir}) in onnxruntime: ${test.status === 'passed' ? 'outputs match' : `FAILED: ${test.message}`}`);
        console.log(`\nNext: modelship run ${files.modelPath} --random`);
        if (test.status !== 'passed') process.exitCode = 1;
      }),
    'modelship demo',
    'modelship demo --dir ./example --json',
  );
}
