'use strict';
// The delivery policy: which outcomes are retried, how long to wait (capped exponential backoff
// with full jitter, or the server's Retry-After), and when an origin as a whole must pause.

// Statuses that may succeed later. Every other 4xx is the server's final word on this event.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
// Statuses whose Retry-After pauses the whole origin, not just one event: no retry storms.
const PAUSE_STATUSES = new Set([429, 503]);
// DispatchError codes that may succeed later (no response, or the connection broke).
const RETRY_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPROXY', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'EPROTO', 'ETLS',
]);

// outcome: { statusCode } for a response, { error } for a DispatchError.
// Returns 'delivered', 'retry' or 'failed'.
function classify(outcome) {
  if (outcome.error) return RETRY_CODES.has(outcome.error.code) ? 'retry' : 'failed';
  const status = outcome.statusCode;
  if (status >= 200 && status < 300) return 'delivered';
  return RETRY_STATUSES.has(status) ? 'retry' : 'failed';
}

// Full jitter (AWS's "exponential backoff and jitter"): a uniform draw from [0, min(cap, base·2^n)),
// so clients that failed together do not come back together.
function backoffMs(attempt, baseMs, capMs, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

// Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or
// unreadable, never negative.
function retryAfterMs(headers, now = Date.now()) {
  const value = headers && headers['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Za-z]{3},? /.test(text)) return undefined; // IMF-fixdate and the obsolete forms
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function shouldPauseOrigin(outcome) {
  return !outcome.error && PAUSE_STATUSES.has(outcome.statusCode);
}

module.exports = { classify, backoffMs, retryAfterMs, shouldPauseOrigin, RETRY_STATUSES, RETRY_CODES };
