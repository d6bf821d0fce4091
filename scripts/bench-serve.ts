/**
 * `npm run bench:serve`: throughput and latency of `modelship serve` on digits_cnn (JSON requests) and
 * mobilenet_v2 (binary tensor extension) at concurrency 1, 8 and 32, with dynamic batching off and on;
 * the server's added latency over a bare session.run at concurrency 1 (lone requests on the HTTP
 * thread, where the model is small enough, and through the inference thread), beside what bare
 * node:http spends on the same request (the floor); and /v2/health/live latency
 * while inference saturates the CPU. Load comes from autocannon in its own process; the server is the
 * built CLI. Figures are ratios measured in one run: on a shared machine compare them with each other.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSession, readTensorFile, Tensor } from '../src/index.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus');
const CLI = path.resolve(import.meta.dirname, '../dist/cli/main.js');
const AUTOCANNON = path.resolve(import.meta.dirname, '../node_modules/autocannon/autocannon.js');
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 4);
// BENCH_MODELS=mobilenet_v2 runs one workload; BENCH_SECONDS sets the seconds per point.

interface Workload {
  model: string;
  body: Buffer;
  headers: Record<string, string>;
  input: Tensor;
}

function workload(model: string, binary: boolean): Workload {
  const all = readTensorFile(path.join(CORPUS, model, 'test_data_set_0', 'input_0.pb'));
  const rowSize = all.dims.slice(1).reduce((a, b) => a * b, 1);
  const row = (all.data as Float32Array).slice(0, rowSize);
  const dims = [1, ...all.dims.slice(1)];
  const input = Tensor.from('float32', dims, row, all.name);
  if (!binary) {
    return { model, input, body: Buffer.from(JSON.stringify({ inputs: [{ name: all.name, shape: dims, datatype: 'FP32', data: Array.from(row) }] })), headers: { 'content-type': 'application/json' } };
  }
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: all.name, shape: dims, datatype: 'FP32', parameters: { binary_data_size: row.byteLength } }], parameters: { binary_data_output: true } }));
  return { model, input, body: Buffer.concat([head, Buffer.from(row.buffer)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) } };
}

interface Server {
  url: string;
  child: ChildProcess;
  /** Whether lone requests run on the HTTP thread. */
  inline: boolean;
}

async function startServer(model: string, maxBatch: number, extra: string[] = []): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', path.join(CORPUS, model), '--port', '0', '--json', '--max-batch', String(maxBatch), '--max-queue', '4096', ...extra], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const ready = await new Promise<{ url: string; models: { inline: boolean }[] }>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        resolve(JSON.parse(out));
      } catch {
        // incomplete
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url: ready.url, child, inline: ready.models[0]!.inline };
}

/**
 * The floor of an HTTP exchange: node:http alone in its own process, reading the body into one reused
 * buffer and answering 404 — the least any Node server spends on the request before computing.
 */
