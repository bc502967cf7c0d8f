'use strict';
// compileProfile() of the fallback transport: a complete options object (validated by the JS layer)
// becomes what each request needs: its header lists in curl's syntax turned into undici headers,
// the proxy decision, and the connection settings that pick an undici agent. Options undici cannot
// honour are refused here, loudly, instead of being ignored.
const fs = require('node:fs');
const { X509Certificate } = require('node:crypto');
const { invalid } = require('../errors');
const { MAX_MS, MAX_RESPONSE_BYTES } = require('../transport/protocol');
const { noProxyMatcher } = require('../transport/no-proxy');

const BAD_CHARS = /[\r\n\0]/;
const PROXY_SCHEMES = new Set(['http:', 'https:']);
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

// Profiles are plain frozen objects; this set tells ours from look-alikes.
const compiled = new WeakSet();

function unsupported(what, why) {
  const err = new TypeError(
    `The fallback transport cannot honour ${what}: ${why}. The native transport ` +
      'supports it; `npx native-event-dispatcher doctor` says why it is not in use here.',
  );
  err.code = 'ERR_OPTION_UNSUPPORTED';
  return err;
}

function integerIn(p, key, min, max) {
  const value = p[key];
  if (typeof value !== 'number')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', `profile.${key}`, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `profile.${key}`,
      `an integer from ${min} to ${max}`,
      value,
    );
  }
  return value;
}

function booleanOf(p, key) {
  if (typeof p[key] !== 'boolean')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', `profile.${key}`, 'a boolean', p[key]);
  return p[key];
}

function stringOf(p, key) {
  const value = p[key] === undefined || p[key] === null ? '' : p[key];
  if (typeof value !== 'string' || value.includes('\0')) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `profile.${key}`,
      'a string without NUL',
      value,
    );
  }
  return value;
}

// An array of header or connect-to lines; CR, LF or NUL could smuggle a header or a request.
function linesOf(value, what) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an array of strings', value);
  for (const line of value) {
    if (typeof line !== 'string')
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an array of strings', line);
    if (BAD_CHARS.test(line))
      throw invalid(TypeError, 'ERR_INVALID_CHAR', what, 'lines without CR, LF or NUL', line);
  }
  return value;
}

// ---- headers, in curl's CURLOPT_HTTPHEADER syntax ----------------------------------------------

// "Name: value" adds a header, "Name:" (nothing after the colon) removes one libcurl would add by
// itself, "Name;" adds a header with an empty value; a line that is none of these is skipped, as
// libcurl skips it. Returns { add: [[name, value]], names: Set of lower-case names mentioned }.
function parseHeaderLines(lines) {
  const add = [];
  const names = new Set();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      names.add(name.toLowerCase());
      if (value !== '') add.push([name, value]);
    } else if (colon < 0 && /^[^;\s][^;]*;\s*$/.test(line)) {
      const name = line.slice(0, line.indexOf(';')).trim();
      names.add(name.toLowerCase());
      add.push([name, '']);
    }
  }
  return { add, names };
}

