'use strict';
// The fallback transport: the backend interface of the native addon (compileProfile, submit,
// abort, setCompletionSink, configure, closeIdle, versions, stats, halt) on undici, for wherever
// the native binary cannot load. Requests beyond the in-flight cap wait here in order; completions
// reach the sink in batches, once per turn of the event loop, never inside submit().
const { invalid } = require('../errors');
const { version } = require('../../package.json');
const { version: undiciVersion } = require('undici/package.json');
const { compileProfile, requestHeaders, isProfile, linesOf } = require('./profile');
const { Agents } = require('./agents');
const { Transfer } = require('./transfer');
const { METHODS, VERBS, FLAGS, MAX_LIMIT, BatchEncoder } = require('../transport/protocol');

const { GET, DELETE, HEAD } = VERBS;
// Set by configure(): lib/transport applies its defaults when it loads, so until then nothing
// starts.
const LIMIT_NAMES = ['maxHostConnections', 'maxTotalConnections', 'maxInFlight'];

const state = {
  sink: null,
  limits: { maxHostConnections: 1, maxTotalConnections: 0, maxInFlight: 0 },
  agents: new Agents(1, 1),
  pending: new Map(), // id -> Transfer, waiting or running
  waiting: [], // FIFO of Transfers not started yet; `head` is the next one
  head: 0,
  running: 0,
  pumping: false,
  submitted: 0,
  settled: 0,
  halted: false,
  // The batch being gathered for the sink.
  batch: new BatchEncoder(),
  handBackScheduled: null,
  lastUrl: '',
  lastTarget: null,
};

// ---- arguments ------------------------------------------------------------------------------

function targetOf(url) {
  if (url === state.lastUrl) return state.lastTarget;
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw invalid(TypeError, 'ERR_INVALID_URL', 'url', 'an absolute http: or https: URL', url, err);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_VALUE', 'url', 'an http: or https: URL', url);
  }
  const https = parsed.protocol === 'https:';
  const host = parsed.hostname;
  const target = {
    origin: parsed.origin,
    path: `${parsed.pathname}${parsed.search}`,
    https,
    host,
    auth: '',
  };
  // libcurl sends the URL's credentials as Basic authentication; undici ignores them.
  if (parsed.username || parsed.password) {
    const decode = (text) => {
      try {
        return decodeURIComponent(text);
      } catch {
        return text; // a stray % stays as written, as libcurl sends it
      }
    };
    const pair = `${decode(parsed.username)}:${decode(parsed.password)}`;
    target.auth = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  state.lastUrl = url;
  state.lastTarget = target;
  return target;
}

// The request body as bytes of its own (the caller may reuse its buffer once submit returns).
function bodyOf(body, verb) {
  if (verb === GET || verb === HEAD || body === undefined) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (ArrayBuffer.isView(body))
    return Buffer.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  throw invalid(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'body',
    'a string, an ArrayBufferView or undefined',
    body,
  );
}

function headersOf(profile, verb, lines, body, auth) {
  const withBody = verb !== GET && verb !== HEAD;
  let headers;
  if (lines !== undefined) {
    headers = requestHeaders(profile, linesOf(lines, 'headers'), body !== null);
  } else if (!withBody) {
    headers = profile.headers.get;
  } else {
    headers = verb === DELETE && body === null ? profile.headers.bodyless : profile.headers.body;
  }
  const copy = { ...headers };
  if (auth !== '' && !Object.keys(copy).some((name) => name.toLowerCase() === 'authorization'))
    copy.Authorization = auth;
  return copy;
}

// ---- the queue ----------------------------------------------------------------------------------

const inFlightCap = () => Math.min(state.limits.maxInFlight, state.limits.maxTotalConnections);

// Starts waiting requests, in order, while there is room. Guarded, so that nothing a request does
// while it starts can start others out of order.
function pump() {
  if (state.pumping || state.halted) return;
  state.pumping = true;
  try {
    while (state.running < inFlightCap() && state.head < state.waiting.length) {
      const transfer = state.waiting[state.head];
      state.waiting[state.head++] = undefined;
      if (transfer.settled) continue; // aborted while waiting
      state.running += 1;
      transfer.running = true;
      let route;
      try {
        route = state.agents.route(
          transfer.profile,
          transfer.target.https,
          transfer.target.host,
          (transfer.flags & FLAGS.DIRECT) !== 0,
        );
      } catch (err) {
        transfer.onResponseError(null, err);
        continue;
      }
      transfer.start(route.agent, route.viaProxy);
    }
    if (state.head === state.waiting.length) {
      state.waiting = [];
      state.head = 0;
    } else if (state.head > 1024 && state.head * 2 > state.waiting.length) {
      state.waiting = state.waiting.slice(state.head);
      state.head = 0;
    }
  } finally {
    state.pumping = false;
  }
}

function onSettled(transfer, failure) {
  if (state.halted) return;
  state.pending.delete(transfer.id);
  state.settled += 1;
  if (transfer.running) {
    transfer.running = false;
    state.running -= 1;
  }
  transfer.encode(state.batch, failure);
  if (state.handBackScheduled === null) {
    // After this callback has returned: at the end of a response undici frees the connection with
    // a setImmediate of its own, and the next request (a waiting one, or one the sink submits)
    // should find that connection free instead of opening another.
    state.handBackScheduled = true;
    queueMicrotask(scheduleHandBack);
  }
}

