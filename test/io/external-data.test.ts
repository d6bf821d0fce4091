/**
 * External data: models whose tensors live beside the .onnx file. Reading python3-onnx's external
 * data files, writing our own (read back by python3-onnx and onnxruntime), and the 'auto' switch past
 * the inline limit (lowered here; a real > 2 GiB save is in `npm run bench:io`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Graph,
  Model,
  PROTOBUF_LIMIT,
  Tensor,
  bitIdentical,
  createSession,
  loadModel,
  modelSource,
  readTestDataSet,
  saveModel,
} from '../../src/index.js';
import { modelSignature } from '../helpers/model-signature.js';
import { runPython } from '../helpers/onnx-python.js';

const CORPUS = path.resolve('../shared/corpus');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-external-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** y = x·W + b with a W of `rows`×4 float32: a model with one large initializer. */
function linearModel(rows: number): Model {
  const g = new Graph('linear');
  g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', rows] } });
  g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', 4] } });
  g.addInitializer(Tensor.from('float32', [rows, 4], Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i)), 'W'));
  g.addInitializer(Tensor.from('float32', [4], Float32Array.of(1, 2, 3, 4), 'b'));
  g.addNode({ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] });
  g.addNode({ opType: 'Add', inputs: ['xw', 'b'], outputs: ['y'] });
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 13 }];
  return m;
}

