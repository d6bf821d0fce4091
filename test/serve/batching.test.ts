import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { createSession } from '../../src/runtime/index.js';
import { Tensor } from '../../src/ir/index.js';
import { binaryRequest, corpusInput, corpusModel, corpusOutput, tempDir, writeLookupModel } from './helpers.js';
import { runCliSync } from '../helpers/cli.js';

const images = corpusInput('digits_cnn').data as Float32Array;
const expected = corpusOutput('digits_cnn').data as Float32Array;
const servers: FastifyInstance[] = [];
afterAll(() => Promise.all(servers.map((s) => s.close())));

async function start(opts: Parameters<typeof createServer>[0]): Promise<FastifyInstance> {
  const app = createServer({ logLevel: false, ...opts });
  servers.push(app);
  await app.ready();
  return app;
}

const metricValue = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);

/** Nice values of this process's threads, from /proc (field 19 of each task's stat). */
function threadNiceValues(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}

describe('dynamic batching', () => {
  it('forms batches under concurrency and gives each client its own rows and id', async () => {
    const app = await start({ targets: [corpusModel('digits_cnn')], maxBatch: 8, maxQueueDelayMs: 5, instances: 2 });
    const requests = Array.from({ length: 96 }, (_, k) => {
      const rows = 1 + (k % 3);
      const first = (k * 4) % 390;
      return { k, rows, first };
    });
    const answers = await Promise.all(
      requests.map(({ k, rows, first }) =>
        app.inject({
          method: 'POST',
          url: '/v2/models/digits_cnn/infer',
          payload: { id: `req-${k}`, inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', data: Array.from(images.subarray(first * 64, (first + rows) * 64)) }] },
        }),
      ),
    );
    answers.forEach((res, i) => {
      const { k, rows, first } = requests[i]!;
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.id).toBe(`req-${k}`);
      expect(body.outputs[0].shape).toEqual([rows, 10]);
      const want = expected.subarray(first * 10, (first + rows) * 10);
      (body.outputs[0].data as number[]).forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-4));
    });
    const metrics = (await app.inject('/metrics')).body;
    const batches = metricValue(metrics, /modelship_batch_size_count\{model="digits_cnn"\} (\d+)/);
    const rowsRun = metricValue(metrics, /modelship_batch_size_sum\{model="digits_cnn"\} (\d+)/);
    const requestsMerged = metricValue(metrics, /modelship_batch_requests_sum\{model="digits_cnn"\} (\d+)/);
    const atMost8 = metricValue(metrics, /modelship_batch_size_bucket\{le="8",model="digits_cnn"\} (\d+)/);
    // (Warm-up runs on the instances directly and is not counted.)
    const traffic = { batches, rows: rowsRun, requests: requestsMerged };
    expect(traffic.rows).toBe(requests.reduce((n, r) => n + r.rows, 0));
    expect(traffic.requests).toBe(96);
    expect(traffic.batches).toBeLessThan(96);
    expect(atMost8).toBe(batches);
  });

  it('never mixes requests whose non-batch shapes differ', async () => {
    const app = await start({ targets: [corpusModel('lstm_tagger')], maxBatch: 16, maxQueueDelayMs: 5 });
    const session = await createSession(corpusModel('lstm_tagger'));
    const lengths = [3, 7, 3, 11, 7, 3, 7, 11, 3, 3, 7, 11];
    const inputs = lengths.map((t, k) => Float32Array.from({ length: t * 40 }, (_, i) => Math.sin(i * 0.37 + k)));
    const answers = await Promise.all(
      inputs.map((data, k) =>
        app.inject({ method: 'POST', url: '/v2/models/lstm_tagger/infer', payload: { inputs: [{ name: 'frames', shape: [1, lengths[k], 40], datatype: 'FP32', data: Array.from(data) }] } }),
      ),
    );
    for (const [k, res] of answers.entries()) {
      expect(res.statusCode).toBe(200);
      const out = res.json().outputs[0];
      expect(out.shape).toEqual([1, lengths[k], 12]);
      const { tags } = await session.run({ frames: Tensor.from('float32', [1, lengths[k]!, 40], inputs[k]!) });
      const want = tags!.data as Float32Array;
      (out.data as number[]).forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-4));
    }
    await session.release();
  });

  it('keeps several inference workers correct under sustained load and load/unload cycles', async () => {
    const app = await start({ targets: [corpusModel('digits_cnn')], maxBatch: 16, instances: 3, warmup: false });
    for (let wave = 0; wave < 6; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, k) => {
          const row = (wave * 100 + k) % 397;
          return app
            .inject({ method: 'POST', url: '/v2/models/digits_cnn/infer', payload: { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array.from(images.subarray(row * 64, row * 64 + 64)) }] } })
            .then((res) => ({ res, row }));
        }),
      );
      for (const { res, row } of answers) {
        expect(res.statusCode).toBe(200);
        expect(Math.abs(res.json().outputs[0].data[3] - expected[row * 10 + 3]!)).toBeLessThan(1e-4);
      }
      if (wave % 3 === 1) {
        expect((await app.inject({ method: 'POST', url: '/v2/repository/models/digits_cnn/unload' })).statusCode).toBe(200);
        expect((await app.inject({ method: 'POST', url: '/v2/repository/models/digits_cnn/load' })).statusCode).toBe(200);
      }
    }
    expect((await app.inject('/metrics')).body).not.toMatch(/modelship_worker_restarts_total\{model="digits_cnn"\} [1-9]/);
  });

  it.runIf(process.platform === 'linux')('runs inference threads at a lower priority than the HTTP thread', async () => {
    const before = threadNiceValues();
    const app = await start({ targets: [corpusModel('digits_cnn')], instances: 2, workerNice: 7 });
    const lowered = [...threadNiceValues()].filter(([tid, nice]) => !before.has(tid) && nice === 7);
    expect(lowered.length).toBeGreaterThanOrEqual(2); // one per instance, plus any onnxruntime threads
    expect(threadNiceValues().get(process.pid)).toBe(before.get(process.pid));
    const res = await app.inject({ method: 'POST', url: '/v2/models/digits_cnn/infer', payload: { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array.from(images.subarray(0, 64)) }] } });
    expect(res.statusCode).toBe(200);
    expect(() => createServer({ targets: [corpusModel('digits_cnn')], workerNice: 20 })).toThrow(/workerNice must be an integer from 0 to 19, got 20/);
    const cli = runCliSync('serve', corpusModel('digits_cnn'), '--worker-nice', '20');
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/--worker-nice <n>' argument '20' is invalid. expected an integer from 0 to 19/);
  });
});

