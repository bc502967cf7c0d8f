'use strict';
// createDispatcher(options): defaults, limits and checks in one place. The transport options among
// them are compiled into the transport profile every send of this dispatcher uses.
const { invalid, isPlainObject } = require('../errors');
const { profileFor, OPTION_NAMES, unknownOption } = require('../transport/options');
const { targetOf } = require('../transport/request');
const { MAX_MS, MAX_LIMIT } = require('../transport/protocol');

const DEFAULTS = Object.freeze({
  endpoint: undefined,
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 30000,
  deadlineMs: 120000,
  maxRetryAfterMs: 60000,
  maxInFlight: 256,
  maxQueueBytes: 32 * 1024 * 1024,
  spoolDir: undefined,
  spoolMaxBytes: 256 * 1024 * 1024,
  spoolRetryMs: 30000,
  handleProcessExit: false,
  closeTimeoutMs: 10000,
  logger: undefined,
  // (params) → the user events a request carries; createDispatcher's counts visitors
  eventCount: undefined,
});
const LIMITS = Object.freeze({
  maxAttempts: [1, 1000],
  baseDelayMs: [0, 3600000],
  maxDelayMs: [0, 3600000],
  deadlineMs: [1, 7 * 24 * 3600000],
  maxRetryAfterMs: [0, 24 * 3600000],
  maxInFlight: [1, MAX_LIMIT],
  maxQueueBytes: [1024, 2 ** 40],
  spoolMaxBytes: [1024, 2 ** 50],
  spoolRetryMs: [0, 24 * 3600000],
  closeTimeoutMs: [0, MAX_MS],
});
// The transport's options, but the per-call ones (the dispatcher reports no timings and its
// results carry no stack).
const TRANSPORT_OPTIONS = new Set(
  OPTION_NAMES.filter((name) => name !== 'timings' && name !== 'captureStack'),
);
const ALL_NAMES = [...Object.keys(DEFAULTS), ...TRANSPORT_OPTIONS];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

function integerOption(key, value) {
  const [min, max] = LIMITS[key];
  const what = `options.${key}`;
  if (typeof value !== 'number')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(RangeError, 'ERR_OUT_OF_RANGE', what, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

// The method each of our levels is logged with: its own name, or the name a logger's level set
// gives it (winston with syslog's levels has `warning`, no `warn`).
const LEVEL_METHODS = Object.freeze({
  debug: ['debug'],
  info: ['info'],
  warn: ['warn', 'warning'],
  error: ['error'],
});
// The Optimizely v4/v5 SDK's LogLevel numbers, which its loggers' log(level, message) takes.
const V5_LEVELS = Object.freeze({ debug: 1, info: 2, warn: 3, error: 4 });

// value's methods for our four levels → { debug, info, warn, error }, or null when one is missing.
// The value itself when the names are ours: called as value[level](message), it keeps its `this`.
function levelsOf(value) {
  if (!((value !== null && typeof value === 'object') || typeof value === 'function')) return null;
  const names = {};
  for (const level of LOG_LEVELS) {
    names[level] = LEVEL_METHODS[level].find((name) => typeof value[name] === 'function');
    if (names[level] === undefined) return null;
  }
  if (LOG_LEVELS.every((level) => names[level] === level)) return value;
  const out = {};
  for (const level of LOG_LEVELS) out[level] = (message) => value[names[level]](message);
  return Object.freeze(out);
}

// A logger → { debug, info, warn, error }. Taken as they come: console, pino, winston (npm's or
// syslog's levels) and any object with those four methods; the Optimizely v6 SDK's createLogger()
// (an opaque object holding such a logger under a symbol); the v4/v5 SDK's logger
// (log(level, message), its own levels) — winston has a log(level, message) too, so level
// methods are looked for first.
function loggerOf(value, what) {
  const levels = levelsOf(value);
  if (levels) return levels;
  if (value !== null && typeof value === 'object') {
    for (const symbol of Object.getOwnPropertySymbols(value)) {
      const inner = levelsOf(value[symbol]);
      if (inner) return inner;
    }
    if (typeof value.log === 'function') {
      const out = {};
      for (const level of LOG_LEVELS)
        out[level] = (message) => value.log(V5_LEVELS[level], message);
      return Object.freeze(out);
    }
  }
  throw invalid(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    what,
    'a logger: console, pino, winston, an object with debug, info, warn and error methods, or an Optimizely SDK logger',
    value,
  );
}

// close()'s, closeOptimizely's and flush()'s deadline: undefined (`defaultMs`: the dispatcher's
// closeTimeoutMs, or none for flush), a number of ms, or { timeoutMs }; any other name is refused
// (close({ timeout: 500 }) must not be a close that waits closeTimeoutMs instead).
const CLOSE_OPTIONS = ['timeoutMs'];
function readCloseTimeout(options, defaultMs, what = 'options') {
  if (options === undefined) return defaultMs;
  if (typeof options === 'number') return closeMs(options, what);
  if (!isPlainObject(options)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      what,
      'a number of ms or { timeoutMs }',
      options,
    );
  }
  for (const key of Object.keys(options)) {
    if (!CLOSE_OPTIONS.includes(key)) throw unknownOption(key, CLOSE_OPTIONS);
  }
  return options.timeoutMs === undefined
    ? defaultMs
    : closeMs(options.timeoutMs, `${what}.timeoutMs`);
}

function closeMs(value, what) {
  if (typeof value !== 'number')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an integer', value);
  if (!Number.isInteger(value) || value < 0 || value > LIMITS.closeTimeoutMs[1]) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      what,
      `an integer from 0 to ${LIMITS.closeTimeoutMs[1]}`,
      value,
    );
  }
  return value;
}

// → the complete options, with `profile` (the compiled transport options).
function readOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  const o = { ...DEFAULTS };
  const transportOptions = {};
  for (const key of Object.keys(options)) {
    const value = options[key];
    if (TRANSPORT_OPTIONS.has(key)) {
      transportOptions[key] = value;
      continue;
    }
    if (!Object.hasOwn(DEFAULTS, key)) throw unknownOption(key, ALL_NAMES);
    if (value === undefined) continue;
    const what = `options.${key}`;
    if (LIMITS[key]) {
      integerOption(key, value);
    } else if (key === 'endpoint') {
      targetOf(value, what); // the URL rules of dispatchEvent, named after the option
    } else if (key === 'spoolDir') {
      if (typeof value !== 'string' || value === '') {
        throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a directory path', value);
      }
    } else if (key === 'eventCount') {
      if (typeof value !== 'function')
        throw invalid(
          TypeError,
          'ERR_INVALID_ARG_TYPE',
          what,
          'a function (params) → a number of events',
          value,
        );
    } else if (key === 'handleProcessExit') {
      if (typeof value !== 'boolean')
        throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a boolean', value);
    } else if (key === 'logger') {
      o.logger = loggerOf(value, what);
      continue;
    }
    o[key] = value;
  }
  if (o.maxDelayMs < o.baseDelayMs) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      'options.maxDelayMs',
      `an integer no smaller than baseDelayMs (${o.baseDelayMs})`,
      o.maxDelayMs,
    );
  }
  if (o.endpoint !== undefined) o.endpoint = targetOf(o.endpoint, 'options.endpoint').href;
  o.profile = profileFor(transportOptions);
  return Object.freeze(o);
}

module.exports = { readOptions, readCloseTimeout, DEFAULTS };
