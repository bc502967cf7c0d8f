'use strict';
// dispatchEvent(httpVerb, url, params, options): validates on the main thread, turns options into a
// native profile (once per options object), and hands the request to the environment's pump.
// No retries here; the dispatcher adds them.
const binding = require('./binding');
const { DispatchError, invalid } = require('./errors');
const { version } = require('../package.json');

binding.setErrorClass(DispatchError);
// process.exit() joins libuv's threadpool before the process ends; a pump busy with transfers
// would hold that join until their timeouts. Requests still in flight at exit are abandoned
// (the dispatcher spools what it still holds before this runs).
process.on('exit', () => binding.halt());

const VERBS = { GET: 0, POST: 1, PUT: 2, PATCH: 3 };
const VERB_NAMES = Object.keys(VERBS);
const OPTION_NAMES = [
  'timeoutMs', 'connectTimeoutMs', 'headers', 'proxy', 'noProxy', 'caFile', 'insecure', 'http2',
  'maxResponseBytes', 'userAgent', 'resolve', 'timings',
];
const KNOWN_OPTIONS = new Set(OPTION_NAMES);
const DEFAULTS = Object.freeze({
  timeoutMs: 10000,
  connectTimeoutMs: 5000,
  maxResponseBytes: 64 * 1024,
  // Off by default on purpose: libcurl 7.88's HTTP/2 fails requests that a server answers before
  // reading the whole body (see the README, "HTTP/2"). HTTP/1.1 over TLS has no such failure.
  http2: false,
  insecure: false,
});
const MAX_MS = 2 ** 31 - 1;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_CHARS = /[\r\n\0]/;
// Headers that frame the message; letting callers set them would corrupt the request.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);
const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:']);
const RESOLVE_ENTRY = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(\d{1,5}):(\[[0-9A-Fa-f:.]+\]|[0-9.]+)$/;

const libcurl = binding.versions().libcurl;
// NATIVE_EVENT_DISPATCHER_TRACE=1 prints libcurl's own trace of every request on stderr.
const TRACE = /^(1|true|yes)$/i.test(process.env.NATIVE_EVENT_DISPATCHER_TRACE || '');
const DEFAULT_USER_AGENT = `native-event-dispatcher/${version} libcurl/${libcurl}`;

// ---- options -> profile -------------------------------------------------------------------------

function integerIn(value, what, min, max) {
  if (typeof value !== 'number') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an integer', value);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(RangeError, 'ERR_OUT_OF_RANGE', what, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function booleanOf(value, what) {
  if (typeof value !== 'boolean') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a boolean', value);
  }
  return value;
}

function textOf(value, what) {
  if (typeof value !== 'string' || value === '') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a non-empty string', value);
  }
  if (BAD_CHARS.test(value)) {
    throw invalid(TypeError, 'ERR_INVALID_CHAR', what, 'a string without CR, LF or NUL', value);
  }
  return value;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Extra request headers as curl header lines. An empty value is sent as an empty header
// ("Name;" in curl's syntax), since "Name:" would remove the header instead.
function headerLines(headers) {
  if (!isPlainObject(headers)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.headers', 'a plain object', headers);
  }
  const lines = [];
  const names = new Set();
  for (const name of Object.keys(headers)) {
    const what = `options.headers[${JSON.stringify(name)}]`;
    if (!TOKEN.test(name)) {
      throw invalid(TypeError, 'ERR_INVALID_HTTP_TOKEN', 'a header name', 'an HTTP token', name);
    }
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower)) {
      throw invalid(RangeError, 'ERR_INVALID_ARG_VALUE', 'a header name',
        'a name other than Content-Length and Transfer-Encoding', name);
    }
    let value = headers[name];
    if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
    if (typeof value !== 'string') {
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a string', value);
    }
    if (BAD_CHARS.test(value)) {
      throw invalid(TypeError, 'ERR_INVALID_CHAR', what, 'a value without CR, LF or NUL', value);
    }
    names.add(lower);
    lines.push(value === '' ? `${name};` : `${name}: ${value}`);
  }
  return { lines, names };
}

