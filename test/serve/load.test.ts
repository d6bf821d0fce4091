import * as http from 'node:http';
import * as net from 'node:net';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { CORPUS, corpusInput, corpusModel } from './helpers.js';
import { startCli, type CliServer } from './cli-server.js';

let server: CliServer;
beforeAll(async () => {
  server = await startCli([corpusModel('digits_cnn'), path.join(CORPUS, 'mobilenet_v2'), '--max-queue', '4096']);
});
afterAll(() => {
  if (server?.child.exitCode === null) server.child.kill('SIGKILL');
});

const digitsBody = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array.from((corpusInput('digits_cnn').data as Float32Array).subarray(0, 64)) }] });
function mobilenetBinary(): { body: Buffer; headers: Record<string, string> } {
  const pixels = (corpusInput('mobilenet_v2').data as Float32Array).subarray(0, 3 * 224 * 224);
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: pixels.byteLength } }], parameters: { binary_data_output: true } }));
  return { body: Buffer.concat([head, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)]), headers: { 'inference-header-content-length': String(head.length), 'content-type': 'application/octet-stream' } };
}

const rss = async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/process_resident_memory_bytes (\d+)/.exec(text)![1]);
};

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, res) => (err ? reject(err) : resolve(res))));
}

describe('serve under load (real CLI, loopback)', () => {
  it('answers every request of an autocannon run on digits_cnn and mobilenet_v2, without memory growth', async () => {
    const digits = { url: `${server.url}/v2/models/digits_cnn/infer`, method: 'POST' as const, body: digitsBody, headers: { 'content-type': 'application/json' }, connections: 16, duration: 3 };
    const mb = mobilenetBinary();
    const mobilenet = { url: `${server.url}/v2/models/mobilenet_v2/infer`, method: 'POST' as const, body: mb.body, headers: mb.headers, connections: 4, duration: 3 };
    const first = [await cannon(digits), await cannon(mobilenet)];
    const afterFirst = await rss();
    const second = [await cannon(digits), await cannon(mobilenet)];
    const afterSecond = await rss();
    for (const r of [...first, ...second]) {
      expect(r.errors, r.url).toBe(0);
      expect(r.timeouts, r.url).toBe(0);
      expect(r.non2xx, r.url).toBe(0);
      expect(r.requests.total, r.url).toBeGreaterThan(0);
    }
    // The second, equal round must not need more memory than the first left behind (10% + 32 MiB slack for allocator noise).
    expect(afterSecond).toBeLessThan(afterFirst * 1.1 + 32 * 1024 * 1024);
  });

  it('survives 10 000 concurrent connections opened and dropped, and keeps serving', async () => {
    const { port } = new URL(server.url);
    const sockets: net.Socket[] = [];
    let connected = 0;
    let failed = 0;
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise<void>((resolve) => {
            const s = net.connect({ port: Number(port), host: '127.0.0.1' });
            sockets.push(s);
            s.once('connect', () => {
              connected++;
              // Half send a partial request before being dropped.
              if (connected % 2) s.write('POST /v2/models/digits_cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inp');
              resolve();
            });
            s.once('error', () => {
              failed++;
              resolve();
            });
          }),
        ),
      );
    }
    expect(connected + failed).toBe(10_000);
    expect(connected).toBeGreaterThan(9_000);
    for (const s of sockets) s.destroy();
    const live = await fetch(`${server.url}/v2/health/live`);
    expect(live.status).toBe(200);
    const res = await fetch(`${server.url}/v2/models/digits_cnn/infer`, { method: 'POST', body: digitsBody, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
  });

  it('on SIGTERM fails readiness, answers every accepted request, then exits 0', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });
    const { hostname, port } = new URL(server.url);
    const outcomes = { ok: new Set<string>(), closing503: 0, refused: 0, reset: 0, other: [] as string[] };
    let sent = 0;
    const send = () =>
      new Promise<void>((resolve) => {
        const id = `sigterm-${sent++}`;
        const req = http.request({ host: hostname, port, agent, method: 'POST', path: '/v2/models/digits_cnn/infer', headers: { 'content-type': 'application/json', 'x-request-id': id } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            if (res.statusCode === 200 && JSON.parse(body).outputs[0].shape[1] === 10) outcomes.ok.add(id);
            else if (res.statusCode === 503) outcomes.closing503++;
            else outcomes.other.push(`${res.statusCode} ${body}`);
            resolve();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'ECONNREFUSED') outcomes.refused++;
          else if (e.code === 'ECONNRESET' || e.message === 'socket hang up') outcomes.reset++;
          else outcomes.other.push(e.message);
          resolve();
        });
        req.end(digitsBody);
      });
    let stop = false;
    const loops = Array.from({ length: 24 }, async () => {
      while (!stop) await send();
    });
    await new Promise((r) => setTimeout(r, 700));
    const readyBefore = (await fetch(`${server.url}/v2/health/ready`)).status;
    server.child.kill('SIGTERM');
    const code = await server.exited;
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(readyBefore).toBe(200);
    expect(code).toBe(0);
    expect(outcomes.other).toEqual([]);
    expect(outcomes.ok.size).toBeGreaterThan(0);
    // Every request the server answered with a result reached its client, and vice versa.
    const answered = server.logs().map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && String(l.reqId).startsWith('sigterm-') && l.status === 200);
    expect(new Set(answered.map((l) => l.reqId))).toEqual(outcomes.ok);
    expect(server.logs().some((l) => l.includes('shutting down'))).toBe(true);
    expect(server.logs().some((l) => l.includes('"url":"/v2/health/ready"'))).toBe(false); // probes log at debug only
    expect(server.logs().at(-1)).toContain('"stopped"');
  });
});
