/**
 * Reading a TF.js model: model.json (Layers or Graph format) and its weight shards, or the in-memory
 * artifacts a TF.js IOHandler produces. Quantized weights are dequantized exactly as TF.js's
 * `io.decodeWeights` does, so the converted model computes with the values TF.js computes with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor, float16ArrayToFloat32, type DType } from '../../ir/index.js';
import { concatChunks } from '../../io/atomic.js';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** A TF.js model in memory, as TF.js's `io.ModelArtifacts` (what an IOHandler saves or loads). */
export interface TfjsArtifacts {
  modelTopology?: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightSpecs?: TfjsWeightSpec[];
  weightData?: ArrayBuffer | ArrayBuffer[];
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

export type TfjsFormat = 'layers' | 'graph';

export interface QuantizationSummary {
  /** Weights stored with each quantization dtype (uint8, uint16, float16); empty when none. */
  counts: Record<string, number>;
}

export interface LoadedTfjsModel {
  format: TfjsFormat;
  /** The model.json path, or '<memory>' for artifacts. */
  source: string;
  topology: Record<string, unknown>;
  /** Decoded weights by name (float32 after dequantization), in manifest order. */
  weights: Map<string, Tensor>;
  /** Self-contained artifacts (weights in one buffer) that TF.js itself can load, for verification. */
  artifacts: TfjsArtifacts & { weightSpecs: TfjsWeightSpec[]; weightData: ArrayBuffer };
  quantization: QuantizationSummary;
  weightBytes: number;
  /** Files read (model.json and its shards); empty for in-memory artifacts. */
  files: string[];
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
const DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

/** Reads a model.json (and its shards) or takes in-memory artifacts. */
export function readTfjsModel(input: string | TfjsArtifacts): LoadedTfjsModel {
  if (typeof input === 'string') return loadFromFile(input);
  const source = '<memory>';
  const specs = input.weightSpecs ?? [];
  const data = Array.isArray(input.weightData) ? concatChunks(input.weightData.map((b) => new Uint8Array(b))) : new Uint8Array(input.weightData ?? new ArrayBuffer(0));
  const format = detectFormat(input, source);
  return finish(format, source, input, specs, data, 'weightData', []);
}

function loadFromFile(file: string): LoadedTfjsModel {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`}`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); expected a TF.js model.json`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${file}: expected a JSON object (a TF.js model.json)`);
  const format = detectFormat(json, file);
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new Error(`${file}: "weightsManifest" must be a list of weight groups`);
  const dir = path.dirname(file);
  const specs: TfjsWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  const files = [file];
  manifest.forEach((group: TfjsWeightGroup, g) => {
    const where = `${file}: weightsManifest[${g}]`;
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`${where}: expected { "paths": [...], "weights": [...] }`);
    }
    const shards = group.paths.map((p, k) => {
      if (typeof p !== 'string') throw new Error(`${where}.paths[${k}]: expected a file name`);
      const shard = path.join(dir, decodeURIComponent(p));
      files.push(shard);
      try {
        return new Uint8Array(fs.readFileSync(shard));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(`${where}.paths[${k}] '${p}': ${code === 'ENOENT' ? 'weight shard not found' : `cannot read (${code})`} (looked for ${shard})`);
      }
    });
    const have = shards.reduce((n, s) => n + s.byteLength, 0);
    const need = group.weights.reduce((n, w, k) => n + specBytes(w, `${where}.weights[${k}]`), 0);
    if (have !== need) {
      throw new Error(
        `${where}: its ${group.weights.length} weights need ${need} bytes, but the shards (${group.paths.join(', ')}) hold ${have} bytes`,
      );
    }
    specs.push(...group.weights);
    chunks.push(...shards);
  });
  return finish(format, file, json, specs, (chunks.length === 1 ? chunks[0]! : concatChunks(chunks)), 'weights', files);
}

function detectFormat(json: TfjsArtifacts, source: string): TfjsFormat {
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  const declared = json.format;
  if (declared !== undefined && declared !== 'layers-model' && declared !== 'graph-model') {
    throw new Error(`${source}: unknown TF.js model format "${String(declared)}"; expected "layers-model" or "graph-model"`);
  }
  if (!topology || typeof topology !== 'object' || topology instanceof ArrayBuffer) {
    throw new Error(`${source}: no "modelTopology" object; expected a TF.js model.json (Layers or Graph model)`);
  }
  const isGraph = Array.isArray(topology.node);
  const isLayers = typeof topology.class_name === 'string' || typeof (topology.model_config as { class_name?: unknown })?.class_name === 'string';
  if (declared === 'graph-model' || (!declared && isGraph)) {
    if (!isGraph) throw new Error(`${source}: format is "graph-model" but modelTopology has no "node" list (a GraphDef)`);
    return 'graph';
  }
  if (declared === 'layers-model' || (!declared && isLayers)) {
    if (!isLayers) throw new Error(`${source}: format is "layers-model" but modelTopology has no Keras "class_name"/"model_config"`);
    return 'layers';
  }
  throw new Error(`${source}: unknown TF.js model format: modelTopology is neither a Keras model config nor a GraphDef`);
}

