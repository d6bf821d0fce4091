/**
 * npm run bench:ship [-- --seconds S] [--threads N] [--models a,b] [--json]
 *
 * ship on every corpus model (its test set and, for digits_cnn, labels beside it): the variant it
 * chose, its size, accuracy/agreement and latency against the fp32 original — ratios measured in the
 * same interleaved bench run — and the time ship took. Default constraints: accuracy drop ≤ 1 point
 * with labels, else agreement ≥ 0.99; objective latency.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ship, type ShipResult } from '../src/index.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SECONDS = Number(arg('--seconds') ?? 3);
const THREADS = arg('--threads') ? Number(arg('--threads')) : undefined;
const MODELS = arg('--models')?.split(',') ?? ['digits_cnn', 'quality_mlp', 'mobilenet_v2', 'text_transformer', 'lstm_tagger'];

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-bench-ship-'));
const results: { model: string; result: ShipResult }[] = [];
for (const model of MODELS) {
  process.stderr.write(`ship ${model} …\n`);
  const result = await ship(path.join(CORPUS, model), { outDir: path.join(out, model), benchSeconds: SECONDS, threads: THREADS });
  results.push({ model, result });
}
fs.rmSync(out, { recursive: true, force: true });

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(results.map(({ model, result: r }) => ({ model, chosen: r.chosen, passed: r.passed, reason: r.reason, seconds: r.seconds, candidates: r.candidates })), null, 2));
} else {
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(`ship on the corpus: bench ${SECONDS} s per model, ${THREADS ?? 'default'} thread(s), load average now ${load}; latency ratios are paired per bench round against the fp32 original`);
  console.log('\n| model | chosen | size vs original | accuracy / agreement | p50 latency vs original | candidates (size×, latency ratio) | ship time |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const { model, result: r } of results) {
    const c = r.candidates.find((x) => x.name === r.chosen)!;
    const quality = c.accuracy ? `accuracy ${(c.accuracy.candidate * 100).toFixed(2)}% (drop ${(c.accuracy.drop * 100).toFixed(2)} pt)` : `agreement ${c.agreement!.toFixed(4)}`;
    const others = r.candidates
      .map((x) => (x.status === 'failed' ? `${x.name}: failed` : `${x.name} ${x.sizeRatio!.toFixed(2)}×, ${x.latencyVsOriginal!.ratio.toFixed(2)}${x.passed ? '' : ' ✗'}`))
      .join('; ');
    console.log(`| ${model} | ${r.chosen}${r.passed ? '' : ' (passed: false)'} | ${c.sizeRatio!.toFixed(3)}× | ${quality} | ${c.latencyVsOriginal!.summary} | ${others} | ${r.seconds.toFixed(1)} s |`);
  }
  console.log('\nWhy:');
  for (const { model, result: r } of results) console.log(`- ${model}: ${r.reason}`);
}