describe('external data', () => {
  it('loads a model that python3-onnx saved with external data, same graph as the inline original', async () => {
    const dir = path.join(tmp, 'from-python');
    fs.mkdirSync(dir);
    runPython(
      `
import json, sys, onnx
a = json.load(sys.stdin)
m = onnx.load(a['src'])
onnx.save_model(m, a['dst'], save_as_external_data=True, all_tensors_to_one_file=True, location='weights.bin', size_threshold=1024)
print('{}')
`,
      { src: path.join(CORPUS, 'lstm_tagger/model.onnx'), dst: path.join(dir, 'model.onnx') },
    );
    expect(fs.statSync(path.join(dir, 'model.onnx')).size).toBeLessThan(100_000);
    const fromPython = loadModel(path.join(dir, 'model.onnx'));
    const original = loadModel(path.join(CORPUS, 'lstm_tagger/model.onnx'));
    const externals = [...fromPython.graph.initializers.values()].filter((t) => t.external);
    expect(externals.length).toBeGreaterThan(0);
    expect(externals.every((t) => t.external!.location === 'weights.bin')).toBe(true);
    expect(modelSource(fromPython)!.externalDataBytes).toBeGreaterThan(1_000_000);
    // The signature covers names, types, nodes and tensor values (not where the bytes were stored).
    expect(modelSignature(fromPython)).toEqual(modelSignature(original));
  });

  it('saves tensors above the threshold to an external file that python3-onnx and onnxruntime read', async () => {
    const model = loadModel(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const file = path.join(tmp, 'digits-ext', 'model.onnx');
    const result = saveModel(model, file, { externalData: true, sizeThreshold: 4096, location: 'weights.data' });
    expect(result.externalDataPath).toBe(path.join(tmp, 'digits-ext', 'weights.data'));
    const big = [...model.graph.initializers.values()].filter((t) => t.byteLength >= 4096);
    expect(big.length).toBe(2); // fc1.weight (128 KiB) and a conv weight (18 KiB)
    expect(result.externalDataBytes).toBeGreaterThanOrEqual(big.reduce((n, t) => n + t.byteLength, 0));
    expect(result.bytes).toBeLessThan(10_000);

    const again = loadModel(file);
    expect(modelSignature(again)).toEqual(modelSignature(model));
    const moved = [...again.graph.initializers.values()].filter((t) => t.external).map((t) => t.name).sort();
    expect(moved).toEqual(big.map((t) => t.name).sort());

    const verdict = runPython(
      `
import json, sys, onnx
from onnx import numpy_helper
f = json.load(sys.stdin)
onnx.checker.check_model(f, full_check=True)
m = onnx.load(f)
print(json.dumps({t.name: float(numpy_helper.to_array(t).astype('float64').sum()) for t in m.graph.initializer}))
`,
      file,
    ) as Record<string, number>;
    for (const t of model.graph.initializers.values()) {
      const sum = Array.from(t.data as Float32Array).reduce((a, b) => a + b, 0);
      expect(verdict[t.name], t.name).toBeCloseTo(sum, 3);
    }

    const data = readTestDataSet(path.join(CORPUS, 'digits_cnn/test_data_set_0'));
    const inline = await createSession(path.join(CORPUS, 'digits_cnn/model.onnx'));
    const external = await createSession(file);
    const feeds = { image: data.inputs[0]! };
    const [a, b] = [await inline.run(feeds), await external.run(feeds)];
    expect(bitIdentical(a.logits!, b.logits!)).toBe(true);
    await inline.release();
    await external.release();
  });

  it("re-saves a model loaded with external data with external data ('auto')", () => {
    const src = path.join(tmp, 'digits-ext', 'model.onnx');
    const dst = path.join(tmp, 'digits-resaved', 'model.onnx');
    const r = saveModel(loadModel(src), dst);
    expect(r.externalDataPath).toBe(path.join(tmp, 'digits-resaved', 'model.onnx.data'));
    expect(modelSignature(loadModel(dst))).toEqual(modelSignature(loadModel(src)));
  });

  it("'auto' switches to external data past the inline limit, and 'false' refuses to write", () => {
    const model = linearModel(1000); // W is 16 000 bytes
    const small = saveModel(model, path.join(tmp, 'auto-inline', 'm.onnx'), { inlineLimit: 20_000 });
    expect(small.externalDataPath).toBeUndefined();
    expect(small.bytes).toBeGreaterThan(16_000);

    const dir = path.join(tmp, 'auto-external');
    const big = saveModel(model, path.join(dir, 'm.onnx'), { inlineLimit: 10_000 });
    expect(big.externalDataPath).toBe(path.join(dir, 'm.onnx.data'));
    expect(big.bytes).toBeLessThan(1_000);
    expect(loadModel(path.join(dir, 'm.onnx')).graph.initializers.get('W')!.external).toBeDefined();

    const refused = path.join(tmp, 'refused', 'm.onnx');
    expect(() => saveModel(model, refused, { inlineLimit: 10_000, externalData: false })).toThrow(
      /m\.onnx: model is \d+ bytes inline, over the inline limit of 10000 bytes; save with external data/,
    );
    expect(fs.existsSync(path.dirname(refused)) ? fs.readdirSync(path.dirname(refused)) : []).toEqual([]);
    expect(PROTOBUF_LIMIT).toBe(2 ** 31 - 1);
  });

  it('aligns large external tensors to 64 KiB so runtimes can map them', () => {
    const model = linearModel(70_000); // W is 1.12 MB
    const file = path.join(tmp, 'aligned', 'm.onnx');
    saveModel(model, file, { externalData: true, sizeThreshold: 0 });
    const w = loadModel(file).graph.initializers.get('W')!;
    expect(w.external!.offset % 65536).toBe(0);
    expect(w.external!.length).toBe(70_000 * 16);
  });

  it('names the tensor and the file when external data is missing, short or outside the folder', () => {
    const dir = path.join(tmp, 'broken-ext');
    const file = path.join(dir, 'm.onnx');
    saveModel(linearModel(1000), file, { externalData: true, location: 'w.bin' });
    fs.renameSync(path.join(dir, 'w.bin'), path.join(dir, 'w.moved'));
    expect(() => loadModel(file)).toThrow(`${file}: tensor 'W': external data file 'w.bin' not found (looked for ${path.join(dir, 'w.bin')})`);
    fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(100));
    expect(() => loadModel(file)).toThrow(/tensor 'W': external data 'w\.bin' has 100 bytes, but the tensor needs bytes 0\.\.16000/);

    saveModel(linearModel(1000), file, { externalData: true, location: 'w.bin' });
    const bytes = fs.readFileSync(file);
    const evil = Buffer.from(bytes.toString('latin1').replace('w.bin', '../ab'), 'latin1');
    fs.writeFileSync(path.join(dir, 'evil.onnx'), evil);
    expect(() => loadModel(path.join(dir, 'evil.onnx'))).toThrow(/external data location '\.\.\/ab' points outside the model's folder/);
  });
});

describe('writing model and external data together', () => {
  it('leaves the old pair untouched and no temporary files when writing the second file fails', async () => {
    const { writeFilesAtomic } = await import('../../src/io/atomic.js');
    const dir = path.join(tmp, 'pair');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'm.onnx.data'), 'old data');
    fs.writeFileSync(path.join(dir, 'm.onnx'), 'old model');
    const unwritable = { byteLength: 4 } as Uint8Array; // makes fs.writeSync throw mid-way
    expect(() =>
      writeFilesAtomic([
        { file: path.join(dir, 'm.onnx.data'), chunks: [new Uint8Array(8)] },
        { file: path.join(dir, 'm.onnx'), chunks: [new Uint8Array(2), unwritable] },
      ]),
    ).toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(['m.onnx', 'm.onnx.data']);
    expect(fs.readFileSync(path.join(dir, 'm.onnx.data'), 'utf8')).toBe('old data');
    expect(fs.readFileSync(path.join(dir, 'm.onnx'), 'utf8')).toBe('old model');
  });
});