function proxyOf(value) {
  if (value === false || value === '') return '';
  const what = 'options.proxy';
  if (typeof value !== 'string') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a proxy URL string or false', value);
  }
  textOf(value, what);
  let parsed;
  try {
    parsed = new URL(value);
  } catch (err) {
    throw invalid(TypeError, 'ERR_INVALID_URL', what, 'a proxy URL such as http://host:3128', value, err);
  }
  if (!PROXY_SCHEMES.has(parsed.protocol)) {
    throw invalid(RangeError, 'ERR_UNSUPPORTED_PROTOCOL', what,
      'a proxy URL with http:, https:, socks4:, socks4a:, socks5: or socks5h:', value);
  }
  return value;
}

// libcurl's environment rules, applied here on the main thread: http_proxy (lower case only, as
// curl does) for http: URLs, https_proxy/HTTPS_PROXY for https:, then all_proxy/ALL_PROXY.
function proxiesFromEnvironment() {
  const env = process.env;
  const all = env.all_proxy || env.ALL_PROXY || '';
  return {
    httpProxy: env.http_proxy || all,
    httpsProxy: env.https_proxy || env.HTTPS_PROXY || all,
    noProxy: env.no_proxy || env.NO_PROXY || '',
  };
}

function connectToOf(resolve) {
  if (!Array.isArray(resolve)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.resolve',
      "an array of 'host:port:address' strings", resolve);
  }
  return resolve.map((entry, i) => {
    const what = `options.resolve[${i}]`;
    const match = typeof entry === 'string' ? RESOLVE_ENTRY.exec(entry) : null;
    if (!match || Number(match[2]) > 65535) {
      throw invalid(TypeError, 'ERR_INVALID_ARG_VALUE', what,
        "'host:port:address' with a literal IPv4 or [IPv6] address", entry);
    }
    // CURLOPT_CONNECT_TO changes where this request connects without touching the shared DNS
    // cache, so a pin given to one request never leaks into others.
    return `${match[1]}:${match[2]}:${match[3]}:${match[2]}`;
  });
}

function compile(options) {
  const o = { ...DEFAULTS, userAgent: DEFAULT_USER_AGENT, verbose: TRACE, timings: false };
  let headers = { lines: [], names: new Set() };
  let proxy;
  let noProxy;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw invalid(TypeError, 'ERR_UNKNOWN_OPTION', 'an option name',
        `one of ${OPTION_NAMES.join(', ')}`, key);
    }
    const value = options[key];
    if (value === undefined) continue;
    const what = `options.${key}`;
    switch (key) {
      case 'timeoutMs':
      case 'connectTimeoutMs':
        o[key] = integerIn(value, what, 1, MAX_MS);
        break;
      case 'maxResponseBytes':
        o[key] = integerIn(value, what, 0, 1024 * 1024 * 1024);
        break;
      case 'insecure':
      case 'http2':
      case 'timings':
        o[key] = booleanOf(value, what);
        break;
      case 'userAgent':
      case 'caFile':
        o[key] = textOf(value, what);
        break;
      case 'headers':
        headers = headerLines(value);
        break;
      case 'proxy':
        if (value !== null) proxy = proxyOf(value);
        break;
      case 'noProxy':
        noProxy = textOf(value, what);
        break;
      case 'resolve':
        o.connectTo = connectToOf(value);
        break;
      default:
        break;
    }
  }
  if (proxy === undefined) {
    Object.assign(o, proxiesFromEnvironment());
  } else {
    o.httpProxy = proxy;
    o.httpsProxy = proxy;
    o.noProxy = '';
  }
  if (noProxy !== undefined) o.noProxy = noProxy;
  o.getHeaders = headers.lines;
  o.bodyHeaders = headers.lines.slice();
  if (!headers.names.has('content-type')) o.bodyHeaders.push('Content-Type: application/json');
  // libcurl would otherwise send "Expect: 100-continue" for bodies over 1 KiB and wait for it.
  if (!headers.names.has('expect')) o.bodyHeaders.push('Expect:');
  return binding.compileProfile(o);
}

// Compiled profiles are remembered by content, so a fresh options literal on every call costs one
// JSON.stringify, not a compile. Values JSON cannot show (functions, symbols, BigInts, undefined)
// are spelled out in the key, so they reach compile() and its errors instead of a cache hit.
const MAX_PROFILES = 64;
const profiles = new Map();
let defaultProfile;

function spell(key, value) {
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint' || type === 'undefined') {
    return `\u0000${type}:${String(value)}`;
  }
  return value;
}

