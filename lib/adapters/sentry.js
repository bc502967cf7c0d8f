'use strict';
// Sentry (@sentry/node): a transport whose requests go through the pump.
//   Sentry.init({ dsn, transport: createSentryTransport(Sentry.createTransport, options) })
// The SDK's createTransport keeps its buffer, its rate limiting and its client reports; this file
// only makes the request: makeRequest({ body }) → { statusCode, headers: { 'x-sentry-rate-limits',
// 'retry-after' } }, which is what the SDK's rate limiting reads. The SDK never retries (a failed
// envelope is dropped and counted), so neither do we — unless a dispatcher is given (below).
const { promisify } = require('node:util');
const zlib = require('node:zlib');
const { createFetch } = require('../fetch');
const { invalid, isPlainObject } = require('../errors');
const { checkAdapterOptions, handOver } = require('./durable');
const { checkDispatcher } = require('../errors');

// As @sentry/node's own transport: envelopes over 32 KiB go gzip-compressed (here on zlib's
// threads, not the main one).
const GZIP_THRESHOLD = 32 * 1024;
const gzip = promisify(zlib.gzip);

function bytesOf(body) {
  return typeof body === 'string' ? Buffer.from(body) : body;
}

// Sends each envelope and reports the answer's status and rate-limit headers.
function fetchExecutor(fetch, transportOptions) {
  const { url } = transportOptions;
  const headers = { ...(transportOptions.headers || {}) };
  return async function makeRequest(request) {
    let body = bytesOf(request.body);
    let sent = headers;
    if (body.length > GZIP_THRESHOLD) {
      body = await gzip(body);
      sent = { ...headers, 'content-encoding': 'gzip' };
    }
    const response = await fetch(url, { method: 'POST', headers: sent, body });
    return {
      statusCode: response.status,
      headers: {
        'retry-after': response.headers.get('retry-after'),
        'x-sentry-rate-limits': response.headers.get('x-sentry-rate-limits'),
      },
    };
  };
}

// Durable: each envelope goes to the dispatcher, which retries it (Sentry's own transport drops
// it) and journals it when it has a spool. The SDK hears {} — no status, no rate limits — once the
// dispatcher holds it; 429s and Retry-After pause the dispatcher's sending to that origin instead.
function dispatcherExecutor(dispatcher, transportOptions) {
  const { url } = transportOptions;
  // A spooled event keeps its URL and body only; headers are the dispatcher's, for every event.
  // The SDK's own User-Agent is informational: the dispatcher's userAgent goes instead.
  const own = Object.keys(transportOptions.headers || {}).filter(
    (name) => name.toLowerCase() !== 'user-agent',
  );
  if (own.length > 0) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `Sentry's transportOptions.headers[${JSON.stringify(own[0])}]`,
      'no header but User-Agent with a dispatcher (give them to createDispatcher({ headers }))',
      transportOptions.headers[own[0]],
    );
  }
  return async function makeRequest(request) {
    await handOver(dispatcher, 'POST', url, request.body);
    return {};
  };
}

// createSentryTransport(createTransport, { dispatcher } | fetch options) → Sentry's `transport`.
function createSentryTransport(createTransport, options) {
  if (typeof createTransport !== 'function') {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'createTransport',
      "Sentry's createTransport (from @sentry/node or @sentry/core)",
      createTransport,
    );
  }
  if (options !== undefined && options !== null && !isPlainObject(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  checkAdapterOptions(options || {}, ['dispatcher'], ['dispatcher']);
  const { dispatcher, ...fetchOptions } = options || {};
  if (dispatcher !== undefined) {
    checkDispatcher(dispatcher, 'options.dispatcher', ['send']);
    return (transportOptions) =>
      createTransport(transportOptions, dispatcherExecutor(dispatcher, transportOptions));
  }
  const fetch = createFetch(fetchOptions);
  return (transportOptions) =>
    createTransport(transportOptions, fetchExecutor(fetch, transportOptions));
}

module.exports = { createSentryTransport };
