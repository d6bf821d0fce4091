/**
 * `modelship.json`, the manifest of a deployment package (a folder holding the model and this file).
 *
 * This file defines the parts `serve` reads: the model file, its inputs/outputs, and how to turn a
 * person's input (an image, named features) into tensors and the outputs back into an answer.
 * `ship` writes the manifest and adds its own fields (candidates, metrics, versions); fields this
 * reader does not know are kept as they are, so a newer writer's fields survive a read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDType, type Dim, type DType, type Model } from '../ir/index.js';

export const MANIFEST_FILE = 'modelship.json';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface ManifestTensor {
  name: string;
  dtype: DType;
  /** Fixed sizes as numbers, symbolic dims by name, unknown as null. */
  shape: Dim[];
}

/** Decode an image, resize it, and normalize it: `(pixel * scale - mean[c]) / std[c]`. */
export interface ImagePreprocess {
  kind: 'image';
  input: string;
  layout: 'NCHW' | 'NHWC';
  /** [height, width] the image is resized to. */
  size: [number, number];
  /** 1 (grayscale), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  scale: number;
  mean: number[];
  std: number[];
  /** How the image is fitted to `size` (sharp's fit): stretched, cropped, or letterboxed. */
  fit: 'fill' | 'cover' | 'contain';
}

/** Named features, in input order along the last axis of a [batch, N] input. */
export interface FeaturesPreprocess {
  kind: 'features';
  input: string;
  names: string[];
}

export interface ClassificationPostprocess {
  kind: 'classification';
  output: string;
  /** Class names by index; classes without one are shown by index. */
  labels?: string[];
  /** Apply softmax to the output (false when the model already ends in one). */
  softmax: boolean;
  topK: number;
}

export interface RegressionPostprocess {
  kind: 'regression';
  output: string;
  /** Names of the output's values (last axis). */
  names?: string[];
}

export type Preprocess = ImagePreprocess | FeaturesPreprocess;
export type Postprocess = ClassificationPostprocess | RegressionPostprocess;

export interface Manifest {
  schemaVersion: number;
  name: string;
  /** The served model version (KServe/Triton `model_version`). */
  version: string;
  /** The model file, relative to the package folder. */
  model: string;
  inputs: ManifestTensor[];
  outputs: ManifestTensor[];
  preprocess?: Preprocess;
  postprocess?: Postprocess;
  /** Written by `ship` (see ShipManifestFields); serve does not read them. */
  source?: unknown;
  ship?: unknown;
  candidates?: unknown;
  versions?: unknown;
  /** Any other fields of the file, kept for the writer that knows them. */
  [extra: string]: unknown;
}

/** A candidate variant as `ship` measured it. */
export interface ShipCandidate {
  name: string;
  /** The quantize mode, or undefined for fp32 (the original graph, optimized). */
  mode?: string;
  reason: string;
  status: 'measured' | 'failed';
  /** The stage that failed and why (status 'failed'). */
  error?: { stage: 'generate' | 'validate' | 'bench'; message: string };
  sizeBytes?: number;
  /** Size over the original's. */
  sizeRatio?: number;
  /** Worst agreement with the original over the outputs (top-1 for classifiers, else Pearson or cosine). */
  agreement?: number;
  accuracy?: { reference: number; candidate: number; drop: number; rows: number };
  outputs?: { name: string; cosine?: number; pearson?: number | null; sqnrDb?: number; maxAbsError?: number; top1Agreement?: number }[];
  /** onnxruntime-node and WASM agree on this variant within quantize's tolerance. */
  runtimesAgree?: boolean;
  latency?: { p50Ms: number; meanMs: number; p95Ms: number; throughput: number };
  /** Latency over the original's, paired by bench round, with its 95% bootstrap interval. */
  latencyVsOriginal?: { ratio: number; low: number; high: number; verdict: string; summary: string };
  constraints?: { constraint: string; passed: boolean; value: number; limit: number; gap: number; text: string }[];
  passed?: boolean;
  notes?: string[];
  generateSeconds?: number;
}

