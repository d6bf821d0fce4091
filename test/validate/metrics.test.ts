import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  OutputComparator,
  Tensor,
  accuracy,
  argmaxRows,
  checkMetrics,
  compareArrays,
  compareOutputs,
  cosineSimilarity,
  createRng,
  describeFailure,
  isClassifierLike,
  loadLabels,
  normal,
  pearson,
  resolveThresholds,
  sqnr,
  topKAgreement,
} from '../../src/index.js';

function randomArray(n: number, seed: number, offset = 0): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => offset + normal(rng));
}

/** Textbook two-pass Pearson, as the reference for the streaming one. */
function naivePearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let c = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    c += (a[i]! - ma) * (b[i]! - mb);
    va += (a[i]! - ma) ** 2;
    vb += (b[i]! - mb) ** 2;
  }
  return c / Math.sqrt(va * vb);
}

describe('compareArrays', () => {
  it('is perfect for identical arrays', () => {
    const a = randomArray(1000, 1);
    const m = compareArrays(a, a.slice(), { classes: 10 });
    expect(m).toMatchObject({ maxAbsError: 0, meanAbsError: 0, rmse: 0, relativeError: 0, cosine: 1, pearson: 1, exactMatch: 1, top1Agreement: 1, top5Agreement: 1, rows: 100 });
    expect(m.sqnrDb).toBe(Infinity);
  });

  it('computes each metric of a hand-checked pair', () => {
    const m = compareArrays([1, 2, 3, 4], [1, 2, 3, 5]);
    expect(m.maxAbsError).toBe(1);
    expect(m.meanAbsError).toBe(0.25);
    expect(m.rmse).toBeCloseTo(0.5, 12);
    expect(m.relativeError).toBeCloseTo(1 / Math.sqrt(30), 12);
    expect(m.sqnrDb).toBeCloseTo(10 * Math.log10(30), 10);
    expect(m.cosine).toBeCloseTo(34 / Math.sqrt(30 * 39), 12);
    expect(m.pearson).toBeCloseTo(naivePearson([1, 2, 3, 4], [1, 2, 3, 5]), 12);
    expect(m.exactMatch).toBe(0.75);
  });

  it('tells an offset (Pearson 1, cosine below 1) from a sign flip (both −1)', () => {
    const a = randomArray(500, 2);
    const shifted = a.map((x) => x + 10);
    expect(pearson(a, shifted)).toBeCloseTo(1, 6);
    expect(cosineSimilarity(a, shifted)).toBeLessThan(0.5);
    const flipped = a.map((x) => -x);
    expect(cosineSimilarity(a, flipped)).toBeCloseTo(-1, 12);
    expect(pearson(a, flipped)).toBeCloseTo(-1, 12);
  });

  it('SQNR falls 20 dB per tenfold noise', () => {
    const a = randomArray(20_000, 3);
    const noise = randomArray(20_000, 4);
    const s1 = sqnr(a, a.map((x, i) => x + 0.01 * noise[i]!));
    const s2 = sqnr(a, a.map((x, i) => x + 0.1 * noise[i]!));
    expect(s1).toBeGreaterThan(39);
    expect(s1).toBeLessThan(41);
    expect(s1 - s2).toBeCloseTo(20, 6);
  });

  it('accumulates over batches to the same result as one pass', () => {
    const a = randomArray(3000, 5, 3);
    const b = a.map((x, i) => x * 1.01 + 0.05 * Math.sin(i));
    const whole = compareArrays(a, b, { classes: 3 });
    const acc = new OutputComparator({ classes: 3 });
    for (let i = 0; i < 3000; i += 600) acc.add(a.subarray(i, i + 600), b.subarray(i, i + 600));
    const parts = acc.result();
    for (const k of ['maxAbsError', 'meanAbsError', 'rmse', 'relativeError', 'cosine', 'sqnrDb', 'top1Agreement'] as const) {
      expect(parts[k]).toBeCloseTo(whole[k] as number, 10);
    }
    expect(parts.pearson!).toBeCloseTo(naivePearson(a, b), 10);
  });

  it('NaN matches NaN; a NaN against a number is a non-finite mismatch', () => {
    expect(compareArrays([NaN, 1], [NaN, 1])).toMatchObject({ nonFiniteMismatches: 0, maxAbsError: 0, exactMatch: 1 });
    const m = compareArrays([NaN, 1, 2], [0, 1, 2]);
    expect(m.nonFiniteMismatches).toBe(1);
    expect(m.maxAbsError).toBe(Infinity);
    const failed = checkMetrics(m, 'float32', resolveThresholds()).filter((c) => !c.passed);
    expect(failed.map((c) => c.metric)).toEqual(['nonFiniteMismatches']);
  });

  it('lists the worst elements beyond the tolerance, worst first', () => {
    const ref = new Float32Array(100);
    const cand = new Float32Array(100);
    cand[10] = 0.5;
    cand[20] = 2;
    cand[30] = 1e-6; // inside atol
    const m = compareArrays(ref, cand, { tolerance: { rtol: 1e-3, atol: 1e-5 }, worstCount: 5 });
    expect(m.beyondTolerance).toBe(2);
    expect(m.worst!.map((w) => w.index)).toEqual([20, 10]);
  });
});

