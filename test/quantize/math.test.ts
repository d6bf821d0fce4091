import { describe, expect, it } from 'vitest';
import { activationParams, pickGranularity, quantizeBias, quantizeWeight, roundHalfEven, sqnrFromSums } from '../../src/quantize/qmath.js';
import { Histogram, bestThreshold } from '../../src/quantize/calibrate.js';
import { packNBits } from '../../src/quantize/nbits.js';
import { detectCpuFeatures } from '../../src/quantize/cpu.js';

describe('quantization arithmetic', () => {
  it('rounds half to even like QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it('activation parameters cover the range, include 0 exactly, per type', () => {
    const u = activationParams(-1, 3, 'uint8');
    expect(u.scale).toBeCloseTo(4 / 255, 7);
    expect(u.zeroPoint).toBe(64);
    const s = activationParams(-1, 3, 'int8');
    expect(s.zeroPoint).toBe(-64);
    // A ReLU output: zero maps to the lowest code, so clipping below 0 is exact.
    expect(activationParams(0, 6, 'uint8').zeroPoint).toBe(0);
    expect(activationParams(0, 6, 'int8').zeroPoint).toBe(-128);
    // Ranges that do not reach 0 are widened to include it.
    expect(activationParams(2, 4, 'uint8')).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 0 });
  });

  it('symmetric per-channel weights: one scale per channel, zero point 0, error within half a step', () => {
    const values = Float32Array.from([1, -0.5, 0.25, 100, -50, 25]);
    const q = quantizeWeight(values, [2, 3], { type: 'int8', axis: 0, granularity: 'channel' });
    expect(q.axis).toBe(0);
    expect(Array.from(q.scales)).toEqual([Math.fround(1 / 127), Math.fround(100 / 127)]);
    expect(Array.from(q.data)).toEqual([127, -64, 32, 127, -64, 32]);
    values.forEach((v, i) => expect(Math.abs(v - q.data[i]! * q.scales[i < 3 ? 0 : 1]!)).toBeLessThanOrEqual(q.scales[i < 3 ? 0 : 1]! / 2 + 1e-7));
  });

  it('reduce range keeps int8 weights within ±64 (no u8×s8 saturation without VNNI)', () => {
    const values = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i) * 3);
    const q = quantizeWeight(values, [100], { type: 'int8', reduceRange: true });
    expect(Math.max(...Array.from(q.data, Math.abs))).toBe(64);
    const full = quantizeWeight(values, [100], { type: 'int8' });
    expect(Math.max(...Array.from(full.data, Math.abs))).toBe(127);
    expect(full.sqnrDb).toBeGreaterThan(q.sqnrDb + 5);
  });

  it('uint8 weights (for ConvInteger) are symmetric around 128', () => {
    const q = quantizeWeight(Float32Array.from([-2, 0, 2]), [3], { type: 'uint8' });
    expect(Array.from(q.data)).toEqual([1, 128, 255]);
    expect(q.zeroPoint).toBe(128);
  });

  it("granularity 'auto' keeps per-channel scales only where they gain ≥ 1 dB", () => {
    // Channels of very different scale: per channel is far better.
    const uneven = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i + 1) * (i < 32 ? 0.01 : 10));
    expect(quantizeWeight(uneven, [2, 32], { type: 'int8', axis: 0, granularity: 'auto' }).axis).toBe(0);
    // Channels alike: one scale does as well, and costs 4 bytes less per channel.
    const even = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 7.1));
    expect(quantizeWeight(even, [2, 32], { type: 'int8', axis: 0, granularity: 'auto' }).axis).toBeUndefined();
    expect(quantizeWeight(even, [2, 32], { type: 'int8', axis: 0, granularity: 'channel' }).axis).toBe(0);
    expect(pickGranularity(() => ({ balancedSqnrDb: 40 }), () => ({ balancedSqnrDb: 39.5 }), 'auto').balancedSqnrDb).toBe(39.5);
  });

  it('int32 bias at scale input·weight per channel', () => {
    const b = quantizeBias(Float32Array.from([1, -2]), 0.5, Float32Array.from([0.01, 0.1]));
    expect(Array.from(b.scales)).toEqual([Math.fround(0.005), Math.fround(0.05)]);
    expect(Array.from(b.data)).toEqual([200, -40]);
    expect(b.clamped).toBe(0);
  });

  it('SQNR from sums', () => {
    expect(sqnrFromSums(100, 1)).toBeCloseTo(20, 10);
    expect(sqnrFromSums(1, 0)).toBe(Infinity);
  });
});

