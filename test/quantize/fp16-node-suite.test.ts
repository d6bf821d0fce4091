/**
 * Acceptance: float16 conversion over ONNX's backend node tests. Every test onnxruntime runs in float32
 * must still load and run after conversion — in both modes on onnxruntime-node, and in mode 'all'
 * (where most nodes really compute in float16) on the WASM build for every fifth test (all of them
 * would double the suite's time) — and where float32 matched the expected outputs, float16 must match
 * them within float16 precision.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allClose, createSession, encodeModel, loadModel, readTestDataSet, type Tensor } from '../../src/index.js';
import { discoverValues } from '../../src/quantize/observe.js';
import { convertToFloat16, type Fp16Ops } from '../../src/quantize/fp16.js';

const ROOT = '/usr/share/libonnx-testdata/data/node';

interface Case {
  name: string;
  feeds: Record<string, Tensor>;
  expected: Tensor[];
  /** float32 onnxruntime output matched the expected outputs. */
  exact: boolean;
}

async function runnableCases(): Promise<{ cases: Case[]; notRunnable: number }> {
  const cases: Case[] = [];
  let notRunnable = 0;
  for (const name of fs.readdirSync(ROOT).sort()) {
    const dir = path.join(ROOT, name);
    try {
      const set = readTestDataSet(path.join(dir, 'test_data_set_0'));
      const session = await createSession(path.join(dir, 'model.onnx'));
      const feeds: Record<string, Tensor> = {};
      set.inputs.forEach((t, i) => (feeds[session.inputs[i]!.name] = t));
      const out = await session.run(feeds);
      const exact = set.outputs.every((e, i) => allClose(out[session.outputs[i]!.name]!, e).ok);
      await session.release();
      cases.push({ name, feeds, expected: set.outputs, exact });
    } catch {
      notRunnable++;
    }
  }
  return { cases, notRunnable };
}

describe('fp16 over the ONNX node tests', () => {
  it('every test onnxruntime runs in float32 loads and runs in float16 (auto and all), close to the expected outputs', async () => {
    expect(fs.existsSync(ROOT), `${ROOT} missing: install Debian's libonnx-testdata`).toBe(true);
    const { cases, notRunnable } = await runnableCases();
    expect(cases.length).toBeGreaterThan(800);
    const failures: string[] = [];
    const inexact: string[] = [];
    let float16Nodes = 0;
    let wasmRuns = 0;
    for (const [k, c] of cases.entries()) {
      for (const ops of ['auto', 'all'] as Fp16Ops[]) {
        const runtimes = ops === 'all' && k % 5 === 0 ? (['node', 'wasm'] as const) : (['node'] as const);
        try {
          const model = loadModel(path.join(ROOT, c.name, 'model.onnx'));
          const values = await discoverValues(model, [{ feeds: c.feeds, rows: 1, firstRow: 0 }]);
          const { report } = convertToFloat16(model, { values, ops });
          if (ops === 'all') float16Nodes += report.float16Nodes;
          const bytes = encodeModel(model);
          for (const runtime of runtimes) {
            const session = await createSession(bytes, { runtime });
            const out = await session.run(c.feeds);
            await session.release();
            if (runtime === 'wasm') wasmRuns++;
            if (!c.exact || runtime !== 'node') continue;
            c.expected.forEach((e, i) => {
              const got = out[session.outputs[i]!.name]!;
              const cmp = allClose(got, e, { rtol: 1e-2, atol: 1e-2 });
              if (!cmp.ok) inexact.push(`${c.name} (${ops}): ${cmp.message}`);
            });
          }
        } catch (e) {
          failures.push(`${c.name} (${ops}): ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    console.log(`fp16 node suite: ${cases.length} tests run in float32 (${notRunnable} do not); ${float16Nodes} nodes computed in float16 with --fp16-ops all; ${wasmRuns} also ran on WASM`);
    expect(failures).toEqual([]);
    expect(inexact).toEqual([]);
    expect(float16Nodes).toBeGreaterThan(700);
    expect(wasmRuns).toBeGreaterThan(170);
  });
});
