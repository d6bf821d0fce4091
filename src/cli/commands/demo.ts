import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { writeExample } from '../../examples/index.js';
import { ship } from '../../ship/index.js';
import { interactive, parseFloatOption, parseIntOption, printJson, stageProgress, withExamples } from '../common.js';
import { formatShip } from './ship.js';

interface DemoOptions {
  dir: string;
  benchSeconds: number;
  serve?: boolean;
  port: number;
  json?: boolean;
}

export function register(program: Command): void {
  withExamples(
    program
      .command('demo')
      .description("the whole pipeline on the project's own example model (an MLP classifier trained here on synthetic data): ship it to a package, then serve it (--serve)")
      .option('--dir <dir>', 'where to write the example and its package', path.join(os.tmpdir(), 'modelship-demo'))
      .option('--bench-seconds <s>', 'seconds of interleaved bench measurement', parseFloatOption, 2)
      .option('--serve', 'serve the package once it is written (Ctrl-C stops)')
      .option('--port <n>', 'port for --serve', parseIntOption(0), 8080)
      .option('--json', 'print the example and the ship result as JSON')
      .action(async (opts: DemoOptions) => {
        const show = interactive(opts.json);
        const files = await writeExample(path.join(opts.dir, 'example'));
        if (!opts.json) console.log(`Example model: ${files.modelPath} (held-out accuracy ${(files.testAccuracy * 100).toFixed(1)}%, ${files.dataSetDir} + labels)\n`);
        const pkg = path.join(opts.dir, 'package');
        const bars = stageProgress(show);
        const result = await ship(files.dir, { outDir: pkg, benchSeconds: opts.benchSeconds, onProgress: bars.update });
        bars.stop();
        if (opts.json) {
          const { manifest: _manifest, ...rest } = result;
          printJson({ example: files, ship: rest });
        } else {
          console.log(formatShip(result));
          const url = `localhost:${opts.port}`;
          console.log(`\nNext:\n  npx modelship serve ${pkg} --port ${opts.port}`);
          console.log(`  curl -s ${url}/v2/models/example/predict -H content-type:application/json -d @${path.join(pkg, 'predict.json')}`);
          console.log(`  open http://${url}/ (page with a predict form), ${path.join(pkg, 'report.html')} (the comparison), ${path.join(pkg, 'README.md')}`);
        }
        if (!result.passed) process.exitCode = 1;
        if (opts.serve) {
          // The same command a user would type: a child process serving the package, stopped with this one.
          const child = spawn(process.execPath, [process.argv[1]!, 'serve', pkg, '--port', String(opts.port)], { stdio: 'inherit' });
          for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => child.kill(signal));
          await new Promise<void>((resolve) => child.once('exit', (code) => ((process.exitCode = code ?? 0), resolve())));
        }
      }),
    'modelship demo',
    'modelship demo --serve --port 8080',
    'modelship demo --dir ./demo --json',
  );
}
