/**
 * onnx-data.proto (SequenceProto, MapProto, OptionalProto): the non-tensor values of ONNX test data.
 * onnx-buf compiles only onnx.proto, so these three messages are described here as a
 * FileDescriptorProto and registered with @bufbuild/protobuf against onnx-buf's own file.
 */
import { create, createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FieldDescriptorProto_Label, FieldDescriptorProto_Type } from '@bufbuild/protobuf/wkt';
import { file_onnx, type TensorProto } from 'onnx-buf';
import { dtypeFromCode, type DType, type Tensor } from '../ir/index.js';
import { decodeTensor, describeDecodeFailure } from './proto.js';

export type DataValue =
  | Tensor
  | { kind: 'sequence'; name: string; values: DataValue[] }
  | { kind: 'map'; name: string; keyType: DType; keys: (bigint | string)[]; values: DataValue[] }
  | { kind: 'optional'; name: string; value?: DataValue };

const { OPTIONAL: OPT, REPEATED: REP } = FieldDescriptorProto_Label;
const { STRING: TYPE_STRING, INT32: TYPE_INT32, INT64: TYPE_INT64, BYTES: TYPE_BYTES, MESSAGE: TYPE_MESSAGE } = FieldDescriptorProto_Type;
const field = (name: string, number: number, label: number, type: number, typeName?: string) => ({
  name,
  number,
  label,
  type,
  ...(typeName ? { typeName } : {}),
});

const fileDescriptor = create(FileDescriptorProtoSchema, {
  name: 'onnx-data.proto',
  package: 'onnx',
  dependency: ['onnx.proto'],
  syntax: 'proto2',
  messageType: [
    {
      name: 'SequenceProto',
      field: [
        field('name', 1, OPT, TYPE_STRING),
        field('elem_type', 2, OPT, TYPE_INT32),
        field('tensor_values', 3, REP, TYPE_MESSAGE, '.onnx.TensorProto'),
        field('sparse_tensor_values', 4, REP, TYPE_MESSAGE, '.onnx.SparseTensorProto'),
        field('sequence_values', 5, REP, TYPE_MESSAGE, '.onnx.SequenceProto'),
        field('map_values', 6, REP, TYPE_MESSAGE, '.onnx.MapProto'),
        field('optional_values', 7, REP, TYPE_MESSAGE, '.onnx.OptionalProto'),
      ],
    },
    {
      name: 'MapProto',
      field: [
        field('name', 1, OPT, TYPE_STRING),
        field('key_type', 2, OPT, TYPE_INT32),
        field('keys', 3, REP, TYPE_INT64),
        field('string_keys', 4, REP, TYPE_BYTES),
        field('values', 5, OPT, TYPE_MESSAGE, '.onnx.SequenceProto'),
      ],
    },
    {
      name: 'OptionalProto',
      field: [
        field('name', 1, OPT, TYPE_STRING),
        field('elem_type', 2, OPT, TYPE_INT32),
        field('tensor_value', 3, OPT, TYPE_MESSAGE, '.onnx.TensorProto'),
        field('sparse_tensor_value', 4, OPT, TYPE_MESSAGE, '.onnx.SparseTensorProto'),
        field('sequence_value', 5, OPT, TYPE_MESSAGE, '.onnx.SequenceProto'),
        field('map_value', 6, OPT, TYPE_MESSAGE, '.onnx.MapProto'),
        field('optional_value', 7, OPT, TYPE_MESSAGE, '.onnx.OptionalProto'),
      ],
    },
  ],
});

let registry: ReturnType<typeof createFileRegistry> | undefined;
function schema(name: 'SequenceProto' | 'MapProto' | 'OptionalProto'): DescMessage {
  registry ??= createFileRegistry(fileDescriptor, (f) => (f === 'onnx.proto' ? file_onnx : undefined));
  return registry.getMessage(`onnx.${name}`)!;
}

/* Decoded messages are read reflectively; these are their shapes. */
interface SequenceMsg {
  name: string;
  elemType: number;
  tensorValues: TensorProto[];
  sequenceValues: SequenceMsg[];
  mapValues: MapMsg[];
  optionalValues: OptionalMsg[];
}
interface MapMsg {
  name: string;
  keyType: number;
  keys: bigint[];
  stringKeys: Uint8Array[];
  values?: SequenceMsg;
}
interface OptionalMsg {
  name: string;
  elemType: number;
  tensorValue?: TensorProto;
  sequenceValue?: SequenceMsg;
  mapValue?: MapMsg;
  optionalValue?: OptionalMsg;
}

const ELEM = { TENSOR: 1, SPARSE_TENSOR: 2, SEQUENCE: 3, MAP: 4, OPTIONAL: 5 };

function fromSequence(m: SequenceMsg): DataValue {
  let values: DataValue[];
  switch (m.elemType) {
    case ELEM.TENSOR:
      values = m.tensorValues.map((t) => decodeTensor(t));
      break;
    case ELEM.SEQUENCE:
      values = m.sequenceValues.map(fromSequence);
      break;
    case ELEM.MAP:
      values = m.mapValues.map(fromMap);
      break;
    case ELEM.OPTIONAL:
      values = m.optionalValues.map(fromOptional);
      break;
    case 0:
      values = [];
      break;
    default:
      throw new Error(`sequence '${m.name}': element type ${m.elemType} is not supported`);
  }
  return { kind: 'sequence', name: m.name, values };
}

function fromMap(m: MapMsg): DataValue {
  const keyType = dtypeFromCode(m.keyType);
  const decoder = new TextDecoder();
  const keys = keyType === 'string' ? m.stringKeys.map((k) => decoder.decode(k)) : m.keys;
  const values = m.values ? (fromSequence(m.values) as { values: DataValue[] }).values : [];
  return { kind: 'map', name: m.name, keyType, keys, values };
}

function fromOptional(m: OptionalMsg): DataValue {
  const inner =
    m.tensorValue ? decodeTensor(m.tensorValue)
    : m.sequenceValue ? fromSequence(m.sequenceValue)
    : m.mapValue ? fromMap(m.mapValue)
    : m.optionalValue ? fromOptional(m.optionalValue)
    : undefined;
  return { kind: 'optional', name: m.name, value: inner };
}

/** Decodes a serialized SequenceProto, MapProto or OptionalProto. */
export function decodeDataValue(bytes: Uint8Array, kind: 'sequence' | 'map' | 'optional', label = 'value'): DataValue {
  const name = kind === 'sequence' ? 'SequenceProto' : kind === 'map' ? 'MapProto' : 'OptionalProto';
  let msg: unknown;
  try {
    msg = fromBinary(schema(name), bytes);
  } catch (e) {
    throw new Error(`${label}: not a serialized ONNX ${name}: ${describeDecodeFailure(e)}`);
  }
  try {
    if (kind === 'sequence') return fromSequence(msg as SequenceMsg);
    if (kind === 'map') return fromMap(msg as MapMsg);
    return fromOptional(msg as OptionalMsg);
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  }
}
