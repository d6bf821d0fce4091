/**
 * ONNX element types. Names follow onnxruntime's JS API where it has one (float32, int64, bool…),
 * so tensors move between the IR and a session without a lookup table at every call site.
 */
export const DTYPE_CODES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
  float8e8m0: 24,
  uint2: 25,
  int2: 26,
} as const;

export type DType = keyof typeof DTYPE_CODES;

const CODE_TO_DTYPE = new Map<number, DType>(
  Object.entries(DTYPE_CODES).map(([name, code]) => [code, name as DType]),
);

export function dtypeFromCode(code: number): DType {
  const dtype = CODE_TO_DTYPE.get(code);
  if (!dtype) throw new Error(`unknown ONNX data_type ${code}`);
  return dtype;
}

export function dtypeCode(dtype: DType): number {
  return DTYPE_CODES[dtype];
}

export function isDType(name: string): name is DType {
  return Object.prototype.hasOwnProperty.call(DTYPE_CODES, name);
}

/** The typed array that holds a tensor's elements in the IR (bit patterns for types JS lacks). */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Which typed field of TensorProto carries this type when raw_data is not used. */
export type TypedField = 'floatData' | 'int32Data' | 'stringData' | 'int64Data' | 'doubleData' | 'uint64Data';

export interface DTypeInfo {
  /** Bits per element (complex counts both parts). */
  bits: number;
  /** Storage array; sub-byte types are stored packed in a Uint8Array, low nibble first. */
  array: TypedArrayConstructor | null;
  /** Array elements per tensor element (2 for complex, fractional for packed sub-byte types). */
  lanes: number;
  field: TypedField;
  /** Elements packed into one byte for sub-byte types; 1 otherwise. */
  perByte: number;
  isFloat: boolean;
  isInteger: boolean;
  signed: boolean;
}

const info = (
  bits: number,
  array: TypedArrayConstructor | null,
  field: TypedField,
  kind: 'float' | 'int' | 'uint' | 'other',
  lanes = 1,
): DTypeInfo => ({
  bits,
  array,
  lanes,
  field,
  perByte: bits < 8 ? 8 / bits : 1,
  isFloat: kind === 'float',
  isInteger: kind === 'int' || kind === 'uint',
  signed: kind === 'int' || kind === 'float',
});

export const DTYPE_INFO: Record<DType, DTypeInfo> = {
  float32: info(32, Float32Array, 'floatData', 'float'),
  uint8: info(8, Uint8Array, 'int32Data', 'uint'),
  int8: info(8, Int8Array, 'int32Data', 'int'),
  uint16: info(16, Uint16Array, 'int32Data', 'uint'),
  int16: info(16, Int16Array, 'int32Data', 'int'),
  int32: info(32, Int32Array, 'int32Data', 'int'),
  int64: info(64, BigInt64Array, 'int64Data', 'int'),
  string: info(0, null, 'stringData', 'other'),
  bool: info(8, Uint8Array, 'int32Data', 'other'),
  float16: info(16, Uint16Array, 'int32Data', 'float'),
  float64: info(64, Float64Array, 'doubleData', 'float'),
  uint32: info(32, Uint32Array, 'uint64Data', 'uint'),
  uint64: info(64, BigUint64Array, 'uint64Data', 'uint'),
  complex64: info(64, Float32Array, 'floatData', 'other', 2),
  complex128: info(128, Float64Array, 'doubleData', 'other', 2),
  bfloat16: info(16, Uint16Array, 'int32Data', 'float'),
  float8e4m3fn: info(8, Uint8Array, 'int32Data', 'float'),
  float8e4m3fnuz: info(8, Uint8Array, 'int32Data', 'float'),
  float8e5m2: info(8, Uint8Array, 'int32Data', 'float'),
  float8e5m2fnuz: info(8, Uint8Array, 'int32Data', 'float'),
  uint4: info(4, Uint8Array, 'int32Data', 'uint'),
  int4: info(4, Uint8Array, 'int32Data', 'int'),
  float4e2m1: info(4, Uint8Array, 'int32Data', 'float'),
  float8e8m0: info(8, Uint8Array, 'int32Data', 'float'),
  uint2: info(2, Uint8Array, 'int32Data', 'uint'),
  int2: info(2, Uint8Array, 'int32Data', 'int'),
};

/** Bytes needed to store `count` elements of `dtype` (sub-byte types packed, rounded up). */
export function byteSize(dtype: DType, count: number): number {
  const { bits } = DTYPE_INFO[dtype];
  if (dtype === 'string') throw new Error('string tensors have no fixed byte size');
  return Math.ceil((count * bits) / 8);
}

/** Length of the storage array holding `count` elements. */
export function storageLength(dtype: DType, count: number): number {
  const i = DTYPE_INFO[dtype];
  return i.perByte > 1 ? Math.ceil(count / i.perByte) : count * i.lanes;
}
