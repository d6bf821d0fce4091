/**
 * npm run bench:overhead — what `bench()` adds over a bare `session.run` loop on the same model.
 * 1. Loop overhead, measured inside bench's own run so machine noise cannot hide it: wall time of the
 *    measurement loop minus the sum of the timed calls, per call (timing, rotation, RSS sampling).
 * 2. bench's reported mean latency against a bare loop (total time / calls) on the same model, blocks
 *    in ABBA order, as a geometric-mean ratio with a 95% bootstrap interval (as bench reports ratios).
 * BLOCKS=pairs per model (default 10).
 */
import * as path from 'node:path';
import { bench, createSession, generateInputs, latencyStats, loadModel, pairedRatio, type PairedRatio } from '../src/index.js';
import { ortFeeds } from '../src/bench/feeds.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const BLOCKS = Number(process.env.BLOCKS ?? 10);
const MODELS: [string, number][] = [
  ['quality_mlp', 1500],
  ['digits_cnn', 1000],
  ['mobilenet_v2', 20],
];

const median = (xs: number[]) => latencyStats(xs).p50;
const show = (r: PairedRatio) => `${r.ratio.toFixed(3)} (${r.low.toFixed(3)}–${r.high.toFixed(3)})`;

console.log(`bench overhead over a bare session.run loop: ${BLOCKS} ABBA block pairs per model (shared machine: figures are noisy)\n`);
console.log('model          calls/block  bare µs/call  bench µs/call  reported/bare (95% CI)  loop overhead µs/call (% of call)');
for (const [name, calls] of MODELS) {
  const file = path.join(CORPUS, name, 'model.onnx');
  const inputs = generateInputs(loadModel(file), { seed: 0 });
  // Like bench: a fresh session, warmed up, the only one alive while it runs.
  const bareLoop = async () => {
    const session = await createSession(file, { ortOptions: { logSeverityLevel: 4 } });
    const feeds = ortFeeds(session, inputs);
    for (let i = 0; i < 50; i++) await session.ort.run(feeds);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await session.ort.run(feeds);
    const perCall = ((performance.now() - t0) * 1000) / calls;
    await session.release();
    return perCall;
  };
  const benchLoop = async () => {
    const run = (await bench([file], { iterations: calls, warmup: 50 })).runs[0]!;
    const mean = run.models[0]!.latencyMs!.mean;
    return { reported: mean * 1000, loop: ((run.durationMs - mean * calls) * 1000) / calls };
  };
  const bare: number[] = [];
  const reported: number[] = [];
  const loop: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    let x: number;
    let y: { reported: number; loop: number };
    if (b % 2 === 0) {
      x = await bareLoop();
      y = await benchLoop();
    } else {
      y = await benchLoop();
      x = await bareLoop();
    }
    bare.push(x);
    reported.push(y.reported);
    loop.push(y.loop);
  }
  console.log(
    `${name.padEnd(14)} ${String(calls).padStart(11)}  ${median(bare).toFixed(1).padStart(12)}  ${median(reported).toFixed(1).padStart(13)}  ${show(pairedRatio(bare, reported)).padStart(22)}  ${median(loop).toFixed(2).padStart(21)} (${((100 * median(loop)) / median(reported)).toFixed(2)}%)`,
  );
}