/** The fields `ship` adds to the manifest. */
export interface ShipManifestFields {
  /** sha256 and size of the package's model file. */
  modelSha256: string;
  modelBytes: number;
  source: { path?: string; format: string; sha256: string; files: { file: string; bytes: number; sha256: string }[] };
  ship: {
    chosen: string;
    passed: boolean;
    reason: string;
    /** Constraints the chosen variant misses (passed false), with the gap. */
    failedConstraints: { constraint: string; value: number; limit: number; gap: number; text: string }[];
    runnerUp?: { name: string; withinNoise: boolean; comparison: string };
    objective: string;
    thresholds: Record<string, number | undefined>;
    /** How latency was measured; `dims` are the symbolic dims' sizes, taken from the data. */
    bench: { runtime: string; batch: number; threads: number | null; dims: Record<string, number>; seconds: number; rounds: number; loadAverage: number };
    data: unknown;
    analysis: { family: string; reason: string; strategies: { name: string; reason: string }[]; notTried: { name: string; reason: string }[] };
    /** Where the pre/post-processing spec came from. */
    processingFrom: string[];
    seconds: number;
    createdAt: string;
  };
  candidates: ShipCandidate[];
  versions: Record<string, string>;
  /** How the package is served (the Dockerfile's command line uses these). */
  serve: { runtime: string; threads?: number };
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly file: string) {}
  fail(field: string, expected: string, got?: unknown): never {
    const shown = got === undefined ? 'missing' : `got ${JSON.stringify(got)?.slice(0, 60)}`;
    throw new Error(`${this.file}: '${field}' must be ${expected} (${shown})`);
  }
  object(v: unknown, field: string): Obj {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'an object', v);
    return v as Obj;
  }
  string(v: unknown, field: string): string {
    if (typeof v !== 'string' || !v) this.fail(field, 'a non-empty string', v);
    return v as string;
  }
  strings(v: unknown, field: string): string[] {
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) this.fail(field, 'an array of strings', v);
    return v as string[];
  }
  number(v: unknown, field: string, check: (n: number) => boolean = Number.isFinite, expected = 'a finite number'): number {
    if (typeof v !== 'number' || !check(v)) this.fail(field, expected, v);
    return v as number;
  }
  oneOf<T extends string>(v: unknown, field: string, choices: readonly T[]): T {
    if (typeof v !== 'string' || !choices.includes(v as T)) this.fail(field, `one of ${choices.join(', ')}`, v);
    return v as T;
  }
}

const positiveInt = (n: number) => Number.isInteger(n) && n > 0;

function readTensors(r: Reader, v: unknown, field: string): ManifestTensor[] {
  if (!Array.isArray(v) || !v.length) r.fail(field, 'a non-empty array of {name, dtype, shape}', v);
  return (v as unknown[]).map((item, i) => {
    const o = r.object(item, `${field}[${i}]`);
    const dtype = r.string(o.dtype, `${field}[${i}].dtype`);
    if (!isDType(dtype)) r.fail(`${field}[${i}].dtype`, 'an ONNX element type (float32, int64, …)', dtype);
    if (!Array.isArray(o.shape)) r.fail(`${field}[${i}].shape`, 'an array of sizes, dim names or null', o.shape);
    const shape = (o.shape as unknown[]).map((d, k) => {
      if (d === null || (typeof d === 'string' && d) || (typeof d === 'number' && Number.isInteger(d) && d >= 0)) return d as Dim;
      return r.fail(`${field}[${i}].shape[${k}]`, 'a size ≥ 0, a dim name or null', d);
    });
    return { name: r.string(o.name, `${field}[${i}].name`), dtype, shape };
  });
}

function perChannel(r: Reader, v: unknown, field: string, channels: number, fallback: number, nonZero: boolean): number[] {
  if (v === undefined) return Array(channels).fill(fallback);
  const list = typeof v === 'number' ? Array(channels).fill(v) : v;
  if (!Array.isArray(list) || list.length !== channels || list.some((n) => typeof n !== 'number' || !Number.isFinite(n) || (nonZero && n === 0))) {
    r.fail(field, `a number or ${channels} ${nonZero ? 'non-zero ' : ''}numbers (one per channel)`, v);
  }
  return list as number[];
}

