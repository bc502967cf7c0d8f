'use strict';
// A request, validated and serialised once on the main thread: { verb, method, href, origin,
// display, body, json }. It can be sent many times (retries) and is what the spool journals.
const { invalid, isPlainObject, describe } = require('../errors');
const { VERBS, EVENT_METHODS: EVENT_VERBS } = require('./protocol');

function verbOf(httpVerb, allowed = EVENT_VERBS, what = 'httpVerb') {
  if (httpVerb === 'POST') return 'POST'; // nearly every event: no case folding, no search
  if (typeof httpVerb !== 'string') {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      what,
      `one of ${allowed.join(', ')}`,
      httpVerb,
    );
  }
  const upper = httpVerb.toUpperCase();
  if (!allowed.includes(upper)) {
    throw invalid(
      RangeError,
      'ERR_UNSUPPORTED_METHOD',
      what,
      `one of ${allowed.join(', ')}`,
      httpVerb,
    );
  }
  return upper;
}

// A host (with a port, a path) and no scheme before it: 'logx.optimizely.com/v1/events',
// 'localhost:8080/x', '//host/x'. Not 'mailto:x' or 'user:pass@host', whose scheme is there.
const SCHEMELESS = /^(?:\/\/)?(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#:@[\]]+)(?::\d{1,5})?(?:[/?#]|$)/;

// ': the scheme is missing; did you mean "https://…"?' for a URL written without its scheme, with
// the one to try (`scheme`); '' otherwise.
function missingScheme(text, scheme = 'https:') {
  if (typeof text !== 'string' || !SCHEMELESS.test(text)) return '';
  const suggestion = `${scheme}//${text.replace(/^\/\//, '')}`;
  try {
    if (new URL(suggestion).hostname === '') return '';
  } catch {
    return '';
  }
  return `: the scheme is missing; did you mean ${describe(suggestion)}?`;
}

// The last URL parsed: a dispatcher sends to the same endpoint again and again.
let lastUrl = null;
let lastTarget = null;

// { href, origin, display } of an absolute http: or https: URL.
function targetOf(url, what = 'url') {
  if (url === lastUrl && typeof url === 'string') return lastTarget;
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a URL string', url);
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw invalid(
      TypeError,
      'ERR_INVALID_URL',
      what,
      'an absolute http: or https: URL',
      url,
      err,
      missingScheme(url),
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    // 'localhost:8080/x' parses, with 'localhost:' for its scheme.
    const noScheme = missingScheme(url);
    if (noScheme)
      throw invalid(
        TypeError,
        'ERR_INVALID_URL',
        what,
        'an absolute http: or https: URL',
        url,
        undefined,
        noScheme,
      );
    throw invalid(RangeError, 'ERR_UNSUPPORTED_PROTOCOL', what, 'an http: or https: URL', url);
  }
  if (parsed.hostname === '') {
    throw invalid(TypeError, 'ERR_INVALID_URL', what, 'a URL with a host', url);
  }
  const target = Object.freeze({
    href: parsed.href,
    origin: parsed.origin,
    // Shown in errors: no credentials, no query.
    display: `${parsed.protocol}//${parsed.host}${parsed.pathname}`,
  });
  if (typeof url === 'string') {
    lastUrl = url;
    lastTarget = target;
  }
  return target;
}

function queryUrl(href, params) {
  if (params === undefined || params === null) return href;
  if (!isPlainObject(params)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_PARAMS',
      'params of a GET',
      'a flat object of query parameters',
      params,
    );
  }
  const url = new URL(href);
  for (const key of Object.keys(params)) {
    const value = params[key];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined) continue;
      if (v !== null && typeof v === 'object') {
        throw invalid(
          TypeError,
          'ERR_INVALID_PARAMS',
          `params.${key} of a GET`,
          'a string, number or boolean (GET params are flat)',
          v,
        );
      }
      if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') {
        throw invalid(
          TypeError,
          'ERR_INVALID_PARAMS',
          `params.${key} of a GET`,
          'a string, number or boolean',
          v,
        );
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
      throw invalid(
        TypeError,
        'ERR_INVALID_PARAMS',
        'params',
        `JSON-serialisable data (${err.message})`,
        params,
        err,
      );
    }
    if (typeof json !== 'string') {
      throw invalid(TypeError, 'ERR_INVALID_PARAMS', 'params', 'JSON-serialisable data', params);
    }
    return json;
  }
  throw invalid(
    TypeError,
    'ERR_INVALID_PARAMS',
    'params',
    'an object, an array, a string, a Buffer or a Uint8Array',
    params,
  );
}

function make(method, target, href, body, json) {
  return {
    verb: VERBS[method],
    method,
    href,
    origin: target.origin,
    display: target.display,
    body,
    json,
  };
}

// dispatchEvent(httpVerb, url, params): throws TypeError/RangeError (with a code) for bad input.
function prepare(httpVerb, url, params) {
  const method = verbOf(httpVerb);
  const target = targetOf(url);
  if (method === 'GET')
    return make(method, target, queryUrl(target.href, params), undefined, false);
  const body = bodyOf(params);
  // A body we made with JSON.stringify: one line of valid JSON (the spool embeds it as is).
  const json = typeof body === 'string' && body !== params;
  return make(method, target, target.href, body, json);
}

// A spooled event coming back: held to the same rules as a new one (verb, http/https URL), so a
// corrupt or tampered journal line can never send elsewhere or otherwise. `url` may be the
// dispatcher's endpoint, which replaces the journaled one.
function prepareReplay(method, url, body, json) {
  const verb = verbOf(method, EVENT_VERBS, "a spooled event's method");
  const target = targetOf(url, "a spooled event's url");
  if (verb === 'GET') return make(verb, target, target.href, undefined, false);
  if (typeof body !== 'string' && !ArrayBuffer.isView(body)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_PARAMS',
      "a spooled event's body",
      'a string or bytes',
      body,
    );
  }
  return make(verb, target, target.href, body, json === true && typeof body === 'string');
}

// fetch(): any verb, a body already in bytes or text, the caller's own headers.
function prepareRaw(method, url, body) {
  const verb = verbOf(method, Object.keys(VERBS), 'init.method');
  const target = targetOf(url, 'url');
  return make(verb, target, target.href, body, false);
}

module.exports = { prepare, prepareReplay, prepareRaw, targetOf, missingScheme, VERBS };
