/**
 * Runs the built modelship CLI (`node dist/cli/main.js`, built once by test/global-setup.ts) in a
 * child process, as a user would: exit codes and exactly what reaches stdout and stderr.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// CI=1 keeps progress bars off; MODELSHIP_DEBUG unset keeps stack traces out of stderr.
const env = () => ({ ...process.env, CI: '1', MODELSHIP_DEBUG: '' });

export function runCli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: env() }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function runCliSync(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: env() });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
