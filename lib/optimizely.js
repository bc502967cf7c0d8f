'use strict';
// The Optimizely adapter: what the dispatcher knows of Optimizely beyond the interface it
// implements (lib/dispatcher/interface.js) — the events inside a batch (its eventCount), and a
// shutdown helper that closes the client before the dispatcher and keeps one deadline for both.
const { performance } = require('node:perf_hooks');
const { invalid, checkDispatcher } = require('./errors');
const { Dispatcher: CoreDispatcher } = require('./dispatcher');

// Deadlines on a monotonic clock (a step of the wall clock must not move them).
const clock = () => performance.now();

// The user events a request carries: the visitors of an Optimizely EventBatch (each visitor entry
// is one decision or conversion), or 1 for any other payload. Read, never altered. The
// dispatcher's eventCount unless its options give one.
function countVisitors(params) {
  const visitors = params !== null && typeof params === 'object' ? params.visitors : undefined;
  return Array.isArray(visitors) ? visitors.length : 1;
}

// The options with the visitor count as eventCount, unless they have one (anything that is not
// options is left to the dispatcher to refuse).
function withVisitorCount(options) {
  if (options === undefined || options === null) return { eventCount: countVisitors };
  if (typeof options !== 'object' || Array.isArray(options) || options.eventCount !== undefined)
    return options;
  return { ...options, eventCount: countVisitors };
}

// The dispatcher as the package exports it: the core (lib/dispatcher) counting what an Optimizely
// batch carries.
class Dispatcher extends CoreDispatcher {
  constructor(options) {
    super(withVisitorCount(options));
  }
}

function createDispatcher(options) {
  return new Dispatcher(options);
}

function sleepUntil(deadline) {
  let timer;
  const promise = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - clock()));
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

// Shutdown in the right order, within one deadline: the SDK first (it hands its last batches to
// the dispatcher while it closes), then the dispatcher, which delivers them or spools them.
// Resolves with the dispatcher's close() summary, at the latest `timeoutMs` after the call.
// `options`: { timeoutMs } or a number of ms (default: the dispatcher's closeTimeoutMs).
//
// The SDK's close() waits for the dispatcher's answers; the dispatcher settles everything it holds
// before the deadline (settleWithin), so that close() cannot outlast it whatever the endpoint does.
//
// Measured with SDK 6.6.1: events made just before client.close() are still on their way into the
// SDK's batch queue when close() flushes it, so the last partial batch only reaches the dispatcher
// on the next flush-interval tick — after close() resolved. Two turns of the event loop let them
// land first; close() then hands them over.
async function closeOptimizely(client, dispatcher, options) {
  if (!client || typeof client.close !== 'function') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'client', 'an Optimizely client', client);
  }
  checkDispatcher(dispatcher, 'dispatcher', ['close', 'settleWithin']);
  // The dispatcher settles what it holds early enough for the whole — its settling, and the SDK's
  // close() hearing of it — to end by the deadline; it says how much it kept for that.
  const { timeoutMs, reserveMs: reserve } = dispatcher.settleWithin(options);
  const deadline = clock() + timeoutMs;
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  let clientError;
  const clientClosed = Promise.resolve()
    .then(() => client.close())
    .catch((err) => {
      clientError = err;
    }); // what the dispatcher holds is delivered or spooled all the same
  const timeUp = sleepUntil(deadline - Math.floor(reserve / 2));
  await Promise.race([clientClosed, timeUp.promise]);
  timeUp.cancel();
  const summary = await dispatcher.close({
    timeoutMs: Math.max(0, Math.floor(deadline - clock())),
  });
  if (clientError) throw clientError;
  return summary;
}

module.exports = { countVisitors, Dispatcher, createDispatcher, closeOptimizely };
