import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { bench, CONCURRENCY_MODES, fileLabel, type BenchResult, type ConcurrencyMode } from '../../bench/index.js';
import { validate } from '../../validate/index.js';
import { writeReport, type ReportValidation } from '../../report/index.js';
import type { RuntimeName } from '../../runtime/index.js';
import {
  assertNotInput,
  collect,
  formatBytes,
  interactive,
  parseAssignment,
  parseChoice,
  parseFloatOption,
  parseIntList,
  parseIntOption,
  printJson,
  requirePath,
  stageProgress,
  table,
  UserError,
  withExamples,
} from '../common.js';

interface BenchCliOptions {
  batch?: number[];
  threads?: number[];
  runtime: RuntimeName[];
  duration?: number;
  iterations?: number;
  warmup: number;
  concurrency?: number;
  modes?: string;
  stressDuration?: number;
  dim?: [string, string][];
  seed: number;
  validate?: boolean;
  data?: string[];
  labels?: string;
  report?: string;
  raw?: boolean;
  json?: boolean;
}

function parseRuntimes(v: string): RuntimeName[] {
  const choice = parseChoice(['node', 'wasm', 'cuda'] as const);
  const list = [...new Set(v.split(',').map((s) => choice(s.trim())))];
  if (!list.length) throw new InvalidArgumentError(`expected node, wasm or cuda, got '${v}'`);
  return list;
}

function parseModes(v: string): ConcurrencyMode[] {
  const modes = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = modes.find((m) => !CONCURRENCY_MODES.includes(m as ConcurrencyMode));
  if (bad || !modes.length) throw new UserError(`--modes: expected a comma-separated list of ${CONCURRENCY_MODES.join(', ')}, got '${v}'`);
  return modes as ConcurrencyMode[];
}

export function register(program: Command): void {
  withExamples(
    program
      .command('bench')
      .description(
        'measure latency (mean, std, min, p50/p90/p95/p99, max), throughput, session create time, size on disk and memory (peak RSS, growth) ' +
          'over batch sizes and thread counts; several models are measured interleaved and compared with the first as a ratio with a 95% confidence interval; ' +
          '--concurrency adds a fixed-duration stress test (shared session vs several sessions vs worker threads)',
      )
      .argument('<model...>', 'ONNX model files; the first is the baseline of the comparisons')
      .option('--batch <list>', 'batch sizes, e.g. 1,8,32 (default 1)', parseIntList)
      .option('--threads <list>', 'intra-op thread counts, e.g. 1,2 (default: onnxruntime chooses)', parseIntList)
      .option('--runtime <list>', 'node, wasm (onnxruntime-web, single-threaded) or cuda; a list (node,wasm) measures every model on each, interleaved', parseRuntimes, ['node'])
      .option('--duration <s>', 'seconds of measurement per configuration, shared by the models (default 5)', parseFloatOption)
      .option('--iterations <n>', 'measured calls per model and configuration (instead of --duration)', parseIntOption(1))
      .option('--warmup <n>', 'unmeasured calls per model first', parseIntOption(0), 5)
      .option('--concurrency <n>', 'stress test with N requests in flight', parseIntOption(1))
      .option('--modes <list>', `stress-test modes (default ${CONCURRENCY_MODES.join(',')})`)
      .option('--stress-duration <s>', 'seconds per stress-test mode (default: --duration)', parseFloatOption)
      .option('--dim <NAME=SIZE>', 'size of a named symbolic input dimension, e.g. seq=128 (repeatable)', collect(parseAssignment), [])
      .option('--seed <n>', 'seed of the generated inputs', parseIntOption(0), 0)
      .option('--validate', 'also validate every model after the first against the first (size and accuracy in the report; exit 1 when one fails)')
      .option('--data <path>', 'input data for --validate (repeatable; default: generated)', collect(), [])
      .option('--labels <file>', 'class labels for --validate (task accuracy)')
      .option('--report <file.html>', 'write a self-contained HTML report')
      .option('--raw', 'with --json: include the latency samples and the RSS timeline')
      .option('--json', 'print the result as one JSON object')
      .action(async (models: string[], opts: BenchCliOptions) => {
        for (const m of models) requirePath(m, 'model file');
        if (opts.report) {
          assertNotInput(opts.report, ...models);
          if (!opts.report.endsWith('.html')) throw new UserError(`--report ${opts.report}: expected an .html file name`);
          if (!fs.existsSync(path.dirname(path.resolve(opts.report)))) throw new UserError(`--report ${opts.report}: no such folder ${path.dirname(opts.report)}`);
        }
        if (opts.duration !== undefined && opts.iterations !== undefined) throw new UserError('give --duration or --iterations, not both');
        if (opts.duration !== undefined && opts.duration <= 0) throw new UserError(`--duration: expected seconds > 0, got ${opts.duration}`);
        if ((opts.data?.length || opts.labels) && !opts.validate) throw new UserError('--data and --labels are used by --validate; add --validate');
        if (opts.validate && models.length < 2) throw new UserError('--validate needs at least two models (the first is the reference)');
        const modes = opts.modes ? parseModes(opts.modes) : undefined;

        let validations: ReportValidation[] | undefined;
        if (opts.validate) {
          validations = [];
          for (const cand of models.slice(1)) {
            const result = await validate(models[0]!, cand, { data: opts.data?.length ? opts.data : undefined, labels: opts.labels, runtime: opts.runtime[0] });
            validations.push({ label: fileLabel(cand), sizeBytes: fs.statSync(cand).size, result });
          }
        }
        const bar = stageProgress(interactive(opts.json));
        let result: BenchResult;
        try {
          const several = opts.runtime.length > 1;
          const inputs = models.flatMap((m) => opts.runtime.map((runtime) => ({ name: several ? `${fileLabel(m)} [${runtime}]` : fileLabel(m), model: m, runtime })));
          result = await bench(inputs, {
            batches: opts.batch,
            threads: opts.threads,
            durationS: opts.duration,
            iterations: opts.iterations,
            warmup: opts.warmup,
            concurrency: opts.concurrency,
            concurrencyModes: modes,
            stressDurationS: opts.stressDuration,
            dims: Object.fromEntries((opts.dim ?? []).map(([k, v]) => [k, Number(v)])),
            seed: opts.seed,
            onProgress: (done, total, label) => bar.update('bench', done, total, label),
          });
        } finally {
          bar.stop();
        }
        if (opts.report) writeReport(opts.report, { bench: result, validations });
        if (opts.json) {
          printJson({ ...(opts.raw ? result : withoutRaw(result)), validations: validations?.map((v) => ({ label: v.label, sizeBytes: v.sizeBytes, ...v.result })), report: opts.report });
        } else {
          printHuman(result, validations);
          if (opts.report) console.log(`\nreport: ${opts.report}`);
        }
        if (validations?.some((v) => !v.result.passed)) process.exitCode = 1;
      }),
    'modelship bench ../shared/corpus/mobilenet_v2/model.onnx --batch 1,8 --threads 1,2',
    'modelship bench model.onnx model.int8.onnx --validate --report bench.html',
    'modelship bench model.onnx --concurrency 4 --duration 10 --json',
  );
}

