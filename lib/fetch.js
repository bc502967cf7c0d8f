'use strict';
// createFetch(options) → fetch(url, init): the part of WHATWG fetch that event SDKs use (Segment,
// PostHog, Statsig …), sent through the transport — the native pump, or the fallback where the
// addon cannot load. Single shot: no retries here, so each SDK's own retry, backoff, 413 splitting,
// rate-limit handling and per-attempt headers keep working as they do on Node's fetch.
const { STATUS_CODES } = require('node:http');
const { promisify } = require('node:util');
const zlib = require('node:zlib');
const completions = require('./transport/completions');
const { prepareRaw } = require('./transport/request');
const { MAX_RESPONSE_BYTES } = require('./transport/protocol');
const {
  profileFor,
  headerLine,
  unknownOption,
  integerIn,
  traceSecretsOf,
  OPTION_NAMES,
} = require('./transport/options');
const { invalid, isPlainObject } = require('./errors');

// Flag and config downloads are far bigger than an event's answer (the dispatcher keeps 64 KiB).
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
// The transport's options, but the per-call ones a Response has no place for.
const FETCH_OPTIONS = OPTION_NAMES.filter((name) => name !== 'timings' && name !== 'captureStack');
// Framing is ours: libcurl writes Content-Length from the bytes it sends. The Fetch standard lists
// both as forbidden request headers, which a browser drops without a word; so do we.
const FRAMING = new Set(['content-length', 'transfer-encoding']);
const BODILESS = new Set(['GET', 'HEAD']);

// Decoded as Node's fetch decodes them (it asks for gzip and deflate; we only ever get an encoded
// answer when the caller sent Accept-Encoding itself). On zlib's threads, not the main one.
const DECODERS = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

function bodyUsedError() {
  const err = new TypeError('Body is unusable: Body has already been read');
  err.code = 'ERR_BODY_ALREADY_USED';
  return err;
}

// ---- the response -------------------------------------------------------------------------------

// Response headers as fetch's Headers reads them: case-insensitive, repeated values joined with
// ', ', except Set-Cookie, which entries() and getSetCookie() keep one by one.
class FetchHeaders {
  constructor(raw) {
    this.map = new Map(); // lower-case name -> [values]
    for (const line of raw ? raw.split('\r\n') : []) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const values = this.map.get(name);
      if (values === undefined) this.map.set(name, [value]);
      else values.push(value);
    }
  }

  get(name) {
    const values = this.map.get(String(name).toLowerCase());
    return values === undefined ? null : values.join(', ');
  }

  has(name) {
    return this.map.has(String(name).toLowerCase());
  }

  getSetCookie() {
    return (this.map.get('set-cookie') || []).slice();
  }

  // Sorted by name, as fetch's Headers iterates.
  *entries() {
    for (const name of [...this.map.keys()].sort()) {
      const values = this.map.get(name);
      if (name === 'set-cookie') {
        for (const value of values) yield [name, value];
      } else {
        yield [name, values.join(', ')];
      }
    }
  }

  *keys() {
    for (const [name] of this.entries()) yield name;
  }

  *values() {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback, thisArg) {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  [Symbol.iterator]() {
    return this.entries();
  }
}

class FetchResponse {
  // bytes: the body as received (a Buffer); `truncated` when it went past maxResponseBytes.
  constructor(status, request, rawHeaders, bytes, truncated, maxResponseBytes) {
    this.status = status;
    this.ok = status >= 200 && status < 300;
    // libcurl does not hand over the reason phrase; this is the standard one for the code (''
    // for unknown codes, as fetch gives over HTTP/2).
    this.statusText = STATUS_CODES[status] || '';
    this.url = request.href;
    this.redirected = false; // redirects are never followed: a 3xx is the answer
    this.type = 'basic';
    this.headers = new FetchHeaders(rawHeaders);
    this.body = null; // no stream: the body arrived whole (up to maxResponseBytes)
    this.bodyUsed = false;
    Object.defineProperty(this, 'raw', {
      value: { request, rawHeaders, bytes, truncated, maxResponseBytes },
    });
  }

  // The decoded body bytes; rejects when the body is not whole.
  async consume() {
    if (this.bodyUsed) throw bodyUsedError();
    this.bodyUsed = true;
    const { request, bytes, truncated, maxResponseBytes } = this.raw;
    if (truncated) {
      // Half a JSON document must never reach json(): say what happened and which knob fixes it.
      const err = new RangeError(
        `Expected a response body of at most ${maxResponseBytes} bytes ` +
          `(createFetch's maxResponseBytes) for ${request.method} ${request.display} but received more`,
      );
      err.code = 'ERR_RESPONSE_TOO_LARGE';
      throw err;
    }
    const encoding = (this.headers.get('content-encoding') || '').trim().toLowerCase();
    const decode = DECODERS[encoding];
    if (decode === undefined || bytes.length === 0) return bytes;
    try {
      return await decode(bytes);
    } catch (err) {
      const e = new TypeError(
        `The ${encoding} response body of ${request.method} ${request.display} cannot be decoded: ${err.message}`,
        { cause: err },
      );
      e.code = 'ERR_RESPONSE_DECODING';
      throw e;
    }
  }

