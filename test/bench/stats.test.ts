import { describe, expect, it } from 'vitest';
import { createRng, describeRatio, latencyStats, normal, pairedRatio } from '../../src/index.js';

describe('latencyStats', () => {
  it('matches numpy-style linear-interpolated percentiles', () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    const s = latencyStats(values);
    expect(s).toMatchObject({ count: 100, mean: 50.5, min: 1, max: 100 });
    expect(s.p50).toBeCloseTo(50.5, 12);
    expect(s.p90).toBeCloseTo(90.1, 12);
    expect(s.p95).toBeCloseTo(95.05, 12);
    expect(s.p99).toBeCloseTo(99.01, 12);
    expect(s.std).toBeCloseTo(Math.sqrt((100 * 101) / 12), 10); // sample std of 1..100
  });
});

describe('pairedRatio', () => {
  // Per-round noise common to both models (a busy machine) plus a little of each model's own.
  function rounds(n: number, factor: number, seed: number): [Float64Array, Float64Array] {
    const rng = createRng(seed);
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const load = Math.exp(0.5 * normal(rng));
      a[i] = 10 * load * Math.exp(0.05 * normal(rng));
      b[i] = 10 * factor * load * Math.exp(0.05 * normal(rng));
    }
    return [a, b];
  }

  it('finds a real speed-up with an interval around it, despite shared noise', () => {
    const [a, b] = rounds(300, 0.5, 1);
    const r = pairedRatio(a, b);
    expect(r.ratio).toBeCloseTo(0.5, 1);
    expect(r.low).toBeLessThan(0.5);
    expect(r.high).toBeGreaterThan(0.5);
    expect(r.high).toBeLessThan(1);
    expect(r.verdict).toBe('faster');
    expect(describeRatio(r)).toMatch(/^2\.\d\d× faster \(\d\.\d\d–\d\.\d\d\)$/);
  });

  it('calls equal models "no measurable difference"', () => {
    const [a, b] = rounds(300, 1, 2);
    const r = pairedRatio(a, b);
    expect(r.low).toBeLessThan(1);
    expect(r.high).toBeGreaterThan(1);
    expect(r.verdict).toBe('no measurable difference');
    expect(describeRatio(r)).toMatch(/^no measurable difference \(ratio /);
  });

  it('reports a slowdown as slower', () => {
    const [a, b] = rounds(200, 1.3, 3);
    expect(pairedRatio(a, b).verdict).toBe('slower');
    expect(describeRatio(pairedRatio(a, b))).toMatch(/^1\.\d\d× slower/);
  });
});
