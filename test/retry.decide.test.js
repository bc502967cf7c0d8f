'use strict';
// The retry decision (lib/retry.js): a pure function of one attempt's result and a policy, the
// dispatcher's and the OTLP adapter's alike.
const { decide, classify, deliveryPolicy } = require('../lib/retry');

const policy = deliveryPolicy(
  { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 },
  () => 0.5,
);
const result = (fields) => ({
  statusCode: 0,
  code: undefined,
  retryAfterMs: undefined,
  attempts: 1,
  msLeft: Infinity,
  pausedMs: 0,
  ...fields,
});

describe('the delivery policy', () => {
  test.each([
    [200, undefined, 'deliver'],
    [204, undefined, 'deliver'],
    [299, undefined, 'deliver'],
    [400, undefined, 'fail'],
    [404, undefined, 'fail'],
    [301, undefined, 'fail'],
    [501, undefined, 'fail'],
    [408, undefined, 'retry'],
    [425, undefined, 'retry'],
    [429, undefined, 'retry'],
    [500, undefined, 'retry'],
    [502, undefined, 'retry'],
    [503, undefined, 'retry'],
    [504, undefined, 'retry'],
    [0, 'ECONNREFUSED', 'retry'],
    [0, 'ETIMEDOUT', 'retry'],
    [0, 'ETLS', 'retry'],
    [0, 'EPROXY', 'retry'],
    [0, 'ECERT', 'fail'],
    [0, 'EINVAL', 'fail'],
    [0, 'EABORTED', 'fail'],
    [200, 'ECONNRESET', 'retry'], // a status that came with a failure is no answer
  ])('HTTP %d, code %s → %s', (statusCode, code, action) => {
    expect(classify(statusCode, code, policy)).toBe(action);
    expect(decide(result({ statusCode, code }), policy).action).toBe(action);
  });

  test('deliver and fail allocate nothing: the same frozen objects each time', () => {
    expect(decide(result({ statusCode: 204 }), policy)).toBe(
      decide(result({ statusCode: 200 }), policy),
    );
    expect(decide(result({ statusCode: 400 }), policy)).toBe(
      decide(result({ statusCode: 403 }), policy),
    );
    expect(Object.isFrozen(decide(result({ statusCode: 204 }), policy))).toBe(true);
  });

  test('backoff: full jitter under base·2^(n-1), capped', () => {
    expect(decide(result({ statusCode: 503, attempts: 1 }), policy)).toEqual({
      action: 'retry',
      delayMs: 50,
      pauseMs: undefined,
    });
    expect(decide(result({ statusCode: 503, attempts: 2 }), policy).delayMs).toBe(100);
    const capped = deliveryPolicy(
      { maxAttempts: 50, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 },
      () => 0.5,
    );
    expect(decide(result({ statusCode: 503, attempts: 20 }), capped).delayMs).toBe(500);
  });

  test('Retry-After is a floor under the backoff, capped at maxRetryAfterMs; on 429 and 503 it pauses the origin', () => {
    expect(decide(result({ statusCode: 503, retryAfterMs: 2000 }), policy)).toEqual({
      action: 'retry',
      delayMs: 2000,
      pauseMs: 2000,
    });
    expect(decide(result({ statusCode: 429, retryAfterMs: 60000 }), policy)).toEqual({
      action: 'retry',
      delayMs: 5000,
      pauseMs: 5000,
    });
    expect(decide(result({ statusCode: 502, retryAfterMs: 2000 }), policy)).toEqual({
      action: 'retry',
      delayMs: 2000,
      pauseMs: undefined,
    });
    expect(decide(result({ statusCode: 503, retryAfterMs: 10 }), policy)).toEqual({
      action: 'retry',
      delayMs: 50,
      pauseMs: 10,
    });
    // A failure has no Retry-After.
    expect(decide(result({ code: 'ECONNRESET', retryAfterMs: 2000 }), policy)).toEqual({
      action: 'retry',
      delayMs: 50,
      pauseMs: undefined,
    });
  });

  test('an origin paused already holds the retry until its pause ends', () => {
    expect(decide(result({ statusCode: 500, pausedMs: 700 }), policy).delayMs).toBe(700);
    expect(decide(result({ statusCode: 500, pausedMs: -5 }), policy).delayMs).toBe(50);
  });

  test('exhausted: no attempt left, or the delay ends past the deadline (the pause still applies)', () => {
    expect(decide(result({ statusCode: 503, attempts: 3 }), policy)).toEqual({
      action: 'exhausted',
      reason: 'retries-exhausted',
      delayMs: 200,
      pauseMs: undefined,
    });
    expect(decide(result({ statusCode: 503, attempts: 1, msLeft: 49 }), policy)).toEqual({
      action: 'exhausted',
      reason: 'deadline',
      delayMs: 50,
      pauseMs: undefined,
    });
    expect(decide(result({ statusCode: 503, attempts: 1, msLeft: 50 }), policy).action).toBe(
      'retry',
    );
    expect(decide(result({ statusCode: 429, attempts: 3, retryAfterMs: 1000 }), policy)).toEqual({
      action: 'exhausted',
      reason: 'retries-exhausted',
      delayMs: 1000,
      pauseMs: 1000,
    });
  });

  test('pure: the same result and policy, the same decision; the result is not written', () => {
    const r = Object.freeze(
      result({ statusCode: 503, retryAfterMs: 3000, attempts: 2, msLeft: 10000 }),
    );
    expect(decide(r, policy)).toEqual(decide(r, policy));
  });
});

describe("another policy through the same function (the OTLP adapter's shape)", () => {
  const otlp = Object.freeze({
    maxAttempts: 6,
    retryStatuses: new Set([429, 502, 503, 504]),
    retryCodes: new Set(['ECONNRESET']),
    pauseStatuses: new Set(),
    backoffMs: (attempts) => 1000 * 1.5 ** (attempts - 1),
    retryAfter: 'instead',
    maxRetryAfterMs: Infinity,
  });

  test('its own statuses and codes', () => {
    expect(decide(result({ statusCode: 500 }), otlp).action).toBe('fail');
    expect(decide(result({ code: 'ETLS' }), otlp).action).toBe('fail');
    expect(decide(result({ code: 'ECONNRESET' }), otlp).action).toBe('retry');
  });

  test('a Retry-After replaces the backoff, uncapped, and pauses nothing', () => {
    expect(decide(result({ statusCode: 429, retryAfterMs: 100 }), otlp)).toEqual({
      action: 'retry',
      delayMs: 100,
      pauseMs: undefined,
    });
    expect(decide(result({ statusCode: 429, retryAfterMs: 120000 }), otlp).delayMs).toBe(120000);
    expect(decide(result({ statusCode: 503, attempts: 3 }), otlp).delayMs).toBe(2250);
    expect(decide(result({ statusCode: 503, attempts: 2, msLeft: 1000 }), otlp)).toMatchObject({
      action: 'exhausted',
      reason: 'deadline',
    });
  });
});
