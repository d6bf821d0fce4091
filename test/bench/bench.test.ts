import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph, Model, Tensor, bench, loadModel, runConcurrency, type LatencyStats } from '../../src/index.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const digits = path.join(CORPUS, 'digits_cnn/model.onnx');
const mobilenet = path.join(CORPUS, 'mobilenet_v2/model.onnx');

function expectStats(s: LatencyStats | undefined, count: number) {
  expect(s).toBeDefined();
  expect(s!.count).toBe(count);
  for (const k of ['mean', 'std', 'min', 'p50', 'p90', 'p95', 'p99', 'max'] as const) expect(Number.isFinite(s![k])).toBe(true);
  expect(s!.min).toBeLessThanOrEqual(s!.p50);
  expect(s!.p50).toBeLessThanOrEqual(s!.p90);
  expect(s!.p90).toBeLessThanOrEqual(s!.p95);
  expect(s!.p95).toBeLessThanOrEqual(s!.p99);
  expect(s!.p99).toBeLessThanOrEqual(s!.max);
  expect(s!.min).toBeGreaterThan(0);
}

describe('bench', () => {
  it('digits_cnn and mobilenet_v2 at two batch sizes: every statistic, interleaved, with ratios', async () => {
    const r = await bench([digits, mobilenet], { batches: [1, 2], iterations: 6, warmup: 1 });
    expect(r.models.map((m) => m.name)).toEqual(['digits_cnn', 'mobilenet_v2']);
    expect(r.models.map((m) => m.sizeBytes)).toEqual([fs.statSync(digits).size, fs.statSync(mobilenet).size]);
    expect(r.environment.onnxruntime).toBe('onnxruntime-node 1.30.0');
    expect(r.runs.map((run) => run.batch)).toEqual([1, 2]);
    for (const run of r.runs) {
      expect(run.rounds).toBe(6);
      for (const m of run.models) {
        expectStats(m.latencyMs, 6);
        expect(m.iterations).toBe(6);
        expect(m.samplesMs).toHaveLength(6);
        expect(m.throughput).toBeCloseTo((run.batch * 1000) / m.latencyMs!.mean, 6);
        expect(m.sessionCreateMs).toBeGreaterThan(0);
        expect(m.firstRunMs).toBeGreaterThan(0);
      }
      expect(run.memory.peakBytes).toBeGreaterThanOrEqual(run.memory.startBytes);
      expect(run.memory.growthBytes).toBe(run.memory.endBytes - run.memory.startBytes);
      expect(run.comparisons).toHaveLength(1);
      const c = run.comparisons[0]!;
      expect(c).toMatchObject({ model: 'mobilenet_v2', baseline: 'digits_cnn' });
      // MobileNetV2 on 224×224 does ~300 MFLOPs per image, the digits CNN well under 1: no noise hides that.
      expect(c.ratio.verdict).toBe('slower');
      expect(c.ratio.low).toBeGreaterThan(1);
      expect(c.ratio.low).toBeLessThanOrEqual(c.ratio.ratio);
      expect(c.ratio.ratio).toBeLessThanOrEqual(c.ratio.high);
    }
  });

  it('thread sweep, and a model whose batch dimension is fixed is skipped with the reason', async () => {
    const fixed = loadModel(digits);
    const input = fixed.graph.inputs[0]!;
    if (input.type?.kind === 'tensor') input.type.shape = [1, 1, 8, 8];
    const r = await bench([digits, { name: 'digits fixed batch', model: fixed }], { batches: [1, 4], threads: [1, 2], iterations: 3, warmup: 0 });
    expect(r.runs.map((run) => [run.batch, run.threads])).toEqual([[1, 1], [4, 1], [1, 2], [4, 2]]);
    const batch4 = r.runs.find((run) => run.batch === 4)!;
    expect(batch4.models[1]).toEqual({ model: 'digits fixed batch', skipped: "input 'image' has a fixed batch dimension of 1" });
    expect(batch4.comparisons).toEqual([]);
    expect(r.runs.find((run) => run.batch === 1)!.comparisons[0]!.model).toBe('digits fixed batch');
  });

  it('runs on onnxruntime-web (WASM) too', async () => {
    const r = await bench([digits], { runtime: 'wasm', iterations: 3, warmup: 1 });
    expect(r.environment.onnxruntime).toBe('onnxruntime-web 1.30.0');
    expectStats(r.runs[0]!.models[0]!.latencyMs, 3);
    await expect(bench([digits], { runtime: 'wasm', threads: [2] })).rejects.toThrow('--threads: the WASM runtime runs single-threaded in Node');
  });

  it('stress test: shared session, several sessions and worker threads, with errors and drift', async () => {
    const r = await bench([digits], { iterations: 2, warmup: 0, concurrency: 2, stressDurationS: 0.4 });
    expect(r.concurrency!.map((c) => c.mode)).toEqual(['shared', 'sessions', 'workers']);
    for (const c of r.concurrency!) {
      expect(c.concurrency).toBe(2);
      expect(c.requests).toBeGreaterThan(10);
      expect(c.errors).toBe(0);
      expect(c.durationMs).toBeGreaterThanOrEqual(400);
      expectStats(c.latencyMs, c.requests);
      expect(c.throughput).toBeGreaterThan(0);
      expect(Number.isFinite(c.drift.ratio)).toBe(true);
      expect(c.timeline).toHaveLength(10);
      expect(c.timeline.reduce((n, [, rate]) => n + (rate * c.durationMs) / 10 / 1000, 0)).toBeCloseTo(c.requests, 6);
    }
  });

  it('counts failing requests in the stress test, and stops the sweep with a clear error', async () => {
    // Reshape of a dynamic-length vector to [3]: loads fine, fails at run time for any other length.
    const g = new Graph('fails');
    g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: ['n'] } });
    g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: [3] } });
    g.addInitializer(Tensor.from('int64', [1], BigInt64Array.from([3n]), 'shape'));
    g.addNode({ opType: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] });
    const m = new Model(g);
    m.opsetImports = [{ domain: '', version: 13 }];
    m.irVersion = 8;
    for (const mode of ['shared', 'workers'] as const) {
      const run = await runConcurrency(m, { model: 'fails', ir: m, mode, concurrency: 2, durationS: 0.2, batch: 1, runtime: 'node', seed: 0 });
      expect(run.requests).toBeGreaterThan(0);
      expect(run.errors).toBe(run.requests);
      expect(run.firstError).toMatch(/Reshape/);
      expect(run.throughput).toBe(0);
    }
    await expect(bench([m], { iterations: 2 })).rejects.toThrow(/^fails: onnxruntime failed at batch 1: .*Reshape/);
  });

  it('a model that does not load is one clear error', async () => {
    await expect(bench([path.join(CORPUS, 'digits_cnn/meta.json')])).rejects.toThrow(/meta\.json: not a valid ONNX model/);
  });
});
