'use strict';
const { FAILURES, ERROR_CODES } = require('./transport/failures');
// The delivery policy: which outcomes are retried, how long to wait (capped exponential backoff
// with full jitter, or the server's Retry-After), and when an origin as a whole must pause.

// Statuses that may succeed later. Every other 4xx is the server's final word on this event.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
// Statuses whose Retry-After pauses the whole origin, not just one event: no retry storms.
const PAUSE_STATUSES = new Set([429, 503]);
// DispatchError codes that may succeed later (no response, or the connection broke).
const RETRY_CODES = new Set(ERROR_CODES.filter((code) => FAILURES[code].retry));

// statusCode: a complete response's status, or 0 with `failureCode` (a DispatchError code).
// Returns 'delivered', 'retry' or 'failed'.
function classify(statusCode, failureCode) {
  if (failureCode !== undefined) return RETRY_CODES.has(failureCode) ? 'retry' : 'failed';
  if (statusCode >= 200 && statusCode < 300) return 'delivered';
  return RETRY_STATUSES.has(statusCode) ? 'retry' : 'failed';
}

// Full jitter (AWS's "exponential backoff and jitter"): a uniform draw from [0, min(cap, base·2^n)),
// so clients that failed together do not come back together.
function backoffMs(attempt, baseMs, capMs, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const MONTHS = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
// The three HTTP-date forms of RFC 9110 §5.6.7, all in GMT:
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year, month, day, h, m, s) {
  const mon = MONTHS[month.toLowerCase()];
  if (mon === undefined) return NaN;
  const t = Date.UTC(year, mon, day, h, m, s);
  // Reject overflowing fields (Feb 31, 25:00) rather than rolling them over.
  const d = new Date(t);
  return d.getUTCDate() === day && d.getUTCHours() === h && d.getUTCMinutes() === m ? t : NaN;
}

function httpDate(text, now) {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(+m[3], m[2], +m[1], +m[4], +m[5], +m[6]);
  m = RFC850.exec(text);
  if (m) {
    // Two-digit year: the most recent year with those digits that is not more than 50 years
    // in the future (RFC 9110).
    const current = new Date(now).getUTCFullYear();
    let year = Math.floor(current / 100) * 100 + Number(m[3]);
    if (year > current + 50) year -= 100;
    return utc(year, m[2], +m[1], +m[4], +m[5], +m[6]);
  }
  m = ASCTIME.exec(text);
  if (m) return utc(+m[6], m[1], Number(m[2].trim()), +m[3], +m[4], +m[5]);
  return NaN;
}

// A Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms from `now`;
// undefined when absent or unreadable, never negative.
function retryAfterMs(value, now = Date.now()) {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = httpDate(text, now);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function shouldPauseOrigin(statusCode) {
  return PAUSE_STATUSES.has(statusCode);
}

module.exports = { classify, backoffMs, retryAfterMs, shouldPauseOrigin };
