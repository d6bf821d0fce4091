import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Tensor,
  attr,
  calibrate,
  cloneModel,
  detectCpuFeatures,
  createSession,
  generateInputs,
  getInt,
  inputSpecs,
  loadModel,
  loadSamples,
  quantize,
  quantizeDynamic,
  quantizeStatic,
  staticCalibrationTargets,
  type Model,
  type StaticOptions,
} from '../../src/index.js';
import { discoverValues } from '../../src/quantize/observe.js';
import { convertToFloat16 } from '../../src/quantize/fp16.js';
import { nodeFilter } from '../../src/quantize/select.js';
import { buildModel, randomTensor } from '../optimize/build.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quantize-passes-'));

/** Largest |float − quantized| over a few generated inputs, relative to the float output's largest magnitude. */
async function relativeError(float: Model, quantized: Model, seeds = 3): Promise<number> {
  const a = await createSession(float);
  const b = await createSession(quantized);
  let worst = 0;
  for (let s = 0; s < seeds; s++) {
    const feeds = generateInputs(float, { seed: s });
    const x = Object.values(await a.run(feeds))[0]!.toFloat32();
    const y = Object.values(await b.run(feeds))[0]!.toFloat32();
    const scale = Math.max(...Array.from(x, Math.abs));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / scale);
  }
  return worst;
}

async function staticQuantized(model: Model, opts: Partial<StaticOptions> = {}): Promise<Model> {
  const o: StaticOptions = { activations: 'uint8', granularity: 'channel', reduceRange: false, select: () => true, ...opts };
  const samples = Array.from({ length: 8 }, (_, i) => generateInputs(model, { seed: 100 + i }));
  const cal = await calibrate(model, staticCalibrationTargets(model, o), samples);
  const q = cloneModel(model);
  quantizeStatic(q, cal.ranges, o);
  return q;
}

/** Op types of the graph onnxruntime actually runs (after its own fusions). */
async function ortGraph(model: Model): Promise<string[]> {
  const file = path.join(tmp, `optimized-${Math.random().toString(36).slice(2)}.onnx`);
  const s = await createSession(model, { ortOptions: { optimizedModelFilePath: file } });
  await s.release();
  return loadModel(file).graph.nodes.map((n) => n.opType);
}