const inlineRuns = async (app: FastifyInstance, model: string) =>
  Number(new RegExp(`modelship_inline_runs_total\\{model="${model}"\\} (\\d+)`).exec((await app.inject('/metrics')).body)?.[1] ?? 0);

const digits = (app: FastifyInstance, first: number, rows = 1) =>
  app.inject({ method: 'POST', url: '/v2/models/digits_cnn/infer', payload: { inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', data: Array.from(images.subarray(first * 64, (first + rows) * 64)) }] } });

function expectDigits(res: Awaited<ReturnType<typeof digits>>, first: number, rows = 1): void {
  expect(res.statusCode).toBe(200);
  const out = res.json().outputs[0];
  expect(out.shape).toEqual([rows, 10]);
  const want = expected.subarray(first * 10, (first + rows) * 10);
  (out.data as number[]).forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThan(1e-4));
}

describe('lone requests on the HTTP thread', () => {
  it('runs a tiny model there when idle, and larger requests, busy servers and large models on the workers', async () => {
    const app = await start({ targets: [corpusModel('digits_cnn'), corpusModel('mobilenet_v2'), corpusModel('lstm_tagger')], maxBatch: 8, maxQueueDelayMs: 5 });
    const [digitsModel, mobilenet, lstm] = ['digits_cnn', 'mobilenet_v2', 'lstm_tagger'].map((n) => app.modelship.repository.ready(n));
    expect(digitsModel!.pool.hasInlineSession).toBe(true);
    expect(digitsModel!.pool.inlineTiming!.httpThreadMs).toBeLessThan(0.5);
    // mobilenet computes a row in milliseconds: timed on its worker, no session opened here.
    expect(mobilenet!.pool.hasInlineSession).toBe(false);
    expect(mobilenet!.pool.inlineTiming!.workerMs).toBeGreaterThan(0.5);
    expect(mobilenet!.pool.inlineTiming!.httpThreadMs).toBeUndefined();
    // A row's length varies with the request: never timed, never run here.
    expect(lstm!.pool.hasInlineSession).toBe(false);
    expect(lstm!.pool.inlineTiming).toBeUndefined();

    for (let k = 0; k < 20; k++) expectDigits(await digits(app, k * 7), k * 7);
    expect(await inlineRuns(app, 'digits_cnn')).toBe(20);
    // More rows than were timed: a worker's.
    expectDigits(await digits(app, 100, 4), 100, 4);
    expect(await inlineRuns(app, 'digits_cnn')).toBe(20);

    // Concurrent requests: the first may run here, the rest queue for the worker and form batches.
    const rows = Array.from({ length: 64 }, (_, k) => (k * 5) % 397);
    const answers = await Promise.all(rows.map((r) => digits(app, r)));
    answers.forEach((res, k) => expectDigits(res, rows[k]!));
    expect(await inlineRuns(app, 'digits_cnn')).toBeLessThan(20 + 64);
    const metrics = (await app.inject('/metrics')).body;
    const batches = Number(/modelship_batch_size_count\{model="digits_cnn"\} (\d+)/.exec(metrics)![1]);
    const batchRows = Number(/modelship_batch_size_sum\{model="digits_cnn"\} (\d+)/.exec(metrics)![1]);
    expect(batchRows).toBe(20 + 4 + 64);
    expect(batches).toBeLessThan(20 + 1 + 64);
    expect(metrics).toMatch(/modelship_inference_compute_seconds_count\{model="digits_cnn"\} 85/);

    const pixels = corpusInput('mobilenet_v2').data as Float32Array;
    const res = await app.inject({ method: 'POST', url: '/v2/models/mobilenet_v2/infer', payload: { inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', data: Array.from(pixels.subarray(0, 3 * 224 * 224)) }] } });
    expect(res.statusCode).toBe(200);
    expect(await inlineRuns(app, 'mobilenet_v2')).toBe(0);
  });

  it('is off with inlineBelowMs 0, and answers the same', async () => {
    const app = await start({ targets: [corpusModel('digits_cnn')], inlineBelowMs: 0 });
    expect(app.modelship.repository.ready('digits_cnn').pool.hasInlineSession).toBe(false);
    for (let k = 0; k < 5; k++) expectDigits(await digits(app, k), k);
    expect(await inlineRuns(app, 'digits_cnn')).toBe(0);
    expect(() => createServer({ targets: [corpusModel('digits_cnn')], inlineBelowMs: -1 })).toThrow(/inlineBelowMs must be a number of milliseconds ≥ 0, got -1/);
    const cli = runCliSync('serve', corpusModel('digits_cnn'), '--inline-below-ms', 'soon');
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/--inline-below-ms <ms>' argument 'soon' is invalid. expected a number/);
  });

  it('fails a run that onnxruntime refuses with 500 on either thread, and keeps serving', async () => {
    const model = writeLookupModel(tempDir('inline'));
    for (const inlineBelowMs of [0.5, 0]) {
      const app = await start({ targets: [model], inlineBelowMs });
      expect(app.modelship.repository.ready('lookup').pool.hasInlineSession).toBe(inlineBelowMs > 0);
      const lookup = (i: number) => app.inject({ method: 'POST', url: '/v2/models/lookup/infer', payload: { inputs: [{ name: 'i', shape: [1, 1], datatype: 'INT64', data: [i] }] } });
      const bad = await lookup(10);
      expect(bad.statusCode).toBe(500);
      expect(bad.json().error).toMatch(/^inference failed: .*out of .*bounds/i);
      const good = await lookup(2);
      expect(good.statusCode).toBe(200);
      expect(good.json().outputs[0].data).toEqual([30]);
      expect(await inlineRuns(app, 'lookup')).toBe(inlineBelowMs > 0 ? 1 : 0);
    }
  });
});

describe('batch sizing', () => {
  it('stops batches where rows get slower (mobilenet_v2) and lets them grow where they get faster (digits_cnn)', async () => {
    const app = await start({ targets: [corpusModel('digits_cnn'), corpusModel('mobilenet_v2')], maxBatch: 32, maxQueueDelayMs: 20 });
    const [digitsModel, mobilenet] = ['digits_cnn', 'mobilenet_v2'].map((n) => app.modelship.repository.ready(n));
    expect(digitsModel!.batcher.preferredBatch).toBe(32);
    expect(digitsModel!.batchTimings![32]!).toBeLessThan(digitsModel!.batchTimings![1]! / 2);
    const preferred = mobilenet!.batcher.preferredBatch;
    expect(preferred).toBeLessThan(32);
    expect(mobilenet!.batchTimings![preferred]!).toBeLessThan(mobilenet!.batchTimings![32] ?? Infinity);
    expect((await app.inject('/v2/models/mobilenet_v2/config')).json().dynamic_batching.preferred_batch_size).toEqual([preferred]);

    // 24 concurrent one-image requests: batches of at most `preferred` rows, each client its own answer.
    const pixels = corpusInput('mobilenet_v2').data as Float32Array;
    const image = pixels.subarray(0, 3 * 224 * 224);
    const session = await createSession(corpusModel('mobilenet_v2'));
    const want = (await session.run({ input: Tensor.from('float32', [1, 3, 224, 224], image) })).logits!.data as Float32Array;
    await session.release();
    const { payload, headers } = binaryRequest({ inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }] }, [new Uint8Array(image.buffer, image.byteOffset, image.byteLength)]);
    const answers = await Promise.all(Array.from({ length: 24 }, () => app.inject({ method: 'POST', url: '/v2/models/mobilenet_v2/infer', payload, headers })));
    for (const res of answers) {
      expect(res.statusCode).toBe(200);
      const got = res.json().outputs[0].data as number[];
      expect(Math.max(...got.map((v, j) => Math.abs(v - want[j]!)))).toBeLessThan(1e-3);
    }
    const metrics = (await app.inject('/metrics')).body;
    const batches = Number(/modelship_batch_size_count\{model="mobilenet_v2"\} (\d+)/.exec(metrics)![1]);
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(24 / preferred));
    const bucket = [1, 2, 4, 8, 16, 32].find((b) => b >= preferred)!;
    expect(Number(new RegExp(`modelship_batch_size_bucket\\{le="${bucket}",model="mobilenet_v2"\\} (\\d+)`).exec(metrics)![1])).toBe(batches);
  });

  it('reads large bodies into pooled buffers and gets each back: answered, refused, timed out while computing', async () => {
    const app = await start({ targets: [corpusModel('mobilenet_v2')], maxBatch: 4, maxQueueDelayMs: 5 });
    const pool = app.modelship.bodyPool;
    const image = (corpusInput('mobilenet_v2').data as Float32Array).subarray(0, 3 * 224 * 224);
    const request = (parameters: object, model = 'mobilenet_v2') => {
      const { payload, headers } = binaryRequest({ inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }], parameters }, [new Uint8Array(image.buffer, image.byteOffset, image.byteLength)]);
      return app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload, headers });
    };
    const first = await Promise.all(Array.from({ length: 8 }, () => request({})));
    expect(first.map((r) => r.statusCode)).toEqual(Array(8).fill(200));
    expect(pool.inUse).toBe(0);
    const allocated = pool.allocatedBytes;
    expect(allocated).toBeGreaterThanOrEqual(1024 * 1024);
    const again = await Promise.all(Array.from({ length: 8 }, () => request({})));
    for (const [k, res] of again.entries()) expect(res.json().outputs[0].data).toEqual(first[k]!.json().outputs[0].data);
    expect(pool.allocatedBytes).toBe(allocated); // reused, none new
    // An unknown model (404 after the body is read) and an answer that times out while its batch computes.
    expect((await request({}, 'nope')).statusCode).toBe(404);
    expect(pool.inUse).toBe(0);
    const late = await Promise.all([request({ timeout: 500 }), request({ timeout: 500 }), request({ timeout: 500 })]);
    expect(late.map((r) => r.statusCode)).toContain(503);
    await app.modelship.repository.ready('mobilenet_v2').batcher.drained();
    expect(pool.inUse).toBe(0);
  });

  it('forms batches up to maxBatch with batchSizing off', async () => {
    const app = await start({ targets: [corpusModel('mobilenet_v2')], maxBatch: 16, batchSizing: false });
    expect(app.modelship.repository.ready('mobilenet_v2').batcher.preferredBatch).toBe(16);
    expect((await app.inject('/v2/models/mobilenet_v2/config')).json().dynamic_batching.preferred_batch_size).toEqual([16]);
  });
});
