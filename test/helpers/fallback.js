'use strict';
// Drives the fallback backend (lib/backend/fallback.js) directly, the way the transport layer does:
// one completion sink, ids chosen here, and a promise per request settled from the sink.
const backend = require('../../lib/backend/fallback');

// lib/transport configures the backend when it loads; driven directly, it is configured here.
backend.configure({ maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 });

const VERBS = { GET: 0, POST: 1, PUT: 2, PATCH: 3, DELETE: 4, HEAD: 5 };

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

backend.setCompletionSink((numbers, details) => {
  if (submitting) completedInsideSubmit = true;
  sinkCalls.push(numbers.length / 4);
  for (let i = 0; i < numbers.length; i += 4) {
    const id = numbers[i];
    const resolve = waiting.get(id);
    waiting.delete(id);
    const index = numbers[i + 3];
    resolve({ id, statusCode: numbers[i + 1], bytesSent: numbers[i + 2], detail: index >= 0 ? details[index] : undefined });
  }
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
  profile,
  submit,
  send,
  sinkCalls,
  completedInsideSubmit: () => completedInsideSubmit,
  RESPONSE: backend.FLAG_RESPONSE,
  BINARY: backend.FLAG_BINARY,
};