function readPreprocess(r: Reader, v: unknown, inputs: ManifestTensor[]): Preprocess {
  const o = r.object(v, 'preprocess');
  const kind = r.oneOf(o.kind, 'preprocess.kind', ['image', 'features'] as const);
  const input = r.string(o.input, 'preprocess.input');
  const target = inputs.find((i) => i.name === input);
  if (!target) r.fail('preprocess.input', `one of the inputs (${inputs.map((i) => i.name).join(', ')})`, input);
  if (kind === 'features') {
    const names = r.strings(o.names, 'preprocess.names');
    const width = target.shape.at(-1);
    if (target.shape.length !== 2 || (typeof width === 'number' && width !== names.length)) {
      r.fail('preprocess.names', `${typeof width === 'number' ? width : 'N'} names for input '${input}' of shape [${target.shape}]`, names);
    }
    return { kind, input, names };
  }
  const layout = r.oneOf(o.layout ?? 'NCHW', 'preprocess.layout', ['NCHW', 'NHWC'] as const);
  if (!Array.isArray(o.size) || o.size.length !== 2 || o.size.some((n) => !positiveInt(n as number))) {
    r.fail('preprocess.size', '[height, width] in pixels', o.size);
  }
  const channels = r.number(o.channels ?? 3, 'preprocess.channels', (n) => n === 1 || n === 3 || n === 4, '1, 3 or 4') as 1 | 3 | 4;
  if (target.shape.length !== 4) r.fail('preprocess.input', 'a rank-4 image input', input);
  return {
    kind,
    input,
    layout,
    size: o.size as [number, number],
    channels,
    scale: r.number(o.scale ?? 1 / 255, 'preprocess.scale'),
    mean: perChannel(r, o.mean, 'preprocess.mean', channels, 0, false),
    std: perChannel(r, o.std, 'preprocess.std', channels, 1, true),
    fit: r.oneOf(o.fit ?? 'fill', 'preprocess.fit', ['fill', 'cover', 'contain'] as const),
  };
}

function readPostprocess(r: Reader, v: unknown, outputs: ManifestTensor[]): Postprocess {
  const o = r.object(v, 'postprocess');
  const kind = r.oneOf(o.kind, 'postprocess.kind', ['classification', 'regression'] as const);
  const output = r.string(o.output, 'postprocess.output');
  if (!outputs.some((t) => t.name === output)) r.fail('postprocess.output', `one of the outputs (${outputs.map((t) => t.name).join(', ')})`, output);
  if (kind === 'regression') return { kind, output, names: o.names === undefined ? undefined : r.strings(o.names, 'postprocess.names') };
  return {
    kind,
    output,
    labels: o.labels === undefined ? undefined : r.strings(o.labels, 'postprocess.labels'),
    softmax: o.softmax === undefined ? true : o.softmax === true ? true : o.softmax === false ? false : r.fail('postprocess.softmax', 'true or false', o.softmax),
    topK: r.number(o.topK ?? 5, 'postprocess.topK', positiveInt, 'a positive integer'),
  };
}

/** Validates parsed JSON as a manifest; errors name `file` and the field. */
export function parseManifest(value: unknown, file = MANIFEST_FILE): Manifest {
  const r = new Reader(file);
  const o = r.object(value, '(top level)');
  const schemaVersion = r.number(o.schemaVersion ?? MANIFEST_SCHEMA_VERSION, 'schemaVersion', positiveInt, 'a positive integer');
  if (schemaVersion > MANIFEST_SCHEMA_VERSION) r.fail('schemaVersion', `≤ ${MANIFEST_SCHEMA_VERSION} (this modelship is older than the package)`, schemaVersion);
  const model = r.string(o.model ?? 'model.onnx', 'model');
  if (path.isAbsolute(model)) r.fail('model', 'a path relative to the package folder', model);
  const inputs = readTensors(r, o.inputs, 'inputs');
  const outputs = readTensors(r, o.outputs, 'outputs');
  const version = o.version === undefined ? '1' : typeof o.version === 'number' ? String(o.version) : r.string(o.version, 'version');
  if (!/^[A-Za-z0-9_.-]+$/.test(version)) r.fail('version', 'letters, digits, _ . -', version);
  return {
    ...o,
    schemaVersion,
    name: r.string(o.name, 'name'),
    version,
    model,
    inputs,
    outputs,
    preprocess: o.preprocess === undefined ? undefined : readPreprocess(r, o.preprocess, inputs),
    postprocess: o.postprocess === undefined ? undefined : readPostprocess(r, o.postprocess, outputs),
  };
}

