import { InvalidArgumentError, type Command } from 'commander';
import { ship, serveFlags, OBJECTIVES, VARIANTS, type Objective, type ShipOptions, type ShipResult, type VariantName } from '../../ship/index.js';
import { collect, formatBytes, interactive, parseChoice, parseFloatOption, parseIntOption, printJson, requirePath, stageProgress, table, UserError, withExamples } from '../common.js';

interface ShipCliOptions {
  output: string;
  data: string[];
  labels?: string;
  maxAccuracyDrop?: number;
  minAgreement?: number;
  targetLatencyMs?: number;
  maxSizeMb?: number;
  batch: number;
  threads?: number;
  objective: Objective;
  runtime: 'node' | 'wasm';
  strategies?: VariantName[];
  benchSeconds: number;
  name?: string;
  modelVersion?: string;
  classNames?: string[];
  featureNames?: string[];
  imageMean?: number[];
  imageStd?: number[];
  imageScale?: number;
  seed: number;
  json?: boolean;
}

const parseList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
const parseNumbers = (v: string): number[] => parseList(v).map(parseFloatOption);
const parseVariants = (v: string): VariantName[] => parseList(v).map(parseChoice(VARIANTS));

function parseFraction(v: string): number {
  const x = parseFloatOption(v);
  if (x < 0 || x > 1) throw new InvalidArgumentError(`expected a fraction between 0 and 1 (0.01 = 1 point), got '${v}'`);
  return x;
}

function parsePositive(v: string): number {
  const x = parseFloatOption(v);
  if (x <= 0) throw new InvalidArgumentError(`expected a number > 0, got '${v}'`);
  return x;
}

