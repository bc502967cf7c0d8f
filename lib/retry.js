'use strict';
// The retry decision: what to do after one attempt, a pure function of the attempt's result and a
// policy — decide(result, policy). The dispatcher decides with its delivery policy (below, from its
// options); the OTLP adapter with the OpenTelemetry SDK's (lib/adapters/otlp.js). A new policy is a
// new policy object, not a new copy of the loop.
//
// result: { statusCode, code, retryAfterMs, attempts, msLeft, pausedMs }
//   statusCode    a complete response's status, or 0 with `code` (the failure's code, e.g.
//                 'ECONNREFUSED'): no response, or the connection broke
//   retryAfterMs  the response's Retry-After in ms (lib/http-date.js), undefined without one
//   attempts      attempts made so far, this one included (≥ 1)
//   msLeft        until the deadline of the thing being delivered (Infinity: none)
//   pausedMs      how much longer its origin is paused already (≤ 0: it is not)
// policy: {
//   maxAttempts, retryStatuses, retryCodes (Sets), pauseStatuses (a Retry-After on these pauses
//   the whole origin, not just one event: no retry storms), backoffMs(attempts, random),
//   retryAfter: 'at-least' (the server's delay, capped at maxRetryAfterMs, is a floor under the
//   backoff) or 'instead' (it replaces the backoff), maxRetryAfterMs,
//   random (optional; Math.random)
// }
// → one of
//   { action: 'deliver' }                       a 2xx: delivered
//   { action: 'fail' }                          a final answer (a 400, ECERT): never retried
//   { action: 'retry', delayMs, pauseMs }       try again in delayMs
//   { action: 'exhausted', reason, delayMs, pauseMs }
//                                               retryable, but no attempt is left (reason
//                                               'retries-exhausted') or the delay ends past the
//                                               deadline ('deadline'): the caller keeps it
//                                               elsewhere or gives it up
// pauseMs: the origin pauses this long from now (a Retry-After on a pause status), else undefined.
// 'deliver' and 'fail' are shared frozen objects: the common case allocates nothing.

const { FAILURES, ERROR_CODES } = require('./transport/failures');

const DELIVER = Object.freeze({ action: 'deliver' });
const FAIL = Object.freeze({ action: 'fail' });

// The dispatcher's delivery policy.
// Statuses that may succeed later. Every other 4xx is the server's final word on this event.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
// Statuses whose Retry-After pauses the whole origin.
const PAUSE_STATUSES = new Set([429, 503]);
// DispatchError codes that may succeed later (no response, or the connection broke).
const RETRY_CODES = new Set(ERROR_CODES.filter((code) => FAILURES[code].retry));

// 'deliver', 'retry' or 'fail': the result's class under `policy`, before attempts and time.
function classify(statusCode, code, policy) {
  if (code !== undefined) return policy.retryCodes.has(code) ? 'retry' : 'fail';
  if (statusCode >= 200 && statusCode < 300) return 'deliver';
  return policy.retryStatuses.has(statusCode) ? 'retry' : 'fail';
}

function decide(result, policy) {
  const { statusCode, code } = result;
  if (code === undefined && statusCode >= 200 && statusCode < 300) return DELIVER;
  if (classify(statusCode, code, policy) === 'fail') return FAIL;
  const { attempts } = result;
  let delayMs = policy.backoffMs(attempts, policy.random || Math.random);
  let pauseMs;
  const after = code === undefined ? result.retryAfterMs : undefined;
  if (after !== undefined) {
    if (policy.retryAfter === 'instead') {
      delayMs = after;
    } else {
      const wait = Math.min(after, policy.maxRetryAfterMs);
      delayMs = Math.max(delayMs, wait);
      if (policy.pauseStatuses.has(statusCode)) pauseMs = wait;
    }
  }
  if (result.pausedMs > delayMs) delayMs = result.pausedMs;
  if (attempts >= policy.maxAttempts)
    return { action: 'exhausted', reason: 'retries-exhausted', delayMs, pauseMs };
  if (delayMs > result.msLeft) return { action: 'exhausted', reason: 'deadline', delayMs, pauseMs };
  return { action: 'retry', delayMs, pauseMs };
}

// Full jitter (AWS's "exponential backoff and jitter"): a uniform draw from
// [0, min(cap, base·2^n)), so clients that failed together do not come back together.
function backoffMs(attempt, baseMs, capMs, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

// The dispatcher's policy, from its options: capped exponential backoff with full jitter, the
// server's Retry-After (capped) as a floor, a pause of the origin on 429 and 503.
function deliveryPolicy(
  { maxAttempts, baseDelayMs, maxDelayMs, maxRetryAfterMs },
  random = undefined,
) {
  return Object.freeze({
    maxAttempts,
    retryStatuses: RETRY_STATUSES,
    retryCodes: RETRY_CODES,
    pauseStatuses: PAUSE_STATUSES,
    backoffMs: (attempts, rnd) => backoffMs(attempts, baseDelayMs, maxDelayMs, rnd),
    retryAfter: 'at-least',
    maxRetryAfterMs,
    random,
  });
}

module.exports = {
  decide,
  classify,
  backoffMs,
  deliveryPolicy,
  RETRY_STATUSES,
  RETRY_CODES,
  PAUSE_STATUSES,
};
