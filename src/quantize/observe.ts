/**
 * Running a model with some of its intermediate values as extra outputs (the "augmented model"), batch
 * by batch, handing each batch's values to a visitor and keeping none of them: memory stays at one
 * batch of activations however much data goes through.
 */
import type { DType, Model, Tensor } from '../ir/index.js';
import { encodeModel } from '../io/index.js';
import { createSession } from '../runtime/index.js';
import type { Batch } from './data.js';

// Operators whose outputs are sequences or optionals: onnxruntime's JavaScript API cannot return those.
const NON_TENSOR_PRODUCERS = new Set([
  'SequenceConstruct', 'SequenceEmpty', 'SequenceInsert', 'SequenceErase', 'SplitToSequence', 'Optional', 'OptionalGetElement', 'Loop', 'Scan', 'If',
]);

/** The model's own bytes with `names` added as graph outputs (the model itself is left as it was). */
export function augmentedModel(model: Model, names: Iterable<string>): Uint8Array {
  const g = model.graph;
  const before = g.outputs.length;
  const present = new Set(g.outputs.map((o) => o.name));
  for (const name of names) {
    if (present.has(name)) continue;
    present.add(name);
    g.outputs.push({ name });
  }
  try {
    return encodeModel(model);
  } finally {
    g.outputs.length = before;
  }
}

/** Outputs of the main graph's nodes that onnxruntime can hand back as tensors. */
function observableValues(model: Model): string[] {
  const names: string[] = [];
  for (const n of model.graph.nodes) {
    if (NON_TENSOR_PRODUCERS.has(n.opType)) continue;
    for (const o of n.outputs) if (o) names.push(o);
  }
  return names;
}

export interface ObserveOptions {
  threads?: number;
}

/** Opens one session on the augmented model and runs every batch through it. */
export async function observe(
  model: Model,
  names: string[],
  data: Iterable<Batch>,
  visit: (values: Record<string, Tensor>, batch: Batch) => void,
  opts: ObserveOptions = {},
): Promise<void> {
  const session = await createSession(augmentedModel(model, names), { threads: opts.threads });
  const outputs = session.outputs.map((o) => o.name);
  try {
    for (const batch of data) visit(await session.run(batch.feeds, outputs), batch);
  } finally {
    await session.release();
  }
}

export interface ValueFacts {
  dtype: DType;
  /** Largest |x| seen (floating-point values only). */
  absMax?: number;
}

/**
 * The element type (and, for floats, the largest magnitude) of every intermediate value, learned by
 * running the model on `data`. Temporary stand-in for static type inference.
 */
export async function discoverValues(model: Model, data: Iterable<Batch>, opts: ObserveOptions = {}): Promise<Map<string, ValueFacts>> {
  const facts = new Map<string, ValueFacts>();
  const g = model.graph;
  for (const v of g.inputs) if (v.type?.kind === 'tensor') facts.set(v.name, { dtype: v.type.dtype });
  for (const [name, t] of g.initializers) facts.set(name, { dtype: t.dtype });
  await observe(model, observableValues(model), data, (values) => {
    for (const [name, t] of Object.entries(values)) {
      const f = facts.get(name) ?? { dtype: t.dtype };
      facts.set(name, f);
      if (t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'float64') {
        const m = absMax(t);
        f.absMax = Math.max(f.absMax ?? 0, m);
      }
    }
  }, opts);
  return facts;
}

function absMax(t: Tensor): number {
  const d = t.dtype === 'float32' ? (t.data as Float32Array) : t.toFloat32();
  let m = 0;
  for (let i = 0; i < d.length; i++) {
    const v = Math.abs(d[i]!);
    if (v > m) m = v;
  }
  return m;
}