// undici headers for one request: the caller's lines, then what libcurl adds by itself unless a
// line named it (User-Agent, Accept, and the form content type libcurl gives a POSTFIELDS body).
// Repeated names become arrays, so every line is sent. No prototype: "__proto__" is a valid token.
function headerObject(parsed, defaults) {
  const out = Object.create(null);
  for (const [name, value] of parsed.add) {
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [seen, value];
  }
  for (const [name, value] of defaults) {
    if (value !== '' && !parsed.names.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

function defaultHeaders(userAgent, withBody) {
  const defaults = [
    ['User-Agent', userAgent],
    ['Accept', '*/*'],
  ];
  if (withBody) defaults.push(['Content-Type', 'application/x-www-form-urlencoded']);
  return defaults;
}

// undici refuses these headers outright (it has no Expect: 100-continue over HTTP/1.1, and keeps
// the connection headers to itself); a profile with one would fail every request.
function refuseHeaders(parsed, what) {
  for (const [name] of parsed.add) {
    const lower = name.toLowerCase();
    if (
      lower === 'expect' ||
      lower === 'upgrade' ||
      lower === 'keep-alive' ||
      lower === 'transfer-encoding'
    ) {
      throw unsupported(`the header "${name}" in ${what}`, 'undici does not let a request set it');
    }
  }
}

// ---- proxies ----------------------------------------------------------------------------------

function withoutCredentials(url) {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '(unparseable URL)';
  }
}

function proxyOf(p, key) {
  const value = stringOf(p, key);
  if (value === '') return '';
  let url;
  try {
    url = new URL(value);
  } catch {
    throw invalid(TypeError, 'ERR_INVALID_URL', `profile.${key}`, 'a proxy URL', value);
  }
  if (!PROXY_SCHEMES.has(url.protocol)) {
    throw unsupported(
      `the proxy ${withoutCredentials(value)}`,
      `only http:// and https:// proxies are supported (undici has no SOCKS4, and its SOCKS5 is experimental)`,
    );
  }
  return value;
}

// ---- connect-to (curl's CURLOPT_CONNECT_TO) ---------------------------------------------------

const CONNECT_TO =
  /^(\[[0-9A-Fa-f:.]*\]|[^:[\]]*):(\d{0,5}):(\[[0-9A-Fa-f:.]*\]|[^:[\]]*):(\d{0,5})$/;
const bare = (host) => host.replace(/^\[|\]$/g, '').toLowerCase();

// "host:port:address:port"; an empty host or port matches any, an empty address or port keeps the
// original. The first matching entry wins, as in libcurl.
function connectToOf(lines) {
  return lines.map((entry) => {
    const m = CONNECT_TO.exec(entry);
    if (!m || Number(m[2]) > 65535 || Number(m[4]) > 65535) {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        'profile.connectTo',
        "'host:port:address:port' entries",
        entry,
      );
    }
    return { host: bare(m[1]), port: Number(m[2]), address: bare(m[3]), toPort: Number(m[4]) };
  });
}

// ---- the profile ------------------------------------------------------------------------------

// The CA file is read now (the JS layer compiles a profile once per options object); when it cannot
// be used, every https: request of the profile fails with ECERT, libcurl's code 77.
function caOf(file) {
  if (file === '') return { ca: undefined, caError: undefined };
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { ca: undefined, caError: err.message };
  }
  const certificates = (text.match(PEM_CERTIFICATE) || []).filter((pem) => {
    try {
      return Boolean(new X509Certificate(pem));
    } catch {
      return false;
    }
  });
  if (certificates.length === 0) return { ca: undefined, caError: 'no PEM certificate in it' };
  return { ca: certificates, caError: undefined };
}

function compileProfile(p) {
  if (p === null || typeof p !== 'object')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'profile', 'an options object', p);
  const userAgent = stringOf(p, 'userAgent');
  const bodyLines = parseHeaderLines(linesOf(p.bodyHeaders, 'profile.bodyHeaders'));
  const getLines = parseHeaderLines(linesOf(p.getHeaders, 'profile.getHeaders'));
  refuseHeaders(bodyLines, 'bodyHeaders');
  refuseHeaders(getLines, 'getHeaders');
  const caFile = stringOf(p, 'caFile');
  const { ca, caError } = caOf(caFile);
  const connection = {
    connectTimeoutMs: integerIn(p, 'connectTimeoutMs', 1, MAX_MS),
    insecure: booleanOf(p, 'insecure'),
    http2: booleanOf(p, 'http2'),
    caFile,
    ca,
    connectTo: connectToOf(linesOf(p.connectTo, 'profile.connectTo')),
  };
  const profile = Object.freeze({
    timeoutMs: integerIn(p, 'timeoutMs', 1, MAX_MS),
    maxResponseBytes: integerIn(p, 'maxResponseBytes', 0, MAX_RESPONSE_BYTES),
    verbose: booleanOf(p, 'verbose'),
    timings: booleanOf(p, 'timings'),
    userAgent,
    // Copied for each request: undici's ProxyAgent writes a host header into the object it gets.
    headers: Object.freeze({
      get: Object.freeze(headerObject(getLines, defaultHeaders(userAgent, false))),
      body: Object.freeze(headerObject(bodyLines, defaultHeaders(userAgent, true))),
      // DELETE without a body: libcurl adds no content type then.
      bodyless: Object.freeze(headerObject(bodyLines, defaultHeaders(userAgent, false))),
    }),
    httpProxy: proxyOf(p, 'httpProxy'),
    httpsProxy: proxyOf(p, 'httpsProxy'),
    noProxy: noProxyMatcher(stringOf(p, 'noProxy')),
    caError,
    connection: Object.freeze(connection),
    // Which agent serves this profile: one per distinct set of connection settings, so profiles
    // that differ only in headers or timeouts share connections, as libcurl's one cache does.
    connectionKey: JSON.stringify([
      connection.connectTimeoutMs,
      connection.insecure,
      connection.http2,
      caFile,
      connection.connectTo,
    ]),
  });
  compiled.add(profile);
  return profile;
}

// Headers given to one request instead of the profile's, in the same syntax.
function requestHeaders(profile, lines, withBody) {
  return headerObject(parseHeaderLines(lines), defaultHeaders(profile.userAgent, withBody));
}

const isProfile = (value) => compiled.has(value);

module.exports = { compileProfile, requestHeaders, isProfile, linesOf };