function profileFor(options) {
  if (options === undefined || options === null) {
    if (defaultProfile === undefined) defaultProfile = compile({});
    return defaultProfile;
  }
  if (!isPlainObject(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  let key;
  try {
    key = JSON.stringify(options, spell);
  } catch (err) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'plain data (no cycles)', options, err);
  }
  let profile = profiles.get(key);
  if (profile === undefined) {
    profile = compile(options);
    if (profiles.size >= MAX_PROFILES) profiles.delete(profiles.keys().next().value);
  } else {
    profiles.delete(key); // most recently used goes last
  }
  profiles.set(key, profile);
  return profile;
}

// ---- url and params -----------------------------------------------------------------------------

// The last URL parsed: a dispatcher sends to the same endpoint again and again.
let lastUrl = null;
let lastTarget = null;

function targetOf(url) {
  if (url === lastUrl && typeof url === 'string') return lastTarget;
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'url', 'a URL string', url);
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw invalid(TypeError, 'ERR_INVALID_URL', 'url', 'an absolute http: or https: URL', url, err);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(RangeError, 'ERR_UNSUPPORTED_PROTOCOL', 'url', 'an http: or https: URL', url);
  }
  if (parsed.hostname === '') {
    throw invalid(TypeError, 'ERR_INVALID_URL', 'url', 'a URL with a host', url);
  }
  const target = {
    href: parsed.href,
    host: parsed.hostname,
    https: parsed.protocol === 'https:',
    origin: parsed.origin,
    // Shown in errors: no credentials, no query.
    display: `${parsed.protocol}//${parsed.host}${parsed.pathname}`,
  };
  if (typeof url === 'string') {
    lastUrl = url;
    lastTarget = target;
  }
  return target;
}

function queryUrl(href, params) {
  if (params === undefined || params === null) return href;
  if (!isPlainObject(params)) {
    throw invalid(TypeError, 'ERR_INVALID_PARAMS', 'params of a GET',
      'a flat object of query parameters', params);
  }
  const url = new URL(href);
  for (const key of Object.keys(params)) {
    const value = params[key];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined) continue;
      if (v !== null && typeof v === 'object') {
        throw invalid(TypeError, 'ERR_INVALID_PARAMS', `params.${key} of a GET`,
          'a string, number or boolean (GET params are flat)', v);
      }
      if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') {
        throw invalid(TypeError, 'ERR_INVALID_PARAMS', `params.${key} of a GET`,
          'a string, number or boolean', v);
      }
      url.searchParams.append(key, v === null ? '' : String(v));
    }
  }
  return url.href;
}

// The request body: JSON text for objects and arrays, bytes as given for strings and binary data.
function bodyOf(params) {
  if (typeof params === 'string' || ArrayBuffer.isView(params)) return params;
  if (params instanceof ArrayBuffer) return new Uint8Array(params);
  if (params !== null && typeof params === 'object') {
    let json;
    try {
      json = JSON.stringify(params);
    } catch (err) {
      throw invalid(TypeError, 'ERR_INVALID_PARAMS', 'params',
        `JSON-serialisable data (${err.message})`, params, err);
    }
    if (typeof json !== 'string') {
      throw invalid(TypeError, 'ERR_INVALID_PARAMS', 'params', 'JSON-serialisable data', params);
    }
    return json;
  }
  throw invalid(TypeError, 'ERR_INVALID_PARAMS', 'params',
    'an object, an array, a string, a Buffer or a Uint8Array', params);
}

function verbOf(httpVerb) {
  if (typeof httpVerb !== 'string') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'httpVerb', `one of ${VERB_NAMES.join(', ')}`,
      httpVerb);
  }
  const upper = httpVerb.toUpperCase();
  if (!Object.hasOwn(VERBS, upper)) {
    throw invalid(RangeError, 'ERR_UNSUPPORTED_METHOD', 'httpVerb', `one of ${VERB_NAMES.join(', ')}`,
      httpVerb);
  }
  return VERBS[upper];
}

// ---- the request ------------------------------------------------------------------------------

