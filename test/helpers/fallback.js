'use strict';
// Drives the fallback backend (lib/fallback/index.js) directly, the way the transport layer does:
// one completion sink, ids chosen here, and a promise per request settled from the sink.
const backend = require('../../lib/fallback');
const { VERBS, FLAGS, decodeBatch } = require('../../lib/transport/protocol');

// lib/transport configures the backend when it loads; driven directly, it is configured here.
backend.configure({ maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 });

// A complete options object, as the JS layer hands it over.
const PROFILE_DEFAULTS = Object.freeze({
  timeoutMs: 10000,
  connectTimeoutMs: 5000,
  maxResponseBytes: 64 * 1024,
  insecure: false,
  http2: false,
  verbose: false,
  timings: false,
  userAgent: 'native-event-dispatcher/test',
  caFile: '',
  httpProxy: '',
  httpsProxy: '',
  noProxy: '',
  bodyHeaders: ['Content-Type: application/json', 'Expect:'],
  getHeaders: [],
  connectTo: [],
});

const waiting = new Map();
// Completions per sink call, and whether any arrived while submit() was still running.
const sinkCalls = [];
let submitting = false;
let completedInsideSubmit = false;
let nextId = 0;

// The decoder's outcome, flat: the failure's fields beside the rest (undefined ones left out).
function detailOf(outcome) {
  if (outcome === undefined) return undefined;
  const { failure, retryAfterMs, headers, body, truncated, timings } = outcome;
  const detail = {
    ...failure,
    retryAfterMs,
    headers,
    body,
    truncated: truncated || undefined,
    timings,
  };
  for (const key of Object.keys(detail)) if (detail[key] === undefined) delete detail[key];
  return detail;
}

backend.setCompletionSink((numbers, details, headerText, count) => {
  if (submitting) completedInsideSubmit = true;
  sinkCalls.push(count);
  decodeBatch(numbers, details, headerText, count, (id, statusCode, bytesSent, outcome) => {
    const resolve = waiting.get(id);
    waiting.delete(id);
    resolve({ id, statusCode, bytesSent, detail: detailOf(outcome) });
  });
});

function profile(overrides = {}) {
  return backend.compileProfile({ ...PROFILE_DEFAULTS, ...overrides });
}

let defaultProfile;

// submit('POST', url, body, { profile, headers, flags }) -> { id, result: Promise<completion> }
function submit(method, url, body, { profile: p, headers, flags = 0 } = {}) {
  if (p === undefined) p = defaultProfile || (defaultProfile = profile());
  const id = ++nextId;
  const result = new Promise((resolve) => waiting.set(id, resolve));
  submitting = true;
  try {
    backend.submit(id, VERBS[method], url, body, p, headers, flags);
  } finally {
    submitting = false;
  }
  return { id, result };
}

const send = (...args) => submit(...args).result;

module.exports = {
  backend,
  PROFILE_DEFAULTS,
  profile,
  submit,
  send,
  sinkCalls,
  completedInsideSubmit: () => completedInsideSubmit,
  RESPONSE: FLAGS.RESPONSE,
  BINARY: FLAGS.BINARY,
};
