'use strict';
// OpenTelemetry OTLP over HTTP: an IExporterTransport (@opentelemetry/otlp-exporter-base's
// `send(data, timeoutMillis) → { status: 'success' | 'retryable' | 'failure' }`) on the pump, for
// createOtlpNetworkExportDelegate(). Classified as the SDK's own HTTP transport does: 2xx success;
// 429, 502, 503, 504 retryable with Retry-After; network errors it deems transient retryable; the
// rest failure.
//
// Retries: the SDK wraps only its own HTTP transport in its RetryingTransport, which it does not
// export; a transport given to createOtlpNetworkExportDelegate gets none. So this one retries as
// that wrapper does (up to 5 retries, backoff 1 s × 1.5ⁿ ± 20 % capped at 5 s, Retry-After first,
// never past the export's deadline); `retries: 0` turns that off.
const { createFetch } = require('../fetch');
const { invalid, isPlainObject } = require('../errors');
const { integerIn } = require('../transport/options');
const { targetOf } = require('../transport/request');
const { errorCodes } = require('../transport/failures');
const { retryAfterMs } = require('../http-date');
const { decide } = require('../retry');
const { checkAdapterOptions, handOver } = require('./durable');
const { checkDispatcher } = require('../errors');

// The SDK's RetryingTransport as a retry policy (lib/retry.js decides): 429, 502, 503, 504 and
// the network errors its HTTP transport deems transient are retried; backoff 1 s × 1.5ⁿ ± 20 %
// capped at 5 s; a Retry-After replaces it, uncapped; no origin pauses.
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
// The codes the SDK's HTTP transport retries (http-transport-utils.js), in our vocabulary.
const RETRYABLE_CODES = new Set(
  errorCodes('ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH'),
);
const DEFAULT_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;

function sdkBackoffMs(attempts, random) {
  const backoff = INITIAL_BACKOFF_MS * BACKOFF_MULTIPLIER ** (attempts - 1);
  return Math.max(Math.min(backoff * (1 + (random() * 2 - 1) * JITTER), MAX_BACKOFF_MS), 0);
}

function otlpPolicy(retries) {
  return Object.freeze({
    maxAttempts: retries + 1,
    retryStatuses: RETRYABLE_STATUSES,
    retryCodes: RETRYABLE_CODES,
    pauseStatuses: new Set(),
    backoffMs: sdkBackoffMs,
    retryAfter: 'instead',
    maxRetryAfterMs: Infinity,
  });
}

class OtlpHttpError extends Error {
  constructor(statusCode, data) {
    super(`OTLP export failed with HTTP ${statusCode}`);
    this.name = 'OTLPExporterError';
    this.code = statusCode; // as the SDK's OTLPExporterError
    this.data = data;
  }
}

// The caller's headers (an object, or the SDK's headers factory); OTLP/HTTP needs a content
// type, and the exporter's serializer default is JSON.
async function headersOf(headers) {
  const value = (typeof headers === 'function' ? await headers() : headers) || {};
  if (Object.keys(value).some((name) => name.toLowerCase() === 'content-type')) return value;
  return { ...value, 'Content-Type': 'application/json' };
}

// One attempt through fetch → { response } or { error, code } (the network error, in our
// vocabulary).
async function attempt(fetch, url, headers, data, timeoutMillis) {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: await headersOf(headers),
      body: data,
      signal: AbortSignal.timeout(Math.max(1, timeoutMillis)),
    });
    return { response };
  } catch (error) {
    const code = error.name === 'TimeoutError' ? 'ETIMEDOUT' : error.cause && error.cause.code;
    return { error, code: typeof code === 'string' ? code : 'EUNKNOWN' };
  }
}

// What the exporter hears of the last attempt, as the SDK's transport says it.
async function exportResult({ response, error }, action, retryInMillis) {
  if (!response)
    return /** @type {const} */ ({ status: action === 'fail' ? 'failure' : 'retryable', error });
  if (action === 'deliver') {
    let body;
    try {
      body = new Uint8Array(await response.arrayBuffer());
    } catch {
      body = undefined; // delivered all the same; the SDK reads partial-success details only
    }
    return /** @type {const} */ ({ status: 'success', data: body });
  }
  if (action !== 'fail') return /** @type {const} */ ({ status: 'retryable', retryInMillis });
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the status says enough
  }
  return /** @type {const} */ ({
    status: 'failure',
    error: new OtlpHttpError(response.status, text),
  });
}

const sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

class OtlpFetchTransport {
  constructor(fetch, url, headers, retries) {
    this.fetch = fetch;
    this.url = url;
    this.headers = headers;
    this.policy = otlpPolicy(retries);
  }

  async send(data, timeoutMillis) {
    const deadline = Date.now() + timeoutMillis;
    for (let attempts = 1; ; attempts++) {
      const outcome = await attempt(
        this.fetch,
        this.url,
        this.headers,
        data,
        attempts === 1 ? timeoutMillis : deadline - Date.now(),
      );
      const { response } = outcome;
      const header = response ? response.headers.get('retry-after') : null;
      const retryInMillis = header === null ? undefined : retryAfterMs(header);
      // The export's deadline comes first, as in the SDK.
      const decision = decide(
        {
          statusCode: response ? response.status : 0,
          code: outcome.code,
          retryAfterMs: retryInMillis,
          attempts,
          msLeft: deadline - Date.now(),
          pausedMs: 0,
        },
        this.policy,
      );
      if (decision.action !== 'retry') return exportResult(outcome, decision.action, retryInMillis);
      await sleep(decision.delayMs);
    }
  }

  shutdown() {}
}

// Durable: the dispatcher owns retries and the spool; the exporter hears success once it holds
// the export. Headers are the dispatcher's (createDispatcher({ headers })).
class OtlpDispatcherTransport {
  constructor(dispatcher, url) {
    this.dispatcher = dispatcher;
    this.url = url;
  }

  async send(data) {
    try {
      await handOver(this.dispatcher, 'POST', this.url, data);
    } catch (error) {
      return /** @type {const} */ ({ status: 'failure', error });
    }
    return /** @type {const} */ ({ status: 'success' });
  }

  shutdown() {}
}

// createOtlpTransport({ url, headers?, retries?, dispatcher? | fetch options })
//   → IExporterTransport
function createOtlpTransport(options) {
  if (!isPlainObject(options)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options',
      'a plain object with a url',
      options,
    );
  }
  checkAdapterOptions(options, ['url', 'headers', 'retries', 'dispatcher'], ['url', 'dispatcher']);
  const { url, headers, retries = DEFAULT_RETRIES, dispatcher, ...fetchOptions } = options;
  const target = targetOf(url, 'options.url').href;
  if (dispatcher !== undefined) {
    checkDispatcher(dispatcher, 'options.dispatcher', ['send']);
    return new OtlpDispatcherTransport(dispatcher, target);
  }
  if (headers !== undefined && typeof headers !== 'function' && !isPlainObject(headers)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options.headers',
      'a plain object or a function returning one (a promise of one)',
      headers,
    );
  }
  integerIn(retries, 'options.retries', 0, 100);
  return new OtlpFetchTransport(createFetch(fetchOptions), target, headers, retries);
}

module.exports = { createOtlpTransport, OtlpHttpError };
