'use strict';
// What makes the dispatcher a drop-in for the Optimizely SDKs: the LogEvent shape they pass
// ({ url, httpVerb, params }), the v4/v5 callback that must be called exactly once per event (the
// SDK's close() waits for it), the events inside a batch, and a shutdown helper that closes the
// client before the dispatcher and keeps one deadline for both.
const { performance } = require('node:perf_hooks');
const { invalid } = require('./errors');
const { readCloseTimeout } = require('./dispatcher/options');

// Deadlines on a monotonic clock (a step of the wall clock must not move them).
const clock = () => performance.now();

// Reads an SDK event; `endpoint` (when set) replaces event.url.
function readLogEvent(event, endpoint) {
  if (event === null || typeof event !== 'object') {
    throw invalid(TypeError, 'ERR_INVALID_EVENT', 'event', 'an object { url, httpVerb, params }', event);
  }
  const url = endpoint || event.url;
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalid(TypeError, 'ERR_INVALID_EVENT', 'event.url', 'a URL string', event.url);
  }
  if (event.params === undefined) {
    throw invalid(TypeError, 'ERR_INVALID_EVENT', 'event.params', 'the event payload', event.params);
  }
  return { httpVerb: event.httpVerb === undefined ? 'POST' : event.httpVerb, url, params: event.params };
}

// The user events a request carries: the visitors of an Optimizely EventBatch (each visitor entry
// is one decision or conversion), or 1 for any other payload. Read, never altered.
function eventCount(params) {
  const visitors = params !== null && typeof params === 'object' ? params.visitors : undefined;
  return Array.isArray(visitors) ? visitors.length : 1;
}

// v4/v5 type their callback as ({ statusCode: number }) => void: a number it is, 0 when the event
// got no HTTP status (spooled, dropped, or failed without a response).
function callbackResult(result) {
  return result.statusCode === undefined ? { ...result, statusCode: 0 } : result;
}

// Calls the SDK's callback once; an exception in it must not escape into our machinery.
function callOnce(callback, result, onError) {
  if (typeof callback !== 'function') return;
  try {
    callback(callbackResult(result));
  } catch (err) {
    onError(err);
  }
}

function sleepUntil(deadline) {
  let timer;
  const promise = new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - clock())); });
  return { promise, cancel: () => clearTimeout(timer) };
}

// Shutdown in the right order, within one deadline: the SDK first (it hands its last batches to
// the dispatcher while it closes), then the dispatcher, which delivers them or spools them.
// Resolves with the dispatcher's close() summary, at the latest `timeoutMs` after the call.
// `options`: { timeoutMs } or a number of ms (default: the dispatcher's closeTimeoutMs).
//
// The SDK's close() waits for the dispatcher's answers; the dispatcher settles everything it holds
// at the deadline (settleBy), so that close() cannot outlast it whatever the endpoint does.
//
// Measured with SDK 6.6.1: events made just before client.close() are still on their way into the
// SDK's batch queue when close() flushes it, so the last partial batch only reaches the dispatcher
// on the next flush-interval tick — after close() resolved. Two turns of the event loop let them
// land first; close() then hands them over.
async function closeOptimizely(client, dispatcher, options) {
  if (!client || typeof client.close !== 'function') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'client', 'an Optimizely client', client);
  }
  if (!dispatcher || typeof dispatcher.close !== 'function' || typeof dispatcher.settleBy !== 'function') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'dispatcher', 'a dispatcher from createDispatcher()', dispatcher);
  }
  const timeoutMs = readCloseTimeout(options, dispatcher.options.closeTimeoutMs);
  const deadline = clock() + timeoutMs;
  // Settling thousands of held batches, and the SDK's close() hearing of them, takes time too:
  // a tenth of the time (250 ms at most, plus what writing a late file needs) is kept for it, so
  // the whole returns by the deadline.
  const reserve = Math.min(Math.floor(timeoutMs / 10), 250)
    + (typeof dispatcher.reserveMs === 'function' ? dispatcher.reserveMs(timeoutMs) : 0);
  dispatcher.settleBy(Date.now() + timeoutMs - reserve);
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  let clientError;
  const clientClosed = Promise.resolve()
    .then(() => client.close())
    .catch((err) => { clientError = err; }); // what the dispatcher holds is delivered or spooled all the same
  const timeUp = sleepUntil(deadline - Math.floor(reserve / 2));
  await Promise.race([clientClosed, timeUp.promise]);
  timeUp.cancel();
  const summary = await dispatcher.close({ timeoutMs: Math.max(0, Math.floor(deadline - clock())) });
  if (clientError) throw clientError;
  return summary;
}

module.exports = { readLogEvent, eventCount, callOnce, closeOptimizely };
