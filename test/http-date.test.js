'use strict';
// HTTP dates (RFC 9110 §5.6.7) and Retry-After (§10.2.3): lib/http-date.js, which the transport and
// the OTLP adapter read headers with.
const { httpDate, retryAfterMs } = require('../lib/http-date');

const now = Date.parse('2026-11-28T12:00:00Z');

test('the three forms, all GMT', () => {
  const t = Date.parse('1994-11-06T08:49:37Z');
  expect(httpDate('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(t);
  expect(httpDate('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(t);
  expect(httpDate('Sun Nov  6 08:49:37 1994', now)).toBe(t);
  expect(httpDate('Sun, 06 nov 1994 08:49:37 GMT', now)).toBe(t); // month names in any case
});

test('RFC 850 two-digit years: the latest such year at most 50 years ahead', () => {
  expect(new Date(httpDate('Monday, 01-Jan-76 00:00:00 GMT', now)).getUTCFullYear()).toBe(2076);
  expect(new Date(httpDate('Friday, 01-Jan-77 00:00:00 GMT', now)).getUTCFullYear()).toBe(1977);
});

test('not a date: NaN (no rollover, no other zones, no other shapes)', () => {
  for (const text of ['', 'soon', 'Sat, 31 Feb 2026 12:00:00 GMT', 'Sat, 28 Nov 2026 25:00:00 GMT', 'Sat, 28 Nov 2026 12:00:10 PST',
    'Sat, 28 Xyz 2026 12:00:10 GMT', '2026-11-28T12:00:10Z', 'Sat, 28 Nov 2026 12:00:10 GMT trailing']) {
    expect(httpDate(text, now)).toBeNaN();
  }
});

test('Retry-After: delay-seconds or a date, in ms from now, never negative', () => {
  expect(retryAfterMs('0', now)).toBe(0);
  expect(retryAfterMs('120', now)).toBe(120000);
  expect(retryAfterMs('\t7 ', now)).toBe(7000);
  expect(retryAfterMs('Sat, 28 Nov 2026 12:01:00 GMT', now)).toBe(60000);
  expect(retryAfterMs('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0);
  for (const value of [undefined, null, 3, '-1', '1.5', '1e3', ' ', 'soon']) expect(retryAfterMs(value, now)).toBeUndefined();
});
