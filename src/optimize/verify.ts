/**
 * Proof that optimizing changed no result: original and optimized run in onnxruntime on the same
 * inputs and every output must agree within a relative tolerance.
 */
import type { Model, Tensor } from '../ir/index.js';
import { createSession, type ModelSession } from '../runtime/index.js';
import { allClose } from '../testcases/index.js';

export interface VerifyOptions {
  /** Input sets to compare on (default: one seeded set generated from the model's inputs). */
  inputs?: Record<string, Tensor>[];
  /** The original model's outputs for `inputs`, when already known (saves running the original again). */
  expected?: Record<string, Tensor>[];
  /** Largest allowed difference relative to each output's largest magnitude (default 1e-5). */
  rtol?: number;
  /** Seed for generated inputs. */
  seed?: number;
}

export interface OutputAgreement {
  name: string;
  ok: boolean;
  maxAbsDiff: number;
  /** maxAbsDiff relative to the output's largest magnitude. */
  maxRelDiff: number;
  message?: string;
}

export interface VerifyReport {
  passed: boolean;
  /** Where the inputs came from. */
  inputs: 'given' | 'generated';
  inputSets: number;
  rtol: number;
  outputs: OutputAgreement[];
  /** Why verification failed, in one line. */
  message?: string;
}

export const DEFAULT_VERIFY_RTOL = 1e-5;

function largestMagnitude(t: Tensor): number {
  if (t.dtype === 'string' || t.dtype === 'bool') return 1;
  let values: ArrayLike<number>;
  try {
    values = t.dtype === 'float64' ? (t.data as Float64Array) : t.toFloat32();
  } catch {
    return 1;
  }
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]!);
    if (v > max && Number.isFinite(v)) max = v;
  }
  return max;
}

/**
 * Compares one output: each element within `rtol × max|expected|` of the original (integers and
 * strings exactly). The scale-relative bound keeps near-zero elements of a large output from
 * failing on float rounding while still catching any real change.
 */
export function compareOutput(name: string, actual: Tensor | undefined, expected: Tensor, rtol: number): OutputAgreement {
  if (!actual) return { name, ok: false, maxAbsDiff: NaN, maxRelDiff: NaN, message: `output '${name}' is missing from the optimized model` };
  const scale = largestMagnitude(expected);
  const c = allClose(actual, expected, { rtol, atol: rtol * scale });
  const maxRelDiff = c.maxAbsDiff === 0 ? 0 : c.maxAbsDiff / (scale || 1);
  return { name, ok: c.ok, maxAbsDiff: c.maxAbsDiff, maxRelDiff, message: c.ok ? undefined : `output '${name}': ${c.message}` };
}

const firstLine = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0];

/** Runs both models on `inputs` and compares every output of the original. */
export async function verifyModels(
  original: Model,
  optimized: Model,
  inputs: Record<string, Tensor>[],
  opts: { expected?: Record<string, Tensor>[]; rtol?: number; source: 'given' | 'generated' },
): Promise<VerifyReport> {
  const rtol = opts.rtol ?? DEFAULT_VERIFY_RTOL;
  const report: VerifyReport = { passed: false, inputs: opts.source, inputSets: inputs.length, rtol, outputs: [] };
  let before: ModelSession | undefined;
  let after: ModelSession | undefined;
  // One thread: sessions start ~3× faster, and a few comparison runs do not need more.
  const sessionOptions = { threads: 1 };
  try {
    if (!opts.expected) {
      try {
        before = await createSession(original, sessionOptions);
      } catch (e) {
        throw new Error(`verify: onnxruntime cannot run the original model (${firstLine(e)}); use --no-verify to skip the check`);
      }
    }
    try {
      after = await createSession(optimized, sessionOptions);
    } catch (e) {
      report.message = `the optimized model does not load in onnxruntime: ${firstLine(e)}`;
      return report;
    }
    const names = original.graph.outputs.map((o) => o.name);
    const worst = new Map<string, OutputAgreement>();
    for (const [k, feeds] of inputs.entries()) {
      let expected: Record<string, Tensor>;
      try {
        expected = opts.expected?.[k] ?? (await before!.run(feeds));
      } catch (e) {
        throw new Error(`verify: the original model fails on input set ${k + 1} (${firstLine(e)}); use --no-verify to skip the check`);
      }
      const accepted = new Set(after.inputs.map((i) => i.name));
      let actual: Record<string, Tensor>;
      try {
        actual = await after.run(Object.fromEntries(Object.entries(feeds).filter(([n]) => accepted.has(n))));
      } catch (e) {
        report.message = `the optimized model fails on input set ${k + 1}: ${firstLine(e)}`;
        return report;
      }
      for (const name of names) {
        const c = compareOutput(name, actual[name], expected[name]!, rtol);
        const prev = worst.get(name);
        if (!prev || (prev.ok && !c.ok) || (prev.ok === c.ok && c.maxAbsDiff > prev.maxAbsDiff)) worst.set(name, c);
      }
    }
    report.outputs = [...worst.values()];
    const bad = report.outputs.find((o) => !o.ok);
    report.passed = !bad;
    if (bad) report.message = bad.message;
    return report;
  } finally {
    await before?.release();
    await after?.release();
  }
}
