import * as fs from 'node:fs';
import type { Command } from 'commander';
import { writeReport } from '../../report/index.js';
import { fileLabel } from '../../bench/index.js';
import { validate, validateExpected, DEFAULT_THRESHOLDS, formatMetric, type OutputReport, type Thresholds, type ValidateResult, type ValidateRuntime } from '../../validate/index.js';
import { assertNotInput, collect, interactive, parseAssignment, parseChoice, parseFloatOption, parseIntOption, printJson, requirePath, stageProgress, table, UserError, withExamples } from '../common.js';

interface ValidateCliOptions {
  expected?: string[];
  data?: string[];
  labels?: string;
  labelOutput?: string;
  samples?: number;
  seed: number;
  batch?: number;
  dim?: [string, string][];
  runtime: ValidateRuntime;
  threads?: number;
  maxAbs?: number;
  minCosine?: number;
  minPearson?: number;
  minSqnr?: number;
  maxRelError?: number;
  minTop1Agreement?: number;
  maxAccuracyDrop?: number;
  minExactMatch?: number;
  report?: string;
  json?: boolean;
}

const d = DEFAULT_THRESHOLDS;

export function register(program: Command): void {
  withExamples(
    program
      .command('validate')
      .description(
        'compare a candidate model with its reference on the same inputs: per output max/mean abs error, RMSE, relative error, ' +
          'cosine, Pearson, SQNR, top-1/top-5 agreement (classifier-like outputs), task accuracy with --labels; exit 1 when a threshold fails.\n' +
          `Default thresholds ("the same model, transformed"): cosine ≥ ${d.minCosine} and Pearson ≥ ${d.minPearson} per floating-point output, ` +
          `top-1 agreement ≥ ${d.minTop1Agreement} per classifier-like output, exact match ≥ ${d.minExactMatch} per integer output, ` +
          `accuracy drop ≤ ${d.maxAccuracyDrop! * 100} point with --labels, and no NaN/Inf that differs. Options below replace single defaults.`,
      )
      .argument('<reference>', 'reference model (.onnx); with --expected, the model to check')
      .argument('[candidate]', 'candidate model (.onnx)')
      .option('--expected <dir>', 'compare REFERENCE with the expected outputs (output_i.pb) of ONNX test data (test-case or test_data_set folders; repeatable)', collect(), [])
      .option('--data <path>', 'input data: test-case folder, test_data_set_N folder, .pb or .json (repeatable); default: generated inputs', collect(), [])
      .option('--labels <file>', 'class labels (JSON array or one integer per line), one per row of the classifier output')
      .option('--label-output <name>', 'the output the labels refer to (default: the first classifier-like output)')
      .option('--samples <n>', 'generated samples (default 8), or the first N samples of --data', parseIntOption(1))
      .option('--seed <n>', 'seed of the first generated sample', parseIntOption(0), 0)
      .option('--batch <n>', 'size of symbolic batch dimensions of generated inputs', parseIntOption(1))
      .option('--dim <NAME=SIZE>', 'size of a named symbolic dimension of generated inputs (repeatable)', collect(parseAssignment), [])
      .option('--runtime <name>', 'where the candidate runs: node, wasm (onnxruntime-web), cuda, or both (node and wasm, with their agreement)', parseChoice(['node', 'wasm', 'cuda', 'both'] as const), 'node')
      .option('--threads <n>', 'intra-op threads (onnxruntime-node)', parseIntOption(1))
      .option('--max-abs <x>', 'largest allowed max abs error per output (no default)', parseFloatOption)
      .option('--min-cosine <x>', `smallest allowed cosine similarity (default ${d.minCosine})`, parseFloatOption)
      .option('--min-pearson <x>', `smallest allowed Pearson correlation (default ${d.minPearson})`, parseFloatOption)
      .option('--min-sqnr <dB>', 'smallest allowed SQNR in dB (no default)', parseFloatOption)
      .option('--max-rel-error <x>', 'largest allowed ‖ref − cand‖ / ‖ref‖ (no default)', parseFloatOption)
      .option('--min-top1-agreement <x>', `smallest allowed top-1 agreement (default ${d.minTop1Agreement})`, parseFloatOption)
      .option('--max-accuracy-drop <x>', `largest allowed accuracy drop with --labels, as a fraction (default ${d.maxAccuracyDrop})`, parseFloatOption)
      .option('--min-exact-match <x>', `smallest allowed fraction of equal elements in integer outputs (default ${d.minExactMatch})`, parseFloatOption)
      .option('--report <file.html>', 'also write a self-contained HTML report (size, agreement, SQNR and accuracy bars)')
      .option('--json', 'print the whole result as one JSON object')
      .action(async (reference: string, candidate: string | undefined, opts: ValidateCliOptions) => {
        requirePath(reference, 'model file');
        if (candidate) requirePath(candidate, 'model file');
        const expected = opts.expected ?? [];
        if (!candidate && !expected.length) throw new UserError('validate: give a CANDIDATE model, or --expected DIR to compare with test-case outputs');
        if (candidate && expected.length) throw new UserError('validate: give either a CANDIDATE model or --expected DIR, not both');
        for (const p of [...expected, ...(opts.data ?? [])]) requirePath(p, 'file or folder');
        if (opts.report) {
          assertNotInput(opts.report, reference, ...(candidate ? [candidate] : []));
          if (!opts.report.endsWith('.html')) throw new UserError(`--report ${opts.report}: expected an .html file name`);
        }
        const thresholds: Thresholds = {};
        const set = <K extends keyof Thresholds>(k: K, v: Thresholds[K]) => v !== undefined && (thresholds[k] = v);
        set('maxAbs', opts.maxAbs);
        set('minCosine', opts.minCosine);
        set('minPearson', opts.minPearson);
        set('minSqnrDb', opts.minSqnr);
        set('maxRelativeError', opts.maxRelError);
        set('minTop1Agreement', opts.minTop1Agreement);
        set('maxAccuracyDrop', opts.maxAccuracyDrop);
        set('minExactMatch', opts.minExactMatch);
        const bar = stageProgress(interactive(opts.json));
        const common = {
          samples: opts.samples,
          labels: opts.labels,
          labelOutput: opts.labelOutput,
          thresholds,
          runtime: opts.runtime,
          threads: opts.threads,
          onProgress: (done: number, total: number, label: string) => bar.update('validating', done, total, label),
        };
        let result: ValidateResult;
        try {
          result = candidate
            ? await validate(reference, candidate, {
                ...common,
                data: opts.data?.length ? opts.data : undefined,
                seed: opts.seed,
                batch: opts.batch,
                dims: Object.fromEntries((opts.dim ?? []).map(([k, v]) => [k, Number(v)])),
              })
            : await validateExpected(reference, expected, common);
        } finally {
          bar.stop();
        }
        if (opts.report) {
          const checked = candidate ?? reference;
          const label = fileLabel(checked);
          writeReport(opts.report, {
            title: `modelship validate: ${label} vs ${candidate ? fileLabel(reference) : 'expected outputs'}`,
            validations: [{ label, sizeBytes: fs.statSync(checked).size, referenceSizeBytes: candidate ? fs.statSync(reference).size : undefined, result }],
          });
        }
        if (opts.json) printJson({ ...result, report: opts.report });
        else {
          printHuman(result);
          if (opts.report) console.log(`report: ${opts.report}`);
        }
        if (!result.passed) process.exitCode = 1;
      }),
    'modelship validate model.onnx model.int8.onnx',
    'modelship validate model.onnx model.int8.onnx --data ../shared/corpus/digits_cnn --labels ../shared/corpus/digits_cnn/labels.json',
    'modelship validate model.onnx model.opt.onnx --runtime both --min-cosine 0.999 --json',
    'modelship validate ../shared/corpus/mobilenet_v2/model.onnx --expected ../shared/corpus/mobilenet_v2',
  );
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(x === 1 ? 0 : 2)}%`);

function outputRows(outputs: OutputReport[], runtime?: string): (string | number)[][] {
  return outputs.map((o) => {
    const m = o.metrics;
    const name = runtime ? `${o.name} [${runtime}]` : o.name;
    if (!m) return [name, 'ERROR', o.error ?? '', '', '', '', '', '', '', ''];
    return [
      name,
      o.passed ? 'ok' : 'FAIL',
      formatMetric(m.maxAbsError),
      formatMetric(m.meanAbsError),
      formatMetric(m.rmse),
      m.cosine.toFixed(6),
      m.pearson === null ? '-' : m.pearson.toFixed(6),
      Number.isFinite(m.sqnrDb) ? m.sqnrDb.toFixed(1) : String(m.sqnrDb),
      pct(m.top1Agreement),
      pct(m.top5Agreement),
    ];
  });
}

function printHuman(r: ValidateResult): void {
  console.log(`reference  ${r.reference.model} (${r.reference.runtime})`);
  console.log(`candidate  ${r.candidate.model} (${r.candidate.runtimes.join(', ')})`);
  const shapes = Object.entries(r.inputs.shapes).map(([k, v]) => `${k}[${v.join(',')}]${r.inputs.ranges?.[k] ? ` ${r.inputs.ranges[k]}` : ''}`);
  const source = r.inputs.source === 'generated' ? `generated (seed ${r.inputs.seed}…${r.inputs.seed! + r.inputs.samples - 1})` : 'from data';
  console.log(`inputs     ${r.inputs.samples} sample(s) ${source}, ${r.inputs.rows} row(s): ${shapes.join(', ')}`);
  console.log('');
  const rows = [['output', '', 'max abs', 'mean abs', 'rmse', 'cosine', 'pearson', 'SQNR dB', 'top-1', 'top-5'], ...outputRows(r.outputs, r.otherRuntimes ? r.candidate.runtimes[0] : undefined)];
  for (const other of r.otherRuntimes ?? []) rows.push(...outputRows(other.outputs, other.runtime));
  console.log(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  for (const [runtime, a] of [[r.candidate.runtimes[0], r.accuracy], ...(r.otherRuntimes ?? []).map((o) => [o.runtime, o.accuracy] as const)] as const) {
    if (!a) continue;
    console.log(
      `\naccuracy on '${a.output}' (${a.labels} labels${r.otherRuntimes ? `, ${runtime}` : ''}): reference ${pct(a.reference)}, candidate ${pct(a.candidate)}, drop ${(a.drop * 100).toFixed(2)} points`,
    );
  }
  if (r.crossRuntime) {
    const c = r.crossRuntime;
    console.log(`\n${c.runtimes.join(' vs ')}: ${c.agree ? `agree within rtol ${c.tolerance.rtol}, atol ${c.tolerance.atol}` : 'DIFFER'}`);
    for (const o of c.outputs) {
      if (o.metrics) console.log(`  ${o.name}: max abs ${formatMetric(o.metrics.maxAbsError)}, cosine ${o.metrics.cosine.toFixed(6)}${o.metrics.top1Agreement !== undefined ? `, top-1 ${pct(o.metrics.top1Agreement)}` : ''}`);
    }
    for (const m of c.mismatches) console.log(`  ${m}`);
  }
  console.log('');
  if (r.passed) console.log('PASSED');
  else {
    console.log('FAILED');
    for (const f of r.failures) console.log(`  ${f}`);
  }
}
