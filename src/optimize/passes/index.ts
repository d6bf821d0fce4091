import type { Pass } from '../pass.js';
import { dedupeInitializers } from './dedupe-initializers.js';
import { eliminateCommonSubexpressions } from './eliminate-common-subexpressions.js';
import { eliminateDeadCode } from './eliminate-dead-code.js';
import { eliminateIdentity } from './eliminate-identity.js';
import { eliminateNoop } from './eliminate-noop.js';
import { eliminateUnusedInputs } from './eliminate-unused-inputs.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldConstants } from './fold-constants.js';
import { foldShapes } from './fold-shapes.js';
import { fuseMatmulAdd } from './fuse-matmul-add.js';
import { fuseReshapes } from './fuse-reshapes.js';
import { fuseTransposes } from './fuse-transposes.js';

/** Every pass, in the order one round of `optimize` runs them. */
export const PASSES: readonly Pass[] = [
  eliminateIdentity,
  eliminateNoop,
  foldConstants,
  foldShapes,
  foldBatchNorm,
  fuseTransposes,
  fuseReshapes,
  dedupeInitializers,
  eliminateCommonSubexpressions,
  fuseMatmulAdd,
  eliminateDeadCode,
  eliminateUnusedInputs,
];

export { foldBatchNorm };
export { cancelTransposes, type TransposeChanges } from './fuse-transposes.js';