  async arrayBuffer() {
    const bytes = await this.consume();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }

  async bytes() {
    return new Uint8Array(await this.arrayBuffer());
  }

  async text() {
    return new TextDecoder().decode(await this.consume());
  }

  async json() {
    return JSON.parse(await this.text());
  }

  async blob() {
    return new Blob([await this.consume()], { type: this.headers.get('content-type') || '' });
  }

  clone() {
    if (this.bodyUsed) throw bodyUsedError();
    const { request, rawHeaders, bytes, truncated, maxResponseBytes } = this.raw;
    return new FetchResponse(this.status, request, rawHeaders, bytes, truncated, maxResponseBytes);
  }
}

// ---- the request --------------------------------------------------------------------------------

// [[name, value]] from a Headers instance, a plain object or an array of pairs.
function headerPairs(headers) {
  if (headers === undefined || headers === null) return [];
  if (Array.isArray(headers)) {
    return headers.map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw invalid(
          TypeError,
          'ERR_INVALID_ARG_TYPE',
          `init.headers[${i}]`,
          'a [name, value] pair',
          pair,
        );
      }
      return pair;
    });
  }
  if (isPlainObject(headers)) return Object.entries(headers);
  if (typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    const pairs = [];
    headers.forEach((value, name) => pairs.push([name, value]));
    return pairs;
  }
  throw invalid(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'init.headers',
    'a Headers instance, a plain object or an array of [name, value] pairs',
    headers,
  );
}

// [lower-case name, curl line] for each of the caller's headers, validated, kept as given
// (Content-Encoding included).
function headerLinesOf(pairs, what) {
  const lines = [];
  for (const [rawName, rawValue] of pairs) {
    const name = String(rawName);
    const lower = name.toLowerCase();
    if (FRAMING.has(lower)) continue;
    // fetch trims header values and turns non-strings into strings (a Symbol cannot be: a
    // TypeError).
    if (typeof rawName === 'symbol' || typeof rawValue === 'symbol') {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        `${what}`,
        'header names and values that are strings',
        rawValue,
      );
    }
    const value = (typeof rawValue === 'string' ? rawValue : String(rawValue)).trim();
    lines.push([lower, headerLine(name, value, `${what}[${JSON.stringify(name)}]`)]);
  }
  return lines;
}

function isBlob(value) {
  return typeof Blob === 'function' && value instanceof Blob;
}

// The body as bytes or text, byte for byte, and the content type fetch would give it.
async function bodyOf(body) {
  if (body === undefined || body === null) return { bytes: undefined, type: undefined };
  if (typeof body === 'string') return { bytes: body, type: 'text/plain;charset=UTF-8' };
  if (ArrayBuffer.isView(body)) {
    return {
      bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      type: undefined,
    };
  }
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body), type: undefined };
  if (body instanceof URLSearchParams) {
    return { bytes: body.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  if (isBlob(body))
    return { bytes: new Uint8Array(await body.arrayBuffer()), type: body.type || undefined };
  // Streams (and FormData) would need chunked uploads or multipart encoding: refused, clearly.
  throw invalid(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'init.body',
    'a string, a Buffer or other ArrayBufferView, an ArrayBuffer, a Blob or URLSearchParams (streams are not supported)',
    body,
  );
}

// What fetch rejects with when the signal aborts: the signal's reason, whatever it is (Node's
// fetch passes it on, a string too), or a DOMException named AbortError when there is none.
function abortReason(signal) {
  const { reason } = signal;
  return reason !== undefined
    ? reason
    : new DOMException('This operation was aborted', 'AbortError');
}

function isSignal(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.aborted === 'boolean' &&
    typeof value.addEventListener === 'function'
  );
}

