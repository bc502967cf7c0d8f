'use strict';
// Transport options → a complete native profile. lib/ owns every default and every check; the
// addon receives a finished profile (and keeps only guards against crashes). Profiles are compiled
// once per distinct options object and remembered by content.
const backend = require('../binding');
const { invalid, isPlainObject, hidden } = require('../errors');
const { isSecretName } = require('../redact');
const { unknownOption } = require('../unknown-option');
const { missingScheme } = require('./request');
const { MAX_MS, MAX_RESPONSE_BYTES } = require('./protocol');
const { noProxyMatcher } = require('./no-proxy');
const { version } = require('../../package.json');

const DEFAULTS = Object.freeze({
  timeoutMs: 10000,
  connectTimeoutMs: 5000,
  maxResponseBytes: 64 * 1024,
  // Off by default on purpose: libcurl 7.88's HTTP/2 fails requests that a server answers before
  // reading the whole body (see the README, "HTTP/2"). HTTP/1.1 over TLS has no such failure.
  http2: false,
  insecure: false,
  timings: false,
  captureStack: false,
});
const OPTION_NAMES = [
  'timeoutMs',
  'connectTimeoutMs',
  'headers',
  'proxy',
  'noProxy',
  'caFile',
  'insecure',
  'http2',
  'maxResponseBytes',
  'userAgent',
  'resolve',
  'timings',
  'captureStack',
];
const KNOWN_OPTIONS = new Set(OPTION_NAMES);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_CHARS = /[\r\n\0]/;
// Headers that frame the message; letting callers set them would corrupt the request.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);
const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:']);
const RESOLVE_ENTRY = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(\d{1,5}):(\[[0-9A-Fa-f:.]+\]|[0-9.]+)$/;

// NATIVE_EVENT_DISPATCHER_TRACE=1 prints a trace of every request on stderr (libcurl's, through
// the addon, or the fallback's), credentials masked.
const TRACE = /^(1|true|yes)$/i.test(process.env.NATIVE_EVENT_DISPATCHER_TRACE || '');
// Headers the trace masks whatever the options: those libcurl sends from credentials (Authorization
// from a URL's user:password, Proxy-Authorization from a proxy URL's), and cookies either way.
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];
const libraries = backend.versions();
const DEFAULT_USER_AGENT = libraries.libcurl
  ? `native-event-dispatcher/${version} libcurl/${libraries.libcurl}`
  : `native-event-dispatcher/${version}`;

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

// One header as a curl line. An empty value is sent as an empty header ("Name;" in curl's
// syntax), since "Name:" would remove the header instead.
function headerLine(name, value, what) {
  if (!TOKEN.test(name)) {
    throw invalid(TypeError, 'ERR_INVALID_HTTP_TOKEN', 'a header name', 'an HTTP token', name);
  }
  if (FRAMING_HEADERS.has(name.toLowerCase())) {
    throw invalid(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      'a header name',
      'a name other than Content-Length and Transfer-Encoding',
      name,
    );
  }
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  // A credential's value never appears in the message, not even cut short.
  const shown = isSecretName(name) ? hidden(value) : value;
  if (typeof value !== 'string') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a string', shown);
  }
  if (BAD_CHARS.test(value)) {
    throw invalid(TypeError, 'ERR_INVALID_CHAR', what, 'a value without CR, LF or NUL', shown);
  }
  return value === '' ? `${name};` : `${name}: ${value}`;
}

