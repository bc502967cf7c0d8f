'use strict';
// instrumentDispatcher(dispatcher, { meterProvider | meter, prefix, attributes }): a dispatcher's
// endings and state as OpenTelemetry metrics, so nobody has to poll stats().
//
// Counters count user events (unit {event}: the visitors of an Optimizely batch, 1 per request
// otherwise — stats().events), the number people ask about; requests are in stats(), and each
// delivered request is one latency measurement.
//   <prefix>.events.accepted   taken in (read from stats() at each collection: accepting is the
//                              hottest path, and no event exists there)
//   <prefix>.events.delivered  ned.replayed: true for events read back from the spool
//   <prefix>.events.failed     rejected for good: http.response.status_code, or error.type when
//                              no answer will ever do (ECERT)
//   <prefix>.events.spooled    each move to disk, by ned.reason (stats().spooled is what is on
//                              disk now: spool.parked below)
//   <prefix>.events.lost       by ned.reason
//   <prefix>.delivery.latency  histogram, ms, from acceptance to delivery; like stats().latencyMs
//                              it leaves out replayed events (accepted by another run's clock)
// Current values, read at each collection (up-down counters: they add up across dispatchers;
// Prometheus shows them as gauges):
//   <prefix>.queue.bytes (By), <prefix>.requests.in_flight ({request}),
//   <prefix>.spool.bytes (By), <prefix>.spool.parked ({request})
// The counters count from the call (accepted too), so that accepted = delivered + failed + lost +
// what is pending or on disk, for a dispatcher instrumented when created.
//
// @opentelemetry/api is an optional peer: required only here, and only when no meter or
// meterProvider is given (the global one is then used).
const { invalid, isPlainObject, checkDispatcher } = require('./errors');
const { unknownOption } = require('./transport/options');
const { COUNTS_ONLY } = require('./dispatcher');
const { version } = require('../package.json');

const OPTIONS = ['meterProvider', 'meter', 'prefix', 'attributes'];
const METER_METHODS = [
  'createCounter',
  'createHistogram',
  'createObservableCounter',
  'createObservableUpDownCounter',
  'addBatchObservableCallback',
  'removeBatchObservableCallback',
];
// An instrument name is at most 255 characters from this set (the OTel spec); the longest suffix
// below is 19.
const PREFIX = /^[A-Za-z][A-Za-z0-9_./-]{0,199}$/;
const INT = 0; // @opentelemetry/api's ValueType.INT
// From a fast local collector to retries that run until deadlineMs (120 s by default).
const LATENCY_BUCKETS_MS = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000,
];

function globalMeterProvider() {
  let api;
  try {
    api = require('@opentelemetry/api');
  } catch (err) {
    if (
      err &&
      err.code === 'MODULE_NOT_FOUND' &&
      String(err.message).includes("'@opentelemetry/api'")
    ) {
      const missing = new Error(
        'instrumentDispatcher() needs @opentelemetry/api, an optional peer dependency of ' +
          'native-event-dispatcher: npm install @opentelemetry/api — or pass { meterProvider } or { meter }',
        { cause: err },
      );
      missing.code = 'ERR_PEER_MISSING';
      throw missing;
    }
    throw err;
  }
  return api.metrics.getMeterProvider();
}

function readOptions(options) {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options',
      'a plain object ({ meterProvider, meter, prefix, attributes })',
      options,
    );
  }
  for (const key of Object.keys(options))
    if (!OPTIONS.includes(key)) throw unknownOption(key, OPTIONS);
  const { meterProvider, meter, prefix = 'ned', attributes = {} } = options;
  if (meter !== undefined && meterProvider !== undefined) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      'options',
      'either a meter or a meterProvider',
      'both',
    );
  }
  if (
    meterProvider !== undefined &&
    (meterProvider === null || typeof meterProvider.getMeter !== 'function')
  ) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options.meterProvider',
      'a MeterProvider (with getMeter())',
      meterProvider,
    );
  }
  if (
    meter !== undefined &&
    (meter === null || !METER_METHODS.every((name) => typeof meter[name] === 'function'))
  ) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options.meter',
      'an OpenTelemetry Meter (@opentelemetry/api 1.3 or later)',
      meter,
    );
  }
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      'options.prefix',
      'an instrument name prefix (a letter, then letters, digits, _ . - /; at most 200 characters)',
      prefix,
    );
  }
  if (!isPlainObject(attributes)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'options.attributes',
      'a plain object of attributes',
      attributes,
    );
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        `options.attributes[${JSON.stringify(name)}]`,
        'a string, number or boolean',
        value,
      );
    }
  }
  return {
    meter:
      meter ||
      (meterProvider || globalMeterProvider()).getMeter('native-event-dispatcher', version),
    prefix,
    attributes: Object.freeze({ ...attributes }),
  };
}

