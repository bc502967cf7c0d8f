'use strict';
// The error shapes of the package: DispatchError for a request that got no HTTP response, and one
// helper for invalid input so every message reads "Expected X for Y but received Z".

class DispatchError extends Error {
  // Built by the addon: (message, code, curlCode, site, statusCode). `site` is captured where the
  // caller made the request, so the stack points at the caller and not at an internal callback.
  constructor(message, code, curlCode, site, statusCode) {
    const prefix = site && site.method ? `${site.method} ${site.url}: ` : '';
    super(prefix + message);
    this.name = 'DispatchError';
    this.code = code;
    this.curlCode = curlCode;
    if (statusCode !== undefined) this.statusCode = statusCode;
    if (site && typeof site.stack === 'string') {
      const frames = site.stack.indexOf('\n');
      this.stack = `${this.name}: ${this.message}${frames >= 0 ? site.stack.slice(frames) : ''}`;
    }
  }
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

module.exports = { DispatchError, invalid, describe };
