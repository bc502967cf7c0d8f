'use strict';
// The interface the Optimizely SDKs call, which the dispatcher implements: the LogEvent
// dispatchEvent() takes ({ url, httpVerb, params }), and the v4/v5 callback, called exactly once
// per event (the SDK's close() waits for it). What is Optimizely's payload (the visitors in a
// batch) is lib/optimizely.js's.
const { invalid } = require('../errors');

// Reads an SDK event; `endpoint` (when set) replaces event.url.
function readLogEvent(event, endpoint) {
  if (event === null || typeof event !== 'object') {
    throw invalid(
      TypeError,
      'ERR_INVALID_EVENT',
      'event',
      'an object { url, httpVerb, params }',
      event,
    );
  }
  const url = endpoint || event.url;
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalid(TypeError, 'ERR_INVALID_EVENT', 'event.url', 'a URL string', event.url);
  }
  if (event.params === undefined) {
    throw invalid(
      TypeError,
      'ERR_INVALID_EVENT',
      'event.params',
      'the event payload',
      event.params,
    );
  }
  return {
    httpVerb: event.httpVerb === undefined ? 'POST' : event.httpVerb,
    url,
    params: event.params,
  };
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

module.exports = { readLogEvent, callOnce };
