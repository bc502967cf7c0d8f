'use strict';
// The delivery policy (lib/retry.js) through its exports: which outcomes are retried, the backoff
// bounds (with an injected random), Retry-After parsing and which statuses pause a whole origin.
const { classify, backoffMs, retryAfterMs, shouldPauseOrigin } = require('../lib/retry');

describe('classify', () => {
  test.each([200, 201, 202, 204, 299])('HTTP %i is delivered', (status) => {
    expect(classify(status)).toBe('delivered');
  });

  test.each([408, 425, 429, 500, 502, 503, 504])('HTTP %i may succeed later: retry', (status) => {
    expect(classify(status)).toBe('retry');
  });

  test.each([100, 199, 300, 301, 304, 400, 401, 403, 404, 409, 413, 422, 501, 505, 599])('HTTP %i is the server\'s final word: failed', (status) => {
    expect(classify(status)).toBe('failed');
  });

  test.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPROXY', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPROTO', 'ETLS'])(
    'no response with %s: retry', (code) => {
      expect(classify(0, code)).toBe('retry');
    },
  );

  test.each(['ECERT', 'EABORTED', 'ENOMEM', 'EINVAL', 'ECURL', 'ESOMETHINGNEW'])('no response with %s: failed', (code) => {
    expect(classify(0, code)).toBe('failed');
  });

  test('a failure code decides even beside a status', () => {
    expect(classify(200, 'ECERT')).toBe('failed');
    expect(classify(404, 'ECONNRESET')).toBe('retry');
  });
});

describe('backoffMs: full jitter, a uniform draw from [0, min(cap, base·2^(attempt−1)))', () => {
  const almostOne = () => 1 - Number.EPSILON;

  test('the lowest draw is 0 at every attempt', () => {
    for (let attempt = 0; attempt <= 40; attempt++) expect(backoffMs(attempt, 250, 30000, () => 0)).toBe(0);
  });

  test('the highest draw stays under the exponential ceiling', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffMs(attempt, 250, 30000, almostOne)))
      .toEqual([249, 499, 999, 1999, 3999, 7999, 15999]);
  });

  test('the ceiling stops at the cap, however many attempts', () => {
    for (const attempt of [8, 9, 20, 60, 1100]) expect(backoffMs(attempt, 250, 30000, almostOne)).toBe(29999);
    expect(backoffMs(3, 250, 600, almostOne)).toBe(599);
  });

  test('attempt 0 (or below) waits like attempt 1: up to the base', () => {
    expect(backoffMs(0, 250, 30000, almostOne)).toBe(249);
    expect(backoffMs(-3, 250, 30000, almostOne)).toBe(249);
  });

  test('the draw scales the ceiling and is floored to whole milliseconds', () => {
    expect(backoffMs(1, 250, 30000, () => 0.5)).toBe(125);
    expect(backoffMs(3, 250, 30000, () => 0.25)).toBe(250);
    expect(backoffMs(2, 100, 30000, () => 0.0049)).toBe(0);
    expect(backoffMs(2, 100, 30000, () => 0.005)).toBe(1);
  });

  test('a zero base or cap never waits', () => {
    expect(backoffMs(5, 0, 30000, almostOne)).toBe(0);
    expect(backoffMs(5, 250, 0, almostOne)).toBe(0);
  });

  test('the random source is called once a draw', () => {
    let calls = 0;
    backoffMs(4, 250, 30000, () => { calls += 1; return 0.5; });
    expect(calls).toBe(1);
  });

  test('backoff uses full jitter: delays vary and stay under the exponential cap', () => {
    const draws = Array.from({ length: 200 }, () => backoffMs(4, 250, 30000));
    expect(Math.max(...draws)).toBeLessThan(2000); // 250 * 2^3
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(new Set(draws).size).toBeGreaterThan(50);
    expect(backoffMs(30, 250, 30000, () => 0.999)).toBeLessThan(30000);
    expect(backoffMs(1, 250, 30000, () => 0.5)).toBe(125);
  });
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
    expect(retryAfterMs('Sat Nov  8 12:00:10 2026', Date.parse('2026-11-08T12:00:00Z'))).toBe(10000);
    expect(retryAfterMs('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0); // in the past: now
    expect(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0); // 1994, not 2094
    for (const garbage of ['soon', '-1', '1.5', '', 'Sat, 31 Feb 2026 12:00:00 GMT', 'Sat, 28 Nov 2026 12:00:10 PST']) {
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
    for (const value of [3, null, ['3'], { seconds: 3 }, true]) expect(retryAfterMs(value, now)).toBeUndefined();
    expect(retryAfterMs('   ', now)).toBeUndefined();
  });

  test('delay-seconds with a sign, a unit, an exponent or a fraction is garbage', () => {
    for (const value of ['+3', '3s', '3e2', '0x10', '3.0', '3 4', '١٢']) expect(retryAfterMs(value, now)).toBeUndefined();
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
    ]) expect([value, retryAfterMs(value, now)]).toEqual([value, undefined]);
    // A real leap day is a date.
    expect(retryAfterMs('Tue, 29 Feb 2028 12:00:00 GMT', now)).toBe(Date.parse('2028-02-29T12:00:00Z') - now);
  });

  test('a date in the future is the milliseconds until it, a date in the past is 0', () => {
    expect(retryAfterMs('Sun, 29 Nov 2026 12:00:00 GMT', now)).toBe(24 * 3600 * 1000);
    expect(retryAfterMs('Sat, 28 Nov 2026 12:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT', now)).toBe(0);
  });

  test('an RFC 850 two-digit year is the latest such year at most 50 years ahead', () => {
    // In 2026: 76 is 2076 (50 years ahead), 77 is 1977 (in the past: 0).
    expect(retryAfterMs('Saturday, 01-Jan-76 00:00:00 GMT', now)).toBe(Date.parse('2076-01-01T00:00:00Z') - now);
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
    ]) expect([value, retryAfterMs(value, now)]).toEqual([value, undefined]);
  });

  test('now defaults to the clock', () => {
    const at = new Date(Date.now() + 3600 * 1000).toUTCString();
    const ms = retryAfterMs(at);
    expect(ms).toBeGreaterThan(3500 * 1000);
    expect(ms).toBeLessThanOrEqual(3600 * 1000);
    expect(retryAfterMs('5')).toBe(5000);
  });
});

describe('shouldPauseOrigin', () => {
  test('429 and 503 pause the whole origin', () => {
    expect(shouldPauseOrigin(429)).toBe(true);
    expect(shouldPauseOrigin(503)).toBe(true);
  });

  test.each([200, 408, 425, 500, 502, 504, 404, 0])('HTTP %i pauses only its own event', (status) => {
    expect(shouldPauseOrigin(status)).toBe(false);
  });
});
