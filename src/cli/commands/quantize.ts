import type { Command } from 'commander';
import { loadModel, saveModel, writeFileAtomic } from '../../io/index.js';
import { inputSpecs, loadSamples, type LoadedSample } from '../../data/index.js';
import { formatMetric } from '../../validate/index.js';
import {
  quantize,
  QuantizeBudgetError,
  QUANTIZE_MODES,
  DROP_METRICS,
  CALIBRATION_METHODS,
  type QuantizeMode,
  type QuantizeOptions,
  type QuantizeReport,
  type DropMetric,
  type Q8Conv,
  type CalibrationMethod,
  type Fp16Ops,
  type QuantType,
} from '../../quantize/index.js';
import type { Model } from '../../ir/index.js';
import {
  UserError,
  assertNotInput,
  collect,
  formatBytes,
  interactive,
  parseChoice,
  parseFloatOption,
  parseIntOption,
  printJson,
  requirePath,
  stageProgress,
  table,
  withExamples,
} from '../common.js';

interface QuantizeCliOptions {
  output: string;
  mode: QuantizeMode;
  opTypes?: string[];
  excludeNodes?: string[];
  excludeOpTypes?: string[];
  perChannel?: boolean;
  perTensor?: boolean;
  reduceRange?: boolean;
  activationType?: QuantType;
  optimize: boolean;
  keepIoTypes: boolean;
  fp16Ops?: Fp16Ops;
  opBlockList?: string[];
  nodeBlockList?: string[];
  q8Conv?: Q8Conv;
  calibration: string[];
  calibrationMethod: CalibrationMethod;
  percentile?: number;
  calibrationBatch?: number;
  calibrationSamples?: number;
  blockSize: number;
  asymmetric?: boolean;
  eval: string[];
  labels?: string;
  maxDrop?: number;
  metric?: DropMetric;
  autoExclude?: boolean;
  autoExcludeStep?: number;
  debug?: string | boolean;
  seed: number;
  threads?: number;
  json?: boolean;
}

const parseList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const db = (x: number | undefined) => (x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(1) : x > 0 ? '∞' : '-∞');

function samplesFrom(paths: string[], model: Model, option: string): LoadedSample[] {
  for (const p of paths) requirePath(p, 'file or folder');
  const samples = loadSamples(paths, inputSpecs(model));
  if (!samples.length) throw new UserError(`${option} ${paths.join(', ')}: no samples in it`);
  return samples;
}

