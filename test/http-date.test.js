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
  for (const text of [
    '',
    'soon',
    'Sat, 31 Feb 2026 12:00:00 GMT',
    'Sat, 28 Nov 2026 25:00:00 GMT',
    'Sat, 28 Nov 2026 12:00:10 PST',
    'Sat, 28 Xyz 2026 12:00:10 GMT',
    '2026-11-28T12:00:10Z',
    'Sat, 28 Nov 2026 12:00:10 GMT trailing',
  ]) {
    expect(httpDate(text, now)).toBeNaN();
  }
});

test('Retry-After: delay-seconds or a date, in ms from now, never negative', () => {
  expect(retryAfterMs('0', now)).toBe(0);
  expect(retryAfterMs('120', now)).toBe(120000);
  expect(retryAfterMs('\t7 ', now)).toBe(7000);
  expect(retryAfterMs('Sat, 28 Nov 2026 12:01:00 GMT', now)).toBe(60000);
  expect(retryAfterMs('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0);
  for (const value of [undefined, null, 3, '-1', '1.5', '1e3', ' ', 'soon'])
    expect(retryAfterMs(value, now)).toBeUndefined();
});

describe('retryAfterMs: the Retry-After header of RFC 9110', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');

  test('Retry-After parsing: seconds, the three HTTP-date forms of RFC 9110, garbage', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 3 ', now)).toBe(3000);
    // IMF-fixdate, RFC 850 (two-digit year) and asctime: all GMT, whatever the local time zone.
    expect(retryAfterMs('Sat, 28 Nov 2026 12:00:10 GMT', now)).toBe(10000);
    expect(retryAfterMs('Saturday, 28-Nov-26 12:00:10 GMT', now)).toBe(10000);
    expect(retryAfterMs('Sat Nov 28 12:00:10 2026', now)).toBe(10000);
    expect(retryAfterMs('Sat Nov  8 12:00:10 2026', Date.parse('2026-11-08T12:00:00Z'))).toBe(
      10000,
    );
    expect(retryAfterMs('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0); // in the past: now
    expect(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0); // 1994, not 2094
    for (const garbage of [
      'soon',
      '-1',
      '1.5',
      '',
      'Sat, 31 Feb 2026 12:00:00 GMT',
      'Sat, 28 Nov 2026 12:00:10 PST',
    ]) {
      expect(retryAfterMs(garbage, now)).toBeUndefined();
    }
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  test('delay-seconds: 0, large values, leading zeros and surrounding white space', () => {
    expect(retryAfterMs('0', now)).toBe(0);
    expect(retryAfterMs('007', now)).toBe(7000);
    expect(retryAfterMs('86400', now)).toBe(86400000);
    expect(retryAfterMs('\t120\r\n', now)).toBe(120000);
  });

  test('only a header string is read: numbers, null and objects are not', () => {
    for (const value of [3, null, ['3'], { seconds: 3 }, true])
      expect(retryAfterMs(value, now)).toBeUndefined();
    expect(retryAfterMs('   ', now)).toBeUndefined();
  });

  test('delay-seconds with a sign, a unit, an exponent or a fraction is garbage', () => {
    for (const value of ['+3', '3s', '3e2', '0x10', '3.0', '3 4', '١٢'])
      expect(retryAfterMs(value, now)).toBeUndefined();
  });

  test('month names are read in any case', () => {
    expect(retryAfterMs('Sat, 28 NOV 2026 12:00:10 GMT', now)).toBe(10000);
    expect(retryAfterMs('sat, 28 nov 2026 12:00:10 GMT', now)).toBe(10000);
    expect(retryAfterMs('Sat, 28 Xyz 2026 12:00:10 GMT', now)).toBeUndefined();
  });

  test('a date that does not exist is garbage, not rolled over', () => {
    for (const value of [
      'Tue, 29 Feb 2027 12:00:00 GMT', // not a leap year
      'Sat, 28 Nov 2026 25:00:00 GMT',
      'Sat, 28 Nov 2026 12:61:00 GMT',
      'Sat, 32 Dec 2026 12:00:00 GMT',
      'Sunday, 31-Sep-26 12:00:00 GMT',
      'Sat Nov 31 12:00:00 2026',
    ])
      expect([value, retryAfterMs(value, now)]).toEqual([value, undefined]);
    // A real leap day is a date.
    expect(retryAfterMs('Tue, 29 Feb 2028 12:00:00 GMT', now)).toBe(
      Date.parse('2028-02-29T12:00:00Z') - now,
    );
  });

  test('a date in the future is the milliseconds until it, a date in the past is 0', () => {
    expect(retryAfterMs('Sun, 29 Nov 2026 12:00:00 GMT', now)).toBe(24 * 3600 * 1000);
    expect(retryAfterMs('Sat, 28 Nov 2026 12:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT', now)).toBe(0);
  });

  test('an RFC 850 two-digit year is the latest such year at most 50 years ahead', () => {
    // In 2026: 76 is 2076 (50 years ahead), 77 is 1977 (in the past: 0).
    expect(retryAfterMs('Saturday, 01-Jan-76 00:00:00 GMT', now)).toBe(
      Date.parse('2076-01-01T00:00:00Z') - now,
    );
    expect(retryAfterMs('Saturday, 01-Jan-77 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('Monday, 30-Nov-26 12:00:00 GMT', now)).toBe(2 * 24 * 3600 * 1000);
  });

  test('the forms are exact: a missing GMT, another zone or a misplaced field is garbage', () => {
    for (const value of [
      'Sat, 28 Nov 2026 12:00:10', // IMF-fixdate without GMT
      'Sat, 28 Nov 2026 12:00:10 UTC',
      'Sat, 28 Nov 2026 12:00:10 +0000',
      'Sat, 8 Nov 2026 12:00:10 GMT', // one-digit day
      '2026-11-28T12:00:10Z', // ISO 8601 is not an HTTP-date
      'Saturday, 28-Nov-2026 12:00:10 GMT', // RFC 850 with four digits
      'Sat Nov 28 12:00:10 2026 GMT', // asctime has no zone
    ])
      expect([value, retryAfterMs(value, now)]).toEqual([value, undefined]);
  });

  test('now defaults to the clock', () => {
    const at = new Date(Date.now() + 3600 * 1000).toUTCString();
    const ms = retryAfterMs(at);
    expect(ms).toBeGreaterThan(3500 * 1000);
    expect(ms).toBeLessThanOrEqual(3600 * 1000);
    expect(retryAfterMs('5')).toBe(5000);
  });
});
