export { bufferedLogDestination, createServer, resolveOptions } from './server.js';
export type { ServeOptions, ServeContext } from './context.js';
export { discoverModels, type ServedModelSource } from './repository.js';
export { V2_DATATYPES, type V2Datatype, type WireTensor } from './datatypes.js';
export { HttpError } from './errors.js';
