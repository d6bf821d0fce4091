import type { InferContext } from '../context.js';

/** Infers one operator's output types (and integer contents) from what its context knows. */
export type Rule = (ctx: InferContext) => void;