function scheduleHandBack() {
  if (state.handBackScheduled === true) state.handBackScheduled = setImmediate(handBack);
}

// Starts what waited for the requests that completed, then tells the sink about them.
function handBack() {
  state.handBackScheduled = null;
  // Connections the completed requests leave idle make room for connects waiting on the bound.
  const { connections } = state.agents;
  if (connections.due()) connections.look();
  pump();
  if (state.batch.count === 0 || state.halted) return;
  // A throwing sink is an uncaught exception, like the native one.
  state.sink(...state.batch.take());
}

// ---- the backend interface ----------------------------------------------------------------------

// The addon's eighth argument (traceSecrets, the headers its trace masks) is not needed here: the
// fallback's trace masks with lib/redact.js itself.
function submit(id, verb, url, body, profile, headers, flags) {
  if (!Number.isSafeInteger(id) || id <= 0)
    throw invalid(RangeError, 'ERR_OUT_OF_RANGE', 'id', 'a positive integer', id);
  if (state.pending.has(id))
    throw invalid(RangeError, 'ERR_INVALID_ARG_VALUE', 'id', 'an id no pending request has', id);
  if (!Number.isInteger(verb) || verb < 0 || verb >= METHODS.length) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      'verb',
      `an integer from 0 to ${METHODS.length - 1}`,
      verb,
    );
  }
  if (typeof url !== 'string' || url === '')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'url', 'a URL string', url);
  if (!isProfile(profile))
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'profile',
      'a profile from compileProfile()',
      profile,
    );
  const allFlags = FLAGS.RESPONSE | FLAGS.BINARY | FLAGS.DIRECT;
  if (!Number.isInteger(flags) || flags < 0 || flags > allFlags) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      'flags',
      `an integer from 0 to ${allFlags}`,
      flags,
    );
  }
  if (state.sink === null) {
    const err = new Error('submit() needs setCompletionSink() first');
    err.code = 'ERR_INVALID_STATE';
    throw err;
  }
  const target = targetOf(url);
  const bytes = bodyOf(body, verb);
  const transfer = new Transfer(
    id,
    verb,
    target,
    bytes,
    profile,
    headersOf(profile, verb, headers, bytes, target.auth),
    flags,
    onSettled,
  );
  state.pending.set(id, transfer);
  state.submitted += 1;
  // After halt() nothing starts: the request is abandoned with the rest, as the native pump does.
  state.waiting.push(transfer);
  pump();
  return bytes === null ? 0 : bytes.length;
}

function abort(id) {
  const transfer = state.pending.get(id);
  return transfer === undefined ? false : transfer.abort();
}

function setCompletionSink(fn) {
  if (typeof fn !== 'function')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'sink', 'a function', fn);
  state.sink = fn;
}

function configure(limits) {
  if (limits === null || typeof limits !== 'object') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'limits', 'an object', limits);
  }
  const next = {};
  for (const key of LIMIT_NAMES) {
    const value = limits[key];
    if (typeof value !== 'number')
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', `limits.${key}`, 'an integer', value);
    if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
      throw invalid(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `limits.${key}`,
        `an integer from 1 to ${MAX_LIMIT}`,
        value,
      );
    }
    next[key] = value;
  }
  state.limits = next;
  state.agents.setLimits(next.maxHostConnections, next.maxTotalConnections);
  pump();
}

const backend = {
  kind: 'fallback',
  // Set by the loader (lib/binding.js): why this transport and not the native one.
  reason: undefined,
  compileProfile,
  submit,
  abort,
  setCompletionSink,
  configure,
  versions() {
    return {
      addon: version,
      transport: 'fallback',
      reason: backend.reason === undefined ? null : backend.reason,
      undici: undiciVersion,
      libcurl: null,
      tls: `OpenSSL/${process.versions.openssl}`,
      nghttp2: process.versions.nghttp2 || null,
      zlib: process.versions.zlib || null,
      http2: true,
      asyncDns: true,
      caFile: null,
      caPath: null,
    };
  },
  stats() {
    return {
      submitted: state.submitted,
      settled: state.settled,
      pending: state.pending.size,
      pumpRuns: 0,
      batches: state.settled, // each response settles on its own
      wakeups: 0, // responses arrive as the loop's own I/O
      buffersReused: 0,
      bufferBytesKept: 0,
      rings: 0,
      pumpRunning: false,
      transport: 'fallback',
    };
  },
  // Every idle connection closes now; those in use once their requests end, unless a request that
  // comes later uses them (a dispatcher's close() leaves no connection behind; whoever sends next
  // connects again).
  closeIdle() {
    if (!state.halted) state.agents.connections.closeIdle();
  },
  // Process exit: everything pending is abandoned now; no completion is delivered after this.
  halt() {
    state.halted = true;
    if (state.handBackScheduled !== null && state.handBackScheduled !== true)
      clearImmediate(state.handBackScheduled);
    state.handBackScheduled = null;
    for (const transfer of state.pending.values()) transfer.halt();
    state.pending.clear();
    state.waiting = [];
    state.head = 0;
    state.agents.destroy();
  },
};

module.exports = backend;
