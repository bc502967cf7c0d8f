'use strict';
// The contract suites run on both transports: `describe.each(TRANSPORTS)('%s transport', (kind) =>
// { const ned = load(kind); … })`. Each is the public entry point loaded in a module registry of
// its own with NATIVE_EVENT_DISPATCHER_TRANSPORT set to it (the variable users set), whatever the
// variable is outside (npm run test:fallback sets it for the whole run).
const TRANSPORTS = ['native', 'fallback'];

const VARIABLE = 'NATIVE_EVENT_DISPATCHER_TRANSPORT';

function load(kind) {
  if (!TRANSPORTS.includes(kind)) throw new Error(`no transport "${kind}"`);
  const saved = process.env[VARIABLE];
  process.env[VARIABLE] = kind;
  let ned;
  try {
    jest.isolateModules(() => {
      ned = require('../..');
    });
  } finally {
    if (saved === undefined) delete process.env[VARIABLE]; else process.env[VARIABLE] = saved;
  }
  const loaded = ned.versions().transport;
  if (loaded !== kind) throw new Error(`asked for the ${kind} transport, loaded ${loaded}`);
  return ned;
}

// One value for each transport, where they are documented to differ (README, "The fallback
// transport"): per({ native: 7, fallback: 7 }) reads better than a ternary in an expect.
const per = (kind, values) => {
  if (!(kind in values)) throw new Error(`no expectation for the ${kind} transport`);
  return values[kind];
};

module.exports = { TRANSPORTS, load, per };