describe('calibration statistics', () => {
  it('a growing histogram keeps exact counts when its range doubles', () => {
    const h = new Histogram();
    h.add(Float32Array.from([0.5, -0.25, 1]));
    expect(h.range).toBe(1);
    h.add(Float32Array.from([3.5]));
    expect(h.range).toBe(4);
    expect(h.total).toBe(4);
    const sum = h.counts.reduce((a, b) => a + b, 0);
    expect(sum).toBe(4);
    // 0.5 was counted when the range was 1 and sits, after merging, where it would have been counted now.
    const bin = Math.floor((0.5 + h.range) / ((2 * h.range) / h.counts.length));
    expect(h.counts[bin]).toBe(1);
  });

  it('the KL threshold cuts a long tail and keeps a compact distribution whole', () => {
    // Compact: all mass in the first 100 bins of 1024 → nothing to cut.
    const compact = new Float64Array(1024);
    for (let i = 0; i < 100; i++) compact[i] = 1000 - i;
    expect(bestThreshold(compact, 128)).toBe(100);
    // A Laplace-like body with a few far outliers: the threshold lands well inside.
    const tailed = new Float64Array(1024);
    for (let i = 0; i < 1024; i++) tailed[i] = Math.round(1e6 * Math.exp(-i / 30));
    tailed[1000] = 1;
    const t = bestThreshold(tailed, 128);
    expect(t).toBeGreaterThan(128);
    expect(t).toBeLessThan(600);
  });
});

describe('4-bit block packing', () => {
  const dequantize = (p: ReturnType<typeof packNBits>, k: number, n: number, block: number, symmetric: boolean) => {
    const out = new Float32Array(k * n);
    const zpBytes = Math.ceil(p.blocks / 2);
    for (let col = 0; col < n; col++) {
      for (let r = 0; r < k; r++) {
        const b = Math.floor(r / block);
        const i = r % block;
        const byte = p.packed[(col * p.blocks + b) * (block / 2) + (i >> 1)]!;
        const q = (byte >> ((i & 1) * 4)) & 15;
        const zp = symmetric ? 8 : (p.zeroPoints![col * zpBytes + (b >> 1)]! >> ((b & 1) * 4)) & 15;
        out[r * n + col] = (q - zp) * p.scales[col * p.blocks + b]!;
      }
    }
    return out;
  };

  for (const symmetric of [true, false]) {
    it(`${symmetric ? 'symmetric' : 'asymmetric'}: every weight within half a step of its block's scale, K padded to whole blocks`, () => {
      const k = 72;
      const n = 3;
      const values = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
      const p = packNBits(values, k, n, false, 32, symmetric);
      expect(p.blocks).toBe(3);
      expect(p.packed.byteLength).toBe(n * 3 * 16);
      expect(p.zeroPoints?.byteLength).toBe(symmetric ? undefined : n * 2);
      const back = dequantize(p, k, n, 32, symmetric);
      for (let r = 0; r < k; r++) {
        for (let c = 0; c < n; c++) {
          const scale = p.scales[c * p.blocks + Math.floor(r / 32)]!;
          expect(Math.abs(back[r * n + c]! - values[r * n + c]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
        }
      }
      expect(p.sqnrDb).toBeGreaterThan(15);
    });
  }

  it('a [N, K] (Gemm transB) weight packs the same as its [K, N] transpose', () => {
    const k = 32;
    const n = 2;
    const kn = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
    const nk = new Float32Array(k * n);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) nk[c * k + r] = kn[r * n + c]!;
    expect(Array.from(packNBits(nk, k, n, true, 32, true).packed)).toEqual(Array.from(packNBits(kn, k, n, false, 32, true).packed));
  });
});

describe('CPU features', () => {
  it('reads VNNI from /proc/cpuinfo flags', () => {
    const withVnni = detectCpuFeatures('model name\t: Test CPU\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n', 'x64');
    expect(withVnni).toMatchObject({ model: 'Test CPU', int8DotProduct: ['avx512_vnni'], saturationRisk: false });
    const avx2Only = detectCpuFeatures('flags\t\t: fpu sse avx2\n', 'x64');
    expect(avx2Only.saturationRisk).toBe(true);
    expect(detectCpuFeatures('flags\t\t: avx2 avx_vnni\n', 'x64').int8DotProduct).toEqual(['avx_vnni']);
    expect(detectCpuFeatures('Features\t: fp asimd asimddp\n', 'arm64')).toMatchObject({ int8DotProduct: ['asimddp'], saturationRisk: false });
  });
});
