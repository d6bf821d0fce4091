/**
 * One session API over onnxruntime's backends: onnxruntime-node (CPU, CUDA when present) and
 * onnxruntime-web's WASM build running inside Node. Feeds are checked against the model's declared
 * inputs first, so a wrong feed is a one-line error naming the input rather than an onnxruntime trace.
 */
import type * as OrtNode from 'onnxruntime-node';
import { Tensor, type Dim, type DType, type Model } from '../ir/index.js';
import { encodeModel } from '../io/index.js';
import { fromOrtTensor, toOrtTensor, type OrtModule } from './tensors.js';

export type RuntimeName = 'node' | 'wasm' | 'cuda';

export interface SessionOptions {
  runtime?: RuntimeName;
  /** Intra-op threads (onnxruntime default: one per core). The WASM build runs single-threaded in Node. */
  threads?: number;
  interOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Passed through to onnxruntime as is (overrides the fields above). */
  ortOptions?: Record<string, unknown>;
}

export interface SessionValue {
  name: string;
  /** Element type, or undefined for non-tensor values (sequences, maps, optionals). */
  dtype?: DType;
  shape?: Dim[];
}

export interface ModelSession {
  readonly runtime: RuntimeName;
  readonly inputs: SessionValue[];
  readonly outputs: SessionValue[];
  /** The underlying onnxruntime session, for callers that feed onnxruntime tensors directly. */
  readonly ort: OrtNode.InferenceSession;
  readonly ortModule: OrtModule;
  /** Runs with IR tensors in and out; feeds are checked first. */
  run(feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

let nodeModule: Promise<OrtModule> | undefined;
let webModule: Promise<OrtModule> | undefined;

export function loadOrt(runtime: RuntimeName): Promise<OrtModule> {
  if (runtime === 'wasm') {
    webModule ??= import('onnxruntime-web').then((m) => {
      const ort = (m as unknown as { default?: OrtModule }).default ?? (m as unknown as OrtModule);
      // Threaded WASM needs browser workers; in Node it runs on one thread.
      ort.env.wasm.numThreads = 1;
      return ort;
    });
    return webModule;
  }
  nodeModule ??= import('onnxruntime-node').then((m) => ((m as unknown as { default?: OrtModule }).default ?? (m as unknown as OrtModule)));
  return nodeModule;
}

/** Runtimes usable on this machine: node and wasm always; cuda when onnxruntime-node can create a CUDA session. */
export async function availableRuntimes(): Promise<RuntimeName[]> {
  const out: RuntimeName[] = ['node', 'wasm'];
  if (await cudaAvailable()) out.push('cuda');
  return out;
}

/**
 * Throws a one-line error when `runtime` cannot run here. Without this check a 'cuda' session falls back
 * to the CPU provider silently, and a validate or bench result would be labelled with the wrong runtime.
 */
export async function requireRuntime(runtime: RuntimeName): Promise<void> {
  if (runtime === 'cuda' && !(await cudaAvailable())) {
    throw new Error('cuda: onnxruntime-node has no usable CUDA provider on this machine (runtimes here: node, wasm)');
  }
}

let cudaProbe: Promise<boolean> | undefined;
function cudaAvailable(): Promise<boolean> {
  cudaProbe ??= (async () => {
    try {
      const ort = await loadOrt('node');
      const backends = (ort as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends?.() ?? [];
      if (!backends.some((b) => b.name === 'cuda')) return false;
      // A one-node model proves the provider loads (its shared libraries are installed separately).
      const { tinyIdentityModel } = await import('./probe.js');
      const s = await ort.InferenceSession.create(tinyIdentityModel(), { executionProviders: ['cuda'] });
      await s.release();
      return true;
    } catch {
      return false;
    }
  })();
  return cudaProbe;
}

/** onnxruntime's session options for `opts` (plain data: bench hands them to worker threads). */
export function sessionOptions(opts: SessionOptions): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const runtime = opts.runtime ?? 'node';
  o.executionProviders = runtime === 'wasm' ? ['wasm'] : runtime === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
  if (opts.threads !== undefined && runtime !== 'wasm') o.intraOpNumThreads = opts.threads;
  if (opts.interOpThreads !== undefined && runtime !== 'wasm') o.interOpNumThreads = opts.interOpThreads;
  if (opts.graphOptimizationLevel) o.graphOptimizationLevel = opts.graphOptimizationLevel;
  // onnxruntime's warnings (old opsets, skipped optimizers) are noise for our users; errors still surface.
  o.logSeverityLevel = 3;
  return { ...o, ...opts.ortOptions };
}

/** A model to run: an IR model, a path to a .onnx file, or its bytes. */
export type ModelLike = Model | string | Uint8Array;

function ortMetadata(session: OrtNode.InferenceSession, which: 'input' | 'output'): SessionValue[] {
  const names = which === 'input' ? session.inputNames : session.outputNames;
  const meta = (which === 'input' ? session.inputMetadata : session.outputMetadata) as unknown as
    | { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[]
    | undefined;
  return names.map((name, i) => {
    const m = meta?.[i];
    if (!m || !m.isTensor) return { name };
    return {
      name,
      dtype: m.type as DType,
      shape: m.shape?.map((d) => (typeof d === 'number' ? (d < 0 ? null : d) : d === '' ? null : d)),
    };
  });
}

export async function createSession(model: ModelLike, opts: SessionOptions = {}): Promise<ModelSession> {
  const runtime = opts.runtime ?? 'node';
  const ort = await loadOrt(runtime);
  let source: string | Uint8Array;
  if (typeof model === 'string') {
    // The WASM build has no file system access in general: hand it bytes.
    source = runtime === 'wasm' ? new Uint8Array((await import('node:fs')).readFileSync(model)) : model;
  } else if (model instanceof Uint8Array) source = model;
  else source = encodeModel(model);
  let session: OrtNode.InferenceSession;
  try {
    session = await (ort.InferenceSession.create as (s: string | Uint8Array, o: unknown) => Promise<OrtNode.InferenceSession>)(
      source,
      sessionOptions(opts),
    );
  } catch (e) {
    const label = typeof model === 'string' ? model : 'model';
    throw new Error(`${label}: onnxruntime (${runtime}) cannot load it: ${firstLine((e as Error).message)}`);
  }
  const inputs = ortMetadata(session, 'input');
  const outputs = ortMetadata(session, 'output');
  return {
    runtime,
    inputs,
    outputs,
    ort: session,
    ortModule: ort,
    async run(feeds, outputNames) {
      checkFeeds(inputs, feeds);
      const ortFeeds: Record<string, OrtNode.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(ort, t, name);
      let result: Record<string, OrtNode.Tensor>;
      try {
        result = (await (outputNames ? session.run(ortFeeds, outputNames) : session.run(ortFeeds))) as Record<string, OrtNode.Tensor>;
      } catch (e) {
        throw new Error(`onnxruntime (${runtime}) failed to run the model: ${firstLine((e as Error).message)}`);
      }
      const out: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(result)) out[name] = fromOrtTensor(t, name);
      return out;
    },
    release: () => session.release(),
  };
}

const firstLine = (s: string) => s.split('\n').find((l) => l.trim()) ?? s;

function describe(v: SessionValue): string {
  if (!v.dtype) return 'non-tensor';
  return `${v.dtype}[${(v.shape ?? []).map((d) => (d === null ? '?' : d)).join(',')}]`;
}

/**
 * Checks feeds against the session's inputs: every required input present, no unknown names, dtype
 * and rank equal, fixed dimensions equal, and one symbolic dimension name bound to one size.
 */
export function checkFeeds(inputs: SessionValue[], feeds: Record<string, Tensor>): void {
  const known = new Set(inputs.map((i) => i.name));
  const extra = Object.keys(feeds).filter((n) => !known.has(n));
  if (extra.length) {
    throw new Error(`unknown input${extra.length > 1 ? 's' : ''} ${extra.map((n) => `'${n}'`).join(', ')} (the model's inputs: ${[...known].join(', ')})`);
  }
  const missing = inputs.filter((i) => !(i.name in feeds));
  if (missing.length) {
    throw new Error(`missing input${missing.length > 1 ? 's' : ''}: ${missing.map((i) => `'${i.name}' (${describe(i)})`).join(', ')}`);
  }
  const bound = new Map<string, number>();
  for (const input of inputs) {
    const t = feeds[input.name]!;
    if (!(t instanceof Tensor)) throw new Error(`input '${input.name}': expected a Tensor`);
    if (!input.dtype) continue;
    if (t.dtype !== input.dtype) throw new Error(`input '${input.name}': got ${t.dtype}, the model expects ${input.dtype}`);
    if (!input.shape) continue;
    if (t.dims.length !== input.shape.length) {
      throw new Error(`input '${input.name}': got shape [${t.dims}] (rank ${t.dims.length}), the model expects ${describe(input)} (rank ${input.shape.length})`);
    }
    input.shape.forEach((d, k) => {
      const got = t.dims[k]!;
      if (typeof d === 'number' && d !== got) {
        throw new Error(`input '${input.name}': dimension ${k} is ${got}, the model expects ${d} (shape ${describe(input)})`);
      }
      if (typeof d === 'string') {
        const prev = bound.get(d);
        if (prev !== undefined && prev !== got) {
          throw new Error(`input '${input.name}': dimension ${k} ('${d}') is ${got}, but '${d}' is ${prev} in another input`);
        }
        bound.set(d, got);
      }
    });
  }
}
