/**
 * npm run bench:quantize [-- --json] [--duration S] [--models a,b] [--modes a,b] [--batches 1,32]
 *
 * For each corpus model, every quantization mode against float32, measured in one run: file size
 * ratio, what accuracy it kept (task accuracy with labels, else top-1 agreement / Pearson and SQNR
 * against float32), and onnxruntime-node latency at batch 1 and 32 with 2 threads. Latency comes
 * from `bench` (models interleaved round by round, ratios paired per round with a bootstrap
 * interval), so the ratios hold even on a busy machine; the absolute milliseconds do not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bench, inputSpecs, loadModel, loadSamples, quantize, type Model, type QuantizeMode, type QuantizeReport } from '../src/index.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const JSON_OUT = process.argv.includes('--json');
const DURATION_S = Number(arg('--duration') ?? 6);
const MODES = (arg('--modes')?.split(',') ?? ['fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16']) as QuantizeMode[];
const BATCHES = (arg('--batches') ?? '1,32').split(',').map(Number);

interface Case {
  name: string;
  /** Sizes of symbolic dims other than the batch, for the latency inputs. */
  dims?: Record<string, number>;
  labels?: boolean;
  /** Calibrate on the test set (small tabular/image sets); else on generated inputs. */
  calibrateOnData?: boolean;
}

const CASES: Case[] = [
  { name: 'digits_cnn', labels: true, calibrateOnData: true },
  { name: 'quality_mlp', calibrateOnData: true },
  { name: 'mobilenet_v2' },
  { name: 'text_transformer', dims: { seq: 32 } },
  { name: 'lstm_tagger', dims: { time: 50 } },
];

interface Row {
  model: string;
  mode: QuantizeMode | 'fp32';
  sizeRatio: number;
  quality: string;
  sqnrDb?: number;
  top1Agreement?: number;
  accuracy?: number;
  pearson?: number | null;
  latency: Record<string, { ms: number; vsFp32?: string; ratio?: number }>;
}

const only = arg('--models')?.split(',');
const rows: Row[] = [];
const started = performance.now();
for (const c of CASES.filter((c) => !only || only.includes(c.name))) {
  const dir = path.join(CORPUS, c.name);
  const model = loadModel(path.join(dir, 'model.onnx'));
  const data = loadSamples([path.join(dir, 'test_data_set_0')], inputSpecs(model));
  const labels = c.labels ? (JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8')) as number[]) : undefined;
  const variants: { mode: QuantizeMode | 'fp32'; model: Model; report?: QuantizeReport }[] = [{ mode: 'fp32', model }];
  for (const mode of MODES) {
    process.stderr.write(`${c.name}: ${mode}…\n`);
    const { model: q, report } = await quantize(model, { mode, calibration: c.calibrateOnData ? data : 'random', calibrationSamples: c.calibrateOnData ? undefined : 16, calibrationBatch: 8, eval: data, labels });
    variants.push({ mode, model: q, report });
  }
  process.stderr.write(`${c.name}: latency…\n`);
  const result = await bench(
    variants.map((v) => ({ name: `${c.name} ${v.mode}`, model: v.model })),
    { batches: BATCHES, threads: [2], durationS: DURATION_S, dims: c.dims, warmup: 3 },
  );
  for (const v of variants) {
    const r = v.report;
    const out = r?.validation.outputs[0];
    const latency: Row['latency'] = {};
    for (const run of result.runs) {
      const m = run.models.find((x) => x.model === `${c.name} ${v.mode}`)!;
      const cmp = run.comparisons.find((x) => x.model === `${c.name} ${v.mode}`);
      latency[`batch ${run.batch}`] = { ms: m.latencyMs?.p50 ?? NaN, vsFp32: cmp?.summary, ratio: cmp ? 1 / cmp.ratio.ratio : undefined };
    }
    const accuracy = r?.validation.accuracy?.candidate;
    const reference = variants[1]!.report!.validation.accuracy?.reference;
    const quality = !r
      ? reference !== undefined
        ? `accuracy ${(reference * 100).toFixed(2)}%`
        : 'reference'
      : accuracy !== undefined
        ? `accuracy ${(accuracy * 100).toFixed(2)}% (${(r.validation.accuracy!.drop * 100).toFixed(2)} pts drop)`
        : out?.top1Agreement !== undefined
          ? `top-1 agreement ${(out.top1Agreement * 100).toFixed(1)}%, SQNR ${out.sqnrDb!.toFixed(1)} dB`
          : `Pearson ${out?.pearson?.toFixed(5)}, SQNR ${out?.sqnrDb?.toFixed(1)} dB`;
    rows.push({
      model: c.name,
      mode: v.mode,
      sizeRatio: r ? r.size.ratio : 1,
      quality,
      sqnrDb: out?.sqnrDb,
      top1Agreement: out?.top1Agreement,
      accuracy,
      pearson: out?.pearson,
      latency,
    });
  }
  if (!JSON_OUT) {
    console.log(`\n${c.name}  (${result.environment.cpuModel}, load average ${result.environment.loadAverage.toFixed(1)} at start)`);
    console.log(`  ${'mode'.padEnd(6)} ${'size'.padStart(6)}  ${BATCHES.map((b) => `${`batch ${b} p50`.padStart(12)}  ${'vs fp32'.padEnd(46)}`).join(' ')} quality`);
    for (const row of rows.filter((r) => r.model === c.name)) {
      const cells = BATCHES.map((b) => {
        const l = row.latency[`batch ${b}`]!;
        return `${`${l.ms.toFixed(2)} ms`.padStart(12)}  ${(l.vsFp32 ?? '').padEnd(46)}`;
      });
      console.log(`  ${row.mode.padEnd(6)} ${row.sizeRatio.toFixed(3).padStart(6)}  ${cells.join(' ')} ${row.quality}`);
    }
  }
}
if (JSON_OUT) console.log(JSON.stringify({ durationS: DURATION_S, threads: 2, rows, seconds: (performance.now() - started) / 1000 }, null, 2));
else console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s. Ratios are paired per round (interleaved runs); absolute times on a shared machine are not.`);
