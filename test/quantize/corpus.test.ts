/**
 * Acceptance on the shared corpus (real PyTorch exports): accuracy kept where there are labels or a
 * regression target, and for the other models every mode gives a model that runs on onnxruntime-node
 * and WASM, with agreement and SQNR reported and the size targets met.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputSpecs, loadModel, loadSamples, quantize, type LoadedSample, type QuantizeMode, type QuantizeReport } from '../../src/index.js';

const CORPUS = path.resolve('../shared/corpus');
const load = (name: string) => {
  const model = loadModel(path.join(CORPUS, name, 'model.onnx'));
  const data = loadSamples([path.join(CORPUS, name, 'test_data_set_0')], inputSpecs(model));
  return { model, data };
};
const labelsOf = (name: string): number[] => JSON.parse(fs.readFileSync(path.join(CORPUS, name, 'labels.json'), 'utf8'));

/** The report ran on both runtimes, every output compared without error, and the numbers are there. */
function expectRanEverywhere(r: QuantizeReport): void {
  expect(r.validation.runtimes).toEqual(['node', 'wasm']);
  const all = [r.validation.outputs, ...(r.validation.otherRuntimes ?? []).map((o) => o.outputs)];
  for (const outputs of all) {
    for (const o of outputs) {
      expect(o.error).toBeUndefined();
      expect(Number.isFinite(o.sqnrDb!) || o.sqnrDb === Infinity).toBe(true);
    }
  }
}

describe('digits_cnn: top-1 accuracy on its 397 labelled test images stays within 0.5 points', () => {
  const { model, data } = load('digits_cnn');
  const labels = labelsOf('digits_cnn');
  for (const mode of ['int8', 'q8', 'fp16'] as QuantizeMode[]) {
    it(mode, async () => {
      // int8 calibrates on the first 200 images and is judged on all 397.
      const { report } = await quantize(model, { mode, calibration: data, calibrationSamples: 200, eval: data, labels, maxDrop: 0.5 });
      const acc = report.validation.accuracy!;
      expect(acc.reference).toBeCloseTo(0.9974811083123426, 10);
      expect(acc.drop).toBeLessThanOrEqual(0.005);
      expect(report.validation.otherRuntimes![0]!.accuracy!.drop).toBeLessThanOrEqual(0.005);
      expect(report.budget).toMatchObject({ metric: 'accuracy', passed: true });
      expectRanEverywhere(report);
    });
  }
});

describe('quality_mlp: the regression output tracks float32 (Pearson)', () => {
  const { model, data } = load('quality_mlp');
  for (const [mode, min] of [['fp16', 0.999], ['q8', 0.99], ['int8', 0.99]] as [QuantizeMode, number][]) {
    it(`${mode}: Pearson ≥ ${min}`, async () => {
      const { report } = await quantize(model, { mode, calibration: data, calibrationSamples: 250, eval: data });
      expect(report.validation.outputs[0]!.pearson).toBeGreaterThanOrEqual(min);
      expect(report.validation.otherRuntimes![0]!.outputs[0]!.pearson).toBeGreaterThanOrEqual(min);
    });
  }
});

const SIZE_LIMIT: Partial<Record<QuantizeMode, number>> = { fp16: 0.52, int8: 0.27, uint8: 0.27 };

describe.each([
  ['mobilenet_v2', 8],
  ['text_transformer', 32],
  ['lstm_tagger', 32],
])('%s: every mode loads and runs on node and WASM, sizes on target', (name, randomSamples) => {
  const { model, data } = load(name);
  const modes: QuantizeMode[] = ['fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16'];
  for (const mode of modes) {
    it(mode, async () => {
      const calibration: LoadedSample[] | 'random' = 'random';
      // The per-layer report on the transformer, every mode (its layers are small).
      const debug = name === 'text_transformer';
      const { model: q, report } = await quantize(model, { mode, calibration, calibrationSamples: randomSamples, calibrationBatch: 8, eval: data, debug });
      if (debug) {
        expect(report.layerErrors!.length).toBe(report.layers.quantized);
        for (const e of report.layerErrors!) expect(e.sqnrDb).toBeGreaterThan(mode.startsWith('q4') ? 10 : 20);
      }
      expectRanEverywhere(report);
      const out = report.validation.outputs[0]!;
      expect(out.top1Agreement).toBeGreaterThan(0);
      // Sanity floors (random weights, calibration on generated inputs): 4-bit keeps ~5 bits of signal, 8-bit ~3+.
      expect(out.sqnrDb).toBeGreaterThan(mode.startsWith('q4') ? 10 : 20);
      console.log(`${name} ${mode}: size ${report.size.ratio.toFixed(3)}×, SQNR ${out.sqnrDb!.toFixed(1)} dB, top-1 agreement ${(out.top1Agreement! * 100).toFixed(1)}%`);
      const limit = SIZE_LIMIT[mode];
      if (limit) expect(report.size.ratio).toBeLessThanOrEqual(limit);
      if (mode === 'q4' || mode === 'q4f16') {
        expect(report.q4!.matmulWeightBytes.before).toBeGreaterThan(0);
        expect(report.q4!.matmulWeightBytes.ratio).toBeLessThanOrEqual(0.16);
        expect(q.graph.nodes.some((n) => n.opType === 'MatMulNBits')).toBe(true);
      }
      if (mode === 'int8' || mode === 'uint8') expect(report.calibration!.peakRssBytes).toBeGreaterThan(0);
    });
  }
});
