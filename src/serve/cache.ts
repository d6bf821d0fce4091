/**
 * Response cache: an LRU (lru-cache) of a model's outputs keyed on the model, its version and a hash
 * of the request's input names, types, shapes and bytes. Bounded by entries and by bytes held.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { WireTensor } from './datatypes.js';

const MAX_CACHE_BYTES = 256 * 1024 * 1024;

const tensorBytes = (t: WireTensor) => (Array.isArray(t.data) ? t.data.reduce((n, s) => n + s.length * 2, 0) : t.data.byteLength);

export class ResponseCache {
  private readonly lru: LRUCache<string, WireTensor[]>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache({
      max: maxEntries,
      maxSize: MAX_CACHE_BYTES,
      sizeCalculation: (outputs) => Math.max(1, outputs.reduce((n, t) => n + tensorBytes(t), 0)),
    });
  }

  key(model: string, version: string, inputs: WireTensor[]): string {
    const h = createHash('sha256');
    for (const t of inputs) {
      h.update(`${t.name}\0${t.dtype}\0${t.dims.join(',')}\0`);
      if (Array.isArray(t.data)) for (const s of t.data) h.update(`${s.length}:${s}`);
      else h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    return `${model}\0${version}\0${h.digest('base64')}`;
  }

  get(key: string): WireTensor[] | undefined {
    return this.lru.get(key);
  }

  /** Stores copies, so a cached answer does not hold a whole batch's output buffer. */
  set(key: string, outputs: WireTensor[]): void {
    this.lru.set(key, outputs.map((t) => ({ ...t, data: t.data.slice() as WireTensor['data'] })));
  }

  dropModel(model: string): void {
    for (const k of this.lru.keys()) if (k.startsWith(`${model}\0`)) this.lru.delete(k);
  }
}