// Validates and serialises a request once: { verb, method, href, host, https, origin, display,
// body, json }. Throws TypeError/RangeError for bad input. The result can be sent many times.
function prepare(httpVerb, url, params) {
  const verb = verbOf(httpVerb);
  const target = targetOf(url);
  const get = verb === VERBS.GET;
  return {
    verb,
    method: VERB_NAMES[verb],
    href: get ? queryUrl(target.href, params) : target.href,
    host: target.host,
    https: target.https,
    origin: target.origin,
    display: target.display,
    body: get ? undefined : bodyOf(params),
    // The body is our own JSON.stringify output (so it is one line of valid JSON).
    json: !get && params !== null && typeof params === 'object' && !ArrayBuffer.isView(params)
      && !(params instanceof ArrayBuffer),
  };
}

// Sends a prepared request with a compiled profile. Never throws: failures reject, with the
// caller's stack captured for DispatchError.
function sendPrepared(request, profile, caller) {
  try {
    const site = { method: request.method, url: request.display };
    Error.captureStackTrace(site, caller);
    return binding.dispatch(request.verb, request.href, request.host, request.https, request.body,
      profile, site);
  } catch (err) {
    return Promise.reject(err);
  }
}

// The dispatcher's path: no promise per request. The addon calls the sink once per batch of
// completions with a Float64Array of [id, status, body bytes] for 2xx answers (no object is made
// for them) and records { id, bytes, statusCode, retryAfter, error } for the rest. Each submitted
// request's owner gets owner.onTransportResult(statusCode, bytes, record).
const waiting = new Map();
let nextId = 0;

function completionSink(done, others) {
  let failure = null;
  const deliver = (id, statusCode, bytes, record) => {
    const owner = waiting.get(id);
    if (owner === undefined) return;
    waiting.delete(id);
    try {
      owner.onTransportResult(statusCode, bytes, record);
    } catch (err) {
      failure = failure || err;
    }
  };
  for (let i = 0; i < done.length; i += 3) deliver(done[i], done[i + 1], done[i + 2], undefined);
  if (others) for (const r of others) deliver(r.id, r.statusCode || 0, r.bytes || 0, r);
  if (failure) throw failure; // surfaces as an uncaught exception, after every owner was told
}
binding.setCompletionSink(completionSink);

// Sends a prepared request; the result goes to owner.onTransportResult. Throws on bad input.
function submit(request, profile, owner) {
  const id = ++nextId;
  binding.send(request.verb, request.href, request.host, request.https, request.body, profile, id);
  waiting.set(id, owner);
}

function dispatchEvent(httpVerb, url, params, options) {
  let request;
  let profile;
  try {
    profile = profileFor(options);
    request = prepare(httpVerb, url, params);
  } catch (err) {
    return Promise.reject(err);
  }
  return sendPrepared(request, profile, dispatchEvent);
}

// Per environment (main thread or worker): connections per host and in all, and how many requests
// libcurl works on at once; requests beyond wait, in order, in the addon (not in JS).
const LIMIT_DEFAULTS = Object.freeze({ maxConnectionsPerHost: 64, maxConnections: 256, maxInFlight: 256 });

function setConnectionLimits(limits = {}) {
  if (!isPlainObject(limits)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'limits', 'a plain object', limits);
  }
  for (const key of Object.keys(limits)) {
    if (!Object.hasOwn(LIMIT_DEFAULTS, key)) {
      throw invalid(TypeError, 'ERR_UNKNOWN_OPTION', 'a limit name',
        `one of ${Object.keys(LIMIT_DEFAULTS).join(', ')}`, key);
    }
  }
  const applied = {};
  for (const key of Object.keys(LIMIT_DEFAULTS)) {
    applied[key] = integerIn(limits[key] ?? LIMIT_DEFAULTS[key], `limits.${key}`, 1, 100000);
  }
  binding.configure({
    maxHostConnections: applied.maxConnectionsPerHost,
    maxTotalConnections: applied.maxConnections,
    maxInFlight: applied.maxInFlight,
  });
  return applied;
}

// Versions of the addon and of the libraries it runs on; `addonBinary` appears only when the
// loaded binary was built from another version of the package.
function versions() {
  const { addon, ...libraries } = binding.versions();
  return addon === version ? { addon: version, ...libraries }
    : { addon: version, addonBinary: addon, ...libraries };
}

module.exports = {
  proxiesFromEnvironment,
  dispatchEvent,
  prepare,
  submit,
  compileOptions: profileFor,
  OPTION_NAMES,
  setConnectionLimits,
  versions,
  pumpStats: () => binding.stats(),
};