describe('top-k, accuracy, classifier detection', () => {
  it('top-1 and top-5 agreement count the reference top-1 within the candidate top-k', () => {
    // 2 rows × 6 classes: row 0 agrees at top-1; in row 1 the reference's class is 3rd in the candidate.
    const ref = [0, 9, 1, 2, 3, 4, /**/ 9, 0, 1, 2, 3, 4];
    const cand = [0, 9, 1, 2, 3, 4, /**/ 3, 0, 1, 2, 4, 5];
    expect(topKAgreement(ref, cand, 6, 1)).toBe(0.5);
    expect(topKAgreement(ref, cand, 6, 2)).toBe(0.5);
    expect(topKAgreement(ref, cand, 6, 3)).toBe(1);
    const m = compareArrays(ref, cand, { classes: 6 });
    expect(m.top1Agreement).toBe(0.5);
    expect(m.top5Agreement).toBe(1);
  });

  it('argmaxRows and accuracy', () => {
    const preds = argmaxRows([0.1, 0.9, 0.8, 0.2, 0.5, 0.5], 2);
    expect([...preds]).toEqual([1, 0, 0]);
    expect(accuracy(preds, [1, 0, 1])).toBeCloseTo(2 / 3, 12);
    expect(() => accuracy(preds, [1, 0])).toThrow('2 labels for 3 predictions');
  });

  it('classifier-like: float, rank ≥ 2, ≥ 2 classes, not boxes or embeddings', () => {
    expect(isClassifierLike('logits', 'float32', ['batch', 1000])).toBe(true);
    expect(isClassifierLike('tags', 'float32', [2, 50, 12])).toBe(true);
    expect(isClassifierLike('ssim', 'float32', ['batch', 1])).toBe(false);
    expect(isClassifierLike('boxes', 'float32', [1, 100, 4])).toBe(false);
    expect(isClassifierLike('last_hidden_state', 'float32', [1, 8, 64])).toBe(false);
    expect(isClassifierLike('label', 'int64', [1, 10])).toBe(false);
  });

  it('compareOutputs checks shapes and finds the class axis', () => {
    const a = Tensor.from('float32', [2, 3], Float32Array.from([1, 2, 3, 3, 2, 1]), 'logits');
    const b = Tensor.from('float32', [2, 3], Float32Array.from([1, 2, 3, 1, 2, 3]), 'logits');
    expect(compareOutputs(a, b).top1Agreement).toBe(0.5);
    expect(compareOutputs(a, b, { classes: false }).top1Agreement).toBeUndefined();
    const c = Tensor.from('float32', [3, 2], new Float32Array(6), 'logits');
    expect(() => compareOutputs(a, c)).toThrow("output 'logits': candidate shape [3,2] differs from the reference's [2,3]");
    const f16 = Tensor.from('float16', [2], Uint16Array.from([0x3c00, 0x4000]), 'y'); // 1, 2
    const f32 = Tensor.from('float32', [2], Float32Array.from([1, 2]), 'y');
    expect(compareOutputs(f32, f16).maxAbsError).toBe(0);
  });
});

describe('thresholds', () => {
  it('defaults check cosine, Pearson and top-1; failures name output and metric', () => {
    const t = resolveThresholds();
    expect(t).toMatchObject({ minCosine: 0.99, minPearson: 0.99, minTop1Agreement: 0.9, maxAccuracyDrop: 0.01 });
    const m = compareArrays([1, 0, 0, 1], [0, 1, 0, 1], { classes: 2 });
    const failed = checkMetrics(m, 'float32', t).filter((c) => !c.passed);
    expect(failed.map((c) => c.metric).sort()).toEqual(['cosine', 'pearson', 'top1Agreement']);
    expect(describeFailure('logits', failed.find((c) => c.metric === 'cosine')!)).toBe("output 'logits': cosine 0.5 < 0.99");
  });

  it('an explicit limit replaces its default only; integer outputs are checked by exact match', () => {
    const t = resolveThresholds({ maxAbs: 0.5, minCosine: undefined });
    const m = compareArrays([1, 2, 3, 4], [1, 2, 3, 5]);
    expect(checkMetrics(m, 'float32', t).map((c) => `${c.metric}:${c.passed}`)).toEqual(['nonFiniteMismatches:true', 'maxAbsError:false', 'pearson:false']);
    expect(checkMetrics(m, 'int64', t).map((c) => `${c.metric}:${c.passed}`)).toEqual(['nonFiniteMismatches:true', 'maxAbsError:false', 'exactMatch:false']);
  });
});

describe('loadLabels', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labels-'));
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  it('reads JSON arrays, {labels} objects and plain text', () => {
    expect([...loadLabels(write('a.json', '[0, 4, 2]'))]).toEqual([0, 4, 2]);
    expect([...loadLabels(write('b.json', '{"labels": [1]}'))]).toEqual([1]);
    expect([...loadLabels(write('c.txt', '3\n1, 2\n'))]).toEqual([3, 1, 2]);
  });
  it('names the file and the bad entry', () => {
    const p = write('d.txt', '1\ncat\n');
    expect(() => loadLabels(p)).toThrow(`${p}: label 1 is "cat"; expected a class index (integer ≥ 0)`);
    expect(() => loadLabels(write('e.json', '{"x": 1}'))).toThrow('expected a JSON array of integer labels');
    expect(() => loadLabels(path.join(dir, 'missing.json'))).toThrow('no such labels file');
  });
});
