import type * as OrtNode from 'onnxruntime-node';
import type { Tensor } from '../ir/index.js';
import { toOrtTensor, type ModelSession } from '../runtime/index.js';

/** Feeds as the session's own onnxruntime tensors (sharing buffers), built once for a timed loop. */
export function ortFeeds(session: ModelSession, feeds: Record<string, Tensor>): Record<string, OrtNode.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, toOrtTensor(session.ortModule, t, n)]));
}

/** Session options for timed runs: failures are reported by bench itself, onnxruntime's own log line per failure is noise. */
export const QUIET = { logSeverityLevel: 4 };
