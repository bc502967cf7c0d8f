'use strict';
// The fault matrix: for each fault, the right retry decision, and not one accepted event lost.
const net = require('node:net');
const { createDispatcher } = require('..');
const { startCollector } = require('./helpers/collector');
const { useCleanup } = require('./helpers/cleanup');
const { startProxy, closedPort } = require('./helpers/servers');
const { logEvent } = require('./helpers/events');

// Fast retries for tests: the policy is the same, only the numbers are small.
const FAST = { baseDelayMs: 5, maxDelayMs: 40, timeoutMs: 2000 };

const { later, collector } = useCleanup();

function dispatcher(options) {
  const d = createDispatcher({ ...FAST, ...options });
  const seen = { retries: [], drops: [], failures: [], pauses: [] };
  d.on('retry', (r) => seen.retries.push(r));
  d.on('drop', (r) => seen.drops.push(r));
  d.on('failed', (r) => seen.failures.push(r));
  d.on('pause', (p) => seen.pauses.push(p));
  later(() => d.close({ timeoutMs: 0 }));
  return { d, seen };
}

// Sends `count` events and returns their results and every uuid sent.
async function sendAll(d, url, count = 10) {
  const events = Array.from({ length: count }, () => logEvent(url));
  const results = await Promise.all(events.map(({ event }) => d.dispatchEvent(event)));
  return { results, uuids: events.flatMap((e) => e.uuids) };
}

function expectAllReceived(c, uuids) {
  const missing = uuids.filter((u) => !c.received.has(u));
  expect(missing).toEqual([]);
}

test('connection refused: retried until the collector comes up, then every event delivered', async () => {
  const port = await closedPort();
  const { d, seen } = dispatcher();
  let started = null;
  d.on('retry', () => {
    if (!started) started = startCollector(() => 'ok', { port });
  });
  const url = `http://127.0.0.1:${port}/v1/events`;
  const sending = sendAll(d, url, 5);
  const { results, uuids } = await sending;
  const c = await started;
  later(() => c.close());
  expect(results.every((r) => r.statusCode === 204)).toBe(true);
  expect(seen.retries.some((r) => r.code === 'ECONNREFUSED')).toBe(true);
  expectAllReceived(c, uuids);
  expect(d.stats()).toMatchObject({ delivered: 5, dropped: 0, failed: 0 });
});

test('reset before the answer and reset in the middle of the answer: retried, all delivered', async () => {
  // Every event's first attempt is cut: half before any answer, half in the middle of it.
  const firstSeen = new Set();
  const c = await collector((n, record) => {
    const key = record.body;
    if (firstSeen.has(key)) return 'ok';
    firstSeen.add(key);
    return firstSeen.size % 2 ? 'reset' : 'reset-mid';
  });
  const { d, seen } = dispatcher();
  const { results, uuids } = await sendAll(d, c.url, 12);
  expect(results.map((r) => [r.statusCode, r.attempts])).toEqual(Array(12).fill([204, 2]));
  expect(seen.retries.filter((r) => r.code === 'ECONNRESET')).toHaveLength(12);
  expectAllReceived(c, uuids);
  expect(seen.drops).toEqual([]);
});

test('a collector that does not answer in time: ETIMEDOUT, retried, delivered', async () => {
  const c = await collector((n) => (n < 2 ? 'hang' : 'ok'));
  const { d, seen } = dispatcher({ timeoutMs: 150 });
  const { results, uuids } = await sendAll(d, c.url, 2);
  expect(results.map((r) => r.statusCode)).toEqual([204, 204]);
  expect(seen.retries.filter((r) => r.code === 'ETIMEDOUT').length).toBe(2);
  expectAllReceived(c, uuids);
});

test('500 and 503: retried with backoff, delivered', async () => {
  const c = await collector((n) => (n < 3 ? { status: 500 } : n < 6 ? { status: 503 } : 'ok'));
  const { d, seen } = dispatcher({ maxInFlight: 1 });
  const { results, uuids } = await sendAll(d, c.url, 3);
  expect(results.every((r) => r.statusCode === 204)).toBe(true);
  expect(seen.retries.map((r) => r.statusCode)).toEqual([500, 500, 500, 503, 503, 503]);
  expect(seen.pauses).toEqual([]); // no Retry-After: no pause of the origin
  expectAllReceived(c, uuids);
});

test('429 without Retry-After: that event backs off, the origin is not paused', async () => {
  const c = await collector((n) => (n === 0 ? { status: 429 } : 'ok'));
  const { d, seen } = dispatcher({ maxInFlight: 1 });
  const { results, uuids } = await sendAll(d, c.url, 3);
  expect(results.every((r) => r.statusCode === 204)).toBe(true);
  expect(seen.retries).toHaveLength(1);
  expect(seen.pauses).toEqual([]);
  expectAllReceived(c, uuids);
});

test("429 with Retry-After: the whole origin pauses (seen in the collector's timestamps)", async () => {
  let answeredAt = 0;
  const c = await collector((n, record) => {
    if (n === 0) {
      answeredAt = record.at;
      return { status: 429, headers: { 'retry-after': '1' } };
    }
    return 'ok';
  });
  const { d, seen } = dispatcher();
  const first = logEvent(c.url);
  const firstResult = d.dispatchEvent(first.event);
  await new Promise((resolve) => d.once('pause', resolve));
  // Offered during the pause: none of these may reach the collector before it ends.
  const { results, uuids } = await sendAll(d, c.url, 5);
  expect((await firstResult).statusCode).toBe(204);
  expect(results.every((r) => r.statusCode === 204)).toBe(true);
  expect(seen.pauses).toHaveLength(1);
  const later = c.requests.slice(1);
  expect(later).toHaveLength(6);
  for (const request of later) expect(request.at).toBeGreaterThanOrEqual(answeredAt + 950);
  expectAllReceived(c, [...first.uuids, ...uuids]);
});

