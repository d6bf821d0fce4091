/**
 * npm run bench:optimize [-- --json]
 *
 * For each corpus model (and the dynamic ones again with their input shapes fixed): nodes and file
 * size before → after, the time optimize takes (verification excluded), and onnxruntime session
 * start and latency of the original vs the optimized model. Both are measured in one process,
 * alternating between the two models within each round, so both see the same machine; the ratio
 * is the median of per-round after/before ratios. digits_cnn and quality_mlp come out unchanged,
 * so their ratios show the noise floor of the machine the figures were taken on.
 * Sessions are single-threaded (`--threads N` to change): one thread per session is how a busy
 * server runs models, and it keeps a shared machine's load from swamping the comparison.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import {
  cloneModel,
  createSession,
  encodeModel,
  generateInputs,
  loadModel,
  optimize,
  readTestDataSet,
  setInputShapes,
  toOrtTensor,
  type Model,
  type ModelSession,
} from '../src/index.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const ROUNDS = 15;
const ROUND_MS = 40;
const threadsArg = process.argv.indexOf('--threads');
const THREADS = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : 1;

interface Case {
  model: string;
  inputShapes?: Record<string, number[]>;
}

const CASES: Case[] = [
  { model: 'digits_cnn' },
  { model: 'quality_mlp' },
  { model: 'mobilenet_v2' },
  { model: 'mobilenet_v2', inputShapes: { input: [1, 3, 224, 224] } },
  { model: 'text_transformer' },
  { model: 'text_transformer', inputShapes: { input_ids: [1, 32], attention_mask: [1, 32] } },
  { model: 'lstm_tagger' },
  { model: 'lstm_tagger', inputShapes: { frames: [1, 50, 40] } },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeRuns(session: ModelSession, feeds: Record<string, Ort.Tensor>, runs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.ort.run(feeds);
  return (performance.now() - t0) / runs;
}

/** Median latency of each model and the median of per-round after/before ratios. */
async function compareLatency(before: Model, after: Model, shaped: Model) {
  const feeds = generateInputs(shaped, { batch: 1, dims: { seq: 32, time: 50 }, seed: 1 });
  const bytes = [encodeModel(before), encodeModel(after)];
  const starts: [number[], number[]] = [[], []];
  for (let r = 0; r < 5; r++) {
    for (const k of r % 2 ? [1, 0] : [0, 1]) {
      const t0 = performance.now();
      const s = await createSession(bytes[k]!, { threads: THREADS });
      starts[k]!.push(performance.now() - t0);
      await s.release();
    }
  }
  const sessions = [await createSession(bytes[0]!, { threads: THREADS }), await createSession(bytes[1]!, { threads: THREADS })];
  try {
    const ortFeeds = sessions.map((s) => {
      const accepted = new Set(s.inputs.map((i) => i.name));
      return Object.fromEntries(Object.entries(feeds).filter(([n]) => accepted.has(n)).map(([n, t]) => [n, toOrtTensor(s.ortModule, t, n)]));
    });
    for (const [k, s] of sessions.entries()) await timeRuns(s, ortFeeds[k]!, 5);
    const once = await timeRuns(sessions[0]!, ortFeeds[0]!, 3);
    const runs = Math.max(3, Math.min(500, Math.ceil(ROUND_MS / Math.max(once, 0.01))));
    const times: [number[], number[]] = [[], []];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which model goes first so drift within a round cancels out.
      const order = r % 2 ? [1, 0] : [0, 1];
      const t: number[] = [];
      for (const k of order) t[k] = await timeRuns(sessions[k]!, ortFeeds[k]!, runs);
      times[0].push(t[0]!);
      times[1].push(t[1]!);
      ratios.push(t[1]! / t[0]!);
    }
    return {
      beforeMs: Math.min(...times[0]),
      afterMs: Math.min(...times[1]),
      ratio: median(ratios),
      runsPerRound: runs,
      sessionMs: [Math.min(...starts[0]), Math.min(...starts[1])] as [number, number],
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

interface Row {
  model: string;
  inputShapes?: Record<string, number[]>;
  nodes: [number, number];
  bytes: [number, number];
  optimizeMs: number;
  verified?: boolean;
  beforeMs: number;
  afterMs: number;
  /** Median of per-round after/before. */
  ratio: number;
  runsPerRound: number;
  /** Session creation (onnxruntime's own graph optimization included) before and after. */
  sessionMs: [number, number];
}

const rows: Row[] = [];
for (const c of CASES) {
  const dir = path.join(CORPUS, c.model);
  const file = path.join(dir, 'model.onnx');
  const model = loadModel(file);
  const set = readTestDataSet(path.join(dir, 'test_data_set_0'));
  const verify = c.inputShapes ? true : { inputs: [Object.fromEntries(set.inputs.map((t) => [t.name, t]))] };
  const { model: optimized, report } = await optimize(model, { inputShapes: c.inputShapes, verify });
  const shaped = cloneModel(model);
  if (c.inputShapes) setInputShapes(shaped, c.inputShapes);
  const latency = await compareLatency(model, optimized, shaped);
  rows.push({
    model: c.model,
    inputShapes: c.inputShapes,
    nodes: [report.before.nodes, report.after.nodes],
    bytes: [fs.statSync(file).size, encodeModel(optimized).byteLength],
    optimizeMs: report.timeMs - (report.verifyMs ?? 0),
    verified: report.verify?.passed,
    ...latency,
  });
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ rows }, null, 2));
} else {
  const fmt = (n: number, d = 2) => n.toFixed(d);
  console.log('model                              nodes        size (KiB)        optimize   session start (ms)   latency before → after (ms)   after/before');
  for (const r of rows) {
    const name = `${r.model}${r.inputShapes ? ` [${Object.values(r.inputShapes).map((d) => d.join('x')).join(', ')}]` : ''}`;
    console.log(
      `${name.padEnd(34)} ${`${r.nodes[0]} → ${r.nodes[1]}`.padEnd(12)} ${`${fmt(r.bytes[0] / 1024, 0)} → ${fmt(r.bytes[1] / 1024, 0)}`.padEnd(17)} ${`${fmt(r.optimizeMs, 0)} ms`.padStart(8)}   ${`${fmt(r.sessionMs[0], 0)} → ${fmt(r.sessionMs[1], 0)}`.padEnd(20)} ${`${fmt(r.beforeMs, 3)} → ${fmt(r.afterMs, 3)}`.padEnd(29)} ${fmt(r.ratio, 3)}`,
    );
  }
  console.log(`\nonnxruntime-node on Node ${process.versions.node}, ${THREADS} thread(s) per session, batch 1 (seq 32, time 50 for dynamic axes), ${ROUNDS} alternating rounds; times: each model's fastest round (session start: fastest of 5); ratio: median of per-round after/before.`);
  console.log('Absolute times depend on this machine and its load; the ratios are the comparable figures (unchanged models show the noise floor).');
}
