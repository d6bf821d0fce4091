/**
 * Proof of a conversion: the TF.js model run by TF.js itself and the ONNX model run by onnxruntime,
 * on the same seeded inputs, output by output.
 */
import type * as Tf from '@tensorflow/tfjs';
import { Tensor, type DType, type Model } from '../../ir/index.js';
import { createSession } from '../../runtime/index.js';
import { decodeModel, encodeModel } from '../../io/index.js';
import { createRng, generateInputs } from '../../data/index.js';
import type { LoadedTfjsModel } from './artifacts.js';
import { transposeTensor } from './tensors.js';

export type TfjsBackend = 'cpu' | 'wasm';

export interface ConvertVerifyOptions {
  /** TF.js backend that computes the reference: 'cpu' (pure JavaScript, default) or 'wasm'. */
  backend?: TfjsBackend;
  /** Largest accepted relative error (see ConvertOutputAgreement.relError), default 1e-4. */
  tolerance?: number;
  seed?: number;
  /** Size of dynamic batch dimensions in the generated inputs (default 1). */
  batch?: number;
  /** Size of other dynamic dimensions (default 16). */
  defaultDim?: number;
}

export interface ConvertOutputAgreement {
  name: string;
  dtype: string;
  shape: number[];
  maxAbsError: number;
  /** Relative error ‖onnx − tfjs‖₂ / ‖tfjs‖₂ (the reference RMS taken as at least 1e-3, so outputs near zero — a saturated sigmoid — compare absolutely). */
  relError: number;
  ok: boolean;
}

export interface ConvertVerifyReport {
  /** On failure (Graph models): the first TF node whose result already disagrees, where to look first. */
  firstDivergence?: { node: string; op: string; relError: number };
  backend: TfjsBackend;
  tolerance: number;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: ConvertOutputAgreement[];
  maxRelError: number;
  passed: boolean;
  tfjsMs: number;
  onnxMs: number;
}

/** How the converted model's interface maps to the TF.js model's. */
export interface InterfaceMap {
  inputs: { name: string; tfName: string; perm?: number[] }[];
  outputs: { name: string; tfName: string; perm?: number[] }[];
  /** TF node outputs and the ONNX values holding them (Graph models), in graph order. */
  intermediates: { name: string; tfName: string; op: string; dtype: DType; perm?: number[] }[];
}

let tfModule: Promise<typeof Tf> | undefined;

/** TF ops TF.js runs only asynchronously. */
const DYNAMIC_OPS = new Set(['NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where', 'ListDiff']);

/** TF.js, loaded on first use (it is only needed to verify), quiet, on the requested backend. */
export async function tfjsOn(backend: TfjsBackend): Promise<typeof Tf> {
  tfModule ??= import('@tensorflow/tfjs').then((tf) => {
    // Silences TF.js's "install tfjs-node" banner and debug checks.
    tf.enableProdMode();
    return tf;
  });
  const tf = await tfModule;
  if (backend === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
    } catch {
      throw new Error("verify backend 'wasm' needs the npm package @tensorflow/tfjs-backend-wasm");
    }
  }
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' failed to initialize`);
  await tf.ready();
  return tf;
}

/** A loaded TF.js model, run with named inputs. */
export interface TfjsRunner {
  /** Runs the model; a Graph model returns the node outputs named (`node` or `node:1`), by default its outputs. */
  run(feeds: Record<string, Tensor>, outputs?: string[]): Promise<Record<string, Tensor>>;
  dispose(): void;
}