test('Retry-After as an HTTP date is honoured too', async () => {
  let answeredAt = 0;
  const c = await collector((n, record) => {
    if (n > 0) return 'ok';
    answeredAt = record.at;
    return { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } };
  });
  const { d } = dispatcher();
  const { uuids } = await sendAll(d, c.url, 1);
  // An HTTP date has 1 s resolution: the pause lasts at least one full second.
  expect(c.requests[1].at).toBeGreaterThanOrEqual(answeredAt + 950);
  expectAllReceived(c, uuids);
});

test('400: never retried; reported as failed ("failed" event, reason "rejected"), never as a drop', async () => {
  const c = await collector(() => ({ status: 400, body: 'bad batch' }));
  const { d, seen } = dispatcher();
  const { results } = await sendAll(d, c.url, 3);
  expect(results).toEqual(Array(3).fill({ statusCode: 400, attempts: 1, failed: true }));
  expect(c.requests).toHaveLength(3);
  expect(seen.retries).toEqual([]);
  expect(seen.failures.map((x) => [x.reason, x.statusCode, x.cause])).toEqual(
    Array(3).fill(['rejected', 400, 'HTTP 400']),
  );
  expect(seen.drops).toEqual([]);
  expect(d.stats()).toMatchObject({ failed: 3, delivered: 0, retried: 0, lost: 0 });
});

test('other 4xx are final too; 408 and 425 are retried', async () => {
  const c = await collector(
    (n) => [{ status: 408 }, { status: 425 }, 'ok', { status: 404 }][n] || 'ok',
  );
  const { d, seen } = dispatcher({ maxInFlight: 1 });
  const one = await d.dispatchEvent(logEvent(c.url).event);
  expect(one.statusCode).toBe(204);
  expect(seen.retries.map((r) => r.statusCode)).toEqual([408, 425]);
  const two = await d.dispatchEvent(logEvent(c.url).event);
  expect(two).toMatchObject({ statusCode: 404, failed: true });
});

test('proxy down: EPROXY is retried; delivered once the proxy is up', async () => {
  const c = await collector();
  const port = await closedPort();
  const { d, seen } = dispatcher({ proxy: `http://127.0.0.1:${port}`, maxAttempts: 20 });
  let proxy = null;
  d.on('retry', () => {
    if (proxy) return;
    proxy = startProxy().then(async (p) => {
      // The proxy must listen on the port we named: forward that port to it.
      const sockets = new Set();
      const forward = net.createServer((s) => {
        const upstream = net.connect(p.port, '127.0.0.1');
        for (const x of [s, upstream]) {
          sockets.add(x);
          x.on('error', () => {});
        }
        s.pipe(upstream).pipe(s);
      });
      await new Promise((resolve) => forward.listen(port, '127.0.0.1', resolve));
      later(() => p.close());
      later(() => {
        for (const x of sockets) x.destroy();
        return new Promise((resolve) => forward.close(resolve));
      });
      return p;
    });
  });
  const { results, uuids } = await sendAll(d, c.url, 3);
  const p = await proxy;
  expect(results.every((r) => r.statusCode === 204)).toBe(true);
  expect(seen.retries.some((r) => r.code === 'EPROXY')).toBe(true);
  expect(p.seen.length).toBeGreaterThanOrEqual(3);
  expectAllReceived(c, uuids);
});

test('retries stop at maxAttempts: without a spool the event is dropped, loudly', async () => {
  const c = await collector(() => ({ status: 503 }));
  const { d, seen } = dispatcher({ maxAttempts: 3 });
  const result = await d.dispatchEvent(logEvent(c.url).event);
  expect(result).toEqual({
    statusCode: 503,
    dropped: true,
    reason: 'retries-exhausted',
    attempts: 3,
  });
  expect(c.requests).toHaveLength(3);
  expect(seen.drops.map((x) => [x.reason, x.cause])).toEqual([['retries-exhausted', 'HTTP 503']]);
  expect(d.stats()).toMatchObject({ lost: 1, dropped: 1, retried: 2 });
});

test('the per-event deadline stops retries before maxAttempts', async () => {
  const c = await collector(() => ({ status: 503 }));
  const { d, seen } = dispatcher({
    baseDelayMs: 200,
    maxDelayMs: 200,
    deadlineMs: 50,
    maxAttempts: 50,
  });
  // Full jitter can draw a delay under 50 ms, so a few retries may fit; the deadline still ends it.
  const result = await d.dispatchEvent(logEvent(c.url).event);
  expect(result).toMatchObject({ dropped: true, reason: 'deadline' });
  expect(result.attempts).toBeLessThan(50);
  expect(seen.drops).toHaveLength(1);
});

test('an RFC 850 Retry-After date from a server pauses the origin like the other forms', async () => {
  let answeredAt = 0;
  const c = await collector((n, record) => {
    if (n > 0) return 'ok';
    answeredAt = record.at;
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" — 0.1 ignored it and retried at once.
    const at = new Date(Date.now() + 2000);
    const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
    const [, day, mon, year, time] = at.toUTCString().split(' ');
    return {
      status: 503,
      headers: {
        'retry-after': `${days[at.getUTCDay()]}, ${day}-${mon}-${year.slice(2)} ${time} GMT`,
      },
    };
  });
  const { d, seen } = dispatcher();
  const { uuids } = await sendAll(d, c.url, 1);
  expect(seen.pauses).toHaveLength(1);
  expect(c.requests[1].at).toBeGreaterThanOrEqual(answeredAt + 950);
  expectAllReceived(c, uuids);
});