describe('static QDQ pass', () => {
  it('per-channel axes: Conv 0, ConvTranspose 1, Gemm transB 0 / plain 1, MatMul last', async () => {
    const model = buildModel({
      inputs: { x: ['float32', [1, 4, 5, 5]], v: ['float32', [2, 6]] },
      outputs: { y: ['float32'], z: ['float32'], u: ['float32'], w: ['float32'] },
      initializers: [
        randomTensor('wc', [3, 4, 3, 3], 1),
        randomTensor('wt', [4, 3, 3, 3], 2),
        randomTensor('gb', [5, 6], 3),
        randomTensor('ga', [6, 5], 4),
        randomTensor('mm', [6, 7], 5),
      ],
      nodes: [
        { opType: 'Conv', inputs: ['x', 'wc'], outputs: ['y'] },
        { opType: 'ConvTranspose', inputs: ['x', 'wt'], outputs: ['z'] },
        { opType: 'Gemm', inputs: ['v', 'gb'], outputs: ['u'], attributes: [attr.int('transB', 1)] },
        { opType: 'Gemm', name: 'plain', inputs: ['v', 'ga'], outputs: ['g2'] },
        { opType: 'MatMul', inputs: ['g2_in', 'mm'], outputs: ['w'] },
        { opType: 'Relu', inputs: ['v'], outputs: ['g2_in'] },
      ],
    });
    model.graph.outputs.push({ name: 'g2', type: { kind: 'tensor', dtype: 'float32' } });
    model.graph.topologicalSort();
    const q = await staticQuantized(model);
    const axisOf = (consumer: string, pick = 0) => {
      const nodes = q.graph.nodes.filter((n) => n.opType === consumer);
      const dq = q.graph.producer(nodes[pick]!.inputs[1]!)!;
      return [getInt(dq, 'axis'), q.graph.initializers.get(dq.inputs[1]!)!.dims[0]];
    };
    expect(axisOf('Conv')).toEqual([0, 3]);
    expect(axisOf('ConvTranspose')).toEqual([1, 3]);
    const gemms = q.graph.nodes.filter((n) => n.opType === 'Gemm');
    const transB = gemms.findIndex((n) => getInt(n, 'transB', 0) === 1);
    expect(axisOf('Gemm', transB)).toEqual([0, 5]);
    expect(axisOf('Gemm', 1 - transB)).toEqual([1, 5]);
    expect(axisOf('MatMul')).toEqual([1, 7]);
    expect(await relativeError(model, q)).toBeLessThan(0.05);
  });

  it('no QDQ around operators without int8 kernels; Relu folded into the output quantizer', async () => {
    const model = buildModel({
      inputs: { x: ['float32', [1, 2, 6, 6]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w1', [4, 2, 3, 3], 1), randomTensor('w2', [4, 4, 1, 1], 2), randomTensor('b', [1, 4, 1, 1], 3), Tensor.fromNumbers('int64', [8], [0, 0, 1, 1, 0, 0, 1, 1], 'pads')],
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w1'], outputs: ['c1'] },
        { opType: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { opType: 'Add', inputs: ['r1', 'b'], outputs: ['a'] },
        { opType: 'Pad', inputs: ['a', 'pads'], outputs: ['p'] },
        { opType: 'Conv', inputs: ['p', 'w2'], outputs: ['c2'] },
        { opType: 'Sigmoid', inputs: ['c2'], outputs: ['y'] },
      ],
    });
    const q = await staticQuantized(model);
    const quantizedInputs = q.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0]).sort();
    // x and p (Conv inputs), r1 (first Conv's output, Relu folded) and c2 (second Conv's output): nothing on a or y.
    expect(quantizedInputs).toEqual(['c2', 'p', 'r1', 'x']);
    expect(q.graph.nodes.some((n) => n.opType === 'Relu')).toBe(false);
    const zp = q.graph.initializers.get(q.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === 'r1')!.inputs[2]!)!;
    expect(Array.from(zp.data as Uint8Array)).toEqual([0]);
    // Two quantized layers on random weights, calibrated on 8 generated inputs: a few % at the worst element.
    expect(await relativeError(model, q)).toBeLessThan(0.1);
  });

  it('onnxruntime fuses the QDQ model into integer kernels (no float Conv or Gemm left)', async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    for (const activations of ['uint8', 'int8'] as const) {
      const ops = await ortGraph(await staticQuantized(model, { activations, granularity: 'auto' }));
      expect(ops).toContain('QLinearConv');
      expect(ops).toContain('QGemm');
      expect(ops.filter((o) => o === 'Conv' || o === 'Gemm' || o === 'FusedConv')).toEqual([]);
    }
  });

  it('calibration: running statistics do not depend on the batch size; percentile and entropy ranges lie inside min/max', async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const data = loadSamples([path.join(CORPUS, 'digits_cnn/test_data_set_0')], inputSpecs(model)).map((s) => s.inputs);
    const targets = staticCalibrationTargets(model, { activations: 'uint8', granularity: 'auto', reduceRange: false, select: () => true });
    const one = await calibrate(model, targets, data, { batchSize: 1, limit: 60 });
    const many = await calibrate(model, targets, data, { batchSize: 64, limit: 60 });
    expect(one.batches).toBe(60);
    expect(many.batches).toBe(1);
    expect(one.rows).toBe(60);
    expect([...one.ranges]).toEqual([...many.ranges]);
    for (const method of ['percentile', 'entropy'] as const) {
      const r = await calibrate(model, targets, data, { method, batchSize: 32 });
      const mm = (await calibrate(model, targets, data, { batchSize: 32 })).ranges;
      for (const [name, [lo, hi]] of r.ranges) {
        const [mlo, mhi] = mm.get(name)!;
        expect(lo).toBeGreaterThanOrEqual(mlo);
        expect(hi).toBeLessThanOrEqual(mhi);
        expect(hi).toBeGreaterThan(lo);
      }
    }
  });
});