export async function loadTfjsRunner(loaded: LoadedTfjsModel, backend: TfjsBackend): Promise<TfjsRunner> {
  const tf = await tfjsOn(backend);
  const handler = tf.io.fromMemory(loaded.artifacts as unknown as Tf.io.ModelArtifacts);
  const toTf = (t: Tensor) => tf.tensor(t.data as Float32Array | Int32Array | Uint8Array, t.dims, t.dtype === 'float32' ? 'float32' : t.dtype === 'bool' ? 'bool' : 'int32');
  const fromTf = (t: Tf.Tensor, name: string) => {
    const data = t.dataSync();
    const dtype = t.dtype === 'float32' ? 'float32' : t.dtype === 'bool' ? 'bool' : 'int32';
    return Tensor.from(dtype, [...t.shape], dtype === 'bool' ? Uint8Array.from(data as ArrayLike<number>) : (data as Float32Array | Int32Array), name);
  };
  if (loaded.format === 'graph') {
    const model = await tf.loadGraphModel(handler);
    const nodes = ((loaded.topology.node ?? []) as { op: string }[]).map((n) => n.op);
    const dynamic = nodes.some((op) => DYNAMIC_OPS.has(op));
    return {
      async run(feeds, outputs) {
        const inputs: Record<string, Tf.Tensor> = {};
        for (const [k, t] of Object.entries(feeds)) inputs[k] = toTf(t);
        const names = outputs ?? model.outputNodes;
        // Ops with data-dependent shapes (NonMaxSuppression, Where) only run in executeAsync.
        const result = dynamic ? await model.executeAsync(inputs, names) : model.execute(inputs, names);
        const list = Array.isArray(result) ? result : [result];
        const out: Record<string, Tensor> = {};
        list.forEach((t, i) => (out[names[i]!] = fromTf(t, names[i]!)));
        tf.dispose([...Object.values(inputs), ...list]);
        return out;
      },
      dispose: () => model.dispose(),
    };
  }
  const model = await tf.loadLayersModel(handler);
  return {
    async run(feeds) {
      // Layers models take and return tensors in the order of their inputs and outputs.
      const inputs = model.inputs.map((_, k) => toTf(feeds[String(k)]!));
      const result = model.predict(inputs.length === 1 ? inputs[0]! : inputs);
      const list = Array.isArray(result) ? result : [result];
      const out: Record<string, Tensor> = {};
      list.forEach((t, k) => (out[String(k)] = fromTf(t, String(k))));
      tf.dispose([...inputs, ...list]);
      return out;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * Seeded inputs for the converted model: images as [0, 1) floats or 0..255 integers, and ids below
 * the table size for inputs that index an embedding (Keras feeds those as floats).
 */
export function verificationInputs(model: Model, opts: ConvertVerifyOptions = {}): Record<string, Tensor> {
  const feeds = generateInputs(model, { seed: opts.seed ?? 0, batch: opts.batch ?? 1, defaultDim: opts.defaultDim ?? 16 });
  const rng = createRng((opts.seed ?? 0) + 1);
  for (const [name, t] of Object.entries(feeds)) {
    const rows = embeddingRows(model, name);
    if (rows !== undefined && t.dtype === 'float32') feeds[name] = Tensor.from('float32', t.dims, Float32Array.from({ length: t.size }, () => Math.floor(rng() * rows)), name);
    else if (t.dtype === 'int32' && t.dims.length === 4) feeds[name] = Tensor.from('int32', t.dims, Int32Array.from({ length: t.size }, () => Math.floor(rng() * 256)), name);
  }
  return feeds;
}

/** Rows of the constant table that `input` indexes through a Cast and a Gather, if it does. */
function embeddingRows(model: Model, input: string): number | undefined {
  const g = model.graph;
  for (const cast of g.consumers(input).filter((n) => n.opType === 'Cast')) {
    for (const gather of g.consumers(cast.outputs[0]!)) {
      const table = gather.opType === 'Gather' && gather.inputs[1] === cast.outputs[0] ? g.initializers.get(gather.inputs[0]!) : undefined;
      if (table) return table.dims[0];
    }
  }
  return undefined;
}

export async function verifyConversion(model: Model, loaded: LoadedTfjsModel, map: InterfaceMap, opts: ConvertVerifyOptions = {}): Promise<ConvertVerifyReport> {
  const backend = opts.backend ?? 'cpu';
  const tolerance = opts.tolerance ?? 1e-4;
  const feeds = verificationInputs(model, opts);
  const runner = await loadTfjsRunner(loaded, backend);
  const session = await createSession(model);
  try {
    const tfFeeds: Record<string, Tensor> = {};
    for (const i of map.inputs) tfFeeds[i.tfName] = i.perm ? transposeTensor(feeds[i.name]!, inverse(i.perm)) : feeds[i.name]!;
    let t0 = performance.now();
    const expected = await runner.run(tfFeeds, map.outputs.map((o) => o.tfName));
    const tfjsMs = performance.now() - t0;
    t0 = performance.now();
    const actual = await session.run(feeds);
    const onnxMs = performance.now() - t0;
    const outputs = map.outputs.map((o) => {
      const want = expected[o.tfName];
      if (!want) throw new Error(`TF.js returned no output '${o.tfName}'`);
      const got = o.perm ? transposeTensor(actual[o.name]!, inverse(o.perm)) : actual[o.name]!;
      return agreement(o.name, got, want, tolerance);
    });
    const maxRelError = Math.max(0, ...outputs.map((o) => o.relError));
    const passed = outputs.every((o) => o.ok);
    const firstDivergence = !passed && map.intermediates.length ? await locateDivergence(model, runner, feeds, tfFeeds, map, tolerance) : undefined;
    return {
      ...(firstDivergence && { firstDivergence }),
      backend,
      tolerance,
      inputs: Object.values(feeds).map((t) => ({ name: t.name, dtype: t.dtype, shape: t.dims })),
      outputs,
      maxRelError,
      passed,
      tfjsMs,
      onnxMs,
    };
  } finally {
    runner.dispose();
    await session.release();
  }
}

/** Runs every TF node's result on both sides (in graph order) and returns the first that disagrees. */
async function locateDivergence(
  model: Model,
  runner: TfjsRunner,
  feeds: Record<string, Tensor>,
  tfFeeds: Record<string, Tensor>,
  map: InterfaceMap,
  tolerance: number,
): Promise<ConvertVerifyReport['firstDivergence']> {
  const probe = decodeModel(encodeModel(model));
  const g = probe.graph;
  const listed = new Set(g.outputs.map((o) => o.name));
  const candidates = map.intermediates.filter((i) => g.producer(i.name) || g.isGraphInput(i.name));
  for (const c of candidates) {
    if (listed.has(c.name)) continue;
    g.outputs.push({ name: c.name, type: { kind: 'tensor', dtype: c.dtype } });
    listed.add(c.name);
  }
  const session = await createSession(probe);
  try {
    const actual = await session.run(feeds);
    const expected = await runner.run(tfFeeds, candidates.map((c) => c.tfName));
    for (const c of candidates) {
      const got = c.perm ? transposeTensor(actual[c.name]!, inverse(c.perm)) : actual[c.name]!;
      const a = agreement(c.tfName, got, expected[c.tfName]!, tolerance);
      if (!a.ok) return { node: c.tfName, op: c.op, relError: a.relError };
    }
    return undefined;
  } finally {
    await session.release();
  }
}

function inverse(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

function agreement(name: string, got: Tensor, want: Tensor, tolerance: number): ConvertOutputAgreement {
  const shape = want.dims;
  if (got.dims.join(',') !== shape.join(',')) {
    return { name, dtype: got.dtype, shape: got.dims, maxAbsError: Infinity, relError: Infinity, ok: false };
  }
  const a = got.toFloat32();
  const b = want.toFloat32();
  let maxAbs = 0;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y) || !Number.isFinite(x) || !Number.isFinite(y)) {
      if (!Object.is(x, y)) maxAbs = diff2 = Infinity;
      continue;
    }
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    diff2 += d * d;
    ref2 += y * y;
  }
  const relError = diff2 === 0 ? 0 : Math.sqrt(diff2) / Math.max(Math.sqrt(ref2), 1e-3 * Math.sqrt(b.length));
  return { name, dtype: got.dtype, shape, maxAbsError: maxAbs, relError, ok: relError <= tolerance };
}
