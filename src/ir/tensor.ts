import { DTYPE_INFO, type DType, type TypedArray, byteSize, storageLength } from './dtype.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from './float16.js';

export type TensorData = TypedArray | string[];

/** Where a tensor's bytes were read from, kept so a re-save can put them back in the same place. */
export interface ExternalDataInfo {
  location: string;
  offset: number;
  length: number;
  checksum?: string;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * A constant tensor (initializer, attribute value, test input/output).
 *
 * Storage is lazy: a tensor loaded from a file keeps `bytes` as a view into the file buffer and only
 * builds the typed array on first use of `data` — a view too when the bytes are aligned, one copy
 * otherwise. Once `data` exists it is the single source of truth and `bytes` is a view of it, so
 * in-place edits of `data` are always what gets saved.
 */
export class Tensor {
  name: string;
  readonly dtype: DType;
  dims: number[];
  docString = '';
  /** Set when the bytes came from an external data file. */
  external?: ExternalDataInfo;
  metadataProps?: { key: string; value: string }[];

  #bytes?: Uint8Array;
  #data?: TensorData;
  #strings?: Uint8Array[];

  private constructor(dtype: DType, dims: number[], name: string) {
    if (!DTYPE_INFO[dtype]) throw new Error(`unknown dtype '${dtype}'`);
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor '${name}': invalid dimension ${d} in [${dims}]`);
    }
    this.dtype = dtype;
    this.dims = dims;
    this.name = name;
  }

  /** Wraps little-endian bytes (kept as a view, not copied). */
  static fromBytes(dtype: DType, dims: number[], bytes: Uint8Array, name = ''): Tensor {
    const t = new Tensor(dtype, dims, name);
    if (dtype === 'string') throw new Error(`tensor '${name}': string tensors cannot be built from raw bytes`);
    const expected = byteSize(dtype, elementCount(dims));
    if (bytes.byteLength !== expected) {
      throw new Error(
        `tensor '${name}': ${dtype}[${dims.join(',')}] needs ${expected} bytes of data, got ${bytes.byteLength}`,
      );
    }
    t.#bytes = bytes;
    return t;
  }

  /** Wraps a typed array (or string list for string tensors) without copying it. */
  static from(dtype: DType, dims: number[], data: TensorData, name = ''): Tensor {
    const t = new Tensor(dtype, dims, name);
    const count = elementCount(dims);
    if (dtype === 'string') {
      if (!Array.isArray(data)) throw new Error(`tensor '${name}': string tensor needs a string[]`);
      if (data.length !== count) throw new Error(`tensor '${name}': ${data.length} strings for shape [${dims}]`);
    } else {
      const ctor = DTYPE_INFO[dtype].array!;
      if (!(data instanceof ctor)) {
        throw new Error(`tensor '${name}': ${dtype} needs a ${ctor.name}, got ${data.constructor.name}`);
      }
      const want = storageLength(dtype, count);
      if (data.length !== want) {
        throw new Error(`tensor '${name}': ${dtype}[${dims.join(',')}] needs ${want} elements, got ${data.length}`);
      }
    }
    t.#data = data;
    return t;
  }

  /** String tensor from raw byte strings (kept as given, so non-UTF-8 bytes survive a round trip). */
  static fromStringBytes(dims: number[], strings: Uint8Array[], name = ''): Tensor {
    const t = new Tensor('string', dims, name);
    if (strings.length !== elementCount(dims)) {
      throw new Error(`tensor '${name}': ${strings.length} strings for shape [${dims}]`);
    }
    t.#strings = strings;
    return t;
  }

  /** A scalar or 1-D tensor from plain numbers, converted to `dtype`. */
  static fromNumbers(dtype: DType, dims: number[], values: ArrayLike<number | bigint>, name = ''): Tensor {
    const ctor = DTYPE_INFO[dtype].array;
    if (!ctor || DTYPE_INFO[dtype].perByte > 1 || DTYPE_INFO[dtype].lanes > 1 || dtype === 'float16' || dtype === 'bfloat16') {
      throw new Error(`Tensor.fromNumbers does not build ${dtype} tensors`);
    }
    const arr = new ctor(values.length);
    const big = arr instanceof BigInt64Array || arr instanceof BigUint64Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      (arr as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
    }
    return Tensor.from(dtype, dims, arr, name);
  }

  /** A float tensor (float32/64, float16, bfloat16) from numbers, each rounded once to `dtype`. */
  static fromFloats(dtype: DType, dims: number[], values: ArrayLike<number>, name = ''): Tensor {
    switch (dtype) {
      case 'float64':
        return Tensor.from(dtype, dims, values instanceof Float64Array ? values : Float64Array.from(values), name);
      case 'float32':
        return Tensor.from(dtype, dims, Float32Array.from(values), name);
      case 'float16':
        return Tensor.from(dtype, dims, Uint16Array.from(values, float32ToFloat16Bits), name);
      case 'bfloat16':
        return Tensor.from(dtype, dims, Uint16Array.from(values, float32ToBfloat16Bits), name);
      default:
        throw new Error(`tensor '${name}': ${dtype} is not a float type`);
    }
  }

  get size(): number {
    return elementCount(this.dims);
  }

  get byteLength(): number {
    if (this.dtype === 'string') return this.strings.reduce((n, s) => n + s.byteLength, 0);
    return byteSize(this.dtype, this.size);
  }

  /** Little-endian element bytes (a view; never a copy). */
  get bytes(): Uint8Array {
    if (this.dtype === 'string') throw new Error(`tensor '${this.name}': string tensors have no raw bytes`);
    if (this.#data) {
      const d = this.#data as TypedArray;
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    }
    return this.#bytes!;
  }

  /** Elements as a typed array: a view of the bytes when aligned, else one cached copy. */
  get data(): TensorData {
    if (this.#data) return this.#data;
    if (this.dtype === 'string') {
      this.#data = this.#strings!.map((s) => textDecoder.decode(s));
      return this.#data;
    }
    const ctor = DTYPE_INFO[this.dtype].array!;
    const bytes = this.#bytes!;
    const len = storageLength(this.dtype, this.size);
    if (bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0) {
      this.#data = new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, len);
    } else {
      const copy = new ctor(len);
      new Uint8Array(copy.buffer).set(bytes);
      this.#data = copy;
    }
    this.#bytes = undefined;
    return this.#data;
  }

  /** String elements as bytes (UTF-8 encoded if the tensor was built from strings). */
  get strings(): Uint8Array[] {
    if (this.dtype !== 'string') throw new Error(`tensor '${this.name}' is ${this.dtype}, not string`);
    if (this.#strings && !this.#data) return this.#strings;
    return (this.#data as string[]).map((s) => textEncoder.encode(s));
  }

  /** Elements converted to float32 (float16/bfloat16 decoded; integers and bools cast). */
  toFloat32(): Float32Array {
    const d = this.data;
    if (d instanceof Float32Array && this.dtype === 'float32') return d;
    if (Array.isArray(d)) throw new Error(`tensor '${this.name}': string tensor has no numeric value`);
    const n = this.size;
    const out = new Float32Array(n);
    if (this.dtype === 'float16') for (let i = 0; i < n; i++) out[i] = float16BitsToFloat32(d[i] as number);
    else if (this.dtype === 'bfloat16') for (let i = 0; i < n; i++) out[i] = bfloat16BitsToFloat32(d[i] as number);
    else if (DTYPE_INFO[this.dtype].perByte > 1 || DTYPE_INFO[this.dtype].lanes > 1 || this.dtype.startsWith('float8')) {
      throw new Error(`tensor '${this.name}': ${this.dtype} → float32 is not supported`);
    } else for (let i = 0; i < n; i++) out[i] = Number(d[i]);
    return out;
  }

  /** A deep copy with its own buffer. */
  clone(name = this.name): Tensor {
    let t: Tensor;
    if (this.dtype === 'string') t = Tensor.fromStringBytes([...this.dims], this.strings.map((s) => s.slice()), name);
    else t = Tensor.fromBytes(this.dtype, [...this.dims], this.bytes.slice(), name);
    t.docString = this.docString;
    return t;
  }

  toString(): string {
    return `Tensor(${this.name || '<unnamed>'}: ${this.dtype}[${this.dims.join(',')}])`;
  }
}
