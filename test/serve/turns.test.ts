import { describe, expect, it } from 'vitest';
import { TurnQueue } from '../../src/serve/turns.js';

const burn = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('TurnQueue', () => {
  it('spreads heavy pieces over turns so that timers and I/O get in between, in order', async () => {
    const q = new TurnQueue();
    const done: number[] = [];
    let doneWhenTimerFired = -1;
    for (let i = 0; i < 20; i++) q.run(() => (burn(1), done.push(i)));
    setTimeout(() => (doneWhenTimerFired = done.length), 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(doneWhenTimerFired).toBeGreaterThan(0);
    expect(doneWhenTimerFired).toBeLessThan(5); // all 20 (20 ms) in one go would have held the timer back
  });

  it('runs light pieces many per turn', async () => {
    const q = new TurnQueue();
    let turns = 0;
    let finished = false;
    const countTurns = () => {
      turns++;
      if (!finished) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 200; i++) q.run(() => i === 199 && resolve());
    });
    finished = true;
    expect(turns).toBeLessThan(20); // one per turn would take 200
  });
});
