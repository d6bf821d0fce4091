/**
 * Runs ONNX test cases (a folder with model.onnx and test_data_set_*) in onnxruntime and compares
 * the outputs with the expected ones, as ONNX's own backend test runner does.
 */
import { loadModel, encodeModel, findTestCase, readTestDataSet, readTestDataValues, type ValueKind } from '../io/index.js';
import { createSession, type RuntimeName, type ModelSession } from '../runtime/index.js';
import type { Model, Tensor } from '../ir/index.js';
import { allClose, DEFAULT_TOLERANCE, type Tolerance } from './compare.js';

export type TestStage = 'load' | 'data' | 'session' | 'run' | 'compare';

export interface OutputCheck {
  name: string;
  ok: boolean;
  maxAbsDiff: number;
  message?: string;
}

export interface TestCaseResult {
  name: string;
  dir: string;
  status: 'passed' | 'failed';
  /** Where it failed: our loading of the model or data, onnxruntime's session or run, or the comparison. */
  stage?: TestStage;
  message?: string;
  dataSets: { dir: string; outputs: OutputCheck[] }[];
  durationMs: number;
}

export interface TestOptions extends Partial<Tolerance> {
  runtime?: RuntimeName;
  /** Run the model as modelship re-saves it (load → encode) rather than the file itself. */
  roundTrip?: boolean;
}

export async function runTestCase(dir: string, opts: TestOptions = {}): Promise<TestCaseResult> {
  const start = performance.now();
  const tc = findTestCase(dir);
  const tol: Tolerance = { rtol: opts.rtol ?? DEFAULT_TOLERANCE.rtol, atol: opts.atol ?? DEFAULT_TOLERANCE.atol };
  const result: TestCaseResult = { name: tc.name, dir, status: 'passed', dataSets: [], durationMs: 0 };
  const fail = (stage: TestStage, message: string): TestCaseResult => {
    result.status = 'failed';
    result.stage = stage;
    result.message = message.split('\n')[0];
    result.durationMs = performance.now() - start;
    return result;
  };
  let source: string | Uint8Array = tc.modelPath;
  let model: Model;
  try {
    model = loadModel(tc.modelPath);
    if (opts.roundTrip) source = encodeModel(model);
  } catch (e) {
    return fail('load', (e as Error).message);
  }
  const g = model.graph;
  const kindOf = (name: string): ValueKind => {
    const k = g.valueType(name)?.kind;
    return k === 'sequence' || k === 'map' || k === 'optional' ? k : 'tensor';
  };
  const inputKinds = g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => kindOf(v.name));
  const outputKinds = g.outputs.map((v) => kindOf(v.name));
  const nonTensor = [...inputKinds, ...outputKinds].some((k) => k !== 'tensor');
  let session: ModelSession;
  try {
    session = await createSession(source, { runtime: opts.runtime });
  } catch (e) {
    return fail('session', (e as Error).message);
  }
  try {
    for (const setDir of tc.dataSetDirs) {
      let inputs: Tensor[];
      let expected: Tensor[];
      try {
        if (nonTensor) {
          // Read them (so bad data still fails here), but onnxruntime's JS API cannot take them.
          readTestDataValues(setDir, inputKinds, outputKinds);
          return fail('run', `the model has sequence/map/optional inputs or outputs: onnxruntime's JavaScript API passes only tensors`);
        }
        ({ inputs, outputs: expected } = readTestDataSet(setDir));
      } catch (e) {
        return fail('data', (e as Error).message);
      }
      if (inputs.length > session.inputs.length) {
        return fail('data', `${setDir}: ${inputs.length} inputs for a model with ${session.inputs.length}`);
      }
      // Like ONNX's runner, data files bind to the model's inputs by position (trailing optional inputs may be absent).
      const feeds: Record<string, Tensor> = {};
      inputs.forEach((t, i) => (feeds[session.inputs[i]!.name] = t));
      let actual: Record<string, Tensor>;
      try {
        actual = await session.run(feeds);
      } catch (e) {
        return fail('run', (e as Error).message);
      }
      const checks: OutputCheck[] = expected.map((exp, i) => {
        const name = session.outputs[i]?.name ?? exp.name;
        const got = actual[name];
        if (!got) return { name, ok: false, maxAbsDiff: NaN, message: `output '${name}' missing` };
        const c = allClose(got, exp, tol);
        return { name, ok: c.ok, maxAbsDiff: c.maxAbsDiff, message: c.message };
      });
      result.dataSets.push({ dir: setDir, outputs: checks });
      const bad = checks.find((c) => !c.ok);
      if (bad) return fail('compare', `${setDir.split('/').pop()}: output '${bad.name}': ${bad.message}`);
    }
  } finally {
    await session.release();
  }
  result.durationMs = performance.now() - start;
  return result;
}
