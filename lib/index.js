'use strict';
const { DispatchError } = require('./errors');
const transport = require('./transport');

module.exports = {
  dispatchEvent: transport.dispatchEvent,
  setConnectionLimits: transport.setConnectionLimits,
  versions: transport.versions,
  pumpStats: transport.pumpStats,
  DispatchError,
};
