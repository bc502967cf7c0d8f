'use strict';
// What makes the dispatcher a drop-in for the Optimizely SDKs: the LogEvent shape they pass
// ({ url, httpVerb, params }), the v4/v5 callback that must be called exactly once per event (the
// SDK's close() waits for it), and a shutdown helper that closes the client before the dispatcher.
const { invalid } = require('./errors');

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

// Shutdown in the right order: the SDK first (it hands its last batches to the dispatcher while it
// closes), then the dispatcher, which delivers them or spools them. Resolves with the dispatcher's
// close() summary.
//
// Measured with SDK 6.6.1: events made just before client.close() are still on their way into the
// SDK's batch queue when close() flushes it, so the last partial batch only reaches the dispatcher
// on the next flush-interval tick — after close() resolved, and after a dispatcher closed right
// after it. Two turns of the event loop let them land first; close() then hands them over.
async function closeOptimizely(client, dispatcher, options = {}) {
  if (!client || typeof client.close !== 'function') {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'client', 'an Optimizely client', client);
  }
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  let clientError;
  try {
    await client.close();
  } catch (err) {
    clientError = err; // what the dispatcher holds must be delivered or spooled all the same
  }
  const summary = await dispatcher.close(options);
  if (clientError) throw clientError;
  return summary;
}

module.exports = { readLogEvent, callOnce, callbackResult, closeOptimizely };
