import {
  getInt,
  getInts,
  getString,
  Tensor,
  type Dim,
  type DType,
  type Node,
  type TypeInfo,
} from '../ir/index.js';

/** Largest constant whose integer contents are tracked as a value (shape vectors are short). */
const MAX_TRACKED_ELEMENTS = 64;

/**
 * What inference knows about one graph: value types, constant tensors, and the contents of small
 * integer tensors (shape arithmetic), which may hold symbolic dims (`Shape` of a [batch, 3] value
 * is [batch, 3]). Lookups fall through to the enclosing graph's scope, as ONNX's scoping does.
 */
export class Scope {
  readonly types = new Map<string, TypeInfo>();
  readonly values = new Map<string, Dim[]>();
  readonly tensors = new Map<string, Tensor>();

  constructor(readonly parent?: Scope) {}

  /** The scope that defines `name` (this one, or an enclosing one). */
  #owner(name: string): Scope | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.types.has(name) || s.tensors.has(name) || s.values.has(name)) return s;
    }
    return undefined;
  }

  type(name: string): TypeInfo | undefined {
    return this.#owner(name)?.types.get(name);
  }

  tensor(name: string): Tensor | undefined {
    return this.#owner(name)?.tensors.get(name);
  }

  /** Integer contents of a rank-0/1 value, when known (constants, or propagated shape arithmetic). */
  value(name: string): Dim[] | undefined {
    const owner = this.#owner(name);
    if (!owner) return undefined;
    const v = owner.values.get(name);
    if (v) return v;
    const t = owner.tensors.get(name);
    if (t && t.dims.length <= 1 && t.size <= MAX_TRACKED_ELEMENTS && (t.dtype === 'int64' || t.dtype === 'int32')) {
      const ints = tensorInts(t);
      owner.values.set(name, ints);
      return ints;
    }
    return undefined;
  }
}

/** The elements of an integer tensor as numbers (int64 beyond 2^53 loses precision, as shapes never reach it). */
export function tensorInts(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

const TENSOR_KINDS = new Set(['tensor', 'sparse_tensor']);

/** What one node's inference rule sees: its inputs' types, constants and values; it sets outputs. */
export class InferContext {
  readonly outputTypes: (TypeInfo | undefined)[] = [];
  readonly outputValues: (Dim[] | undefined)[] = [];

  constructor(
    readonly node: Node,
    /** Opset version of the node's domain. */
    readonly opset: number,
    private readonly scope: Scope,
  ) {}

  get inputCount(): number {
    return this.node.inputs.length;
  }

  /** Input `i` is present (not omitted with '' and not past the end). */
  has(i: number): boolean {
    return Boolean(this.node.inputs[i]);
  }

  type(i: number): TypeInfo | undefined {
    const name = this.node.inputs[i];
    return name ? this.scope.type(name) : undefined;
  }

  dtype(i: number): DType | undefined {
    const t = this.type(i);
    return t && TENSOR_KINDS.has(t.kind) ? (t as { dtype: DType }).dtype : undefined;
  }

  /** Shape of tensor input `i`; undefined when its rank is unknown. */
  shape(i: number): Dim[] | undefined {
    const t = this.type(i);
    return t && TENSOR_KINDS.has(t.kind) ? (t as { shape?: Dim[] }).shape : undefined;
  }

  rank(i: number): number | undefined {
    return this.shape(i)?.length;
  }

  /** The constant tensor feeding input `i` (initializer or Constant output), if any. */
  tensor(i: number): Tensor | undefined {
    const name = this.node.inputs[i];
    return name ? this.scope.tensor(name) : undefined;
  }

  /** Known contents of a rank-0/1 integer input (dims may be symbolic). */
  value(i: number): Dim[] | undefined {
    const name = this.node.inputs[i];
    return name ? this.scope.value(name) : undefined;
  }

  /** Contents of a constant rank-0/1 integer input as fixed numbers. */
  ints(i: number): number[] | undefined {
    const v = this.value(i);
    return v && v.every((d): d is number => typeof d === 'number') ? v : undefined;
  }

  /** The number held by a one-element constant input (any numeric dtype). */
  scalar(i: number): number | undefined {
    const t = this.tensor(i);
    if (!t || t.size !== 1 || t.dtype === 'string') return undefined;
    if (t.dtype === 'float16' || t.dtype === 'bfloat16') return t.toFloat32()[0];
    return Number((t.data as ArrayLike<number | bigint>)[0]);
  }

  attrInt(name: string, fallback: number): number {
    return getInt(this.node, name, fallback);
  }

  attrInts(name: string): number[] | undefined {
    return getInts(this.node, name);
  }

  attrString(name: string, fallback: string): string {
    return getString(this.node, name, fallback);
  }

  /** Sets output `i` to a tensor of `dtype` (shape undefined: rank unknown). */
  set(i: number, dtype: DType | undefined, shape?: Dim[]): void {
    if (!dtype || i >= this.node.outputs.length || !this.node.outputs[i]) return;
    this.outputTypes[i] = shape ? { kind: 'tensor', dtype, shape } : { kind: 'tensor', dtype };
  }

  setType(i: number, type: TypeInfo | undefined): void {
    if (type && i < this.node.outputs.length && this.node.outputs[i]) this.outputTypes[i] = type;
  }

  /** Records the integer contents of output `i` (for shape arithmetic downstream). */
  setValue(i: number, value: Dim[] | undefined): void {
    if (value) this.outputValues[i] = value;
  }
}

/** The tensor a Constant node produces, or undefined when it holds something else (sparse, or malformed). */
export function constantNodeTensor(node: Node): Tensor | undefined {
  const a = node.attributes[0];
  if (!a || node.attributes.length !== 1) return undefined;
  switch (a.name) {
    case 'value':
      return a.type === 'tensor' ? a.value : undefined;
    case 'value_float':
      return a.type === 'float' ? Tensor.fromNumbers('float32', [], [a.value]) : undefined;
    case 'value_floats':
      return a.type === 'floats' ? Tensor.fromNumbers('float32', [a.value.length], a.value) : undefined;
    case 'value_int':
      return a.type === 'int' ? Tensor.fromNumbers('int64', [], [a.value]) : undefined;
    case 'value_ints':
      return a.type === 'ints' ? Tensor.fromNumbers('int64', [a.value.length], a.value) : undefined;
    case 'value_string':
      return a.type === 'string' ? Tensor.fromStringBytes([], [a.value]) : undefined;
    case 'value_strings':
      return a.type === 'strings' ? Tensor.fromStringBytes([a.value.length], a.value) : undefined;
    default:
      return undefined;
  }
}
