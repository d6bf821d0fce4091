/**
 * npm run bench:spread — run-to-run spread of the same bench command, three times, as a user would run
 * it (separate processes): mobilenet_v2 at batch 1 and 8; then mobilenet_v2 against an identical copy,
 * three times, to see whether the ratio's 95% interval covers 1.0 each time (it should: same model).
 * DURATION=seconds per configuration (default 5).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchResult } from '../src/index.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODEL = path.resolve(ROOT, '../shared/corpus/mobilenet_v2/model.onnx');
const DURATION = process.env.DURATION ?? '5';
const RUNS = 3;

function cli(args: string[]): BenchResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args, '--json'], { cwd: ROOT, maxBuffer: 1 << 26 });
  return JSON.parse(out.toString()) as BenchResult;
}

const spread = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return (100 * (sorted[sorted.length - 1]! - sorted[0]!)) / sorted[Math.floor(sorted.length / 2)]!;
};

console.log(`modelship bench ${path.relative(ROOT, MODEL)} --batch 1,8 --duration ${DURATION}, ${RUNS} times (shared machine: figures are noisy)\n`);
const runs = Array.from({ length: RUNS }, () => cli(['bench', MODEL, '--batch', '1,8', '--duration', DURATION]));
for (const [i, batch] of [1, 8].entries()) {
  const stats = runs.map((r) => r.runs[i]!.models[0]!.latencyMs!);
  console.log(`batch ${batch}`);
  stats.forEach((s, k) => console.log(`  run ${k + 1}: mean ${s.mean.toFixed(2)} ms  p50 ${s.p50.toFixed(2)}  p95 ${s.p95.toFixed(2)}  (${s.count} calls)`));
  console.log(`  spread (max − min) / median: mean ${spread(stats.map((s) => s.mean)).toFixed(1)}%, p50 ${spread(stats.map((s) => s.p50)).toFixed(1)}%, p95 ${spread(stats.map((s) => s.p95)).toFixed(1)}%`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-spread-'));
const copy = path.join(dir, 'mobilenet_v2_copy.onnx');
fs.copyFileSync(MODEL, copy);
console.log(`\nmobilenet_v2 vs an identical copy, batch 1, --duration ${DURATION}, ${RUNS} times`);
let covered = 0;
for (let k = 0; k < RUNS; k++) {
  const c = cli(['bench', MODEL, copy, '--duration', DURATION]).runs[0]!.comparisons[0]!;
  if (c.ratio.low <= 1 && c.ratio.high >= 1) covered++;
  console.log(`  run ${k + 1}: ratio ${c.ratio.ratio.toFixed(3)} (95% CI ${c.ratio.low.toFixed(3)}–${c.ratio.high.toFixed(3)}, ${c.ratio.pairs} pairs): ${c.summary}`);
}
console.log(`  interval covered 1.0 in ${covered} of ${RUNS} runs`);
fs.rmSync(dir, { recursive: true });
