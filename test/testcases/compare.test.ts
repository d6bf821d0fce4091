/** allClose (numpy.testing.assert_allclose semantics) and bitIdentical. */
import { describe, expect, it } from 'vitest';
import { Tensor, allClose, bitIdentical } from '../../src/index.js';

const f32 = (...v: number[]) => Tensor.from('float32', [v.length], Float32Array.from(v));

describe('allClose', () => {
  it('|a − e| ≤ atol + rtol·|e| per element, reporting the first mismatch', () => {
    expect(allClose(f32(1, 100), f32(1.0005, 100.09), { rtol: 1e-3, atol: 0 }).ok).toBe(true);
    const c = allClose(f32(1, 100, 3), f32(1, 100.2, 3), { rtol: 1e-3, atol: 0 });
    expect(c.ok).toBe(false);
    expect(c.mismatches).toBe(1);
    expect(c.maxAbsDiff).toBeCloseTo(0.2, 4);
    expect(c.message).toMatch(/^1 of 3 elements differ \(max abs diff 2\.\d+e-1; first at index 1: got 100, expected 100\.19/);
    expect(allClose(f32(1e-6), f32(0), { rtol: 1e-3, atol: 1e-5 }).ok).toBe(true);
  });

  it('NaN matches NaN only; infinities must match exactly', () => {
    expect(allClose(f32(NaN, Infinity), f32(NaN, Infinity)).ok).toBe(true);
    expect(allClose(f32(NaN), f32(0)).ok).toBe(false);
    expect(allClose(f32(0), f32(NaN)).ok).toBe(false);
    expect(allClose(f32(-Infinity), f32(Infinity)).ok).toBe(false);
    expect(allClose(f32(3.4e38), f32(Infinity)).ok).toBe(false);
  });

  it('integers, bools and strings compare exactly; dtype and shape must agree', () => {
    const i = (...v: number[]) => Tensor.from('int32', [v.length], Int32Array.from(v));
    expect(allClose(i(1, 2), i(1, 2)).ok).toBe(true);
    expect(allClose(i(1, 2), i(1, 3), { rtol: 1, atol: 1 }).ok).toBe(false);
    expect(allClose(Tensor.from('string', [2], ['a', 'b']), Tensor.from('string', [2], ['a', 'c'])).message).toBe('1 of 2 strings differ');
    expect(allClose(i(1), f32(1)).message).toBe('dtype int32, expected float32');
    expect(allClose(f32(1, 2), Tensor.from('float32', [2, 1], Float32Array.of(1, 2))).message).toBe('shape [2], expected [2,1]');
  });

  it('float16 is compared as values', () => {
    const h = (bits: number[]) => Tensor.from('float16', [bits.length], Uint16Array.from(bits));
    expect(allClose(h([0x3c00]), h([0x3c01]), { rtol: 1e-3, atol: 0 }).ok).toBe(true); // 1 vs 1.000977
    expect(allClose(h([0x3c00]), h([0x3c02]), { rtol: 1e-3, atol: 0 }).ok).toBe(false);
  });
});

describe('bitIdentical', () => {
  it('compares dtype, shape and bytes (NaN payloads and signed zeros included)', () => {
    expect(bitIdentical(f32(NaN, 1), f32(NaN, 1))).toBe(true);
    expect(bitIdentical(f32(0), f32(-0))).toBe(false);
    expect(bitIdentical(f32(1, 2), Tensor.from('float32', [1, 2], Float32Array.of(1, 2)))).toBe(false);
    expect(bitIdentical(Tensor.from('string', [1], ['x']), Tensor.from('string', [1], ['x']))).toBe(true);
  });
});
