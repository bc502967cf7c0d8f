'use strict';
// The contract suites run on both transports: `describe.each(TRANSPORTS)('%s transport', (kind) =>
// { const ned = load(kind); … })`. Each is the public entry point loaded in a module registry of
// its own with NATIVE_EVENT_DISPATCHER_TRANSPORT set to it (the variable users set), whatever the
// variable is outside (npm run test:fallback sets it for the whole run).
const TRANSPORTS = ['native', 'fallback'];

const VARIABLE = 'NATIVE_EVENT_DISPATCHER_TRANSPORT';

// Loaded once a test file and kind: the native addon takes one completion sink a thread, so a
// second copy of lib/ on it would take the first one's completions.
const loaded = new Map();

function load(kind) {
  if (!TRANSPORTS.includes(kind)) throw new Error(`no transport "${kind}"`);
  if (loaded.has(kind)) return loaded.get(kind);
  const saved = process.env[VARIABLE];
  process.env[VARIABLE] = kind;
  let ned;
  try {
    jest.isolateModules(() => {
      ned = require('../..');
    });
  } finally {
    if (saved === undefined) delete process.env[VARIABLE];
    else process.env[VARIABLE] = saved;
  }
  const transport = ned.versions().transport;
  if (transport !== kind) throw new Error(`asked for the ${kind} transport, loaded ${transport}`);
  loaded.set(kind, ned);
  return ned;
}

// The expectation for `kind` where the transports differ (README, "The fallback transport"):
// per(kind, { native: …, fallback: … }), both always given, so that neither is left unchecked.
const per = (kind, values) => {
  if (!(kind in values)) throw new Error(`no expectation for the ${kind} transport`);
  return values[kind];
};

// The native addon itself (the binary node-gyp-build finds), for tests of what it is handed at
// load; null where it cannot load. It is not set up (setup()) by this.
function nativeAddon() {
  try {
    return require(
      require('node-gyp-build').resolve(require('node:path').join(__dirname, '../..')),
    );
  } catch {
    return null;
  }
}

module.exports = { TRANSPORTS, load, per, nativeAddon };
