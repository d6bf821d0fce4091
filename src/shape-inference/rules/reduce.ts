import type { Dim } from '../../ir/index.js';
import type { InferContext } from '../context.js';
import { normalizeAxis } from '../dims.js';
import type { Rule } from './types.js';

const REDUCE_OPS = ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare'];

/** Opset from which a Reduce op takes its axes as an input rather than an attribute. */
const reduceAxesInputFrom = (opType: string): number => (opType === 'ReduceSum' ? 13 : 18);

function reduceRule(c: InferContext): void {
  const shape = c.shape(0);
  const dtype = c.dtype(0);
  const keepDims = c.attrInt('keepdims', 1) === 1;
  const axesInput = c.opset >= reduceAxesInputFrom(c.node.opType);
  let axes: number[] | undefined;
  if (!axesInput) axes = c.attrInts('axes');
  else if (c.has(1)) {
    axes = c.ints(1);
    if (!axes) return c.set(0, dtype, keepDims && shape ? shape.map(() => null) : undefined);
  }
  if (!shape) return c.set(0, dtype);
  if (!axes?.length) {
    if (axesInput && c.attrInt('noop_with_empty_axes', 0) === 1) return c.set(0, dtype, shape);
    return c.set(0, dtype, keepDims ? shape.map(() => 1) : []);
  }
  const reduced = new Set(axes.map((a) => normalizeAxis(a, shape.length)));
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!reduced.has(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  c.set(0, dtype, out);
}

function argRule(c: InferContext): void {
  const shape = c.shape(0);
  if (!shape) return c.set(0, 'int64');
  const axis = normalizeAxis(c.attrInt('axis', 0), shape.length);
  const keepDims = c.attrInt('keepdims', 1) === 1;
  c.set(0, 'int64', shape.flatMap((d, i) => (i !== axis ? [d] : keepDims ? [1] : [])));
}

export const reduceRules: Record<string, Rule> = {
  ...Object.fromEntries(REDUCE_OPS.map((op) => [op, reduceRule])),
  ArgMax: argRule,
  ArgMin: argRule,
};
