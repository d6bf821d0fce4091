/**
 * One onnxruntime run on wire tensors, the same on an inference thread and on the HTTP thread: feeds
 * built over the inputs' own buffers (no copy), outputs as wire tensors with the buffers they alone
 * own listed, so a worker can transfer them instead of copying.
 */
import type * as OrtNode from 'onnxruntime-node';
import type { ModelSession } from '../runtime/index.js';
import type { TypedArray } from '../ir/index.js';
import { freshInputArray, type InputAllocator, type WireTensor } from './datatypes.js';
import { isShared } from './body-pool.js';

export interface WireRun {
  outputs: WireTensor[];
  computeMs: number;
  /** The outputs' buffers that hold nothing else. */
  transfer: ArrayBuffer[];
}

/**
 * onnxruntime-node refuses shared memory (a pooled request body), so such input data is copied first:
 * into `allocate(i, …)` for input i (a worker's reused batch buffer), else a fresh array.
 */
export async function runWireTensors(session: ModelSession, inputs: WireTensor[], allocate: InputAllocator = freshInputArray): Promise<WireRun> {
  const ort = session.ortModule;
  const feeds: Record<string, OrtNode.Tensor> = {};
  inputs.forEach((t, i) => {
    let data = t.data;
    if (isShared(data)) {
      data = allocate(i, t.dtype, data.length);
      (data as Float32Array).set(t.data as Float32Array);
    }
    feeds[t.name] = new ort.Tensor(t.dtype as 'float32', data as Float32Array, t.dims);
  });
  const t0 = performance.now();
  const result = await session.ort.run(feeds);
  const computeMs = performance.now() - t0;
  const outputs: WireTensor[] = [];
  const transfer = new Set<ArrayBuffer>();
  for (const name of session.ort.outputNames) {
    const o = result[name]!;
    let data = o.data as TypedArray | string[];
    // onnxruntime may hand back a Float16Array where the runtime has one; the wire carries half-float bits.
    if (o.type === 'float16' && !(data instanceof Uint16Array)) {
      const d = data as unknown as TypedArray;
      data = new Uint16Array(d.buffer, d.byteOffset, d.length);
    }
    if (!Array.isArray(data) && data.buffer.byteLength === data.byteLength) transfer.add(data.buffer as ArrayBuffer);
    outputs.push({ name, dtype: o.type as WireTensor['dtype'], dims: [...o.dims], data });
  }
  return { outputs, computeMs, transfer: [...transfer] };
}
