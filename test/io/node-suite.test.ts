/**
 * ONNX's backend node suite (Debian libonnx-testdata, ~930 single-operator models):
 *  - every model round-trips: encoding stable after a second load, same graph, accepted by our checker
 *    and by python3-onnx's checker;
 *  - every model runs through `test` (runTestCase); each failure must be listed in
 *    test/fixtures/node-suite-expected-failures.json at the stage its category names, and none may be
 *    ours (load or data stage);
 *  - where onnxruntime runs the model, the original and the re-saved file give bit-identical outputs;
 *  - every tensor .pb file decodes to the same dtype, shape and values as python3-onnx's numpy_helper.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bitIdentical,
  createSession,
  decodeModel,
  encodeModel,
  findTestCase,
  loadModel,
  readTensorFile,
  readTestDataSet,
  runTestCase,
  saveModel,
  type TestCaseResult,
} from '../../src/index.js';
import { modelSignature } from '../helpers/model-signature.js';
import { onnxCheck, runPython } from '../helpers/onnx-python.js';
import expectedFailures from '../fixtures/node-suite-expected-failures.json' with { type: 'json' };

const ROOT = '/usr/share/libonnx-testdata/data/node';
const CASES = fs.readdirSync(ROOT).filter((d) => fs.existsSync(path.join(ROOT, d, 'model.onnx'))).sort();
const CHUNK = 100;
const chunks = Array.from({ length: Math.ceil(CASES.length / CHUNK) }, (_, i) => CASES.slice(i * CHUNK, (i + 1) * CHUNK));

type Category = keyof typeof expectedFailures.categories;
const listed = expectedFailures.cases as Record<string, { category: Category; reason: string }>;

interface Outcome {
  roundTrip: string | null;
  byteIdentical: boolean;
  result: TestCaseResult;
  /** null: bit-identical; a string: how they differ; undefined: not compared (onnxruntime cannot run it). */
  outputs?: string | null;
}

let tmp: string;
const outcomes = new Map<string, Outcome>();
const savedFiles: string[] = [];
const tensorFiles: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-node-suite-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** load → save (through the checker) → load: the same graph, and a stable encoding. */
function roundTrip(name: string, savedPath: string): { problem: string | null; byteIdentical: boolean } {
  const file = path.join(ROOT, name, 'model.onnx');
  const model = loadModel(file);
  saveModel(model, savedPath);
  const again = loadModel(savedPath);
  const first = fs.readFileSync(savedPath);
  const second = Buffer.from(encodeModel(decodeModel(first)));
  if (!first.equals(second)) return { problem: 'encoding changed after a second load', byteIdentical: false };
  try {
    expect(modelSignature(again)).toEqual(modelSignature(model));
  } catch (e) {
    return { problem: `graph differs after reload: ${(e as Error).message.split('\n')[0]}`, byteIdentical: false };
  }
  return { problem: null, byteIdentical: first.equals(fs.readFileSync(file)) };
}

/** Runs the original and the re-saved model on the first data set; null when outputs are bit-identical. */
async function compareOutputs(name: string, savedPath: string): Promise<string | null> {
  const tc = findTestCase(path.join(ROOT, name));
  const data = readTestDataSet(tc.dataSetDirs[0]!);
  const a = await createSession(tc.modelPath);
  const b = await createSession(savedPath);
  try {
    const feeds = Object.fromEntries(data.inputs.map((t, i) => [a.inputs[i]!.name, t]));
    const [oa, ob] = [await a.run(feeds), await b.run(feeds)];
    for (const k of Object.keys(oa)) if (!ob[k] || !bitIdentical(oa[k]!, ob[k]!)) return `output '${k}' differs`;
    return null;
  } finally {
    await a.release();
    await b.release();
  }
}

