'use strict';
// A step of the wall clock (NTP, a VM resumed, an operator's `date -s`) while events wait must not
// move the dispatcher's timers: backoff, Retry-After pauses and deadlines run on a monotonic clock,
// wall time only for Retry-After dates and what leaves the process. The step is made by replacing
// Date.now in this process — what every wall-clock read here sees — while timers keep their own
// monotonic time, as they do when the system clock steps.
const { createDispatcher, closeOptimizely } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { batch } = require('./helpers/events');

const { later, collector } = useCleanup();
const HOUR = 3600 * 1000;
const realNow = Date.now;
afterEach(() => {
  Date.now = realNow;
});

function stepClock(ms) {
  Date.now = () => realNow() + ms;
}

// Resolves with what flush() came to, or 'still waiting' once `ms` passed: an event that waits
// for the stepped hour must not hold the test for it.
function flushWithin(d, ms) {
  let timer;
  const cap = new Promise((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([d.flush().then(() => 'flushed'), cap]).finally(() => clearTimeout(timer));
}

function onceEvent(d, name) {
  return new Promise((resolve) => d.once(name, resolve));
}

test.each([
  ['back an hour', -HOUR],
  ['forward a day', 24 * HOUR],
])(
  'a retry in backoff when the clock steps %s is sent after its backoff, and delivered',
  async (_, step) => {
    const c = await collector((n) => (n === 0 ? { status: 503 } : 'ok'));
    const d = createDispatcher({ baseDelayMs: 200, maxDelayMs: 200 });
    later(() => d.close({ timeoutMs: 0 }));
    const sent = d.send('POST', c.url, batch(1));
    await onceEvent(d, 'retry'); // in backoff now, up to 200 ms
    stepClock(step);
    // 0.1 (back): the backoff became an hour. (forward): the retry was never in doubt, but see below.
    expect(await flushWithin(d, 10000)).toBe('flushed');
    expect(await sent).toMatchObject({ statusCode: 204, attempts: 2 });
    expect(d.stats()).toMatchObject({ delivered: 1, lost: 0 });
  },
);

test('a forward step does not expire the deadline of events that wait: no drop as "deadline"', async () => {
  // Two failures, then an answer; the clock jumps a day between the first and the second.
  const c = await collector((n) => (n < 2 ? { status: 503 } : 'ok'));
  const d = createDispatcher({ baseDelayMs: 50, maxDelayMs: 50, deadlineMs: 60000 });
  later(() => d.close({ timeoutMs: 0 }));
  const drops = [];
  d.on('drop', (info) => drops.push(info));
  const sent = d.send('POST', c.url, batch(1));
  await onceEvent(d, 'retry');
  stepClock(24 * HOUR);
  expect(await flushWithin(d, 10000)).toBe('flushed');
  // 0.1: { dropped: true, reason: 'deadline' } at the second failure, every event at once.
  expect(drops).toEqual([]);
  expect(await sent).toMatchObject({ statusCode: 204, attempts: 3 });
  expect(c.requests).toHaveLength(3);
});

test('an origin paused by Retry-After resumes after its pause when the clock steps back', async () => {
  const c = await collector((n) =>
    n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : 'ok',
  );
  const d = createDispatcher({ baseDelayMs: 10, maxDelayMs: 10 });
  later(() => d.close({ timeoutMs: 0 }));
  const paused = onceEvent(d, 'pause');
  const first = d.send('POST', c.url, batch(1));
  const pause = await paused;
  // 'pause' speaks wall time (untilMs since the epoch), a second ahead.
  expect(pause.untilMs).toBeGreaterThan(realNow() + 500);
  expect(pause.untilMs).toBeLessThan(realNow() + 1500);
  stepClock(-HOUR);
  const second = d.send('POST', c.url, batch(1)); // waits for the pause too
  expect(await flushWithin(d, 10000)).toBe('flushed');
  expect(await first).toMatchObject({ statusCode: 204 });
  expect(await second).toMatchObject({ statusCode: 204 });
  expect(c.requests).toHaveLength(3);
});

test('a Retry-After date is still read against the wall clock', async () => {
  // The server's clock is the stepped one: "now + 1 s" by it is a one-second pause, not an hour's.
  stepClock(-HOUR);
  const c = await collector((n) =>
    n === 0
      ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 1000).toUTCString() } }
      : 'ok',
  );
  const d = createDispatcher({ baseDelayMs: 10, maxDelayMs: 10 });
  later(() => d.close({ timeoutMs: 0 }));
  const retried = onceEvent(d, 'retry');
  const sent = d.send('POST', c.url, batch(1));
  const retry = await retried;
  expect(retry.delayMs).toBeGreaterThanOrEqual(0);
  expect(retry.delayMs).toBeLessThanOrEqual(2000);
  expect(await flushWithin(d, 10000)).toBe('flushed');
  expect(await sent).toMatchObject({ statusCode: 204 });
});

test('close() and closeOptimizely keep their deadline when the clock steps while they wait', async () => {
  const hung = await collector(() => 'hang');
  const d = createDispatcher({ timeoutMs: 600000 });
  for (let i = 0; i < 3; i++) d.send('POST', hung.url, batch(1));
  while (hung.requests.length < 3) await new Promise((r) => setTimeout(r, 5));
  const closing = d.close({ timeoutMs: 300 });
  stepClock(-HOUR);
  const summary = await Promise.race([
    closing,
    new Promise((r) => setTimeout(() => r('still closing'), 10000)),
  ]);
  expect(summary).toMatchObject({ lost: 3, delivered: 0 });

  Date.now = realNow;
  const d2 = createDispatcher({ timeoutMs: 600000 });
  d2.send('POST', hung.url, batch(1));
  while (hung.requests.length < 4) await new Promise((r) => setTimeout(r, 5));
  const client = { close: () => new Promise(() => {}) }; // an SDK whose close never resolves
  const done = closeOptimizely(client, d2, 300);
  stepClock(-HOUR);
  const summary2 = await Promise.race([
    done,
    new Promise((r) => setTimeout(() => r('still closing'), 10000)),
  ]);
  expect(summary2).toMatchObject({ lost: 1 });
});