// One attributes object per value of `name`, made once: recording allocates nothing.
function attributeSets(base, name) {
  const sets = new Map();
  return (value) => {
    let set = sets.get(value);
    if (set === undefined) {
      set = Object.freeze({ ...base, [name]: value });
      sets.set(value, set);
    }
    return set;
  };
}

function instrumentDispatcher(dispatcher, options) {
  checkDispatcher(dispatcher, 'dispatcher', ['stats', 'on']);
  const { meter, prefix, attributes } = readOptions(options);
  const counter = (name, description) =>
    meter.createCounter(`${prefix}.${name}`, { description, unit: '{event}', valueType: INT });
  const delivered = counter('events.delivered', 'Events delivered (a 2xx answer)');
  const failed = counter('events.failed', 'Events the server rejected for good (a 400, say)');
  const spooled = counter(
    'events.spooled',
    'Events moved to the spool on disk, to be delivered later',
  );
  const lost = counter('events.lost', 'Events lost, each reported with its reason');
  const latency = meter.createHistogram(`${prefix}.delivery.latency`, {
    description: 'From acceptance to delivery (events accepted by this run)',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  const accepted = meter.createObservableCounter(`${prefix}.events.accepted`, {
    description: 'Events taken in',
    unit: '{event}',
    valueType: INT,
  });
  const current = (name, description, unit) =>
    meter.createObservableUpDownCounter(`${prefix}.${name}`, { description, unit, valueType: INT });
  const queueBytes = current(
    'queue.bytes',
    'Event bytes held in memory: queued, in backoff or in flight',
    'By',
  );
  const inFlight = current('requests.in_flight', 'Requests in flight', '{request}');
  const spoolBytes = current('spool.bytes', "This dispatcher's spool on disk", 'By');
  const parked = current('spool.parked', 'Requests on disk waiting to be replayed', '{request}');

  const byReplayed = attributeSets(attributes, 'ned.replayed');
  const byReason = attributeSets(attributes, 'ned.reason');
  const byStatus = attributeSets(attributes, 'http.response.status_code');
  const byErrorType = attributeSets(attributes, 'error.type');
  const listeners = {
    delivered(info) {
      delivered.add(info.events, byReplayed(info.replayed));
      if (!info.replayed) latency.record(info.latencyMs, attributes);
    },
    failed(info) {
      failed.add(
        info.events,
        info.statusCode ? byStatus(info.statusCode) : byErrorType(info.code || info.cause),
      );
    },
    spool(info) {
      spooled.add(info.events, byReason(info.reason));
    },
    drop(info) {
      lost.add(info.events, byReason(info.reason));
    },
  };
  // Counting losses is not hearing of them: with no other listener and no logger, the first loss
  // is still a process warning.
  listeners.drop[COUNTS_ONLY] = true;
  for (const [name, listener] of Object.entries(listeners)) dispatcher.on(name, listener);

  const base = dispatcher.stats().events.accepted;
  const observe = (result) => {
    const stats = dispatcher.stats();
    result.observe(accepted, stats.events.accepted - base, attributes);
    result.observe(queueBytes, stats.queuedBytes, attributes);
    result.observe(inFlight, stats.inFlight, attributes);
    result.observe(spoolBytes, stats.spoolBytes, attributes);
    result.observe(parked, stats.parked, attributes);
  };
  const observables = [accepted, queueBytes, inFlight, spoolBytes, parked];
  meter.addBatchObservableCallback(observe, observables);

  let stopped = false;
  return {
    // Removes the listeners and the collection callback (the instruments stay with the meter).
    stop() {
      if (stopped) return;
      stopped = true;
      for (const [name, listener] of Object.entries(listeners)) dispatcher.off(name, listener);
      meter.removeBatchObservableCallback(observe, observables);
    },
  };
}

module.exports = { instrumentDispatcher };
