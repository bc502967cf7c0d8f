'use strict';
const { DispatchError } = require('./errors');
const transport = require('./transport');
const { createDispatcher, Dispatcher, closeOptimizely } = require('./optimizely');
const { createFetch } = require('./fetch');
const { createSentryTransport } = require('./adapters/sentry');
const { createOtlpTransport } = require('./adapters/otlp');
const { createAmplitudeTransport } = require('./adapters/amplitude');
const { instrumentDispatcher } = require('./metrics');

module.exports = {
  createDispatcher,
  Dispatcher,
  closeOptimizely,
  dispatchEvent: transport.dispatchEvent,
  setConnectionLimits: transport.setConnectionLimits,
  versions: transport.versions,
  pumpStats: transport.pumpStats,
  DispatchError,
  createFetch,
  createSentryTransport,
  createOtlpTransport,
  createAmplitudeTransport,
  instrumentDispatcher,
};
