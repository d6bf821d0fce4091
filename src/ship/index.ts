export { ship, agreementOf, type ShipOptions, type ShipResult, type ShipStage } from './ship.js';
export { chooseStrategies, VARIANTS, type Analysis, type Strategy, type VariantName } from './strategies.js';
export { splitData, MIN_EVAL_ROWS, type DataSplit, type DataDescription, type SplitOptions } from './data.js';
export { checkConstraints, selectCandidate, withinNoise, NOISE_MARGIN, OBJECTIVES, type Objective, type Constraints, type ConstraintCheck, type Measured, type Selection } from './select.js';
export { readSource, type ShipSource } from './source.js';
export { packageInterface, type ProcessingOptions } from './spec.js';
export { dockerfile, kserveYaml, serveCommand, serveFlags, HEALTH_PROBE, CONTAINER_PORT, type PackageManifest } from './deploy.js';
