// ESM entry types: the same declarations as the CommonJS entry.
export * from './index.js';
import native from './index.js';
export default native;
