/** Starts the real `modelship serve` CLI (from the sources, via tsx) and reads its --json startup line. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface CliServer {
  url: string;
  child: ChildProcess;
  /** Everything the server logged (pino JSON lines on stderr with --json). */
  logs: () => string[];
  exited: Promise<number | null>;
}

const MAIN = path.resolve(__dirname, '../../src/cli/main.ts');

export async function startCli(args: string[]): Promise<CliServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      try {
        resolve(JSON.parse(stdout).url);
      } catch {
        // the JSON object is not complete yet
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before it was ready: ${stderr.slice(-500)}`)));
  });
  return { url, child, exited, logs: () => stderr.split('\n').filter((l) => l.startsWith('{')) };
}
