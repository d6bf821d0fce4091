/**
 * Large request bodies in SharedArrayBuffers that are reused, not allocated per request. A 600 KB
 * mobilenet_v2 body allocated afresh for every request made the HTTP thread's heap run full garbage
 * collections several times a second under load (166 and 209 in two 30-s runs at c=32; --trace-gc):
 * V8 answers that much new external memory with full collections. (The pool did not end every such
 * storm; the rest came from V8's heap-limit rule, which the serve CLI's heap setting answers.) A
 * pooled body is shared with the inference worker (not copied, not transferred) and comes back here
 * once the batch it ran in is done.
 */

/** Bodies below this are allocated as before: small ones cost the heap little. */
export const POOLED_MIN_BYTES = 64 * 1024;
/** Largest pooled buffer; larger bodies are allocated as before. */
const POOLED_MAX_BYTES = 16 * 1024 * 1024;

export interface PooledBody {
  body: Buffer;
  /** Hands the buffer back (once; later calls do nothing). */
  release(): void;
}

export class BodyPool {
  /** Free buffers by capacity (a power of two). */
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  /** Bytes of every buffer this pool made, free or in use. */
  allocatedBytes = 0;
  inUse = 0;

  /** `maxBytes`: the most the pool holds; past it, bodies are allocated as before. */
  constructor(private readonly maxBytes: number) {}

  get freeCount(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }

  /** `length` bytes starting `pad` bytes into a pooled buffer, or undefined when not pooled. */
  acquire(pad: number, length: number): PooledBody | undefined {
    const need = pad + length;
    if (length < POOLED_MIN_BYTES || need > POOLED_MAX_BYTES) return undefined;
    const capacity = 2 ** Math.ceil(Math.log2(need));
    let sab = this.free.get(capacity)?.pop();
    if (!sab) {
      if (this.allocatedBytes + capacity > this.maxBytes) return undefined;
      sab = new SharedArrayBuffer(capacity);
      this.allocatedBytes += capacity;
    }
    this.inUse++;
    let released = false;
    const buffer = sab;
    return {
      body: Buffer.from(buffer, pad, length),
      release: () => {
        if (released) return;
        released = true;
        this.inUse--;
        let list = this.free.get(capacity);
        if (!list) this.free.set(capacity, (list = []));
        list.push(buffer);
      },
    };
  }
}

/** Whether a tensor's data lives in a SharedArrayBuffer (a pooled body): onnxruntime-node refuses those. */
export const isShared = (data: ArrayLike<unknown> & { buffer?: ArrayBufferLike }) => !Array.isArray(data) && data.buffer instanceof SharedArrayBuffer;
