/**
 * Acceptance: every model of ../shared/corpus optimizes, keeps its outputs (checked in onnxruntime
 * against the original on the model's own test set, and against PyTorch's expected outputs), and
 * passes both checkers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allClose, check, createSession, DEFAULT_TOLERANCE, encodeModel, loadModel, optimize, readTestDataSet, type Tensor } from '../../src/index.js';
import { onnxCheckFiles, reportSkipped } from '../helpers/onnx-checker.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-corpus-'));
const written: string[] = [];
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

interface Case {
  model: string;
  inputShapes?: Record<string, number[]>;
  /** Most nodes the optimized model may keep. */
  maxNodes: number;
}

const CASES: Case[] = [
  { model: 'digits_cnn', maxNodes: 9 },
  { model: 'quality_mlp', maxNodes: 6 },
  { model: 'mobilenet_v2', maxNodes: 100 },
  { model: 'text_transformer', maxNodes: 186 },
  { model: 'text_transformer', inputShapes: { input_ids: [1, 16], attention_mask: [1, 16] }, maxNodes: 120 },
  { model: 'lstm_tagger', maxNodes: 17 },
  { model: 'lstm_tagger', inputShapes: { frames: [1, 50, 40] }, maxNodes: 10 },
];

describe('optimize: corpus', () => {
  for (const c of CASES) {
    const label = `${c.model}${c.inputShapes ? ` with ${JSON.stringify(c.inputShapes)}` : ''}`;
    it(label, async () => {
      const dir = path.join(CORPUS, c.model);
      const model = loadModel(path.join(dir, 'model.onnx'));
      const set = readTestDataSet(path.join(dir, 'test_data_set_0'));
      // With fixed dims the test set (other sizes) does not fit: verification generates inputs instead.
      const feeds = Object.fromEntries(set.inputs.map((t) => [t.name, t]));
      const { model: optimized, report } = await optimize(model, { inputShapes: c.inputShapes, verify: c.inputShapes ? true : { inputs: [feeds] } });
      expect(report.verify?.passed).toBe(true);
      expect(report.after.nodes).toBeLessThanOrEqual(c.maxNodes);
      expect(report.after.initializerBytes).toBeLessThanOrEqual(report.before.initializerBytes + 1024);
      if (c.inputShapes) expect(optimized.graph.nodes.some((n) => n.opType === 'Shape')).toBe(false);
      check(optimized);
      if (!c.inputShapes) {
        // Still agrees with PyTorch's own outputs, as the original does.
        const session = await createSession(optimized);
        const out = await session.run(feeds);
        await session.release();
        set.outputs.forEach((expected: Tensor) => expect(allClose(out[expected.name]!, expected, DEFAULT_TOLERANCE).message).toBeUndefined());
      }
      const file = path.join(outDir, `${c.model}${c.inputShapes ? '-fixed' : ''}.onnx`);
      fs.writeFileSync(file, encodeModel(optimized));
      written.push(file);
    });
  }

  it('the optimized corpus passes python3-onnx full_check', () => {
    const results = onnxCheckFiles(written);
    reportSkipped(results, 'corpus');
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
    expect(results).toHaveLength(CASES.length);
  });
});