async function startFloorServer(): Promise<Server> {
  const code = `
    const body = Buffer.allocUnsafeSlow(64 << 20);
    const server = require('node:http').createServer((req, res) => {
      let at = 0;
      req.on('data', (c) => (at += c.copy(body, at)));
      req.on('end', () => res.writeHead(404, { 'content-type': 'application/json', 'content-length': 2 }).end('{}'));
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port)));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d))));
  return { url: `http://127.0.0.1:${port}`, child, inline: false };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * autocannon in a child process, so the load generator does not share the event loop of the probes
 * here; `nice` runs it at a lower CPU priority.
 */
function cannon(url: string, w: Workload, connections: number, seconds = DURATION_S, nice = 0): Promise<LoadResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-serve-'));
  fs.writeFileSync(path.join(dir, 'body'), w.body);
  const opts = { url: `${url}/v2/models/${w.model}/infer`, method: 'POST', headers: w.headers, connections, duration: seconds };
  const code = `
    const autocannon = require(${JSON.stringify(AUTOCANNON)});
    const body = require('node:fs').readFileSync(${JSON.stringify(path.join(dir, 'body'))});
    autocannon({ ...${JSON.stringify(opts)}, body }, (err, r) => process.stdout.write(JSON.stringify(err ? { error: String(err) } : r)));`;
  return new Promise((resolve, reject) => {
    const command = [...(nice ? ['nice', '-n', String(nice)] : []), process.execPath, '-e', code];
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.once('exit', () => {
      fs.rmSync(dir, { recursive: true, force: true });
      const r = JSON.parse(out);
      if (r.error) reject(new Error(r.error));
      else resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx });
    });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Client {
  send(): Promise<void>;
  close(): void;
}

/** Node's own HTTP client (http.Agent, keep-alive): what a Node service calling the server sees. */
function nodeClient(url: string, pathName: string, w: Workload | undefined, status: number): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(url);
  return {
    send: () =>
      new Promise<void>((resolve, reject) => {
        const req = http.request({ host: hostname, port, agent, method: w ? 'POST' : 'GET', path: pathName, headers: w?.headers }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === status ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(w?.body);
      }),
    close: () => agent.destroy(),
  };
}

/**
 * HTTP/1.1 keep-alive on a raw socket, the request's bytes prepared once: a client that adds little
 * of its own to the round trip (as perf_analyzer's C++ one), so c=1 latency is mostly the server's.
 * It reads Content-Length responses, which is what the server sends.
 */
async function rawClient(url: string, pathName: string, w: Workload | undefined, status: number): Promise<Client> {
  const { hostname, port } = new URL(url);
  const headers = { host: `${hostname}:${port}`, ...(w ? { ...w.headers, 'content-length': String(w.body.length) } : {}) };
  const head = `${w ? 'POST' : 'GET'} ${pathName} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const request = Buffer.concat([Buffer.from(head), w?.body ?? Buffer.alloc(0)]);
  const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received: Buffer = Buffer.alloc(0);
  let waiting: { resolve(): void; reject(e: Error): void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    received = received.length ? Buffer.concat([received, chunk]) : chunk;
    const end = received.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const header = received.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(header)?.[1]);
    if (!Number.isFinite(length)) return waiting.reject(new Error(`no Content-Length in the response: ${header.split('\r\n')[0]}`));
    if (received.length < end + 4 + length) return;
    received = received.subarray(end + 4 + length);
    const answered = waiting;
    waiting = undefined;
    if (header.startsWith(`HTTP/1.1 ${status} `)) answered.resolve();
    else answered.reject(new Error(header.split('\r\n')[0]));
  });
  socket.on('error', (e) => waiting?.reject(e));
  return {
    send: () =>
      new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(request);
      }),
    close: () => socket.destroy(),
  };
}

/** Sequential keep-alive requests timed here (sub-millisecond p50 at concurrency 1), sorted; each must answer `status`. */
async function sequential(url: string, pathName: string, w: Workload | undefined, count: number, gapMs = 0, client: 'node' | 'raw' = 'node', status = 200): Promise<number[]> {
  const c = client === 'raw' ? await rawClient(url, pathName, w, status) : nodeClient(url, pathName, w, status);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await c.send();
    times.push(performance.now() - t0);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  c.close();
  return times.sort((a, b) => a - b);
}

async function bareRun(w: Workload, count: number): Promise<number[]> {
  const session = await createSession(path.join(CORPUS, w.model, 'model.onnx'), { threads: 1 });
  const ort = session.ortModule;
  const data = w.input.data as Float32Array;
  const times: number[] = [];
  for (let i = 0; i < count + 50; i++) {
    const t0 = performance.now();
    await session.ort.run({ [w.input.name]: new ort.Tensor('float32', data, w.input.dims) });
    if (i >= 50) times.push(performance.now() - t0);
  }
  await session.release();
  return times.sort((a, b) => a - b);
}

const f = (n: number, d = 2) => n.toFixed(d);

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  console.log(`modelship serve benchmark (${DURATION_S} s per point; autocannon in its own process; shared machine: compare within this run)\n`);
  const rows: string[][] = [['model', 'batching', 'c', 'req/s', 'p50 ms', 'p99 ms', 'errors']];
  const summary: string[] = [];
  const only = process.env.BENCH_MODELS?.split(',');
  const workloads = ([['digits_cnn', false, 2000], ['mobilenet_v2', true, 100]] as const).filter(([m]) => !only || only.includes(m));
  for (const [model, binary, sequentialCount] of workloads) {
    const w = workload(model, binary);
    const rps: Record<string, number> = {};
    for (const maxBatch of [1, 32]) {
      const { url, child, inline } = await startServer(model, maxBatch);
      const label = maxBatch === 1 ? 'off' : 'on';
      for (const c of [1, 8, 32]) {
        const r = await cannon(url, w, c);
        rps[`${label}${c}`] = r.rps;
        rows.push([model, label, String(c), f(r.rps, 0), f(r.p50), f(r.p99), String(r.errors)]);
      }
      if (maxBatch === 1) {
        // Interleaved blocks, so that drift in the machine's speed touches every figure alike: the bare
        // run; then with each client the floor (bare node:http reading the same request: what the HTTP
        // exchange alone costs), the no-op (the same request to a model that is not there: modelship
        // reads its body, then answers 404), the served request and, with a model small enough for the
        // HTTP thread, the same through the inference thread.
        const viaWorker = inline ? await startServer(model, 1, ['--inline-below-ms', '0']) : undefined;
        const floor = await startFloorServer();
        const clients = ['raw', 'node'] as const;
        const perClient = () => ({ floor: [] as number[], noop: [] as number[], served: [] as number[], viaWorker: [] as number[] });
        const times = { bare: [] as number[], raw: perClient(), node: perClient() };
        const block = Math.ceil(sequentialCount / 4);
        for (let round = 0; round < 4; round++) {
          times.bare.push(...(await bareRun(w, block)));
          for (const client of clients) {
            const t = times[client];
            t.floor.push(...(await sequential(floor.url, '/v2/models/no-such-model/infer', w, block, 0, client, 404)));
            t.noop.push(...(await sequential(url, '/v2/models/no-such-model/infer', w, block, 0, client, 404)));
            t.served.push(...(await sequential(url, `/v2/models/${model}/infer`, w, block, 0, client)));
            if (viaWorker) t.viaWorker.push(...(await sequential(viaWorker.url, `/v2/models/${model}/infer`, w, block, 0, client)));
          }
        }
        if (viaWorker) await stopServer(viaWorker.child);
        await stopServer(floor.child);
        const p50 = (t: number[]) => percentile(t.sort((a, b) => a - b), 50);
        const bare = p50(times.bare);
        summary.push(`${model} (${binary ? 'binary' : 'JSON'} request) at c=1, p50 of ${4 * block} each: bare session.run ${f(bare, 3)} ms`);
        for (const client of clients) {
          const t = times[client];
          const [floorMs, noop, served] = [p50(t.floor), p50(t.noop), p50(t.served)];
          const worker = viaWorker ? p50(t.viaWorker) : undefined;
          summary.push(
            `  ${client === 'raw' ? 'raw-socket client' : "Node's http client"}: floor (bare node:http reads the same request, answers 404) ${f(floorMs, 3)} ms; ` +
              `no-op (modelship reads it, answers 404) ${f(noop, 3)} ms; ` +
              `served ${f(served, 3)} ms${inline ? ' on the HTTP thread' : ' on the inference thread (a row is too slow for the HTTP thread)'} → added ${f(served - bare, 3)} ms (aim < 0.3), ${f(served - bare - floorMs, 3)} ms beyond the floor` +
              (worker !== undefined ? `; through the inference thread ${f(worker, 3)} ms → added ${f(worker - bare, 3)} ms` : ''),
          );
        }
      } else {
        // /v2/health/live while 32 connections keep the inference worker busy: 1000 probes, 5 ms apart,
        // three rounds (one p99 on a shared 2-core machine is noisy; the median of three is the figure).
        // Clients normally run on other machines; here autocannon shares the server's two cores, so it
        // runs at nice 19 (standing in for remote clients) and at the server's priority, alternately.
        // The control: the same probes against the idle server (the machine's own floor).
        // Each round starts with the control, so a slow spell of the machine shows in it too.
        const idle: number[] = [];
        const byNice = new Map([19, 0].map((nice) => [nice, { p99s: [] as number[], rps: 0 }]));
        for (let round = 0; round < 3; round++) {
          idle.push(percentile(await sequential(url, '/v2/health/live', undefined, 1000, 5), 99));
          for (const [nice, m] of byNice) {
            const load = cannon(url, w, 32, 8, nice);
            await new Promise((r) => setTimeout(r, 500));
            m.p99s.push(percentile(await sequential(url, '/v2/health/live', undefined, 1000, 5), 99));
            m.rps += (await load).rps / 3;
          }
        }
        const median3 = (p: number[]) => `${f([...p].sort((a, b) => a - b)[1]!)} ms, median of 3 rounds (${p.map((x) => f(x)).join(', ')})`;
        summary.push(`${model}: /v2/health/live with the server idle (the machine's floor): p99 ${median3(idle)}`);
        for (const [nice, { p99s, rps }] of byNice) {
          summary.push(`${model}: /v2/health/live under c=32 inference load (${f(rps, 0)} req/s), load generator at nice ${nice}: p99 ${median3(p99s)} (aim: p99 < 10 ms)`);
        }
      }
      await stopServer(child);
    }
    summary.push(`${model}: batching on/off throughput at c=32: ${f(rps.on32! / rps.off32!)}× (c=8: ${f(rps.on8! / rps.off8!)}×)`);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log(`\n${summary.join('\n')}`);
}

await main();
