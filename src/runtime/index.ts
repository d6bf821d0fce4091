export {
  createSession,
  loadOrt,
  checkFeeds,
  availableRuntimes,
  requireRuntime,
  sessionOptions,
  type ModelSession,
  type SessionOptions,
  type SessionValue,
  type RuntimeName,
  type ModelLike,
} from './session.js';
export { toOrtTensor, fromOrtTensor, type OrtModule } from './tensors.js';