describe('ONNX backend node suite', () => {
  it('has the ~930 cases of libonnx-testdata', () => {
    expect(CASES.length).toBeGreaterThan(900);
  });

  it.each(chunks.map((c, i) => [i + 1, c] as const))('chunk %i: round trip, `test`, original vs re-saved outputs', async (_i, names) => {
    for (const name of names) {
      const savedPath = path.join(tmp, `${name}.onnx`);
      let rt: { problem: string | null; byteIdentical: boolean };
      try {
        rt = roundTrip(name, savedPath);
      } catch (e) {
        rt = { problem: (e as Error).message, byteIdentical: false };
      }
      if (!rt.problem) savedFiles.push(savedPath);
      const result = await runTestCase(path.join(ROOT, name));
      const outcome: Outcome = { roundTrip: rt.problem, byteIdentical: rt.byteIdentical, result };
      // Random ops draw afresh on every run, so their outputs are not compared.
      const runnable = result.stage !== 'session' && result.stage !== 'load' && listed[name]?.category !== 'js-api-non-tensor';
      if (!rt.problem && runnable && listed[name]?.category !== 'random-op') outcome.outputs = await compareOutputs(name, savedPath);
      if (result.status === 'passed' || result.stage === 'compare') {
        for (const dir of findTestCase(path.join(ROOT, name)).dataSetDirs) {
          for (const f of fs.readdirSync(dir)) if (f.endsWith('.pb')) tensorFiles.push(path.join(dir, f));
        }
      }
      outcomes.set(name, outcome);
    }
  });

  it('every model round-trips and python3-onnx accepts every re-saved file', () => {
    const problems = [...outcomes].filter(([, o]) => o.roundTrip).map(([n, o]) => `${n}: ${o.roundTrip}`);
    expect(problems).toEqual([]);
    const verdicts = onnxCheck(savedFiles);
    const rejected = Object.entries(verdicts).filter(([, v]) => v !== null);
    expect(rejected).toEqual([]);
    expect(savedFiles.length).toBe(CASES.length);
  });

  it('every `test` failure is an expected one, at its category’s stage, and none is ours', () => {
    const unexpected: string[] = [];
    for (const [name, o] of outcomes) {
      const r = o.result;
      if (r.status === 'passed') continue;
      const entry = listed[name];
      if (r.stage === 'load' || r.stage === 'data') unexpected.push(`${name}: modelship failed to read it (${r.stage}): ${r.message}`);
      else if (!entry) unexpected.push(`${name}: not in the expected-failures list: [${r.stage}] ${r.message}`);
      else if (expectedFailures.categories[entry.category].stage !== r.stage) {
        unexpected.push(`${name}: listed as ${entry.category} but failed at ${r.stage}: ${r.message}`);
      }
    }
    expect(unexpected).toEqual([]);
    // A listed case that passes means the list is stale (only environment failures may pass elsewhere).
    const stale = Object.entries(listed)
      .filter(([name, e]) => e.category !== 'environment' && outcomes.get(name)?.result.status === 'passed')
      .map(([name]) => name);
    expect(stale).toEqual([]);
    expect(Object.keys(listed).every((n) => outcomes.has(n))).toBe(true);
  });

  it('onnxruntime gives bit-identical outputs for the original and the re-saved model', () => {
    const compared = [...outcomes].filter(([, o]) => o.outputs !== undefined);
    const differ = compared.filter(([, o]) => o.outputs !== null).map(([n, o]) => `${n}: ${o.outputs}`);
    expect(differ).toEqual([]);
    expect(compared.length).toBeGreaterThan(850);
  });

  it('tensor files decode as python3-onnx decodes them', () => {
    // Python reports dtype, dims and a hash of the values for each file; we must agree on every one.
    const script = `
import hashlib, json, sys
import numpy as np
from onnx import TensorProto, numpy_helper
out = {}
for f in json.load(sys.stdin):
    t = TensorProto()
    t.ParseFromString(open(f, 'rb').read())
    if t.data_type == TensorProto.STRING:
        data = b''.join(len(s).to_bytes(4, 'little') + s for s in t.string_data)
    else:
        a = numpy_helper.to_array(t)
        data = np.ascontiguousarray(a).tobytes()
    out[f] = [t.name, t.data_type, list(t.dims), hashlib.sha1(data).hexdigest()]
json.dump(out, sys.stdout)
`;
    const reference = runPython(script, tensorFiles) as Record<string, [string, number, number[], string]>;
    const mismatches: string[] = [];
    for (const file of tensorFiles) {
      const t = readTensorFile(file);
      let bytes: Uint8Array;
      if (t.dtype === 'string') bytes = Buffer.concat(t.strings.flatMap((s) => [Buffer.from(Uint32Array.of(s.byteLength).buffer), s]));
      else if (t.dtype === 'bfloat16') bytes = new Uint8Array(t.toFloat32().buffer); // numpy has no bfloat16: onnx widens it
      else bytes = t.bytes;
      const ours = [t.name, t.dtype, t.dims, createHash('sha1').update(bytes).digest('hex')];
      const [name, , dims, hash] = reference[file]!;
      if (ours[0] !== name || JSON.stringify(ours[2]) !== JSON.stringify(dims) || ours[3] !== hash) {
        mismatches.push(`${file}: ours ${JSON.stringify(ours)}, python ${JSON.stringify(reference[file])}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(tensorFiles.length).toBeGreaterThan(1500);
  });

  it('prints the counts', () => {
    const all = [...outcomes.values()];
    const passed = all.filter((o) => o.result.status === 'passed').length;
    const byCategory: Record<string, number> = {};
    for (const [name, o] of outcomes) if (o.result.status === 'failed') byCategory[listed[name]!.category] = (byCategory[listed[name]!.category] ?? 0) + 1;
    const lines = [
      `node suite: ${all.length} models`,
      `  round trip (same graph, stable encoding, onnx.checker accepts): ${all.filter((o) => !o.roundTrip).length}; byte-identical to the original file: ${all.filter((o) => o.byteIdentical).length}`,
      `  \`test\`: ${passed} passed, ${all.length - passed} failed, all expected: ${Object.entries(byCategory).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `  tensor .pb files decoded as python3-onnx decodes them: ${tensorFiles.length}`,
      `  original vs re-saved outputs bit-identical: ${all.filter((o) => o.outputs === null).length} of ${all.filter((o) => o.outputs !== undefined).length} compared`,
    ];
    console.log(lines.join('\n'));
    expect(passed).toBeGreaterThan(850);
  });
});
