'use strict';
const { DispatchError } = require('./errors');
const transport = require('./transport');
const { createDispatcher, Dispatcher } = require('./dispatcher');
const { closeOptimizely } = require('./optimizely');

module.exports = {
  createDispatcher,
  Dispatcher,
  closeOptimizely,
  dispatchEvent: transport.dispatchEvent,
  setConnectionLimits: transport.setConnectionLimits,
  versions: transport.versions,
  pumpStats: transport.pumpStats,
  DispatchError,
};
