import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, createRng, generateInputs, inferInputRanges, loadModel, normal, validate, validateExpected, type Model } from '../../src/index.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const modelPath = (name: string) => path.join(CORPUS, name, 'model.onnx');

/** The model with Gaussian noise (scale × each weight tensor's RMS) added to every float weight. */
function perturbed(file: string, scale: number): Model {
  const m = loadModel(file);
  const rng = createRng(1);
  for (const [name, t] of m.graph.initializers) {
    if (t.dtype !== 'float32' || t.size < 2) continue;
    const w = t.data as Float32Array;
    let sq = 0;
    for (const v of w) sq += v * v;
    const rms = Math.sqrt(sq / w.length);
    m.graph.initializers.set(name, Tensor.from('float32', t.dims, w.map((v) => v + scale * rms * normal(rng)), name));
  }
  return m;
}

// Per model: the metric a 30% weight perturbation must fail on, and how many samples to spend.
const CORPUS_MODELS = [
  { name: 'digits_cnn', fails: 'cosine', samples: 4 },
  { name: 'quality_mlp', fails: 'pearson', samples: 4 },
  { name: 'mobilenet_v2', fails: 'top1Agreement', samples: 2 },
  { name: 'text_transformer', fails: 'cosine', samples: 4 },
  { name: 'lstm_tagger', fails: 'top1Agreement', samples: 4 },
];

describe.each(CORPUS_MODELS)('$name', ({ name, fails, samples }) => {
  const file = modelPath(name);

  it('against itself on generated inputs: every metric perfect', async () => {
    const r = await validate(file, file, { samples });
    expect(r.passed).toBe(true);
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({ source: 'generated', samples, seed: 0 });
    for (const o of r.outputs) {
      expect(o.metrics).toMatchObject({ maxAbsError: 0, meanAbsError: 0, rmse: 0, relativeError: 0, cosine: 1, pearson: 1, exactMatch: 1, nonFiniteMismatches: 0 });
      expect(o.metrics!.sqnrDb).toBe(Infinity);
      if (o.classifier) expect(o.metrics).toMatchObject({ top1Agreement: 1, top5Agreement: 1 });
    }
  });

  it('against a perturbed copy: fails, naming the metric', async () => {
    const r = await validate(file, perturbed(file, 0.3), { data: [path.join(CORPUS, name)] });
    expect(r.passed).toBe(false);
    expect(r.failures.some((f) => f.includes(`: ${fails} `))).toBe(true);
    const failedMetrics = r.outputs.flatMap((o) => o.checks.filter((c) => !c.passed).map((c) => c.metric));
    expect(failedMetrics).toContain(fails);
  });

  it('against its own test-set outputs, on node and WASM: passes, and the runtimes agree', async () => {
    const r = await validateExpected(file, [path.join(CORPUS, name)], { runtime: 'both' });
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(true);
    expect(r.reference.runtime).toBe('expected outputs');
    for (const o of [...r.outputs, ...r.otherRuntimes![0]!.outputs]) {
      expect(o.metrics!.maxAbsError).toBeLessThan(1e-4);
      expect(o.metrics!.cosine).toBeGreaterThan(0.999999);
    }
    expect(r.crossRuntime).toMatchObject({ runtimes: ['node', 'wasm'], agree: true, mismatches: [] });
  });
});

describe('validate', () => {
  const digits = modelPath('digits_cnn');
  const digitsData = path.join(CORPUS, 'digits_cnn');

  it('reports task accuracy of both models and the drop, with labels', async () => {
    const labels = path.join(digitsData, 'labels.json');
    const same = await validate(digits, digits, { data: [digitsData], labels });
    expect(same.accuracy).toMatchObject({ output: 'logits', labels: 397, drop: 0 });
    expect(same.accuracy!.reference).toBeCloseTo(0.9974811, 6); // meta.json's fp32_top1
    const worse = await validate(digits, perturbed(digits, 0.5), { data: [digitsData], labels, thresholds: { minCosine: 0, minPearson: 0, minTop1Agreement: 0 } });
    expect(worse.accuracy!.drop).toBeGreaterThan(0.01);
    expect(worse.passed).toBe(false);
    expect(worse.failures).toEqual([expect.stringMatching(/^accuracy on 'logits': drop .* points .*> 1$/)]);
  });

  it('runs the candidate on node and wasm and reports their agreement', async () => {
    const r = await validate(digits, digits, { data: [digitsData], runtime: 'both' });
    expect(r.candidate.runtimes).toEqual(['node', 'wasm']);
    expect(r.otherRuntimes![0]!.runtime).toBe('wasm');
    expect(r.otherRuntimes![0]!.passed).toBe(true);
    expect(r.crossRuntime!.agree).toBe(true);
    expect(r.crossRuntime!.outputs[0]!.metrics!.top1Agreement).toBe(1);
    // With no tolerance at all the backends' float rounding differences are listed, not hidden.
    const strict = await validate(digits, digits, { data: [digitsData], runtime: 'both', tolerance: { rtol: 0, atol: 0 } });
    expect(strict.crossRuntime!.agree).toBe(false);
    expect(strict.crossRuntime!.mismatches[0]).toMatch(/^output 'logits': \d+ of 3970 elements differ beyond rtol 0, atol 0 \(max abs .*; worst at index \d+: node .*, wasm .*\)$/);
    expect(strict.passed).toBe(true);
  });

  it('accepts IR models and generates inputs in the vocabulary and mask ranges', async () => {
    const file = modelPath('text_transformer');
    const model = loadModel(file);
    expect(inferInputRanges(model.graph).get('input_ids')).toEqual({ kind: 'index', max: 8000 });
    const r = await validate(model, model, { samples: 2, batch: 3, dims: { seq: 16 } });
    expect(r.inputs.shapes).toEqual({ input_ids: [3, 16], attention_mask: [3, 16] });
    expect(r.inputs.ranges).toEqual({ input_ids: 'index < 8000', attention_mask: 'mask' });
    expect(r.inputs.rows).toBe(6);
    expect(r.passed).toBe(true);
  });

  it('one clear error for data that does not fit and labels of the wrong length', async () => {
    await expect(validate(digits, digits, { data: [path.join(CORPUS, 'mobilenet_v2')] })).rejects.toThrow(
      /mobilenet_v2\/test_data_set_0: reference: input 'image': dimension 1 is 3, the model expects 1/,
    );
    await expect(validate(digits, digits, { data: [digitsData], labels: [1, 2, 3] })).rejects.toThrow(
      "labels: 3 labels, but output 'logits' has more rows than that (397 after 1 of 1 samples)",
    );
    await expect(validate(digits, modelPath('quality_mlp'))).rejects.toThrow(/candidate \(node\): unknown input 'image'/);
  });
});

describe('generateInputs', () => {
  it('masks look like padding (leading ones, never all zero); position ids count up', () => {
    const m = loadModel(modelPath('text_transformer'));
    const feeds = generateInputs(m, { seed: 3, batch: 4, dims: { seq: 10 } });
    const mask = feeds.attention_mask!.data as BigInt64Array;
    for (let r = 0; r < 4; r++) {
      const row = [...mask.subarray(r * 10, r * 10 + 10)].map(Number);
      const ones = row.indexOf(0) < 0 ? 10 : row.indexOf(0);
      expect(ones).toBeGreaterThan(0);
      expect(row).toEqual([...Array(ones).fill(1), ...Array(10 - ones).fill(0)]);
    }
    const ids = feeds.input_ids!.data as BigInt64Array;
    expect(ids.every((v) => v >= 0n && v < 8000n)).toBe(true);
  });
});
