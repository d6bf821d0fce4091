/**
 * npm run bench:runtimes — onnxruntime-web (WASM, single-threaded in Node) against onnxruntime-node on
 * every corpus model, measured interleaved in one run, as a latency ratio with a 95% interval; node at
 * 1 intra-op thread (like for like) and at 2. DURATION=seconds per configuration (default 3).
 */
import * as path from 'node:path';
import { bench } from '../src/index.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const MODELS = ['digits_cnn', 'quality_mlp', 'mobilenet_v2', 'text_transformer', 'lstm_tagger'];
const DURATION = Number(process.env.DURATION ?? 3);

console.log(`wasm vs node latency, batch 1, ${DURATION} s per configuration (shared machine: figures are noisy)\n`);
console.log('model             node threads  node p50 ms  wasm p50 ms  wasm/node ratio (95% CI)');
for (const name of MODELS) {
  const file = path.join(CORPUS, name, 'model.onnx');
  const r = await bench(
    [
      { name: 'node', model: file, runtime: 'node' },
      { name: 'wasm', model: file, runtime: 'wasm' },
    ],
    // Sequence lengths of the corpus test sets.
    { threads: [1, 2], durationS: DURATION, dims: { seq: 32, time: 50 } },
  );
  for (const run of r.runs) {
    const [node, wasm] = run.models;
    const c = run.comparisons[0]!.ratio;
    console.log(
      `${name.padEnd(17)} ${String(run.threads).padStart(12)}  ${node!.latencyMs!.p50.toFixed(3).padStart(11)}  ${wasm!.latencyMs!.p50.toFixed(3).padStart(11)}  ${c.ratio.toFixed(2)} (${c.low.toFixed(2)}–${c.high.toFixed(2)})`,
    );
  }
}