function headerLines(headers) {
  if (!isPlainObject(headers)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.headers', 'a plain object', headers);
  }
  const lines = [];
  const names = new Set();
  for (const name of Object.keys(headers)) {
    lines.push(headerLine(name, headers[name], `options.headers[${JSON.stringify(name)}]`));
    names.add(name.toLowerCase());
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
  // '127.0.0.1:3128' (curl's --proxy takes it, as http://) is not a URL to Node, and
  // 'proxy.local:3128' parses with 'proxy.local:' for its scheme: either way the scheme is missing.
  const noScheme = missingScheme(value, 'http:');
  if (noScheme)
    throw invalid(
      TypeError,
      'ERR_INVALID_URL',
      what,
      'a proxy URL such as http://host:3128',
      value,
      undefined,
      noScheme,
    );
  let parsed;
  try {
    parsed = new URL(value);
  } catch (err) {
    throw invalid(
      TypeError,
      'ERR_INVALID_URL',
      what,
      'a proxy URL such as http://host:3128',
      value,
      err,
    );
  }
  if (!PROXY_SCHEMES.has(parsed.protocol)) {
    throw invalid(
      RangeError,
      'ERR_UNSUPPORTED_PROTOCOL',
      what,
      'a proxy URL with http:, https:, socks4:, socks4a:, socks5: or socks5h:',
      value,
    );
  }
  return value;
}

// libcurl's environment rules, applied here on the main thread: the variables it reads for each
// scheme, the first one set winning. http_proxy is lower case only, as curl has it: HTTP_PROXY is
// ignored (a CGI server sets it from a request's Proxy header: "httpoxy").
const PROXY_VARIABLES = Object.freeze({
  http: Object.freeze(['http_proxy', 'all_proxy', 'ALL_PROXY']),
  https: Object.freeze(['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']),
  noProxy: Object.freeze(['no_proxy', 'NO_PROXY']),
  ignored: Object.freeze(['HTTP_PROXY']),
});

function proxiesFromEnvironment() {
  const first = (names) => names.map((name) => process.env[name]).find(Boolean) || '';
  return {
    httpProxy: first(PROXY_VARIABLES.http),
    httpsProxy: first(PROXY_VARIABLES.https),
    noProxy: first(PROXY_VARIABLES.noProxy),
  };
}

function connectToOf(resolve) {
  if (!Array.isArray(resolve)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options.resolve',
      "an array of 'host:port:address' strings",
      resolve,
    );
  }
  return resolve.map((entry, i) => {
    const what = `options.resolve[${i}]`;
    const match = typeof entry === 'string' ? RESOLVE_ENTRY.exec(entry) : null;
    if (!match || Number(match[2]) > 65535) {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        what,
        "'host:port:address' with a literal IPv4 or [IPv6] address",
        entry,
      );
    }
    // CURLOPT_CONNECT_TO changes where this request connects without touching the shared DNS
    // cache, so a pin given to one request never leaks into others.
    return `${match[1]}:${match[2]}:${match[3]}:${match[2]}`;
  });
}

// The header names, among `names`, whose values the trace must mask: redact.js decides; the addon
// applies them (it has no rule of its own).
function secretNames(names) {
  return [...new Set(names)].filter(isSecretName);
}

// The name of a header line in curl's syntax ("Name: value", "Name:", "Name;"), in lower case.
function lineName(line) {
  const end = line.search(/[:;]/);
  return (end < 0 ? line : line.slice(0, end)).trim().toLowerCase();
}

// For a request sent with header lines of its own (fetch): the secret names among them, handed to
// the addon with the request when the trace is on; undefined (nothing extra per request) when off.
function traceSecretsOf(lines) {
  return TRACE ? secretNames(lines.map(lineName)) : undefined;
}