describe('q8 dynamic pass', () => {
  const mlp = () => loadModel(path.join(CORPUS, 'quality_mlp/model.onnx'));

  it('onnxruntime fuses MatMulInteger + scales into DynamicQuantizeMatMul; reduce range keeps weights within ±64', async () => {
    const model = mlp();
    const q = cloneModel(model);
    quantizeDynamic(q, { granularity: 'channel', reduceRange: true, select: () => true });
    const ops = await ortGraph(q);
    expect(ops.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(3);
    expect(ops).not.toContain('Gemm');
    for (const n of q.graph.nodes.filter((n) => n.opType === 'MatMulInteger')) {
      const w = q.graph.initializers.get(n.inputs[1]!)!.data as Int8Array;
      expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(64);
    }
    expect(await relativeError(model, q)).toBeLessThan(0.05);
  });

  it('a weight shared by two layers (Identity of one initializer) is stored once', async () => {
    const model = buildModel({
      inputs: { x: ['float32', [2, 8]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [8, 8], 7)],
      nodes: [
        { opType: 'Identity', inputs: ['w'], outputs: ['w_again'] },
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
        { opType: 'MatMul', inputs: ['h', 'w_again'], outputs: ['y'] },
      ],
    });
    for (const mode of ['q8', 'int8'] as const) {
      const q = mode === 'q8' ? cloneModel(model) : await staticQuantized(model);
      if (mode === 'q8') quantizeDynamic(q, { granularity: 'auto', reduceRange: false, select: () => true });
      const int8 = [...q.graph.initializers.values()].filter((t) => t.dtype === 'int8' && t.size === 64);
      expect(int8, mode).toHaveLength(1);
      expect([...q.graph.initializers.values()].some((t) => t.dtype === 'float32' && t.size === 64)).toBe(false);
      expect(q.graph.nodes.some((n) => n.opType === 'Identity')).toBe(false);
    }
  });

  it("Conv: float by default, int8 weights with 'weights', uint8 ConvInteger (zero point 128) with 'integer'", async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const byDefault = await quantize(model, { mode: 'q8' });
    expect(byDefault.model.graph.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(2);
    expect(byDefault.report.layers.notes[0]).toMatch(/Conv stays float in q8/);
    const weights = await quantize(model, { mode: 'q8', q8Conv: 'weights' });
    expect(weights.model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => weights.model.graph.producer(n.inputs[1]!)?.opType)).toEqual(['DequantizeLinear', 'DequantizeLinear']);
    const integer = await quantize(model, { mode: 'q8', q8Conv: 'integer' });
    const convs = integer.model.graph.nodes.filter((n) => n.opType === 'ConvInteger');
    expect(convs).toHaveLength(2);
    for (const c of convs) {
      expect(integer.model.graph.initializers.get(c.inputs[1]!)!.dtype).toBe('uint8');
      expect(Array.from(integer.model.graph.initializers.get(c.inputs[3]!)!.data as Uint8Array)).toEqual([128]);
    }
    for (const r of [weights, integer]) expect(r.report.validation.outputs[0]!.top1Agreement).toBeGreaterThan(0.9);
  });

  it('refuses a model that is already quantized', async () => {
    const q = cloneModel(mlp());
    quantizeDynamic(q, { granularity: 'auto', reduceRange: false, select: nodeFilter({}, ['MatMul', 'Gemm'], 'q8') });
    await expect(quantize(q, { mode: 'int8', calibration: 'random' })).rejects.toThrow(/already quantized \(dynamic\)/);
  });
});

describe('fp16 pass', () => {
  const model = () =>
    buildModel({
      inputs: { x: ['float32', [2, 4]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [4, 4], 3), Tensor.from('float32', [4], Float32Array.from([1e6, -2, 3e-9, 0.5]), 'big')],
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
        { opType: 'Relu', inputs: ['h'], outputs: ['r'] },
        { opType: 'Add', name: 'add', inputs: ['r', 'big'], outputs: ['y'] },
      ],
    });

  it('keeps float32 interfaces by default, or makes them float16; honours block lists; counts clamped values', async () => {
    const m = model();
    const values = await discoverValues(m, [{ feeds: generateInputs(m), rows: 2, firstRow: 0 }]);
    const kept = cloneModel(m);
    const { report } = convertToFloat16(kept, { values, ops: 'all', opBlockList: ['Relu'] });
    expect(kept.graph.inputs[0]!.type).toMatchObject({ dtype: 'float32' });
    expect(kept.graph.outputs[0]!.type).toMatchObject({ dtype: 'float32' });
    expect(report.keptFloat32.map((k) => k.reason)).toContain('--op-block-list');
    // The Add reads a 1e6 constant: values beyond float16 keep it float32, so that constant is never clamped.
    expect(report.keptFloat32.find((k) => k.reason === 'values beyond the float16 range')?.opTypes).toEqual(['Add']);
    expect(kept.graph.nodes.find((n) => n.opType === 'Relu')!.inputs[0]).toBe('h');

    const half = cloneModel(m);
    const all = convertToFloat16(half, { values, ops: 'all', keepIoTypes: false, nodeBlockList: ['add'] });
    expect(half.graph.inputs[0]!.type).toMatchObject({ dtype: 'float16' });
    expect(all.report.keptFloat32.map((k) => k.reason)).toContain('--node-block-list');
    const s = await createSession(half);
    const out = await s.run({ x: Tensor.from('float16', [2, 4], new Uint16Array(8).fill(0x3c00)) });
    expect(out.y!.dtype).toBe('float16');

    const onlyMatMul = convertToFloat16(cloneModel(m), { values, ops: 'all', opTypes: ['MatMul'] }).report;
    expect(onlyMatMul.float16Nodes).toBe(1);
    expect(onlyMatMul.keptFloat32.find((k) => k.reason === 'not in --op-types')?.opTypes).toEqual(['Relu']);

    // Without ranges nothing stops the Add, and the 1e6 is clamped (and 3e-9 flushed to 0) — and counted.
    const blind = cloneModel(m);
    const typesOnly = new Map([...values].map(([k, v]) => [k, { dtype: v.dtype }]));
    const r = convertToFloat16(blind, { values: typesOnly, ops: 'all' }).report;
    expect(r.clamped).toBe(1);
    expect(r.flushedToZero).toBe(1);
  });
});

