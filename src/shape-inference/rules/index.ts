import { elementwiseRules } from './elementwise.js';
import { nnRules } from './nn.js';
import { reduceRules } from './reduce.js';
import { shapeRules } from './shape.js';
import type { Rule } from './types.js';

/** Inference rules of default-domain (ai.onnx) operators, by op type. */
export const RULES: Record<string, Rule> = { ...elementwiseRules, ...shapeRules, ...nnRules, ...reduceRules };

export type { Rule };
