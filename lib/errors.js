'use strict';
// The error shapes of the package: DispatchError for a request that got no HTTP response, and one
// helper for invalid input so every message reads "Expected X for Y but received Z" — with any
// credential in Z masked (lib/redact.js): an error message ends up in logs.
const { redactText } = require('./redact');

class DispatchError extends Error {
  // (message, { code, curlCode, statusCode, method, url }): the message is prefixed with the
  // method and URL (no credentials, no query).
  constructor(message, { code, curlCode, statusCode, method, url } = {}) {
    // The transport's words may quote a URL (a proxy's, say): masked like everything we print.
    const detail = redactText(message);
    super(method ? `${method} ${redactText(url)}: ${detail}` : detail);
    this.name = /** @type {const} */ ('DispatchError');
    this.code = code;
    this.curlCode = curlCode;
    this.detail = detail; // the transport's own words, without the method and URL
    if (statusCode !== undefined) this.statusCode = statusCode;
  }
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// A value that must not be shown at all (a credential header's value): described by its type and
// length only.
class Hidden {
  constructor(value) {
    this.value = value;
  }
}
const hidden = (value) => new Hidden(value);

function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Hidden) {
    const v = value.value;
    return typeof v === 'string'
      ? `a string of ${v.length} characters (not shown: a credential)`
      : describe(v);
  }
  if (typeof value === 'string') {
    // Masked before it is cut short: a cut could leave a password without the '@' that marks it.
    const text = redactText(value);
    return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
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

// invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.timeoutMs', 'an integer', value); `hint`
// follows the shape, when there is more to say (': did you mean "timeoutMs"?').
function invalid(ErrorClass, code, what, expected, received, cause, hint = '') {
  const err = new ErrorClass(
    `Expected ${expected} for ${what} but received ${describe(received)}${hint}`,
    cause === undefined ? undefined : { cause: withoutInput(cause) },
  );
  err.code = code;
  return err;
}

// Node's URL errors carry the whole input (`input`): a cause made of them keeps the code and
// message, and the input masked.
function withoutInput(cause) {
  if (!(cause instanceof Error) || typeof cause.input !== 'string') return cause;
  const copy = new TypeError(cause.message);
  copy.code = cause.code;
  copy.input = redactText(cause.input);
  return copy;
}

// An exception from reading the caller's own objects (a getter that throws, a revoked Proxy) is
// still a TypeError with a code, the original as its cause. Our own errors pass through.
function unreadable(err, code, what) {
  if ((err instanceof TypeError || err instanceof RangeError) && typeof err.code === 'string')
    return err;
  const out = new TypeError(
    `${what} could not be read: ${redactText(err && err.message ? err.message : String(err))}`,
    { cause: err },
  );
  out.code = code;
  return out;
}

// A dispatcher from createDispatcher(), as far as the caller needs one: an object with `methods`.
function checkDispatcher(dispatcher, what, methods) {
  if (
    dispatcher === null ||
    typeof dispatcher !== 'object' ||
    methods.some((name) => typeof dispatcher[name] !== 'function')
  ) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      what,
      'a dispatcher from createDispatcher()',
      dispatcher,
    );
  }
  return dispatcher;
}

module.exports = {
  DispatchError,
  invalid,
  unreadable,
  isPlainObject,
  hidden,
  describe,
  checkDispatcher,
};
