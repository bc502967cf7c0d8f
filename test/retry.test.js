'use strict';
// The delivery policy (lib/retry.js) through its exports: which outcomes are retried, the backoff
// bounds (with an injected random) and which statuses pause a whole origin (Retry-After parsing:
// http-date.test.js). The decision as a whole: retry.decide.test.js.
const { classify, backoffMs, decide, deliveryPolicy } = require('../lib/retry');

const POLICY = deliveryPolicy(
  { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30000, maxRetryAfterMs: 60000 },
  () => 0,
);

describe('classify', () => {
  test.each([200, 201, 202, 204, 299])('HTTP %i is delivered', (status) => {
    expect(classify(status, undefined, POLICY)).toBe('deliver');
  });

  test.each([408, 425, 429, 500, 502, 503, 504])('HTTP %i may succeed later: retry', (status) => {
    expect(classify(status, undefined, POLICY)).toBe('retry');
  });

  test.each([100, 199, 300, 301, 304, 400, 401, 403, 404, 409, 413, 422, 501, 505, 599])(
    "HTTP %i is the server's final word: failed",
    (status) => {
      expect(classify(status, undefined, POLICY)).toBe('fail');
    },
  );

  test.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPROXY',
    'ENOTFOUND',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EPROTO',
    'ETLS',
  ])('no response with %s: retry', (code) => {
    expect(classify(0, code, POLICY)).toBe('retry');
  });

  test.each(['ECERT', 'EABORTED', 'ENOMEM', 'EINVAL', 'ECURL', 'ESOMETHINGNEW'])(
    'no response with %s: failed',
    (code) => {
      expect(classify(0, code, POLICY)).toBe('fail');
    },
  );

  test('a failure code decides even beside a status', () => {
    expect(classify(200, 'ECERT', POLICY)).toBe('fail');
    expect(classify(404, 'ECONNRESET', POLICY)).toBe('retry');
  });
});

describe('backoffMs: full jitter, a uniform draw from [0, min(cap, base·2^(attempt−1)))', () => {
  const almostOne = () => 1 - Number.EPSILON;

  test('the lowest draw is 0 at every attempt', () => {
    for (let attempt = 0; attempt <= 40; attempt++)
      expect(backoffMs(attempt, 250, 30000, () => 0)).toBe(0);
  });

  test('the highest draw stays under the exponential ceiling', () => {
    expect(
      [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffMs(attempt, 250, 30000, almostOne)),
    ).toEqual([249, 499, 999, 1999, 3999, 7999, 15999]);
  });

  test('the ceiling stops at the cap, however many attempts', () => {
    for (const attempt of [8, 9, 20, 60, 1100])
      expect(backoffMs(attempt, 250, 30000, almostOne)).toBe(29999);
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
    backoffMs(4, 250, 30000, () => {
      calls += 1;
      return 0.5;
    });
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

describe('which statuses pause the whole origin (a Retry-After on them)', () => {
  const pauseOf = (statusCode) =>
    decide(
      {
        statusCode,
        code: undefined,
        retryAfterMs: 7000,
        attempts: 1,
        msLeft: Infinity,
        pausedMs: 0,
      },
      POLICY,
    ).pauseMs;

  test('429 and 503 pause the whole origin for the Retry-After', () => {
    expect(pauseOf(429)).toBe(7000);
    expect(pauseOf(503)).toBe(7000);
  });

  test.each([200, 408, 425, 500, 502, 504, 404])('HTTP %i pauses only its own event', (status) => {
    expect(pauseOf(status)).toBeUndefined();
  });
});
