/**
 * Builds the ONNX graph for a converted TF.js model.
 *
 * Every TF tensor becomes a `Value`: its logical (TensorFlow) shape, and the layout (`perm`) its ONNX
 * value physically has. Image ops run channels-first in ONNX, so their outputs are NCHW values of an
 * NHWC logical tensor; layout-agnostic ops (element-wise, reductions, concat, pads…) keep whatever
 * layout they get, and a Transpose is inserted only where an op needs another layout — once per
 * value and layout. A model's interface stays NHWC unless the caller asks for NCHW.
 */
import { Graph, Model, attr, type Attribute, type Dim, type DType, type Tensor } from '../../ir/index.js';
import { VERSION } from '../../version.js';
import { channelsFirst, identity, isIdentity, permBetween, tensorOf, transposeTensor, type Perm } from './tensors.js';

export interface Value {
  /** ONNX value name; unset for a constant not materialized yet. */
  name?: string;
  dtype: DType;
  /** Logical (TensorFlow) shape; undefined when even the rank is unknown. */
  shape?: Dim[];
  /** Physical layout: the ONNX value is transpose(logical, perm). Undefined: as logical. */
  perm?: Perm;
  /** The value, when known at conversion time (logical layout). */
  const?: Tensor;
  /** Name for a constant's initializer, once it is needed. */
  hint?: string;
  /**
   * What a runtime shape vector (or one of its elements, as a scalar) is known to hold: fixed sizes
   * and symbolic dimensions, so a Reshape to Pack(Shape(x)[0], 13) still knows its output shape.
   */
  elements?: Dim[];
}

/** A conversion problem in the source model (unsupported op, bad attribute): a one-line message. */
export class ConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvertError';
  }
}

export class Emitter {
  readonly model: Model;
  readonly graph: Graph;
  readonly opset: number;
  /** Node name prefix: the TF node or Keras layer path being converted. */
  scope = '';
  /** Transposes inserted for layout changes. */
  transposes = 0;
  #layouts = new Map<string, string>();
  #consts = new Map<string, string>();
  #constLayouts = new WeakMap<Tensor, Map<string, string>>();
  #materialized = new WeakMap<Tensor, string>();

  constructor(opset: number, graphName: string) {
    this.opset = opset;
    this.graph = new Graph(graphName);
    this.model = new Model(this.graph);
    this.model.opsetImports = [{ domain: '', version: opset }];
    // The oldest IR version that carries this opset, so older ONNX tools read the model too.
    this.model.irVersion = opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
    this.model.producerName = 'modelship';
    this.model.producerVersion = VERSION;
  }

  /** Adds a node named after the current scope; returns its output value names. */
  node(opType: string, inputs: string[], attributes: Attribute[] = [], outputs = 1, suffix?: string): string[] {
    const base = (suffix ? (this.scope ? `${this.scope}/${suffix}` : suffix) : this.scope) || opType;
    const name = this.graph.uniqueName(base);
    const outs = Array.from({ length: outputs }, (_, k) => this.graph.uniqueName(`${name}:${k}`));
    this.graph.addNode({ opType, name, inputs, outputs: outs, attributes });
    return outs;
  }

  /** One-output node. */
  op(opType: string, inputs: string[], attributes: Attribute[] = [], suffix?: string): string {
    return this.node(opType, inputs, attributes, 1, suffix)[0]!;
  }

  /** Adds an initializer under a fresh name based on `base`. */
  initializer(t: Tensor, base = this.scope || 'const'): string {
    t.name = this.graph.uniqueName(base);
    this.graph.addInitializer(t);
    return t.name;
  }

  /** A small constant (shape vectors, scalars), shared across the graph. */
  constOf(dtype: DType, values: number[], dims: number[] = [values.length]): string {
    const key = `${dtype}[${dims}]${values.join(',')}`;
    let name = this.#consts.get(key);
    if (!name) {
      name = this.initializer(tensorOf(dtype, dims, values), `const_${dtype}`);
      this.#consts.set(key, name);
    }
    return name;
  }

  int64s(values: number[]): string {
    return this.constOf('int64', values);
  }

  scalar(dtype: DType, value: number): string {
    return this.constOf(dtype, [value], []);
  }

  /** The ONNX name of `v` laid out as `perm` (as logical when undefined), transposing once if needed. */
  as(v: Value, perm?: Perm): string {
    const rank = v.shape?.length;
    if (isIdentity(v.perm) && isIdentity(perm)) return this.materialize(v);
    if (rank === undefined) throw new ConvertError(`${this.scope}: needs the rank of its input to change its layout`);
    if (permKey(v.perm, rank) === permKey(perm, rank)) return this.materialize(v);
    if (v.const) {
      let byPerm = this.#constLayouts.get(v.const);
      if (!byPerm) this.#constLayouts.set(v.const, (byPerm = new Map()));
      const key = permKey(perm, rank);
      let name = byPerm.get(key);
      if (!name) {
        const t = transposeTensor(v.const, permBetween(v.perm, perm, rank));
        name = this.initializer(t, `${v.hint ?? v.name ?? this.scope}_t`);
        byPerm.set(key, name);
      }
      return name;
    }
    const src = this.materialize(v);
    const key = `${src}|${permKey(perm, rank)}`;
    let name = this.#layouts.get(key);
    if (!name) {
      const target = isIdentity(perm) ? 'to_logical' : permKey(perm, rank) === channelsFirst(rank).join(',') ? 'to_channels_first' : 'transpose';
      const node = this.graph.uniqueName(`${src.replace(/:\d+$/, '')}/${target}`);
      name = this.graph.uniqueName(`${node}:0`);
      this.graph.addNode({ opType: 'Transpose', name: node, inputs: [src], outputs: [name], attributes: [attr.ints('perm', permBetween(v.perm, perm, rank))] });
      this.transposes++;
      this.#layouts.set(key, name);
    }
    return name;
  }

  /** The value's ONNX name, adding its initializer first if it is a constant not yet in the graph. */
  materialize(v: Value): string {
    if (v.name) return v.name;
    if (!v.const) throw new ConvertError(`${this.scope}: value has neither a name nor a constant`);
    let name = this.#materialized.get(v.const);
    if (!name) {
      name = this.initializer(v.const, v.hint ?? this.scope);
      this.#materialized.set(v.const, name);
    }
    v.name = name;
    return name;
  }

  /** A constant Value (not in the graph until used). */
  constant(t: Tensor, hint?: string): Value {
    return { hint, dtype: t.dtype, shape: [...t.dims], const: t };
  }

  setMetadata(entries: Record<string, string | undefined>): void {
    for (const [k, val] of Object.entries(entries)) if (val) this.model.setMetadata(k, val);
  }
}

function permKey(perm: Perm, rank: number): string {
  return (perm ?? identity(rank)).join(',');
}
