import { describe, expect, it } from 'vitest';
import { BodyPool, POOLED_MIN_BYTES, isShared } from '../../src/serve/body-pool.js';

describe('BodyPool', () => {
  it('reuses a released buffer of the same size class, pads the start, and stays within its bytes', () => {
    const pool = new BodyPool(4 * 1024 * 1024);
    const a = pool.acquire(4, 600_000)!;
    expect(a.body.length).toBe(600_000);
    expect(a.body.byteOffset).toBe(4);
    expect(isShared(new Float32Array(a.body.buffer, 8, 2))).toBe(true);
    expect(pool.allocatedBytes).toBe(1024 * 1024);
    const b = pool.acquire(0, 700_000)!;
    expect(b.body.buffer).not.toBe(a.body.buffer);
    a.release();
    a.release(); // once only
    expect(pool.inUse).toBe(1);
    const c = pool.acquire(0, 1000 * 1000)!;
    expect(c.body.buffer).toBe(a.body.buffer);
    expect(pool.allocatedBytes).toBe(2 * 1024 * 1024);
    // 2 MiB more would pass the 4 MiB cap: not pooled.
    expect(pool.acquire(0, 1024 * 1024 + 1)).toBeDefined();
    expect(pool.acquire(0, 1024 * 1024 + 1)).toBeUndefined();
    b.release();
    c.release();
    expect(pool.inUse).toBe(1);
    expect(pool.freeCount).toBe(2);
  });

  it('leaves small and very large bodies to ordinary allocation', () => {
    const pool = new BodyPool(1024 * 1024 * 1024);
    expect(pool.acquire(0, POOLED_MIN_BYTES - 1)).toBeUndefined();
    expect(pool.acquire(0, 17 * 1024 * 1024)).toBeUndefined();
    expect(pool.allocatedBytes).toBe(0);
    expect(isShared(new Float32Array(4))).toBe(false);
    expect(isShared(['a'] as unknown as Float32Array)).toBe(false);
  });
});
