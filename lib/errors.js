'use strict';
// The error shapes of the package: DispatchError for a request that got no HTTP response, and one
// helper for invalid input so every message reads "Expected X for Y but received Z".

class DispatchError extends Error {
  // (message, { code, curlCode, statusCode, method, url }): the message is prefixed with the
  // method and URL (no credentials, no query).
  constructor(message, { code, curlCode, statusCode, method, url } = {}) {
    super(method ? `${method} ${url}: ${message}` : message);
    this.name = 'DispatchError';
    this.code = code;
    this.curlCode = curlCode;
    this.detail = message; // the transport's own words, without the method and URL
    if (statusCode !== undefined) this.statusCode = statusCode;
  }
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = value.constructor && value.constructor.name;
    return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
  }
  return `${typeof value} ${String(value)}`;
}

// invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.timeoutMs', 'an integer', value)
function invalid(ErrorClass, code, what, expected, received, cause) {
  const err = new ErrorClass(`Expected ${expected} for ${what} but received ${describe(received)}`,
    cause === undefined ? undefined : { cause });
  err.code = code;
  return err;
}

// An exception from reading the caller's own objects (a getter that throws, a revoked Proxy) is
// still a TypeError with a code, the original as its cause. Our own errors pass through.
function unreadable(err, code, what) {
  if ((err instanceof TypeError || err instanceof RangeError) && typeof err.code === 'string') return err;
  const out = new TypeError(`${what} could not be read: ${err && err.message ? err.message : String(err)}`, { cause: err });
  out.code = code;
  return out;
}

module.exports = { DispatchError, invalid, unreadable, isPlainObject };
