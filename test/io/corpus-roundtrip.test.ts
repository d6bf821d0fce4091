/**
 * Round trip of every model in ../shared/corpus (real PyTorch exports): load → save → load keeps the
 * graph, onnxruntime computes bit-identical outputs from both files, both match PyTorch's outputs,
 * and python3-onnx's checker accepts what we wrote.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Graph,
  Model,
  bitIdentical,
  createSession,
  encodeModel,
  loadModel,
  readTestDataSet,
  runTestCase,
  saveModel,
} from '../../src/index.js';
import { modelSignature } from '../helpers/model-signature.js';
import { onnxCheck } from '../helpers/onnx-python.js';

const CORPUS = path.resolve('../shared/corpus');
const MODELS = ['digits_cnn', 'quality_mlp', 'mobilenet_v2', 'text_transformer', 'lstm_tagger'];

let tmp: string;
const saved = new Map<string, string>();

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-corpus-'));
  for (const name of MODELS) {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    saveModel(loadModel(path.join(CORPUS, name, 'model.onnx')), path.join(dir, 'model.onnx'));
    fs.cpSync(path.join(CORPUS, name, 'test_data_set_0'), path.join(dir, 'test_data_set_0'), { recursive: true });
    saved.set(name, path.join(dir, 'model.onnx'));
  }
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(MODELS)('corpus %s', (name) => {
  const original = path.join(CORPUS, name, 'model.onnx');

  it('load → save → load keeps the graph and its encoding', () => {
    const a = loadModel(original);
    const b = loadModel(saved.get(name)!);
    expect(modelSignature(b)).toEqual(modelSignature(a));
    expect(b.graph.nodes.length).toBeGreaterThan(0);
    expect(Buffer.from(encodeModel(b)).equals(Buffer.from(encodeModel(a)))).toBe(true);
    expect(fs.readFileSync(saved.get(name)!).equals(Buffer.from(encodeModel(a)))).toBe(true);
  });

  it('onnxruntime outputs of the original and the re-saved model are bit-identical', async () => {
    const data = readTestDataSet(path.join(CORPUS, name, 'test_data_set_0'));
    const s1 = await createSession(original);
    const s2 = await createSession(saved.get(name)!);
    try {
      const feeds = Object.fromEntries(data.inputs.map((t, i) => [s1.inputs[i]!.name, t]));
      const o1 = await s1.run(feeds);
      const o2 = await s2.run(feeds);
      expect(Object.keys(o2)).toEqual(Object.keys(o1));
      for (const k of Object.keys(o1)) expect(bitIdentical(o1[k]!, o2[k]!), `output ${k}`).toBe(true);
    } finally {
      await s1.release();
      await s2.release();
    }
  });

  it('`test` passes against PyTorch’s outputs, for the original and the re-saved model', async () => {
    for (const dir of [path.join(CORPUS, name), path.dirname(saved.get(name)!)]) {
      const r = await runTestCase(dir);
      expect(r.message ?? '', dir).toBe('');
      expect(r.status).toBe('passed');
      const maxDiff = Math.max(...r.dataSets.flatMap((s) => s.outputs.map((o) => o.maxAbsDiff)));
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });

  it('`test` passes on the second runtime, onnxruntime-web (WASM), too', async () => {
    const r = await runTestCase(path.dirname(saved.get(name)!), { runtime: 'wasm' });
    expect(r.message ?? '').toBe('');
    expect(r.status).toBe('passed');
  });
});

describe('python3-onnx checker', () => {
  it('accepts every re-saved corpus model (full_check) and rejects a broken one', () => {
    // A control that onnx.checker must refuse, so a silently passing referee would be noticed.
    const g = new Graph('broken');
    g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: [1] } });
    g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: [1] } });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'missing'], outputs: ['y'], attributes: [] });
    const broken = new Model(g);
    broken.irVersion = 8;
    const brokenPath = path.join(tmp, 'broken.onnx');
    saveModel(broken, brokenPath, { check: false });

    const verdicts = onnxCheck([...saved.values(), brokenPath]);
    for (const file of saved.values()) expect(verdicts[file], file).toBeNull();
    expect(verdicts[brokenPath]).toMatch(/missing/);
  });
});
