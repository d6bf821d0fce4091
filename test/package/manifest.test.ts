import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inferManifest, parseManifest, readManifest } from '../../src/package/index.js';
import { loadModel } from '../../src/io/index.js';
import { buildExampleModel, EXAMPLE_LABELS } from '../../src/examples/classifier.js';
import { corpusModel, digitsPackage, tempDir } from '../serve/helpers.js';

const base = {
  name: 'm',
  inputs: [{ name: 'image', dtype: 'float32', shape: ['batch', 3, 32, 32] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }],
};

describe('modelship.json', () => {
  it('reads a package manifest with defaults filled in and unknown (ship) fields kept', () => {
    const dir = digitsPackage(tempDir('manifest'));
    const file = path.join(dir, 'modelship.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...json, candidates: [{ name: 'int8' }], metrics: { top1: 0.99 }, futureField: 1 }));
    const m = readManifest(dir);
    expect(m.version).toBe('3');
    expect(m.preprocess).toMatchObject({ kind: 'image', layout: 'NCHW', size: [8, 8], channels: 1 });
    expect(m.postprocess).toMatchObject({ kind: 'classification', topK: 3, softmax: true });
    expect(m.candidates).toEqual([{ name: 'int8' }]);
    expect(m.futureField).toBe(1);
    const defaults = parseManifest({ ...base, preprocess: { kind: 'image', input: 'image', size: [32, 32] }, postprocess: { kind: 'classification', output: 'logits' } });
    expect(defaults.preprocess).toEqual({ kind: 'image', input: 'image', layout: 'NCHW', size: [32, 32], channels: 3, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], fit: 'fill' });
    expect(defaults.model).toBe('model.onnx');
  });

  it('names the file and the field in one line for each mistake', () => {
    const bad: [object, RegExp][] = [
      [{ ...base, name: '' }, /'name' must be a non-empty string/],
      [{ ...base, inputs: [] }, /'inputs' must be a non-empty array/],
      [{ ...base, inputs: [{ name: 'image', dtype: 'float33', shape: [1] }] }, /'inputs\[0\].dtype' must be an ONNX element type/],
      [{ ...base, inputs: [{ name: 'image', dtype: 'float32', shape: [-1] }] }, /'inputs\[0\].shape\[0\]' must be a size ≥ 0/],
      [{ ...base, model: '/abs/model.onnx' }, /'model' must be a path relative/],
      [{ ...base, schemaVersion: 9 }, /'schemaVersion' must be ≤ 1/],
      [{ ...base, preprocess: { kind: 'audio', input: 'image' } }, /'preprocess.kind' must be one of image, features/],
      [{ ...base, preprocess: { kind: 'image', input: 'pixels', size: [3, 3] } }, /'preprocess.input' must be one of the inputs \(image\)/],
      [{ ...base, preprocess: { kind: 'image', input: 'image', size: [32] } }, /'preprocess.size' must be \[height, width\]/],
      [{ ...base, preprocess: { kind: 'image', input: 'image', size: [32, 32], std: [1, 0, 1] } }, /'preprocess.std' must be a number or 3 non-zero numbers/],
      [{ ...base, inputs: [{ name: 'f', dtype: 'float32', shape: ['batch', 3] }], preprocess: { kind: 'features', input: 'f', names: ['a', 'b'] } }, /'preprocess.names' must be 3 names/],
      [{ ...base, postprocess: { kind: 'classification', output: 'probs' } }, /'postprocess.output' must be one of the outputs \(logits\)/],
      [{ ...base, postprocess: { kind: 'classification', output: 'logits', topK: 0 } }, /'postprocess.topK' must be a positive integer/],
    ];
    for (const [value, message] of bad) {
      const run = () => parseManifest(value, 'pkg/modelship.json');
      expect(run).toThrow(message);
      expect(run).toThrow(/^pkg\/modelship.json: /);
    }
    const dir = tempDir('manifest-bad');
    fs.writeFileSync(path.join(dir, 'modelship.json'), '{ nope');
    expect(() => readManifest(dir)).toThrow(/modelship.json: not valid JSON/);
    expect(() => readManifest(path.join(dir, 'missing'))).toThrow(/cannot read manifest \(ENOENT\)/);
  });

  it('infers pre/post-processing for plain models from their interface and metadata', () => {
    const digits = inferManifest(loadModel(corpusModel('digits_cnn')), 'digits');
    expect(digits.preprocess).toMatchObject({ kind: 'image', layout: 'NCHW', size: [8, 8], channels: 1 });
    expect(digits.postprocess).toEqual({ kind: 'classification', output: 'logits', labels: undefined, softmax: true, topK: 5 });
    const quality = inferManifest(loadModel(corpusModel('quality_mlp')), 'quality');
    expect(quality.preprocess).toEqual({ kind: 'features', input: 'features', names: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'] });
    expect(quality.postprocess).toEqual({ kind: 'regression', output: 'ssim', names: ['ssim'] });
    const example = inferManifest(buildExampleModel(), 'example');
    expect(example.postprocess).toMatchObject({ kind: 'classification', labels: EXAMPLE_LABELS });
    const text = inferManifest(loadModel(corpusModel('text_transformer')), 'text');
    expect(text.preprocess).toBeUndefined();
    expect(text.inputs.map((i) => i.dtype)).toEqual(['int64', 'int64']);
    // What inferManifest writes reads back unchanged.
    expect(parseManifest(JSON.parse(JSON.stringify(digits)))).toEqual(JSON.parse(JSON.stringify(digits)));
  });
});
