import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { tempDir, writeDtypeModel, writeSlowModel } from './helpers.js';

const dir = tempDir('serve-limits');
const slowModel = writeSlowModel(dir);
const dtypeModel = writeDtypeModel(dir);
const slowRequest = (rows: number, extra: object = {}) =>
  JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 1024], datatype: 'FP32', data: Array(rows * 1024).fill(1) }], ...extra });
const post = (app: FastifyInstance, url: string, payload: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...headers } });

describe('API key, CORS, body limit', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = createServer({ targets: [dtypeModel], logLevel: false, apiKey: 's3cret', cors: ['https://app.example'], bodyLimit: 4096 });
    await app.ready();
  });
  afterAll(() => app?.close());

  it('needs the key everywhere except health checks and the page', async () => {
    expect((await app.inject('/v2/models/dtypes')).statusCode).toBe(401);
    const wrong = await app.inject({ url: '/v2/models/dtypes', headers: { 'x-api-key': 's3cre' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toMatch(/API key/);
    expect((await app.inject({ url: '/v2/models/dtypes', headers: { authorization: 'Bearer s3cret' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics', headers: { 'x-api-key': 's3cret' } })).statusCode).toBe(200);
    expect((await app.inject('/metrics')).statusCode).toBe(401);
    expect((await app.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await app.inject('/v2/health/ready')).statusCode).toBe(200);
    expect((await app.inject('/')).statusCode).toBe(200);
  });

  it('answers CORS preflights for the allowed origin only', async () => {
    const pre = await app.inject({ method: 'OPTIONS', url: '/v2/models/dtypes/infer', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await app.inject({ url: '/v2/health/live', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses bodies over the limit with 413 and keeps serving', async () => {
    const res = await post(app, '/v2/models/dtypes/infer', 'x'.repeat(5000), { 'x-api-key': 's3cret' });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toMatch(/larger than the limit \(4096 bytes\)/);
    expect((await app.inject({ url: '/v2/models/dtypes', headers: { 'x-api-key': 's3cret' } })).statusCode).toBe(200);
  });
});

describe('rate limit', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = createServer({ targets: [dtypeModel], logLevel: false, rateLimit: { max: 3, windowMs: 60_000 } });
    await app.ready();
  });
  afterAll(() => app?.close());

  it('answers 429 with Retry-After past the limit, per client, and never limits health checks', async () => {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await app.inject({ url: '/v2/models/dtypes', headers: { 'x-api-key': 'client-a' } })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await app.inject({ url: '/v2/models/dtypes', headers: { 'x-api-key': 'client-a' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error).toMatch(/rate limit of 3 requests/);
    expect((await app.inject({ url: '/v2/models/dtypes', headers: { 'x-api-key': 'client-b' } })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.inject('/v2/health/live')).statusCode).toBe(200);
  });
});

describe('backpressure and timeouts', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = createServer({ targets: [slowModel], logLevel: false, maxBatch: 1, maxQueue: 2, warmup: false });
    await app.ready();
  });
  afterAll(() => app?.close());

  it('refuses at once with 503 + Retry-After when the queue is full, and serves the accepted ones', async () => {
    const sent = Array.from({ length: 8 }, () => post(app, '/v2/models/slow/infer', slowRequest(64)));
    const results = await Promise.all(sent);
    const codes = results.map((r) => r.statusCode);
    // One running and two waiting are served; while they are, the rest are refused (a batch that
    // finishes while later requests are still being parsed frees a place, hence "at least").
    const served = codes.filter((c) => c === 200).length;
    const refused = results.filter((r) => r.statusCode === 503);
    expect(served).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(served + refused.length).toBe(8);
    expect(refused[0]!.headers['retry-after']).toBe('1');
    expect(refused[0]!.json().error).toMatch(/queue is full \(2 requests waiting\)/);
  });

  it('gives up on a request after its timeout parameter (microseconds)', async () => {
    const busy = post(app, '/v2/models/slow/infer', slowRequest(64));
    const timed = await post(app, '/v2/models/slow/infer', slowRequest(1, { parameters: { timeout: 1000 } }));
    expect(timed.statusCode).toBe(503);
    expect(timed.json().error).toMatch(/^request timed out after 1 ms \((waiting in the queue|computing)\)$/);
    expect((await busy).statusCode).toBe(200);
    const fine = await post(app, '/v2/models/slow/infer', slowRequest(1, { parameters: { timeout: 30_000_000 } }));
    expect(fine.statusCode).toBe(200);
    expect(fine.json().outputs[0].data.slice(0, 3)).toEqual([1, 1, 1]);
  });
});
