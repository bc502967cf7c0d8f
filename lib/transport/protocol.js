'use strict';
// What lib/, the native addon and the fallback agree on, defined here only: the codes submit()
// takes, the limits every layer checks, and the completion batches' packing. The addon is handed
// these when it loads (setup(), lib/binding.js); the fallback and the tests import them.
const { retryAfterMs } = require('../http-date');

// Request methods by the code submit() takes (the addon's `verbCode`).
const METHODS = Object.freeze(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
const VERBS = Object.freeze(Object.fromEntries(METHODS.map((method, code) => [method, code])));
// The methods an event may have (the SDKs' verbs: dispatchEvent, the dispatcher, the spool's
// lines); fetch() takes all of METHODS.
const EVENT_METHODS = Object.freeze(['GET', 'POST', 'PUT', 'PATCH']);
// submit()'s flags: what the caller wants back besides the status (the response; its body as
// bytes), and DIRECT: no proxy for this request, as lib/ decided from no_proxy
// (lib/transport/no-proxy.js; the backends do not match no_proxy themselves).
const FLAGS = Object.freeze({ RESPONSE: 1, BINARY: 2, DIRECT: 4 });

// The largest number of milliseconds any timeout may be: a timer's (and libcurl's long) limit.
const MAX_MS = 2 ** 31 - 1;
// The largest response body kept (1 GiB): more does not fit a string.
const MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;
// The largest connection and in-flight limit (setConnectionLimits, maxInFlight).
const MAX_LIMIT = 100000;

// ---- responses the package refuses to read --------------------------------------------------
// A response's whole head (status line and headers) is held to MAX_HEAD_BYTES: libcurl bounds one
// line (CURL_MAX_HTTP_HEADER), undici the head (maxHeaderSize); both transports hold the head.
// Such a response, and one RFC 9112 section 6.3 says cannot be delimited, fails as EPROTO with
// these words on either transport.
const MAX_HEAD_BYTES = 100 * 1024;
const UNREADABLE = Object.freeze({
  headTooLarge: `the response's status line and headers are over ${MAX_HEAD_BYTES} bytes`,
  badContentLength: "the response's Content-Length is not one number (RFC 9112, section 6.3)",
  bothFramings:
    'the response has both Transfer-Encoding and Content-Length (RFC 9112, section 6.3)',
});

// ---- completion batches ---------------------------------------------------------------------
// A backend hands results back in batches: sink(numbers, details, headerText, count). `numbers`
// holds STRIDE numbers per completion — [id, statusCode, bytesSent, d] — then the spans. `d` says
// where the rest of the result is:
//   d = -1  nothing more: a plain 2xx answer (the common case costs no object);
//   d ≥ 0   details[d] is a detail object { code, curlCode, message, statusCode, retryAfter,
//           headers, body, truncated, timings } (failures, Retry-After, timings, truncation);
//   d ≤ -2  just the response the caller asked for, as span number -d-2: SPAN numbers at
//           count·STRIDE + SPAN·(-d-2) — [start, end) of its header block in `headerText` (the
//           batch's header blocks end to end) and its body's index in `details`, or -1 when empty.
// The addon may reuse `numbers` for its next batch (and hand a longer array): read it during the
// call only. One encoder writes this in C++ (src/completions.h), one below in JS (the fallback);
// decodeBatch() is the one reader.
const STRIDE = 4;
const SPAN = 3;
const PLAIN = -1;

// The fallback's encoder: the same calls, in the same shape, as src/completions.h's.
class BatchEncoder {
  constructor() {
    this.reset();
  }

  reset() {
    this.numbers = [];
    this.spans = [];
    this.details = [];
    this.headerText = '';
  }

  get count() {
    return this.numbers.length / STRIDE;
  }

  plain(id, statusCode, bytesSent) {
    this.numbers.push(id, statusCode, bytesSent, PLAIN);
  }

  detailed(id, statusCode, bytesSent, detail) {
    this.numbers.push(id, statusCode, bytesSent, this.details.push(detail) - 1);
  }

  // `body`: a string or Buffer, or undefined for none.
  response(id, statusCode, bytesSent, headers, body) {
    const bodyIndex = body === undefined ? -1 : this.details.push(body) - 1;
    this.numbers.push(id, statusCode, bytesSent, -2 - this.spans.length / SPAN);
    const start = this.headerText.length;
    this.headerText += headers;
    this.spans.push(start, this.headerText.length, bodyIndex);
  }

  // The sink's arguments for what was encoded, and a fresh batch.
  take() {
    const count = this.count;
    const numbers = Float64Array.from(
      this.spans.length === 0 ? this.numbers : this.numbers.concat(this.spans),
    );
    const args = [
      numbers,
      this.details.length > 0 ? this.details : undefined,
      this.spans.length > 0 ? this.headerText : undefined,
      count,
    ];
    this.reset();
    return args;
  }
}

// The one reader: visit(id, statusCode, bytesSent, outcome) for each of `count` completions, in
// order. `outcome` is undefined for a plain answer; otherwise { statusCode, retryAfterMs, failure,
// headers, body, truncated, timings }, the Retry-After read here (the one place that reads it),
// `failure`
// ({ code, curlCode, message, statusCode }) set when no complete HTTP response arrived.
function decodeBatch(numbers, details, headerText, count, visit) {
  const end = count * STRIDE;
  for (let i = 0; i < end; i += STRIDE) {
    const statusCode = numbers[i + 1];
    const d = numbers[i + 3];
    visit(
      numbers[i],
      statusCode,
      numbers[i + 2],
      d === PLAIN
        ? undefined
        : d >= 0
          ? outcomeOf(statusCode, details[d])
          : responseOf(statusCode, numbers, end + SPAN * (-d - 2), details, headerText),
    );
  }
}

function outcomeOf(statusCode, detail) {
  return {
    statusCode,
    retryAfterMs: detail.retryAfter === undefined ? undefined : retryAfterMs(detail.retryAfter),
    failure:
      detail.code === undefined
        ? undefined
        : {
            code: detail.code,
            curlCode: detail.curlCode,
            message: detail.message,
            statusCode: detail.statusCode,
          },
    headers: detail.headers,
    body: detail.body,
    truncated: detail.truncated === true,
    timings: detail.timings,
  };
}

// Just a response, from its span at `at`.
function responseOf(statusCode, numbers, at, details, headerText) {
  const body = numbers[at + 2];
  return {
    statusCode,
    retryAfterMs: undefined,
    failure: undefined,
    headers: headerText.slice(numbers[at], numbers[at + 1]),
    body: body < 0 ? '' : details[body],
    truncated: false,
    timings: undefined,
  };
}

// setup()'s argument: what the addon must know of these and of lib/transport/failures.js.
function addonSetup() {
  const { ERROR_CODES, CURL_TEXTS } = require('./failures');
  return {
    methods: METHODS,
    flags: FLAGS,
    maxMs: MAX_MS,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    maxLimit: MAX_LIMIT,
    maxHeadBytes: MAX_HEAD_BYTES,
    unreadable: UNREADABLE,
    batch: { stride: STRIDE, span: SPAN },
    errorCodes: ERROR_CODES,
    curlTexts: CURL_TEXTS,
  };
}

module.exports = {
  addonSetup,
  METHODS,
  VERBS,
  EVENT_METHODS,
  FLAGS,
  MAX_MS,
  MAX_RESPONSE_BYTES,
  MAX_LIMIT,
  MAX_HEAD_BYTES,
  UNREADABLE,
  STRIDE,
  SPAN,
  BatchEncoder,
  decodeBatch,
};
