import { dtypeFromCode, getString, isDType, type Dim, type DType, type Node } from '../../ir/index.js';
import type { InferContext } from '../context.js';
import { broadcastShapes } from '../dims.js';
import type { Rule } from './types.js';

/** Output 0 has input 0's type (any kind: Identity passes sequences too). */
export const sameAsInput: Rule = (c) => c.setType(0, c.type(0));

const UNARY = [
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'BitwiseNot', 'Ceil', 'Celu', 'Clip', 'Cos', 'Cosh',
  'CumSum', 'Elu', 'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid', 'HardSwish', 'Hardmax', 'LeakyRelu', 'Log',
  'LogSoftmax', 'LpNormalization', 'LRN', 'MeanVarianceNormalization', 'Mish', 'Reciprocal', 'Relu',
  'ReverseSequence', 'Round', 'Scatter', 'ScatterElements', 'ScatterND', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin',
  'Sinh', 'Softmax', 'Softplus', 'Softsign', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu', 'Trilu', 'InstanceNormalization',
  'GroupNormalization',
];

const TO_BOOL_UNARY = ['IsNaN', 'IsInf', 'Not'];

const BROADCAST_SAME_TYPE = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'Max', 'Min', 'Sum', 'Mean'];

const BROADCAST_TO_BOOL = ['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor'];

/** Broadcast shape of the given inputs; undefined when any rank is unknown. */
export function broadcastInputs(c: InferContext, inputs: number[]): Dim[] | undefined {
  const shapes = inputs.filter((i) => c.has(i)).map((i) => c.shape(i));
  return shapes.every((s): s is Dim[] => s !== undefined) ? broadcastShapes(shapes) : undefined;
}

const allInputs = (c: InferContext) => c.node.inputs.map((_, i) => i);

/** Elementwise arithmetic on known integer contents (shape arithmetic), scalars broadcast. */
function combineValues(c: InferContext, op: (a: number, b: number) => number, identity?: number): Dim[] | undefined {
  if (c.inputCount !== 2 || !c.dtype(0)?.startsWith('int')) return undefined;
  const a = c.value(0);
  const b = c.value(1);
  if (!a || !b || (a.length !== b.length && a.length !== 1 && b.length !== 1)) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length === 1 ? 0 : i]!;
    const y = b[b.length === 1 ? 0 : i]!;
    if (typeof x === 'number' && typeof y === 'number') out.push(op(x, y));
    else if (identity !== undefined && y === identity) out.push(x);
    else out.push(null);
  }
  return out;
}

const VALUE_OPS: Record<string, { op: (a: number, b: number) => number; identity?: number }> = {
  Add: { op: (a, b) => a + b, identity: 0 },
  Sub: { op: (a, b) => a - b, identity: 0 },
  Mul: { op: (a, b) => a * b, identity: 1 },
  // ONNX integer division truncates toward zero, as C does.
  Div: { op: (a, b) => Math.trunc(a / b), identity: 1 },
  Max: { op: (a, b) => Math.max(a, b) },
  Min: { op: (a, b) => Math.min(a, b) },
};

/** Cast's `to`: an ONNX type code (opset 6+) or a type name string (opset 1). */
export function castTarget(node: Node): DType | undefined {
  const a = node.attributes.find((x) => x.name === 'to');
  if (a?.type === 'int') return dtypeFromCode(a.value);
  if (a?.type === 'string') {
    const name = getString(node, 'to', '').toLowerCase();
    const alias: Record<string, DType> = { float: 'float32', double: 'float64', half: 'float16' };
    const d = alias[name] ?? name;
    return isDType(d) ? d : undefined;
  }
  return undefined;
}

export const elementwiseRules: Record<string, Rule> = {
  ...Object.fromEntries(UNARY.map((op) => [op, sameAsInput])),
  ...Object.fromEntries(TO_BOOL_UNARY.map((op) => [op, (c: InferContext) => c.set(0, 'bool', c.shape(0))])),
  ...Object.fromEntries(
    BROADCAST_SAME_TYPE.map((op) => [
      op,
      (c: InferContext) => {
        c.set(0, c.dtype(0), broadcastInputs(c, allInputs(c)));
        const v = VALUE_OPS[op];
        if (v) c.setValue(0, combineValues(c, v.op, v.identity));
      },
    ]),
  ),
  ...Object.fromEntries(BROADCAST_TO_BOOL.map((op) => [op, (c: InferContext) => c.set(0, 'bool', broadcastInputs(c, [0, 1]))])),
  // PRelu's slope broadcasts to X (unidirectionally), so the output is X's shape.
  PRelu: (c) => c.set(0, c.dtype(0), c.shape(0)),
  Where: (c) => c.set(0, c.dtype(1), broadcastInputs(c, [0, 1, 2])),
  Cast: (c) => {
    const to = castTarget(c.node);
    c.set(0, to, c.shape(0));
    if (to === 'int64' || to === 'int32') c.setValue(0, c.value(0));
  },
  CastLike: (c) => c.set(0, c.dtype(1), c.shape(0)),
  Neg: (c) => {
    sameAsInput(c);
    c.setValue(0, c.value(0)?.map((d) => (typeof d === 'number' ? -d : null)));
  },
  Identity: (c) => {
    sameAsInput(c);
    c.setValue(0, c.value(0));
  },
};
