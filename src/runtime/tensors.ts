import type * as OrtNode from 'onnxruntime-node';
import { Tensor, type DType, type TensorData } from '../ir/index.js';

/** The parts of an onnxruntime module (node or web) this package uses. */
export type OrtModule = Pick<typeof OrtNode, 'InferenceSession' | 'Tensor' | 'env'>;

const ORT_TYPES = new Set<DType>([
  'float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'string', 'int4', 'uint4',
]);

/** Wraps an IR tensor as an onnxruntime tensor of `ort`'s own Tensor class, sharing its buffer. */
export function toOrtTensor(ort: OrtModule, t: Tensor, name = t.name): OrtNode.Tensor {
  if (!ORT_TYPES.has(t.dtype)) throw new Error(`input '${name}': onnxruntime's JavaScript API cannot pass ${t.dtype} tensors`);
  return new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
}

export function fromOrtTensor(t: OrtNode.Tensor, name: string): Tensor {
  const dtype = t.type as DType;
  let data = t.data as TensorData;
  // onnxruntime may hand back a Float16Array where the runtime has one; the IR keeps half floats as bits.
  if (dtype === 'float16' && !(data instanceof Uint16Array)) {
    const d = data as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
    data = new Uint16Array(d.buffer, d.byteOffset, d.length);
  }
  return Tensor.from(dtype, [...t.dims], data, name);
}
