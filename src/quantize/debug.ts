/**
 * Per-layer error of a quantized model, like onnxruntime's qdq_loss_debug but per layer and local too:
 *
 * - `sqnrDb`: the layer's output in the quantized model against the same value in the float model
 *   (everything upstream included);
 * - `localSqnrDb`: against a float copy of the layer fed the quantized model's own inputs to it — the
 *   error this layer adds by itself. Ranking layers by it finds the ones worth leaving in float.
 *
 * Both models run batch by batch with the values as extra outputs; only running sums are kept.
 */
import type { Model, Node, Tensor } from '../ir/index.js';
import { cloneModel } from '../optimize/index.js';
import { createSession } from '../runtime/index.js';
import type { Batch } from './data.js';
import { augmentedModel } from './observe.js';
import { sqnrFromSums } from './qmath.js';
import { constantValue, type QuantizedUnit } from './select.js';

export interface LayerError {
  node: string;
  opType: string;
  /** The layer's output, quantized model against float model, in dB. */
  sqnrDb: number;
  /** The error this layer adds itself, in dB (absent when it cannot be isolated, e.g. fp16). */
  localSqnrDb?: number;
  weightSqnrDb?: number;
}

interface Sums {
  signal: number;
  noise: number;
}

function accumulate(s: Sums, ref: Tensor | undefined, cand: Tensor | undefined): void {
  if (!ref || !cand || ref.size !== cand.size) return;
  const r = ref.toFloat32();
  const c = cand.toFloat32();
  for (let i = 0; i < r.length; i++) {
    const a = r[i]!;
    const d = a - c[i]!;
    if (Number.isFinite(d)) {
      s.signal += a * a;
      s.noise += d * d;
    }
  }
}

/** The quantized model plus, per unit, a float twin of the layer (`<output>__float`) reading the quantized model's values. */
function withFloatTwins(float: Model, quantized: Model, units: QuantizedUnit[]): { model: Model; twins: Map<QuantizedUnit, string> } {
  const model = cloneModel(quantized);
  const g = model.graph;
  const twins = new Map<QuantizedUnit, string>();
  const available = (name: string) => g.initializers.has(name) || g.isGraphInput(name) || g.producer(name) !== undefined;
  for (const unit of units) {
    if (!unit.inputs.length) continue;
    // Float weights the quantized model no longer holds come back from the float model.
    let complete = true;
    for (const name of unit.inputs) {
      if (!name || available(name)) continue;
      const t = constantValue(float.graph, name);
      if (t) g.initializers.set(name, t);
      else complete = false;
    }
    if (!complete) continue;
    const renamed = new Map<string, string>();
    const twinName = (v: string) => {
      if (!renamed.has(v)) renamed.set(v, g.uniqueName(`${v}__float`));
      return renamed.get(v)!;
    };
    unit.original.forEach((orig, k) => {
      const inputs = k === 0 ? [...unit.inputs] : orig.inputs.map((v) => renamed.get(v) ?? v);
      const node: Node = { ...orig, name: g.uniqueName(`${orig.name || orig.opType}__float`), inputs, outputs: orig.outputs.map((o) => (o ? twinName(o) : '')) };
      g.addNode(node);
    });
    twins.set(unit, renamed.get(unit.output)!);
  }
  g.topologicalSort();
  return { model, twins };
}

/**
 * Runs the float and the quantized model over `data` and returns each unit's error, worst first
 * (by local SQNR where known, else by SQNR).
 */
export async function layerErrors(float: Model, quantized: Model, units: QuantizedUnit[], data: Iterable<Batch>, threads?: number): Promise<LayerError[]> {
  if (!units.length) return [];
  const { model: twinModel, twins } = withFloatTwins(float, quantized, units);
  const floatOutputs = [...new Set(units.map((u) => u.output))];
  const quantOutputs = [...new Set([...units.map((u) => u.quantizedOutput), ...twins.values()])];
  const floatSession = await createSession(augmentedModel(float, floatOutputs), { threads });
  const quantSession = await createSession(augmentedModel(twinModel, quantOutputs), { threads });
  const total = new Map<QuantizedUnit, Sums>(units.map((u) => [u, { signal: 0, noise: 0 }]));
  const local = new Map<QuantizedUnit, Sums>([...twins.keys()].map((u) => [u, { signal: 0, noise: 0 }]));
  try {
    for (const batch of data) {
      const f = await floatSession.run(batch.feeds, floatOutputs);
      const q = await quantSession.run(batch.feeds, quantOutputs);
      for (const u of units) {
        accumulate(total.get(u)!, f[u.output], q[u.quantizedOutput]);
        const twin = twins.get(u);
        if (twin) accumulate(local.get(u)!, q[twin], q[u.quantizedOutput]);
      }
    }
  } finally {
    await floatSession.release();
    await quantSession.release();
  }
  const rows: LayerError[] = units.map((u) => {
    const t = total.get(u)!;
    const l = local.get(u);
    return {
      node: u.node,
      opType: u.opType,
      sqnrDb: sqnrFromSums(t.signal, t.noise),
      localSqnrDb: l ? sqnrFromSums(l.signal, l.noise) : undefined,
      weightSqnrDb: u.weightSqnrDb,
    };
  });
  return rows.sort((a, b) => (a.localSqnrDb ?? a.sqnrDb) - (b.localSqnrDb ?? b.sqnrDb));
}
