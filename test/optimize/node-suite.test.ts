/**
 * Acceptance: every ONNX backend node test (Debian libonnx-testdata) that onnxruntime runs is
 * optimized, gives the same outputs as the original on every test data set, passes the
 * foundation checker (optimize runs it) and python3-onnx's full check.
 * The original's outputs are computed once and handed to optimize's verification, so each model
 * costs two single-threaded sessions.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSession, encodeModel, findTestCase, loadModel, optimize, readTestDataSet, type ModelSession, type Tensor } from '../../src/index.js';
import { onnxCheckFiles, reportSkipped } from '../helpers/onnx-checker.js';

const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-node-suite-'));
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

const cases = fs.readdirSync(NODE_TESTS).sort();
const written: string[] = [];
const notRunnable: string[] = [];
const failures: string[] = [];
let changed = 0;

/** The original's inputs and outputs on every data set, or undefined when onnxruntime cannot run it. */
async function reference(dir: string): Promise<{ inputs: Record<string, Tensor>[]; expected: Record<string, Tensor>[] } | undefined> {
  const tc = findTestCase(dir);
  let session: ModelSession;
  try {
    session = await createSession(tc.modelPath, { threads: 1 });
  } catch {
    return undefined;
  }
  try {
    const inputs: Record<string, Tensor>[] = [];
    const expected: Record<string, Tensor>[] = [];
    for (const setDir of tc.dataSetDirs) {
      const set = readTestDataSet(setDir);
      const feeds: Record<string, Tensor> = {};
      set.inputs.forEach((t, i) => (feeds[session.inputs[i]!.name] = t));
      expected.push(await session.run(feeds));
      inputs.push(feeds);
    }
    return { inputs, expected };
  } catch {
    // Sequence/optional data, or a kernel onnxruntime lacks for these inputs.
    return undefined;
  } finally {
    await session.release();
  }
}

// Four slices so progress shows and no single test runs long.
const SLICES = 4;
describe('optimize: ONNX node test suite', () => {
  for (let s = 0; s < SLICES; s++) {
    const slice = cases.slice(Math.floor((s * cases.length) / SLICES), Math.floor(((s + 1) * cases.length) / SLICES));
    it(`${slice[0]} … ${slice[slice.length - 1]}`, async () => {
      for (const name of slice) {
        const dir = path.join(NODE_TESTS, name);
        const ref = await reference(dir);
        if (!ref) {
          notRunnable.push(name);
          continue;
        }
        try {
          const { model, report } = await optimize(loadModel(path.join(dir, 'model.onnx')), { verify: ref });
          if (report.passes.some((p) => p.changes)) changed++;
          const file = path.join(outDir, `${name}.onnx`);
          fs.writeFileSync(file, encodeModel(model));
          written.push(file);
        } catch (e) {
          failures.push(`${name}: ${(e as Error).message}`);
        }
      }
      expect(failures).toEqual([]);
    }, 300_000);
  }

  it('optimized models pass python3-onnx full_check', () => {
    console.log(
      `node suite: ${written.length} of ${cases.length} tests run in onnxruntime and were optimized (${changed} changed); ` +
        `${notRunnable.length} not run by onnxruntime: ${notRunnable.join(', ')}`,
    );
    // onnxruntime 1.30 runs ~880 of the 932 (the rest: training ops, layout=1 RNNs, string locales, sequences).
    expect(written.length).toBeGreaterThan(850);
    const results = onnxCheckFiles(written);
    reportSkipped(results, 'node suite');
    expect(results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(results.filter((r) => r.status === 'passed')).toHaveLength(written.length);
  }, 300_000);
});