/** Reads `modelship.json` from a package folder (or the file itself). */
export function readManifest(dirOrFile: string): Manifest {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseManifest(json, file);
}

export function isPackageDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, MANIFEST_FILE));
}

function metadataList(model: Model, key: string): string[] | undefined {
  const raw = model.getMetadata(key);
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v;
  } catch {
    // Not JSON: a comma-separated list.
  }
  return raw.split(',').map((s) => s.trim());
}

/**
 * A manifest for a plain .onnx file, inferred from its interface: a [batch, C, H, W] (or NHWC) input
 * with 1–4 channels is an image (pixels scaled to 0..1), a [batch, N] input is N features; a
 * [batch, K>1] float output is a classifier (softmax unless the graph ends in one, labels from the
 * model's `labels` metadata), a [batch, 1] or [batch] output a regressor. Feature names come from
 * `feature_names` metadata, else `x0…`.
 */
export function inferManifest(model: Model, name: string, modelFile = 'model.onnx'): Manifest {
  const g = model.graph;
  const initializers = new Set(g.initializers.keys());
  const tensor = (v: { name: string; type?: unknown }): ManifestTensor | undefined => {
    const t = g.valueType(v.name);
    return t?.kind === 'tensor' && t.shape ? { name: v.name, dtype: t.dtype, shape: t.shape } : undefined;
  };
  const inputs = g.inputs.filter((i) => !initializers.has(i.name)).map(tensor);
  const outputs = g.outputs.map(tensor);
  if (inputs.some((t) => !t) || outputs.some((t) => !t)) {
    throw new Error(`${name}: serve needs tensor inputs and outputs with a known rank`);
  }
  const manifest: Manifest = { schemaVersion: MANIFEST_SCHEMA_VERSION, name, version: '1', model: modelFile, inputs: inputs as ManifestTensor[], outputs: outputs as ManifestTensor[] };
  const floatTypes: DType[] = ['float32', 'float16', 'float64'];
  const only = inputs.length === 1 ? inputs[0]! : undefined;
  if (only && floatTypes.includes(only.dtype)) {
    const s = only.shape;
    const fixed = (d: Dim | undefined): d is number => typeof d === 'number' && d > 0;
    const channels = (d: Dim | undefined): d is 1 | 3 | 4 => d === 1 || d === 3 || d === 4;
    const image = (layout: 'NCHW' | 'NHWC', h: number, w: number, c: 1 | 3 | 4): ImagePreprocess => ({
      kind: 'image', input: only.name, layout, size: [h, w], channels: c, scale: 1 / 255, mean: Array(c).fill(0), std: Array(c).fill(1), fit: 'fill',
    });
    if (s.length === 4 && channels(s[1]) && fixed(s[2]) && fixed(s[3])) manifest.preprocess = image('NCHW', s[2], s[3], s[1]);
    else if (s.length === 4 && channels(s[3]) && fixed(s[1]) && fixed(s[2])) manifest.preprocess = image('NHWC', s[1], s[2], s[3]);
    else if (s.length === 2 && fixed(s[1])) {
      const names = metadataList(model, 'feature_names');
      manifest.preprocess = { kind: 'features', input: only.name, names: names?.length === s[1] ? names : Array.from({ length: s[1] }, (_, i) => `x${i}`) };
    }
  }
  const out = outputs.length === 1 ? outputs[0]! : undefined;
  if (out && floatTypes.includes(out.dtype)) {
    const k = out.shape.at(-1);
    if (out.shape.length === 2 && typeof k === 'number' && k > 1) {
      const labels = metadataList(model, 'labels');
      const last = g.producer(out.name);
      manifest.postprocess = { kind: 'classification', output: out.name, labels: labels?.length === k ? labels : undefined, softmax: last?.opType !== 'Softmax', topK: Math.min(5, k) };
    } else if (out.shape.length === 1 || (out.shape.length === 2 && k === 1)) {
      manifest.postprocess = { kind: 'regression', output: out.name, names: [out.name] };
    }
  }
  return manifest;
}