function specBytes(w: TfjsWeightSpec, where: string): number {
  if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape)) throw new Error(`${where}: expected { "name", "shape", "dtype" }`);
  const count = w.shape.reduce((a, b) => a * b, 1);
  const q = w.quantization;
  if (q) {
    if (!['uint8', 'uint16', 'float16'].includes(q.dtype)) {
      throw new Error(`${where} '${w.name}': unknown quantization dtype "${q.dtype}"; expected uint8, uint16 or float16`);
    }
    if (q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
      throw new Error(`${where} '${w.name}': ${q.dtype} quantization needs numeric "scale" and "min"`);
    }
    if (q.dtype === 'float16' && w.dtype !== 'float32') throw new Error(`${where} '${w.name}': float16 quantization only applies to float32 weights, not ${w.dtype}`);
    if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`${where} '${w.name}': quantized weights must be float32 or int32, not ${w.dtype}`);
    return count * BYTES[q.dtype]!;
  }
  const size = BYTES[w.dtype];
  if (!size || !DTYPES[w.dtype]) throw new Error(`${where} '${w.name}': unsupported weight dtype "${w.dtype}"; expected float32, int32 or bool`);
  return count * size;
}

function finish(
  format: TfjsFormat,
  source: string,
  json: TfjsArtifacts,
  specs: TfjsWeightSpec[],
  data: Uint8Array,
  field: string,
  files: string[],
): LoadedTfjsModel {
  const need = specs.reduce((n, w, k) => n + specBytes(w, `${source}: ${field}[${k}]`), 0);
  if (need !== data.byteLength) {
    throw new Error(`${source}: the ${specs.length} weights need ${need} bytes, but ${data.byteLength} bytes of weight data were given`);
  }
  const weights = new Map<string, Tensor>();
  const counts: Record<string, number> = {};
  let offset = 0;
  for (const w of specs) {
    const bytes = data.subarray(offset, offset + specBytes(w, source));
    offset += bytes.byteLength;
    if (w.quantization) counts[w.quantization.dtype] = (counts[w.quantization.dtype] ?? 0) + 1;
    weights.set(w.name, decodeWeight(w, bytes));
  }
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  let topology = json.modelTopology as Record<string, unknown>;
  // Keras models converted from .h5 nest the config under model_config.
  if (format === 'layers' && topology.model_config) topology = topology.model_config as Record<string, unknown>;
  return {
    format,
    source,
    topology,
    weights,
    artifacts: {
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
      weightSpecs: specs,
      weightData: buffer,
    },
    quantization: { counts },
    weightBytes: data.byteLength,
    files,
  };
}

/** One weight, dequantized the way TF.js's io.decodeWeights does it (float64 math, stored as float32/int32). */
function decodeWeight(w: TfjsWeightSpec, bytes: Uint8Array): Tensor {
  const dims = [...w.shape];
  const q = w.quantization;
  if (!q) return Tensor.fromBytes(DTYPES[w.dtype]!, dims, bytes, w.name);
  if (q.dtype === 'float16') return Tensor.from('float32', dims, float16ArrayToFloat32(typedView(bytes, Uint16Array)), w.name);
  const quantized = q.dtype === 'uint8' ? bytes : typedView(bytes, Uint16Array);
  const scale = q.scale!;
  const min = q.min!;
  if (w.dtype === 'int32') {
    const out = new Int32Array(quantized.length);
    for (let i = 0; i < quantized.length; i++) out[i] = Math.round(quantized[i]! * scale + min);
    return Tensor.from('int32', dims, out, w.name);
  }
  const out = new Float32Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) out[i] = quantized[i]! * scale + min;
  return Tensor.from('float32', dims, out, w.name);
}

function typedView<T extends Uint16Array>(bytes: Uint8Array, ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
  const n = bytes.byteLength / ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
  const copy = bytes.slice();
  return new ctor(copy.buffer, 0, n);
}