describe('int8 activation type', () => {
  it("follows the CPU (uint8 on x86, where onnxruntime's kernels are u8×s8) unless asked, and says so", async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const zeroPointTypes = (m: Model) =>
      new Set(m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => m.graph.initializers.get(n.inputs[2]!)?.dtype));
    const auto = await quantize(model, { mode: 'int8', calibration: 'random' });
    const x86 = detectCpuFeatures().x86;
    expect(zeroPointTypes(auto.model)).toEqual(new Set([x86 ? 'uint8' : 'int8']));
    expect(auto.report.layers.notes.join(' ')).toMatch(x86 ? /U8S8/ : /S8S8/);
    const forced = await quantize(model, { mode: 'int8', calibration: 'random', activationType: 'int8' });
    expect(zeroPointTypes(forced.model)).toEqual(new Set(['int8']));
    expect(forced.report.layers.notes.join(' ')).toMatch(/S8S8\) as asked/);
  });
});

describe('auto-exclude', () => {
  it('leaves the worst layers float, step by step, until the budget is met; each step reported', async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const data = loadSamples([path.join(CORPUS, 'digits_cnn/test_data_set_0')], inputSpecs(model));
    const free = await quantize(model, { mode: 'int8', calibration: data, metric: 'cosine' });
    const drop = free.report.budget?.drop ?? (1 - free.report.validation.outputs[0]!.cosine!) * 100;
    const { model: q, report } = await quantize(model, { mode: 'int8', calibration: data, metric: 'cosine', maxDrop: drop / 4, autoExclude: true, autoExcludeStep: 1 });
    const steps = report.autoExclude!.steps;
    expect(steps.length).toBeGreaterThanOrEqual(1);
    steps.forEach((s, i) => expect(s.excluded).toHaveLength(i + 1));
    expect(report.autoExclude!.met).toBe(true);
    expect(report.budget!.drop).toBeLessThanOrEqual(drop / 4);
    expect(report.layers.excluded).toEqual(steps.at(-1)!.excluded);
    // The excluded layers are float again in the written model.
    const floatOps = q.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').filter((n) => q.graph.producer(n.inputs[1]!)?.opType !== 'DequantizeLinear');
    expect(floatOps.length).toBe(steps.at(-1)!.excluded.length);
  });
});

describe('external referee', () => {
  it('fp16, q8 and QDQ models pass python3-onnx check_model(full_check=True)', async () => {
    const { onnxCheckFiles, reportSkipped } = await import('../helpers/onnx-checker.js');
    const { saveModel } = await import('../../src/index.js');
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const files: string[] = [];
    for (const mode of ['fp16', 'q8', 'int8', 'uint8'] as const) {
      const { model: q } = await quantize(model, { mode, calibration: 'random', q8Conv: 'integer' });
      const file = path.join(tmp, `digits.${mode}.onnx`);
      saveModel(q, file);
      files.push(file);
    }
    const results = onnxCheckFiles(files);
    reportSkipped(results, 'quantize');
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
  });
});
