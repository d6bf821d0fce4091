import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  attr,
  check,
  encodeModel,
  generateInputs,
  getInts,
  optimize,
  OptimizeVerificationError,
  PASSES,
  Tensor,
  verifyModels,
  type Model,
} from '../../src/index.js';
import { onnxCheckFiles, reportSkipped } from '../helpers/onnx-checker.js';
import { buildModel, ints, opTypes, randomTensor } from './build.js';

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-optimize-'));
const written: string[] = [];
/** Keeps an optimized model for the external checker run at the end. */
function keep(model: Model, name: string): void {
  const file = path.join(outDir, `${name}.onnx`);
  fs.writeFileSync(file, encodeModel(model));
  written.push(file);
}

afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

describe('optimize', () => {
  it('passes custom-domain ops through untouched, applying only structural passes around them', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 3]] },
      outputs: { y: ['float32', [2, 3]] },
      domains: { 'com.example': 1 },
      initializers: [randomTensor('k', [3]), randomTensor('k_copy', [3])],
      nodes: [
        { opType: 'Identity', inputs: ['x'], outputs: ['xi'] },
        // All-constant input, but a custom op is never evaluated.
        { opType: 'Mystery', domain: 'com.example', inputs: ['k'], outputs: ['mk'], attributes: [attr.string('mode', 'secret')] },
        { opType: 'Scramble', domain: 'com.example', inputs: ['xi', 'mk', 'k_copy'], outputs: ['s'] },
        { opType: 'Relu', inputs: ['s'], outputs: ['y'] },
        { opType: 'Sigmoid', inputs: ['x'], outputs: ['dead'] },
      ],
    });
    await expect(optimize(m)).rejects.toThrow(/onnxruntime cannot run the original model.*--no-verify/);
    const { model, report } = await optimize(m, { verify: false });
    expect(opTypes(model)).toEqual(['Mystery', 'Scramble', 'Relu']);
    const [mystery, scramble] = model.graph.nodes;
    expect(mystery).toMatchObject({ domain: 'com.example', inputs: ['k'], outputs: ['mk'] });
    expect(mystery!.attributes).toEqual(m.graph.nodes[1]!.attributes);
    // Structural rewrites only: the Identity before it is gone, the duplicate constant merged.
    expect(scramble!.inputs).toEqual(['x', 'mk', 'k']);
    expect(report.shapeInference.unknown).toBe(2);
    expect(model.graph.valueInfo.has('mk')).toBe(false);
    check(model);
    keep(model, 'custom-domain');
  });

  it('handles opset-dependent attributes: Squeeze/Unsqueeze/ReduceSum axes before and after opset 13', async () => {
    for (const opset of [11, 13]) {
      const axes = (name: string, values: number[]) =>
        opset < 13 ? { inputs: [name], attributes: [attr.ints('axes', values)] } : { inputs: [name, `${name}_axes`], attributes: [] };
      const m = buildModel({
        opset,
        inputs: { x: ['float32', ['n', 1, 4]] },
        outputs: { y: ['float32'] },
        initializers: [
          randomTensor('c', [1, 4, 1], 3),
          ...(opset < 13 ? [] : [ints('c_axes', [0, 2]), ints('x_axes', [1]), ints('sq_axes', [0]), ints('u_axes', [1])]),
        ],
        nodes: [
          // A constant branch through Squeeze folds; the data branch keeps its shapes.
          { opType: 'Squeeze', outputs: ['cs'], ...axes('c', [0, 2]) },
          { opType: 'Squeeze', outputs: ['xs'], ...axes('x', [1]) },
          { opType: 'Add', inputs: ['xs', 'cs'], outputs: ['sq'] },
          { opType: 'Unsqueeze', outputs: ['u'], ...axes('sq', [0]) },
          { opType: 'ReduceSum', outputs: ['y'], ...axes('u', [1]) },
        ],
      });
      const { model, report } = await optimize(m);
      expect(opTypes(model)).toEqual(['Squeeze', 'Add', 'Unsqueeze', 'ReduceSum']);
      expect(model.graph.valueType('xs')).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['n', 4] });
      expect(model.graph.valueType('u')).toEqual({ kind: 'tensor', dtype: 'float32', shape: [1, 'n', 4] });
      expect(model.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [1, 1, 4] });
      expect(report.verify?.passed).toBe(true);
      keep(model, `axes-opset${opset}`);
    }
  });

  it('reaches a fixed point and is idempotent', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2, 6]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [6, 3])],
      nodes: [
        { opType: 'Shape', inputs: ['x'], outputs: ['s'] },
        { opType: 'Constant', inputs: [], outputs: ['idx'], attributes: [attr.tensor('value', ints('', [1], []))] },
        { opType: 'Gather', inputs: ['s', 'idx'], outputs: ['cols'] },
        { opType: 'Cast', inputs: ['cols'], outputs: ['colsf'], attributes: [attr.int('to', 1)] },
        { opType: 'Sqrt', inputs: ['colsf'], outputs: ['scale'] },
        { opType: 'Identity', inputs: ['w'], outputs: ['wi'] },
        { opType: 'MatMul', inputs: ['x', 'wi'], outputs: ['mm'] },
        { opType: 'Div', inputs: ['mm', 'scale'], outputs: ['y'] },
      ],
    });
    const first = await optimize(m);
    expect(opTypes(first.model)).toEqual(['MatMul', 'Div']);
    expect(first.report.rounds).toBeGreaterThan(1);
    expect(first.report.converged).toBe(true);
    expect(first.report.before.nodes).toBe(8);
    expect(first.report.after.nodes).toBe(2);
    expect(first.report.passes.map((p) => p.name)).toEqual(PASSES.map((p) => p.name));
    const second = await optimize(first.model);
    expect(second.report.passes.every((p) => p.changes === 0)).toBe(true);
    expect(second.report.rounds).toBe(1);
    keep(first.model, 'fixed-point');
  });

  it('raises IR 3 to 4 when folded constants are not graph inputs', async () => {
    const m = buildModel({
      irVersion: 3,
      opset: 8,
      inputs: { x: ['float32', [3]] },
      outputs: { y: ['float32'] },
      nodes: [
        { opType: 'Constant', inputs: [], outputs: ['k'], attributes: [attr.tensor('value', randomTensor('', [3]))] },
        { opType: 'Add', inputs: ['x', 'k'], outputs: ['y'] },
      ],
    });
    const { model, report } = await optimize(m);
    expect(model.irVersion).toBe(4);
    expect(report.irVersion).toEqual({ from: 3, to: 4 });
    expect(report.verify?.passed).toBe(true);
    keep(model, 'ir3');
  });

  it('fails verification when outputs differ, and names the output', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [4]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [4])],
      nodes: [{ opType: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    const feeds = generateInputs(m);
    const wrong = { y: Tensor.from('float32', [4], new Float32Array(4).fill(1e3)) };
    const err = await optimize(m, { verify: { inputs: [feeds], expected: [wrong] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptimizeVerificationError);
    expect((err as OptimizeVerificationError).message).toMatch(/output 'y': 4 of 4 elements differ/);
    expect((err as OptimizeVerificationError).report.verify?.passed).toBe(false);

    const changed = buildModel({
      inputs: { x: ['float32', [4]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [4], 2)],
      nodes: [{ opType: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    const report = await verifyModels(m, changed, [feeds], { source: 'generated' });
    expect(report.passed).toBe(false);
    expect(report.outputs[0]!.name).toBe('y');
  });

  it('rejects unknown pass names, listing the known ones', async () => {
    const m = buildModel({ inputs: { x: ['float32', [1]] }, outputs: { y: ['float32'] }, nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }] });
    await expect(optimize(m, { skip: ['fold-everything'] })).rejects.toThrow(/unknown pass 'fold-everything' \(passes: eliminate-identity, /);
  });

  it('says so when the model was invalid to begin with', async () => {
    const m = buildModel({
      inputs: { x: ['float32', [2]] },
      outputs: { y: ['float32'] },
      nodes: [{ opType: 'Add', inputs: ['x', 'ghost'], outputs: ['y'] }],
    });
    await expect(optimize(m)).rejects.toThrow(/the model is invalid before optimizing: .*input 1 'ghost' is not a graph input, initializer or output of any node/);
  });

  it('writes value_info for intermediate values', async () => {
    const m = buildModel({
      inputs: { x: ['float32', ['batch', 3, 16, 16]] },
      outputs: { y: ['float32'] },
      initializers: [randomTensor('w', [8, 3, 3, 3]), ints('shape', [0, -1])],
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: [attr.ints('strides', [2, 2])] },
        { opType: 'MaxPool', inputs: ['c'], outputs: ['p'], attributes: [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])] },
        { opType: 'Reshape', inputs: ['p', 'shape'], outputs: ['y'] },
      ],
    });
    const { model } = await optimize(m);
    expect(model.graph.valueType('c')).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 8, 7, 7] });
    expect(model.graph.valueType('p')).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 8, 3, 3] });
    expect(model.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 72] });
    expect(getInts(model.graph.nodes[0]!, 'strides')).toEqual([2, 2]);
    keep(model, 'value-info');
  });

  it('produces models that python3-onnx full_check accepts', () => {
    const results = onnxCheckFiles(written);
    reportSkipped(results, 'optimize.test');
    expect(results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(results.filter((r) => r.status === 'passed').length).toBe(written.length);
  });
});