// Validated options → { handle (the backend's profile), timings, captureStack }.
function compile(options) {
  const o = { ...DEFAULTS, userAgent: DEFAULT_USER_AGENT, verbose: TRACE };
  let headers = { lines: [], names: new Set() };
  let proxy;
  let noProxy;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw unknownOption(key, OPTION_NAMES);
    const value = options[key];
    if (value === undefined) continue;
    const what = `options.${key}`;
    switch (key) {
      case 'timeoutMs':
      case 'connectTimeoutMs':
        o[key] = integerIn(value, what, 1, MAX_MS);
        break;
      case 'maxResponseBytes':
        o[key] = integerIn(value, what, 0, MAX_RESPONSE_BYTES);
        break;
      case 'insecure':
      case 'http2':
      case 'timings':
      case 'captureStack':
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
  const bodyHeaders = headers.lines.slice();
  if (!headers.names.has('content-type')) bodyHeaders.push('Content-Type: application/json');
  // libcurl would otherwise send "Expect: 100-continue" for bodies over 1 KiB and wait for it.
  if (!headers.names.has('expect')) bodyHeaders.push('Expect:');
  const handle = backend.compileProfile({
    timeoutMs: o.timeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    maxResponseBytes: o.maxResponseBytes,
    insecure: o.insecure,
    http2: o.http2,
    verbose: o.verbose,
    timings: o.timings,
    userAgent: o.userAgent,
    caFile: o.caFile || '',
    httpProxy: o.httpProxy,
    httpsProxy: o.httpsProxy,
    noProxy: o.noProxy,
    bodyHeaders,
    getHeaders: headers.lines,
    connectTo: o.connectTo || [],
    traceSecrets: o.verbose ? secretNames([...CREDENTIAL_HEADERS, ...headers.names]) : [],
  });
  return Object.freeze({
    handle,
    timings: o.timings,
    captureStack: o.captureStack,
    userAgent: o.userAgent,
    direct: directOf(o),
  });
}

// (origin) -> whether no_proxy sends requests to `origin` direct, remembered per origin; undefined
// when there is no proxy or no no_proxy list (then submit() asks nothing).
function directOf(o) {
  if ((o.httpProxy === '' && o.httpsProxy === '') || !o.noProxy) return undefined;
  const matches = noProxyMatcher(o.noProxy);
  const known = new Map();
  return (origin) => {
    let direct = known.get(origin);
    if (direct === undefined) {
      direct = matches(new URL(origin).hostname) !== null;
      if (known.size < 1000) known.set(origin, direct);
    }
    return direct;
  };
}

// The cache key of an options object: every name and value spelled with its type and length, so
// two objects share a key only when compile() would see the same thing (`1` and `'1'` differ, a
// name given as undefined is still a name). Values nested once (headers, resolve) are spelled the
// same way. null when a value cannot be spelled (a function, a symbol, a BigInt, deeper nesting, a
// cycle): such options are invalid, and compile() says why, every time. A hand-built key costs a
// tenth of JSON.stringify with a replacer, which matters to callers passing options per event.
function keyOf(options, nested = false) {
  let key = '';
  for (const name of Object.keys(options)) {
    const value = spellValue(options[name], nested);
    if (value === null) return null;
    key += `${name.length}:${name}${value}`;
  }
  return key;
}

function spellValue(value, nested) {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return `n${value};`;
    case 'string':
      return `s${value.length}:${value}`;
    case 'object': {
      if (value === null) return 'l';
      if (nested) return null;
      if (Array.isArray(value)) {
        let items = `a${value.length}[`;
        for (let i = 0; i < value.length; i++) {
          const item = spellValue(value[i], true);
          if (item === null) return null;
          items += item;
        }
        return items;
      }
      if (!isPlainObject(value)) return null;
      const inner = keyOf(value, true);
      return inner === null ? null : `o${inner.length}:${inner}`;
    }
    default:
      return null;
  }
}

const MAX_PROFILES = 64;
const profiles = new Map();
let defaultProfile;
let lastKey = null;
let lastProfile;

// The compiled profile for `options`: a fresh options literal on every call costs its key, not a
// compile.
function profileFor(options) {
  if (options === undefined || options === null) {
    if (defaultProfile === undefined) defaultProfile = compile({});
    return defaultProfile;
  }
  if (!isPlainObject(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  const key = keyOf(options);
  if (key === null) return compile(options);
  if (key === lastKey) return lastProfile; // already the most recently used
  let profile = profiles.get(key);
  if (profile === undefined) {
    profile = compile(options);
    if (profiles.size >= MAX_PROFILES) profiles.delete(profiles.keys().next().value);
  } else {
    profiles.delete(key); // most recently used goes last
  }
  profiles.set(key, profile);
  lastKey = key;
  lastProfile = profile;
  return profile;
}

module.exports = {
  profileFor,
  proxiesFromEnvironment,
  headerLine,
  integerIn,
  unknownOption,
  traceSecretsOf,
  OPTION_NAMES,
  DEFAULTS,
  DEFAULT_USER_AGENT,
  PROXY_VARIABLES,
};
