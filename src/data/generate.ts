/**
 * Seeded synthetic inputs that a model can actually take: dtype and shape from the model, symbolic
 * dimensions bound once per name, token ids within the vocabulary of the embedding they index (also a
 * quantized one), attention masks of 0/1 shaped like padding, position ids counting up, image-like
 * tensors in [0, 1).
 */
import { Tensor, type Dim, type DType, type Graph, type Model } from '../ir/index.js';

/** Small, fast, seedable PRNG (mulberry32). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform generator (Box-Muller). */
export function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export interface InputSpec {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface GenerateOptions {
  seed?: number;
  /** Size for symbolic dimensions that look like a batch (first axis), default 1. */
  batch?: number;
  /** Sizes for named symbolic dimensions (e.g. { seq: 32 }); others default to `defaultDim`. */
  dims?: Record<string, number>;
  /** Size for unnamed or unlisted dynamic dimensions (default 8). */
  defaultDim?: number;
}

export interface ValueRange {
  /** 'mask': each row (last axis) is ones then zeros, at least one 1; 'position': 0, 1, 2… along the last axis. */
  kind: 'index' | 'mask' | 'position' | 'image' | 'normal';
  /** For 'index': ids are drawn from [0, max). */
  max?: number;
}

/**
 * How values of each integer/float input should be drawn, read from the graph: an input that
 * indexes a Gather over a constant table gets ids below the table's first dimension.
 */
export function inferInputRanges(graph: Graph): Map<string, ValueRange> {
  const out = new Map<string, ValueRange>();
  for (const input of graph.inputs) {
    const type = input.type;
    if (type?.kind !== 'tensor') continue;
    const lower = input.name.toLowerCase();
    const vocab = indexedTableSize(graph, input.name);
    if (lower.includes('mask')) out.set(input.name, { kind: 'mask' });
    else if (type.dtype.startsWith('int') || type.dtype.startsWith('uint')) {
      if (lower.includes('position')) out.set(input.name, { kind: 'position' });
      else if (vocab !== undefined) out.set(input.name, { kind: 'index', max: vocab });
      else if (lower.includes('type') || lower.includes('segment')) out.set(input.name, { kind: 'index', max: 2 });
      else out.set(input.name, { kind: 'index', max: 10 });
    } else if (vocab !== undefined) {
      out.set(input.name, { kind: 'index', max: vocab });
    } else if (type.shape?.length === 4 || /image|pixel|img/.test(lower)) {
      out.set(input.name, { kind: 'image' });
    } else out.set(input.name, { kind: 'normal' });
  }
  return out;
}

/** Follows `name` through shape-preserving casts to a Gather (or Embedding-like) over a constant table. */
function indexedTableSize(graph: Graph, name: string, depth = 0): number | undefined {
  if (depth > 4) return undefined;
  let best: number | undefined;
  for (const n of graph.consumers(name)) {
    let size: number | undefined;
    if (n.opType === 'Gather' && n.inputs[1] === name) {
      size = constantRows(graph, n.inputs[0]!);
    } else if (['Cast', 'Unsqueeze', 'Reshape', 'Squeeze', 'Flatten', 'Identity'].includes(n.opType) && n.inputs[0] === name) {
      size = indexedTableSize(graph, n.outputs[0]!, depth + 1);
    }
    if (size !== undefined) best = best === undefined ? size : Math.min(best, size);
  }
  return best;
}

/** First dimension of a constant table, also when it is dequantized or cast from the stored one. */
function constantRows(graph: Graph, name: string): number | undefined {
  const table = graph.initializers.get(name);
  if (table) return table.dims[0];
  const p = graph.producer(name);
  if (p && ['DequantizeLinear', 'Cast', 'Identity'].includes(p.opType)) return constantRows(graph, p.inputs[0]!);
  return undefined;
}

/** Binds every dimension of every input to a concrete size. */
export function resolveShapes(specs: InputSpec[], opts: GenerateOptions = {}): Map<string, number[]> {
  const bound = new Map<string, number>(Object.entries(opts.dims ?? {}));
  const out = new Map<string, number[]>();
  for (const s of specs) {
    out.set(
      s.name,
      s.shape.map((d, axis) => {
        if (typeof d === 'number' && d >= 0) return d;
        if (typeof d === 'string') {
          if (!bound.has(d)) bound.set(d, axis === 0 ? (opts.batch ?? 1) : (opts.defaultDim ?? 8));
          return bound.get(d)!;
        }
        return axis === 0 ? (opts.batch ?? 1) : (opts.defaultDim ?? 8);
      }),
    );
  }
  return out;
}

export function generateTensor(spec: InputSpec, dims: number[], range: ValueRange, rng: () => number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const floats = new Float64Array(n);
  const rowLength = dims.length ? dims[dims.length - 1]! : 1;
  if (range.kind === 'mask') {
    // Padding-like: a random number (≥ 1) of leading ones per row, so no row is fully masked out.
    for (let start = 0; start < n; start += rowLength) {
      const ones = 1 + Math.floor(rng() * rowLength);
      floats.fill(1, start, start + ones);
    }
  } else {
    for (let i = 0; i < n; i++) {
      switch (range.kind) {
        case 'index':
          floats[i] = Math.floor(rng() * (range.max ?? 10));
          break;
        case 'position':
          floats[i] = i % rowLength;
          break;
        case 'image':
          floats[i] = rng();
          break;
        default:
          floats[i] = spec.dtype === 'bool' ? (rng() < 0.5 ? 1 : 0) : normal(rng);
      }
    }
  }
  return fromFloats(spec.dtype, dims, floats, spec.name);
}

function fromFloats(dtype: DType, dims: number[], v: Float64Array, name: string): Tensor {
  switch (dtype) {
    case 'float32':
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return Tensor.fromFloats(dtype, dims, v, name);
    case 'bool':
      return Tensor.from(dtype, dims, Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0)), name);
    case 'string':
      return Tensor.from(dtype, dims, Array.from(v, (x) => `s${Math.abs(Math.round(x * 10))}`), name);
    case 'int64':
      return Tensor.from(dtype, dims, BigInt64Array.from(v, (x) => BigInt(Math.round(x))), name);
    case 'uint64':
      return Tensor.from(dtype, dims, BigUint64Array.from(v, (x) => BigInt(Math.abs(Math.round(x)))), name);
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
      return Tensor.fromNumbers(dtype, dims, Array.from(v, (x) => Math.round(x)), name);
    default:
      throw new Error(`input '${name}': cannot generate ${dtype} data`);
  }
}

/** Tensor specs of a model's real (non-initializer) inputs. Non-tensor inputs are an error. */
export function inputSpecs(model: Model): InputSpec[] {
  const g = model.graph;
  return g.inputs
    .filter((v) => !g.initializers.has(v.name))
    .map((v) => {
      if (v.type?.kind !== 'tensor') throw new Error(`input '${v.name}' is not a tensor; cannot generate data for it`);
      return { name: v.name, dtype: v.type.dtype, shape: v.type.shape ?? [] };
    });
}

/** One seeded set of inputs for `model`. */
export function generateInputs(model: Model, opts: GenerateOptions = {}): Record<string, Tensor> {
  const specs = inputSpecs(model);
  const shapes = resolveShapes(specs, opts);
  const ranges = inferInputRanges(model.graph);
  const rng = createRng(opts.seed ?? 0);
  const feeds: Record<string, Tensor> = {};
  for (const s of specs) feeds[s.name] = generateTensor(s, shapes.get(s.name)!, ranges.get(s.name) ?? { kind: 'normal' }, rng);
  return feeds;
}