/** The result without per-call samples and RSS timelines (they are for plots; --raw keeps them). */
function withoutRaw(r: BenchResult): BenchResult {
  return {
    ...r,
    runs: r.runs.map((run) => ({ ...run, models: run.models.map(({ samplesMs: _samples, ...m }) => m), memory: { ...run.memory, timeline: [] } })),
    concurrency: r.concurrency?.map((c) => ({ ...c, memory: { ...c.memory, timeline: [] } })),
  };
}

const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

function printHuman(r: BenchResult, validations: ReportValidation[] | undefined): void {
  const env = r.environment;
  console.log(`${r.runtimes.join(', ')} (${env.onnxruntime}), ${env.cpus} × ${env.cpuModel}, load average ${env.loadAverage.toFixed(2)}`);
  for (const m of r.models) console.log(`  ${m.name}: ${formatBytes(m.sizeBytes)}`);
  for (const run of r.runs) {
    console.log(`\nbatch ${run.batch}, threads ${run.threads ?? 'default'}: ${run.rounds} rounds in ${(run.durationMs / 1000).toFixed(1)} s, RSS peak ${formatBytes(run.memory.peakBytes)}, growth ${formatBytes(Math.abs(run.memory.growthBytes))}${run.memory.growthBytes < 0 ? ' (shrank)' : ''}`);
    const rows: (string | number)[][] = [['model', 'mean ms', 'std', 'min', 'p50', 'p90', 'p95', 'p99', 'max', 'samples/s', 'load ms', 'first ms']];
    for (const m of run.models) {
      if (m.skipped) {
        rows.push([m.model, `skipped: ${m.skipped}`, '', '', '', '', '', '', '', '', '', '']);
        continue;
      }
      const l = m.latencyMs!;
      rows.push([m.model, ms(l.mean), ms(l.std), ms(l.min), ms(l.p50), ms(l.p90), ms(l.p95), ms(l.p99), ms(l.max), m.throughput!.toFixed(1), ms(m.sessionCreateMs), ms(m.firstRunMs)]);
    }
    console.log(table(rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    for (const c of run.comparisons) console.log(`  ${c.model} vs ${c.baseline}: ${c.summary}`);
  }
  if (r.concurrency?.length) {
    console.log('\nstress test');
    const rows: (string | number)[][] = [['model', 'mode', 'in flight', 'requests', 'errors', 'samples/s', 'p50 ms', 'p99 ms', 'p50 drift', 'RSS growth']];
    for (const c of r.concurrency) {
      rows.push([c.model, c.mode, c.concurrency, c.requests, c.errors, c.throughput.toFixed(1), ms(c.latencyMs.p50), ms(c.latencyMs.p99), `×${c.drift.ratio.toFixed(2)}`, `${c.memory.growthBytes < 0 ? '-' : '+'}${formatBytes(Math.abs(c.memory.growthBytes))}`]);
    }
    console.log(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    for (const c of r.concurrency) if (c.firstError) console.log(`  ${c.model} (${c.mode}): first error: ${c.firstError}`);
  }
  for (const v of validations ?? []) {
    const o = v.result.outputs[0];
    const m = o?.metrics;
    const acc = v.result.accuracy ? `, accuracy ${(v.result.accuracy.candidate * 100).toFixed(2)}% (drop ${(v.result.accuracy.drop * 100).toFixed(2)} points)` : '';
    console.log(`\nvalidate ${v.label}: ${v.result.passed ? 'PASSED' : 'FAILED'}${m ? ` (cosine ${m.cosine.toFixed(6)}${m.top1Agreement !== undefined ? `, top-1 ${(m.top1Agreement * 100).toFixed(1)}%` : ''}${acc})` : ''}`);
    for (const f of v.result.failures) console.log(`  ${f}`);
  }
}