/** Lines for a person: every candidate's numbers, the choice and why, and how to serve it. */
export function formatShip(r: ShipResult): string {
  const rows: (string | number)[][] = [['candidate', 'size', 'p50 ms', 'vs original', 'agreement', 'accuracy', 'result']];
  for (const c of r.candidates) {
    rows.push([
      c.name === r.chosen ? `${c.name} *` : c.name,
      c.sizeBytes === undefined ? '-' : `${formatBytes(c.sizeBytes)} (${c.sizeRatio!.toFixed(2)}×)`,
      c.latency ? c.latency.p50Ms.toPrecision(3) : '-',
      c.latencyVsOriginal?.summary ?? '-',
      c.agreement === undefined ? '-' : c.agreement.toFixed(4),
      c.accuracy ? `${(c.accuracy.candidate * 100).toFixed(2)}% (−${(c.accuracy.drop * 100).toFixed(2)})` : '-',
      c.status === 'failed' ? `failed (${c.error!.stage}): ${c.error!.message}` : c.passed ? 'ok' : (c.constraints ?? []).filter((k) => !k.passed).map((k) => k.text).join('; '),
    ]);
  }
  const lines = [table(rows, ['l', 'r', 'r', 'l', 'r', 'r', 'l'])];
  lines.push('', `${r.passed ? 'shipped' : 'shipped the closest (passed: false)'} ${r.reason}`);
  for (const f of r.failedConstraints) lines.push(`  missed ${f.constraint}: ${f.text}`);
  lines.push(`package: ${r.outDir} (${r.files.join(', ')}) in ${r.seconds.toFixed(1)} s`);
  lines.push(`serve it: npx modelship serve ${r.outDir}${serveFlags(r.manifest)}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  withExamples(
    program
      .command('ship')
      .description(
        'from a model to a deployment package: analyze it, generate candidates (optimized fp32 and the quantization modes that fit), ' +
          'validate each against the original on held-out data, bench them interleaved, pick by the objective among those meeting every constraint, ' +
          'and write model.onnx, modelship.json, report.html, README.md, Dockerfile and kserve.yaml',
      )
      .argument('<model>', 'ONNX model, TF.js model.json, or a folder holding either (its test_data_set_* and meta.json are used by default)')
      .requiredOption('-o, --output <dir>', 'package folder to write (created; replaced only when empty or an earlier package)')
      .option('--data <path>', 'data (test-case or test_data_set folders, .pb, .json; repeatable): even rows calibrate, odd rows evaluate', collect(), [])
      .option('--labels <file>', 'class labels of the data rows (JSON array or one per line): task accuracy')
      .option('--max-accuracy-drop <x>', 'largest accuracy drop as a fraction, e.g. 0.01 = 1 point (default with --labels: 0.01)', parseFraction)
      .option('--min-agreement <x>', 'smallest agreement with the original: top-1 for classifiers, else Pearson (default without labels: 0.99)', parseFraction)
      .option('--target-latency-ms <ms>', 'largest median latency per call at --batch', parsePositive)
      .option('--max-size-mb <MiB>', 'largest model file, in MiB', parsePositive)
      .option('--batch <n>', 'batch size latency is measured at', parseIntOption(1), 1)
      .option('--threads <n>', 'intra-op threads for validation, bench and serving (default: onnxruntime chooses)', parseIntOption(1))
      .option('--objective <o>', `what to optimize among passing candidates: ${OBJECTIVES.join(' | ')}`, parseChoice(OBJECTIVES), 'latency')
      .option('--runtime <r>', 'node (onnxruntime-node) or wasm (onnxruntime-web): where it is measured and served', parseChoice(['node', 'wasm'] as const), 'node')
      .option('--strategies <list>', `try exactly these (${VARIANTS.join(', ')}; fp32 always) instead of the analysis' choice`, parseVariants)
      .option('--bench-seconds <s>', 'seconds of interleaved bench measurement', parsePositive, 5)
      .option('--name <name>', "the served model's name (default: the model's folder or file name)")
      .option('--model-version <v>', "the served model's version", '1')
      .option('--class-names <a,b,…>', 'class names by index, for /predict', parseList)
      .option('--feature-names <a,b,…>', 'feature names in input order, for /predict', parseList)
      .option('--image-mean <m>', 'image normalization mean, one or per channel (after --image-scale)', parseNumbers)
      .option('--image-std <s>', 'image normalization std, one or per channel', parseNumbers)
      .option('--image-scale <x>', 'pixel scale before normalization (default 1/255)', parseFloatOption)
      .option('--seed <n>', 'seed of generated data', parseIntOption(0), 0)
      .option('--json', 'print the choice and every candidate as one JSON object')
      .action(async (model: string, opts: ShipCliOptions) => {
        requirePath(model, 'model file or folder');
        for (const d of opts.data) requirePath(d, 'file or folder');
        if (opts.labels) requirePath(opts.labels);
        if (opts.maxAccuracyDrop !== undefined && opts.minAgreement !== undefined) throw new UserError('--max-accuracy-drop and --min-agreement: give one');
        const show = interactive(opts.json);
        const bars = stageProgress(show);
        const options: ShipOptions = {
          outDir: opts.output,
          data: opts.data.length ? opts.data : undefined,
          labels: opts.labels,
          maxAccuracyDrop: opts.maxAccuracyDrop,
          minAgreement: opts.minAgreement,
          targetLatencyMs: opts.targetLatencyMs,
          maxSizeMb: opts.maxSizeMb,
          batch: opts.batch,
          threads: opts.threads,
          objective: opts.objective,
          runtime: opts.runtime,
          strategies: opts.strategies,
          benchSeconds: opts.benchSeconds,
          name: opts.name,
          version: opts.modelVersion,
          classNames: opts.classNames,
          featureNames: opts.featureNames,
          imageMean: opts.imageMean,
          imageStd: opts.imageStd,
          imageScale: opts.imageScale,
          seed: opts.seed,
          onProgress: bars.update,
          // The analysis' reasons and failures as they happen, on a TTY (the summary says the rest).
          onLog: (line) => {
            if (!show) return;
            bars.stop();
            process.stderr.write(`${line}\n`);
          },
        };
        let result: ShipResult;
        try {
          result = await ship(model, options);
        } catch (e) {
          throw new UserError(`${model}: ${(e as Error).message}`);
        } finally {
          bars.stop();
        }
        if (opts.json) {
          const { manifest, ...rest } = result;
          printJson({ ...rest, package: { dir: result.outDir, modelSha256: manifest.modelSha256, modelBytes: manifest.modelBytes } });
        } else console.log(formatShip(result));
        if (!result.passed) {
          process.stderr.write(`modelship: no candidate meets every constraint; ${result.outDir} holds the closest (passed: false)\n`);
          process.exitCode = 1;
        }
      }),
    'modelship ship ../shared/corpus/digits_cnn -o digits-pkg',
    'modelship ship model.onnx -o pkg --data calib_and_eval/ --labels labels.json --max-accuracy-drop 0.01 --objective size',
    'modelship ship model.json -o pkg --min-agreement 0.99 --target-latency-ms 5 --max-size-mb 20 --threads 2 --json',
    'modelship serve pkg',
  );
}