// One fetch in flight: the completion sink's owner.
class FetchCall {
  constructor(request, maxResponseBytes) {
    this.request = request;
    this.maxResponseBytes = maxResponseBytes;
    this.signal = null;
    this.onAbort = null;
    this.id = 0;
    this.aborted = null;
    this.resolve = null;
    this.reject = null;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  listen(signal) {
    this.signal = signal;
    this.onAbort = () => {
      this.aborted = abortReason(signal);
      completions.abort(this.id); // the transfer ends; its owner hears EABORTED, below
    };
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  onTransportResult(_token, statusCode, bytesSent, outcome) {
    if (this.signal !== null) this.signal.removeEventListener('abort', this.onAbort);
    if (this.aborted !== null) {
      this.reject(this.aborted);
      return;
    }
    if (outcome.failure !== undefined) {
      // Node's fetch shape: TypeError('fetch failed') with the transport's error as its cause
      // (err.cause.code is ECONNREFUSED, ETIMEDOUT …).
      const cause = completions.errorOf(outcome.failure, this.request);
      const err = new TypeError('fetch failed', { cause });
      err.code = cause.code;
      this.reject(err);
      return;
    }
    const bytes = Buffer.isBuffer(outcome.body) ? outcome.body : Buffer.from(outcome.body || '');
    this.resolve(
      new FetchResponse(
        statusCode,
        this.request,
        outcome.headers,
        bytes,
        outcome.truncated,
        this.maxResponseBytes,
      ),
    );
  }
}

// ---- createFetch --------------------------------------------------------------------------------

function readOptions(options) {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  const transport = { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };
  let defaults = [];
  for (const key of Object.keys(options)) {
    if (!FETCH_OPTIONS.includes(key)) throw unknownOption(key, FETCH_OPTIONS);
    const value = options[key];
    if (value === undefined) continue;
    if (key === 'headers') {
      if (!isPlainObject(value)) {
        throw invalid(
          TypeError,
          'ERR_INVALID_ARG_TYPE',
          'options.headers',
          'a plain object',
          value,
        );
      }
      defaults = headerLinesOf(Object.entries(value), 'options.headers');
    } else {
      transport[key] = value;
    }
  }
  integerIn(transport.maxResponseBytes, 'options.maxResponseBytes', 0, MAX_RESPONSE_BYTES);
  return {
    profile: profileFor(transport),
    maxResponseBytes: transport.maxResponseBytes,
    defaults,
  };
}

// The request's header lines: the caller's, then createFetch's defaults it did not override, then
// what stops libcurl from adding what fetch would not send.
function requestLines(init, method, bodyType, defaults) {
  const own = headerLinesOf(headerPairs(init.headers), 'init.headers');
  const names = new Set(own.map(([name]) => name));
  const lines = own.map(([, line]) => line);
  for (const [name, line] of defaults) {
    if (!names.has(name)) lines.push(line);
  }
  for (const [name] of defaults) names.add(name);
  if (!BODILESS.has(method) && !names.has('content-type')) {
    // libcurl gives a body without one "application/x-www-form-urlencoded"; fetch gives a string
    // text/plain, a typed Blob its type, and bytes none.
    lines.push(bodyType === undefined ? 'Content-Type:' : `Content-Type: ${bodyType}`);
  }
  // libcurl would send "Expect: 100-continue" for bodies over 1 KiB and wait for the answer.
  if (!names.has('expect')) lines.push('Expect:');
  return lines;
}

function createFetch(options) {
  const { profile, maxResponseBytes, defaults } = readOptions(options);

  return async function fetch(url, init) {
    if (init === undefined || init === null) init = {};
    if (typeof init !== 'object') {
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'init', 'an object', init);
    }
    const method = init.method === undefined ? 'GET' : init.method;
    const { signal } = init;
    if (signal !== undefined && signal !== null && !isSignal(signal)) {
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'init.signal', 'an AbortSignal', signal);
    }
    if (signal && signal.aborted) throw abortReason(signal);
    const target = url instanceof URL ? url.href : url;
    const upper = typeof method === 'string' ? method.toUpperCase() : method;
    if (BODILESS.has(upper) && init.body !== undefined && init.body !== null) {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        'init.body',
        `no body on a ${upper} request`,
        init.body,
      );
    }
    const { bytes, type } = await bodyOf(init.body);
    const request = prepareRaw(method, target, bytes);
    const lines = requestLines(init, request.method, type, defaults);
    // Reading a Blob took a turn of the event loop: the signal may have fired meanwhile.
    if (signal && signal.aborted) throw abortReason(signal);
    const call = new FetchCall(request, maxResponseBytes);
    call.id = completions.submit(
      request,
      profile,
      call,
      undefined,
      completions.RESPONSE | completions.BINARY,
      lines,
      traceSecretsOf(lines),
    );
    if (signal) call.listen(signal);
    return call.promise;
  };
}

module.exports = {
  createFetch,
  FetchResponse,
  FetchHeaders,
  DEFAULT_MAX_RESPONSE_BYTES,
  FETCH_OPTIONS,
};
