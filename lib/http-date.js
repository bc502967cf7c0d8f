'use strict';
// HTTP dates and Retry-After (RFC 9110 §5.6.7, §10.2.3): header syntax, read where a header is
// read (the transport's completions, the OTLP adapter's fetch); what a delay means for delivery is
// lib/retry.js's.

const MONTHS = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};
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

// An HTTP-date → ms since the epoch, or NaN. `now` (ms since the epoch) places RFC 850's
// two-digit year.
function httpDate(text, now = Date.now()) {
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

// A Retry-After value: delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or
// unreadable, never negative.
function retryAfterMs(value, now = Date.now()) {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = httpDate(text, now);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

module.exports = { httpDate, retryAfterMs };
