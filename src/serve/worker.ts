/**
 * An inference worker thread: one onnxruntime session, one batch at a time. onnxruntime-node's
 * `session.run` blocks the thread it runs on, so running it here keeps the server's event loop free
 * for health checks, metrics and new connections. Tensors arrive and leave as transferred buffers.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, type SessionOptions } from '../runtime/index.js';
import { concatRows, type WireTensor } from './datatypes.js';
import { runWireTensors } from './inference.js';
import { DTYPE_INFO, type DType, type TypedArray } from '../ir/index.js';

export interface WorkerInit {
  modelPath: string;
  session: SessionOptions;
  nice: number;
}

export type ToWorker = { type: 'run'; id: number; requests: WireTensor[][]; rows: number } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; inputs: { name: string; dtype?: string; shape?: (number | string | null)[] }[]; outputs: { name: string; dtype?: string; shape?: (number | string | null)[] }[]; priorityError?: string }
  | { type: 'load-failed'; message: string }
  | { type: 'result'; id: number; outputs: WireTensor[]; computeMs: number }
  | { type: 'failed'; id: number; message: string };

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** One buffer per input, reused by every batch (one batch runs at a time), so batching allocates nothing. */
const batchBuffers: ArrayBuffer[] = [];

function batchBuffer(i: number, dtype: DType, length: number): TypedArray {
  const ctor = DTYPE_INFO[dtype].array!;
  if ((batchBuffers[i]?.byteLength ?? 0) < length * ctor.BYTES_PER_ELEMENT) batchBuffers[i] = new ArrayBuffer(length * ctor.BYTES_PER_ELEMENT);
  return new ctor(batchBuffers[i]!, 0, length);
}

/**
 * Lowers this thread's priority below the HTTP thread's. onnxruntime's intra-op threads, created with
 * the session below, inherit it. Linux only: elsewhere a priority belongs to the whole process.
 */
function lowerPriority(nice: number): string | undefined {
  if (nice <= 0 || process.platform !== 'linux') return undefined;
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
    return undefined;
  } catch (e) {
    return (e as Error).message; // no /proc here, say: inference keeps the process's priority
  }
}

try {
  const priorityError = lowerPriority(init.nice);
  const session = await createSession(init.modelPath, init.session);
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'close') {
      await session.release();
      port.close();
      return;
    }
    try {
      const inputs = m.requests.length === 1 ? m.requests[0]! : concatRows(m.requests, m.rows, batchBuffer);
      // A pooled body (shared memory) is copied into this worker's batch buffers, as a batch is concatenated there.
      const { outputs, computeMs, transfer } = await runWireTensors(session, inputs, batchBuffer);
      post({ type: 'result', id: m.id, outputs, computeMs }, transfer);
    } catch (e) {
      post({ type: 'failed', id: m.id, message: (e as Error).message.split('\n')[0]! });
    }
  });
  post({ type: 'ready', inputs: session.inputs, outputs: session.outputs, priorityError });
} catch (e) {
  post({ type: 'load-failed', message: (e as Error).message.split('\n')[0]! });
}
