// ESM entry: the same objects as the CommonJS entry (one addon load, one pump per environment).
import native from './index.js';

export const {
  createDispatcher,
  Dispatcher,
  closeOptimizely,
  dispatchEvent,
  setConnectionLimits,
  versions,
  pumpStats,
  DispatchError,
  createFetch,
  createSentryTransport,
  createOtlpTransport,
  createAmplitudeTransport,
  instrumentDispatcher,
} = native;
export default native;
