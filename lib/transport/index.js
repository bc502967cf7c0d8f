'use strict';
// dispatchEvent(httpVerb, url, params, options): one request, no retries (the dispatcher adds
// them). Validates on the main thread, hands the request to the backend (the process's pump, or
// the fallback transport), and settles a promise with the response.
const { inspect } = require('node:util');
const { isMainThread } = require('node:worker_threads');
const path = require('node:path');
const backend = require('../binding');
const { invalid, unreadable, isPlainObject } = require('../errors');
const { profileFor, integerIn, unknownOption } = require('./options');
const { prepare } = require('./request');
const completions = require('./completions');
const { MAX_LIMIT } = require('./protocol');
const { version } = require('../../package.json');

// process.exit() joins libuv's threadpool before the process ends; a pump busy with transfers
// would hold that join until their timeouts. Only the main thread's exit is the process's exit
// (a worker's 'exit' is its own, and its environment cleanup lets go of its transfers).
if (isMainThread) process.on('exit', () => backend.halt());

const LIB = path.join(__dirname, '..');

// The response of dispatchEvent. Headers arrive as one raw block and are parsed when first read:
// most callers look at statusCode only.
class DispatchResponse {
  #raw;
  #parsed;

  constructor(statusCode, rawHeaders, body, timings) {
    this.statusCode = statusCode;
    this.body = body;
    if (timings !== undefined) this.timings = timings;
    this.#raw = rawHeaders;
    this.#parsed = undefined;
  }

  // Names in lower case; repeated headers joined with ', ' (as Node's http does).
  get headers() {
    if (this.#parsed === undefined) this.#parsed = parseHeaders(this.#raw);
    return this.#parsed;
  }

  toJSON() {
    return {
      statusCode: this.statusCode,
      headers: this.headers,
      body: this.body,
      ...(this.timings ? { timings: this.timings } : {}),
    };
  }

  [inspect.custom](depth, options, insp) {
    return `DispatchResponse ${insp(this.toJSON(), options)}`;
  }
}

function parseHeaders(raw) {
  const headers = {};
  if (!raw) return headers;
  for (const line of raw.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function timingsOf(list) {
  if (list === undefined) return undefined;
  const [dnsMs, connectMs, tlsMs, firstByteMs, totalMs] = list.map((ms) => (ms >= 0 ? ms : null));
  return { dnsMs, connectMs, tlsMs, firstByteMs, totalMs };
}

// Keeps the caller's frames, drops ours: a DispatchError's stack should point at the application.
function withStack(error, site) {
  const lines = (site ? site.stack : error.stack).split('\n');
  const frames = lines.slice(1).filter((line) => !line.includes(LIB));
  error.stack = [`${error.name}: ${error.message}`, ...frames].join('\n');
  return error;
}

// One dispatchEvent in flight: the completion sink's owner. It keeps what an error names, not the
// request: the body (a fresh string per event, usually) is garbage once the pump has its copy.
class Call {
  constructor(request, profile) {
    this.method = request.method;
    this.display = request.display;
    this.timings = profile.timings;
    this.site = undefined;
    this.resolve = undefined;
    this.promise = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  onTransportResult(_token, statusCode, bytesSent, outcome) {
    this.resolve(outcome);
  }
}

// Async, so that a DispatchError made here carries the frames of the callers awaiting it (V8's
// async stack traces) at no cost to requests that succeed.
async function settle(call) {
  const outcome = await call.promise;
  if (outcome.failure !== undefined) {
    const error = completions.errorOf(outcome.failure, call);
    if (call.timings) error.timings = timingsOf(outcome.timings);
    throw withStack(error, call.site);
  }
  return new DispatchResponse(
    outcome.statusCode,
    outcome.headers,
    outcome.body,
    call.timings ? timingsOf(outcome.timings) : undefined,
  );
}

function dispatchEvent(httpVerb, url, params, options) {
  let call;
  try {
    const profile = profileFor(options);
    const request = prepare(httpVerb, url, params);
    call = new Call(request, profile);
    if (profile.captureStack) {
      // Opt-in: about 2.5 µs per request, so that even a caller that returns the promise
      // without awaiting it is named in the stack of a failure.
      call.site = {};
      Error.captureStackTrace(call.site, dispatchEvent);
    }
    completions.submit(request, profile, call, undefined, completions.RESPONSE);
  } catch (err) {
    return Promise.reject(unreadable(err, 'ERR_INVALID_ARG_VALUE', 'the request'));
  }
  return settle(call);
}

// Connection caps are process-wide (every environment shares the one pump and its connection
// cache); maxInFlight is this environment's share (the main thread, or one worker).
const LIMIT_DEFAULTS = Object.freeze({
  maxConnectionsPerHost: 64,
  maxConnections: 256,
  maxInFlight: 256,
});

function toBackend(limits, initial) {
  return {
    maxHostConnections: limits.maxConnectionsPerHost,
    maxTotalConnections: limits.maxConnections,
    maxInFlight: limits.maxInFlight,
    initial,
  };
}
// This environment starts with the defaults; the process-wide caps only if no environment has
// set them yet (a worker that loads the package does not undo the main thread's choice).
backend.configure(toBackend(LIMIT_DEFAULTS, true));

function setConnectionLimits(limits = {}) {
  if (!isPlainObject(limits)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'limits', 'a plain object', limits);
  }
  for (const key of Object.keys(limits)) {
    if (!Object.hasOwn(LIMIT_DEFAULTS, key))
      throw unknownOption(key, Object.keys(LIMIT_DEFAULTS), { noun: 'limit' });
  }
  const applied = /** @type {{ -readonly [K in keyof LIMIT_DEFAULTS]: number }} */ ({});
  for (const key of Object.keys(LIMIT_DEFAULTS)) {
    applied[key] = integerIn(limits[key] ?? LIMIT_DEFAULTS[key], `limits.${key}`, 1, MAX_LIMIT);
  }
  backend.configure(toBackend(applied, false));
  return applied;
}

// Versions of the package and of what it runs on; `addonBinary` appears only when the loaded
// binary was built from another version of the package.
function versions() {
  const { addon, ...libraries } = backend.versions();
  const out = { addon: version, transport: backend.kind };
  if (backend.reason) out.reason = backend.reason;
  // The binary loaded (a prebuild or a local build); doctor shows it.
  out.binary = backend.binaryPath || null;
  if (addon && addon !== version) out.addonBinary = addon;
  // Node's own OpenSSL: libcurl runs on whichever OpenSSL the process loaded first (on the
  // official Node binaries, Node's bundled one), which is what `tls` reports.
  return { ...out, ...libraries, nodeOpenssl: process.versions.openssl };
}

function pumpStats() {
  return backend.stats();
}

module.exports = { dispatchEvent, setConnectionLimits, versions, pumpStats, DispatchResponse };
