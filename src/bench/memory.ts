/**
 * Resident set size over a measurement: sampled inline between calls (onnxruntime-node's run blocks the
 * event loop, so a timer would not fire) at most every 100 ms. Each sample is a system call, and on a
 * busy machine the kernel likes to switch processes there, so sampling more often costs real time.
 */
export interface MemoryReport {
  /** RSS when measurement started (after warm-up), bytes. */
  startBytes: number;
  peakBytes: number;
  endBytes: number;
  /** end − start: a leak shows as growth that repeats run after run. */
  growthBytes: number;
  /** [ms since start, RSS bytes] pairs, at most 200, for plotting. */
  timeline: [number, number][];
}

const INTERVAL_MS = 100;
const MAX_POINTS = 200;

export class MemoryTracker {
  readonly #start = performance.now();
  readonly #startBytes = process.memoryUsage.rss();
  #peak = this.#startBytes;
  #last = this.#start;
  #points: [number, number][] = [[0, this.#startBytes]];

  sample(now = performance.now(), force = false): void {
    if (!force && now - this.#last < INTERVAL_MS) return;
    this.#last = now;
    const rss = process.memoryUsage.rss();
    if (rss > this.#peak) this.#peak = rss;
    this.#points.push([Math.round(now - this.#start), rss]);
    // Keep the timeline bounded: drop every other point when full (resolution halves, span stays).
    if (this.#points.length > MAX_POINTS) this.#points = this.#points.filter((_, i) => i % 2 === 0);
  }

  report(): MemoryReport {
    this.sample(performance.now(), true);
    const end = this.#points[this.#points.length - 1]![1];
    return { startBytes: this.#startBytes, peakBytes: this.#peak, endBytes: end, growthBytes: end - this.#startBytes, timeline: this.#points };
  }
}