function formatReport(input: string, output: string | undefined, r: QuantizeReport): string {
  const lines: string[] = [];
  lines.push(`${input} → ${output ?? '(nothing written)'} (${r.mode}, ${r.seconds.toFixed(1)} s)`);
  lines.push(`  size         ${formatBytes(r.size.before)} → ${formatBytes(r.size.after)} (${r.size.ratio.toFixed(3)}×)`);
  const kinds = Object.entries(r.layers.byOpType).map(([k, n]) => `${k} ${n}`).join(', ');
  if (r.mode !== 'fp16') {
    lines.push(`  layers       ${r.layers.quantized} quantized${kinds ? ` (${kinds})` : ''}, ${r.layers.skipped.length} skipped${r.layers.excluded.length ? `, ${r.layers.excluded.length} left float by --auto-exclude` : ''}`);
  }
  for (const s of r.layers.skipped.slice(0, 5)) lines.push(`               skipped ${s.node} (${s.opType}): ${s.reason}`);
  if (r.layers.skipped.length > 5) lines.push(`               … ${r.layers.skipped.length - 5} more (see --json)`);
  for (const n of r.layers.notes) lines.push(`  note         ${n}`);
  if (r.mode !== 'fp16' && r.mode !== 'q4' && r.mode !== 'q4f16') lines.push(`  CPU          ${r.cpu.note}`);
  if (r.optimize) lines.push(`  optimized    ${r.optimize.error ? `failed (${r.optimize.error}); quantized as it was` : `${r.optimize.nodesBefore} → ${r.optimize.nodesAfter} nodes first`}`);
  if (r.fp16) {
    const f = r.fp16;
    lines.push(`  float16      ${f.float16Nodes} nodes compute in float16, ${f.float32Nodes} stay float32 (--fp16-ops ${f.ops}), ${f.castsAdded} Casts, ${f.tensorsConverted} tensors converted`);
    for (const k of f.keptFloat32) lines.push(`               float32: ${k.count} × ${k.reason} (${k.opTypes.slice(0, 6).join(', ')}${k.opTypes.length > 6 ? ', …' : ''})`);
    lines.push(`               ${f.clamped} values clamped to ±65504, ${f.flushedToZero} too small for float16 became 0`);
  }
  if (r.q4) {
    const w = r.q4.matmulWeightBytes;
    lines.push(`  4-bit        block ${r.q4.blockSize}, ${r.q4.symmetric ? 'symmetric' : 'with zero points'}: MatMul weights ${formatBytes(w.before)} → ${formatBytes(w.after)} (${w.ratio.toFixed(3)}×)`);
  }
  if (r.calibration) {
    const c = r.calibration;
    lines.push(
      `  calibration  ${c.rows} rows (${c.data === 'random' ? 'generated' : 'data'}) in ${c.batches} batches, ${c.method}${c.percentile ? ` ${c.percentile}` : ''}, ${c.tensors} tensors, ${c.seconds.toFixed(1)} s, peak RSS ${formatBytes(c.peakRssBytes)}`,
    );
  }
  const v = r.validation;
  lines.push(`  validation   ${v.rows} rows of ${v.data === 'generated' ? 'generated inputs' : `${v.data} data`}, on ${v.runtimes.join(' and ')}${v.runtimesAgree === undefined ? '' : v.runtimesAgree ? ' (they agree)' : ' (they DISAGREE)'}`);
  const rows: (string | number)[][] = [['output', 'max abs', 'mean abs', 'cosine', 'Pearson', 'SQNR dB', 'top-1', 'top-5']];
  for (const o of v.outputs) {
    if (o.error) rows.push([o.name, o.error, '', '', '', '', '', '']);
    else
      rows.push([
        o.name,
        formatMetric(o.maxAbsError ?? NaN),
        formatMetric(o.meanAbsError ?? NaN),
        o.cosine === undefined ? '-' : o.cosine.toFixed(5),
        o.pearson === undefined || o.pearson === null ? '-' : o.pearson.toFixed(5),
        db(o.sqnrDb),
        pct(o.top1Agreement),
        pct(o.top5Agreement),
      ]);
  }
  lines.push(table(rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']).replace(/^/gm, '    '));
  if (v.accuracy) lines.push(`    accuracy (${v.accuracy.output}): ${pct(v.accuracy.reference)} → ${pct(v.accuracy.candidate)} (drop ${(v.accuracy.drop * 100).toFixed(2)} points)`);
  for (const other of v.otherRuntimes ?? []) {
    const parts = other.outputs.map((o) => (o.error ? `${o.name}: ${o.error}` : `${o.name} SQNR ${db(o.sqnrDb)} dB${o.top1Agreement === undefined ? '' : `, top-1 ${pct(o.top1Agreement)}`}`));
    if (other.accuracy) parts.push(`accuracy ${pct(other.accuracy.candidate)}`);
    lines.push(`    on ${other.runtime}: ${parts.join('; ')}`);
  }
  for (const f of v.failures) lines.push(`    ! ${f}`);
  if (r.autoExclude) {
    lines.push(`  auto-exclude ${r.autoExclude.met ? 'met the budget' : 'could not meet the budget'} in ${r.autoExclude.steps.length} steps`);
    r.autoExclude.steps.forEach((s, i) => lines.push(`               step ${i + 1}: ${s.excluded.length} float (… ${s.excluded.slice(-3).join(', ')}): drop ${s.drop.toFixed(3)} (${s.gain >= 0 ? '-' : '+'}${Math.abs(s.gain).toFixed(3)}), size ${s.sizeRatio.toFixed(3)}×`));
  }
  if (r.budget) lines.push(`  budget       ${r.budget.metric} drop ${r.budget.drop.toFixed(3)} points ${r.budget.passed ? '≤' : '>'} ${r.budget.maxDrop}: ${r.budget.passed ? 'ok' : 'FAILED'}`);
  if (r.layerErrors) {
    lines.push('', 'Per-layer error, worst first (local: the error this layer adds itself; SQNR: against the float model there)');
    const lr = r.layerErrors.slice(0, 20).map((e) => [e.node, e.opType, db(e.localSqnrDb), db(e.sqnrDb), db(e.weightSqnrDb)]);
    lines.push(table([['layer', 'op', 'local dB', 'SQNR dB', 'weights dB'], ...lr], ['l', 'l', 'r', 'r', 'r']).replace(/^/gm, '  '));
    if (r.layerErrors.length > 20) lines.push(`  … ${r.layerErrors.length - 20} more (see --debug FILE or --json)`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  withExamples(
    program
      .command('quantize')
      .description(
        'make a model smaller (and on CPU faster): fp16, q8 (dynamic int8), int8/uint8 (static QDQ, calibrated), q4/q4f16 (4-bit MatMul weights); ' +
          'every run validates the result against the original on onnxruntime-node and WASM',
      )
      .argument('<model>', 'ONNX model file (float32)')
      .requiredOption('-o, --output <file>', 'where to write the quantized model')
      .requiredOption('--mode <mode>', QUANTIZE_MODES.join(' | '), parseChoice(QUANTIZE_MODES))
      .option('--op-types <a,b>', 'quantize only these operator types', parseList)
      .option('--exclude-nodes <a,b>', 'leave these nodes (by name) as they are', parseList)
      .option('--exclude-op-types <a,b>', 'leave these operator types as they are', parseList)
      .option('--per-channel', 'one weight scale per output channel everywhere (default: per channel where it gains ≥ 1 dB weight SQNR)')
      .option('--per-tensor', 'one weight scale per tensor')
      .option('--reduce-range', '7-bit int8 weights (default: only on CPUs without VNNI)')
      .option('--no-reduce-range', 'full 8-bit weights even without VNNI')
      .option('--activation-type <t>', "int8: activations 'uint8' (U8S8, default on x86, where onnxruntime's kernels are u8×s8) or 'int8' (S8S8, default elsewhere)", parseChoice(['int8', 'uint8'] as const))
      .option('--no-optimize', 'skip optimizing (BatchNorm/constant folding…) before quantizing')
      .option('--no-keep-io-types', 'fp16: make graph inputs and outputs float16 too')
      .option('--fp16-ops <which>', "fp16: 'auto' (float16 where onnxruntime's CPU runs it; default for fp16) or 'all' (wherever ONNX allows; for GPU/WebGPU; default for q4f16)", parseChoice(['auto', 'all'] as const))
      .option('--op-block-list <a,b>', 'fp16: operator types to keep float32', parseList)
      .option('--node-block-list <a,b>', 'fp16: nodes to keep float32', parseList)
      .option('--q8-conv <how>', "q8: Conv 'float' (default: faster on onnxruntime CPU), 'weights' (int8 weights, float compute) or 'integer' (ConvInteger)", parseChoice(['float', 'weights', 'integer'] as const))
      .option('--calibration <DIR|random>', "int8/uint8: calibration data (test-case or test_data_set folders, .pb, .json; repeatable), or 'random' for generated inputs", collect(), [])
      .option('--calibration-method <m>', CALIBRATION_METHODS.join(' | '), parseChoice(CALIBRATION_METHODS), 'minmax')
      .option('--percentile <p>', 'percentile calibration: share of values inside the range, in % (default 99.999)', parseFloatOption)
      .option('--calibration-batch <n>', 'rows per calibration run (default 16)', parseIntOption(1))
      .option('--calibration-samples <n>', 'at most N calibration rows (random: N generated samples, default 32)', parseIntOption(1))
      .option('--block-size <n>', 'q4/q4f16: weights per scale', parseIntOption(16), 32)
      .option('--asymmetric', 'q4/q4f16: per-block zero points (more accurate, 1/64 byte more per weight)')
      .option('--eval <path>', 'evaluation data (repeatable; default: the calibration data, else generated inputs)', collect(), [])
      .option('--labels <file>', 'class labels (JSON array or one per line), one per evaluation row: task accuracy')
      .option('--max-drop <points>', 'fail, writing nothing, when --metric drops more than this many points', parseFloatOption)
      .option('--metric <m>', `what --max-drop measures: ${DROP_METRICS.join(' | ')} (default: accuracy with --labels, top1 for classifiers, else cosine; points = % or 100·(1 − x))`, parseChoice(DROP_METRICS))
      .option('--auto-exclude', 'with --max-drop: leave the layers adding the most error in float, a few at a time, until the budget is met')
      .option('--auto-exclude-step <n>', 'layers left in float per step (default 5% of the quantized layers)', parseIntOption(1))
      .option('--debug [file]', 'per-layer SQNR report, worst first (and as JSON to FILE)')
      .option('--seed <n>', 'seed of generated data', parseIntOption(0), 0)
      .option('--threads <n>', 'intra-op threads for onnxruntime-node', parseIntOption(1))
      .option('--json', 'print one JSON object')
      .action(async (file: string, opts: QuantizeCliOptions) => {
        requirePath(file);
        assertNotInput(opts.output, file);
        if (opts.perChannel && opts.perTensor) throw new UserError('--per-channel and --per-tensor: choose one');
        if (opts.autoExclude && opts.maxDrop === undefined) throw new UserError('--auto-exclude needs --max-drop (the budget to meet)');
        if (opts.labels) requirePath(opts.labels);
        if (typeof opts.debug === 'string') assertNotInput(opts.debug, file, opts.output);
        const model = loadModel(file);
        const random = opts.calibration.length === 1 && opts.calibration[0] === 'random';
        const options: QuantizeOptions = {
          mode: opts.mode,
          opTypes: opts.opTypes,
          excludeNodes: opts.excludeNodes,
          excludeOpTypes: opts.excludeOpTypes,
          granularity: opts.perChannel ? 'channel' : opts.perTensor ? 'tensor' : 'auto',
          reduceRange: opts.reduceRange,
          activationType: opts.activationType,
          optimize: opts.optimize,
          keepIoTypes: opts.keepIoTypes,
          fp16Ops: opts.fp16Ops,
          opBlockList: opts.opBlockList,
          nodeBlockList: opts.nodeBlockList,
          q8Conv: opts.q8Conv,
          calibration: random ? 'random' : opts.calibration.length ? samplesFrom(opts.calibration, model, '--calibration') : undefined,
          calibrationMethod: opts.calibrationMethod,
          percentile: opts.percentile,
          calibrationBatch: opts.calibrationBatch,
          calibrationSamples: opts.calibrationSamples,
          blockSize: opts.blockSize,
          asymmetric: opts.asymmetric,
          eval: opts.eval.length ? samplesFrom(opts.eval, model, '--eval') : undefined,
          labels: opts.labels,
          maxDrop: opts.maxDrop,
          metric: opts.metric,
          autoExclude: opts.autoExclude,
          autoExcludeStep: opts.autoExcludeStep,
          debug: Boolean(opts.debug),
          seed: opts.seed,
          threads: opts.threads,
        };
        if ((opts.mode === 'int8' || opts.mode === 'uint8') && !options.calibration) {
          throw new UserError(`--mode ${opts.mode} needs --calibration DIR (samples like the real inputs), or --calibration random to calibrate on generated inputs`);
        }
        // One bar per stage (optimizing, calibrating, auto-exclude…), each with its own total.
        const bar = stageProgress(interactive(opts.json));
        const onProgress = (done: number, total: number, label: string) => bar.update(label, done, total);
        let result;
        try {
          result = await quantize(model, { ...options, onProgress });
        } catch (e) {
          bar.stop();
          if (e instanceof QuantizeBudgetError) {
            if (opts.json) printJson({ input: file, output: null, ...e.report });
            else console.log(formatReport(file, undefined, e.report));
            throw new UserError(`${file}: ${e.message}`);
          }
          throw new UserError(`${file}: ${(e as Error).message}`);
        }
        bar.stop();
        saveModel(result.model, opts.output);
        if (typeof opts.debug === 'string') writeFileAtomic(opts.debug, `${JSON.stringify(result.report.layerErrors ?? [], null, 2)}\n`);
        if (opts.json) printJson({ input: file, output: opts.output, ...result.report });
        else console.log(formatReport(file, opts.output, result.report));
      }),
    'modelship quantize model.onnx -o model.int8.onnx --mode int8 --calibration test_data_set_0 --labels labels.json --max-drop 0.5',
    'modelship quantize model.onnx -o model.q8.onnx --mode q8 --json',
    'modelship quantize model.onnx -o model.fp16.onnx --mode fp16',
    'modelship quantize model.onnx -o model.q4.onnx --mode q4 --block-size 32',
    'modelship quantize cnn.onnx -o cnn.int8.onnx --mode uint8 --calibration calib/ --calibration-method entropy --max-drop 1 --auto-exclude --debug layers.json',
  );
}
