'use strict';
// The 'delivered' event: each delivery is heard, with what a metrics user needs (the URL masked,
// the status, the attempts, the latency from acceptance, the events inside, whether it came back
// from the spool), and nothing is built for it while nobody listens. Every other ending's event
// ('failed', 'spool', 'drop') says how many events it holds, so that counting the events of the
// four endings gives stats().events.
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { tempDirs } = require('./helpers/dirs');
const { closedPort } = require('./helpers/servers');
const { logEvent } = require('./helpers/events');

const FAST = { baseDelayMs: 5, maxDelayMs: 20, spoolRetryMs: 0 };

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);

function dispatcher(options) {
  const d = createDispatcher({ ...FAST, ...options });
  later(() => d.close({ timeoutMs: 0 }));
  return d;
}

function hear(d, ...names) {
  const heard = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) d.on(name, (info) => heard[name].push(info));
  return heard;
}

const sum = (infos) => infos.reduce((n, info) => n + info.events, 0);

test('each delivery is heard once, after its promise settled: URL masked, status, attempts, latency, events', async () => {
  // The second request gets a 503 first: its event arrives on the second attempt.
  const c = await collector((n) => (n === 1 ? { status: 503 } : { status: 200 }));
  const d = dispatcher();
  const { delivered } = hear(d, 'delivered');
  const url = c.url.replace('http://', 'http://shop:pw-Pl4nted@') + '?api_key=key-Pl4nted';
  const settledFirst = [];
  d.on('delivered', () => settledFirst.push(d.stats().pending));
  const first = await d.dispatchEvent(logEvent(url, 3).event);
  const second = await d.dispatchEvent(logEvent(url, 1).event);
  expect(first).toEqual({ statusCode: 200, attempts: 1 });
  expect(second).toEqual({ statusCode: 200, attempts: 2 });
  const masked = c.url.replace('http://', 'http://shop:***@') + '?api_key=***';
  expect(delivered).toEqual([
    {
      url: masked,
      statusCode: 200,
      attempts: 1,
      latencyMs: expect.any(Number),
      events: 3,
      replayed: false,
    },
    {
      url: masked,
      statusCode: 200,
      attempts: 2,
      latencyMs: expect.any(Number),
      events: 1,
      replayed: false,
    },
  ]);
  expect(JSON.stringify(delivered)).not.toContain('Pl4nted');
  for (const { latencyMs } of delivered) expect(latencyMs).toBeGreaterThanOrEqual(0);
  expect(settledFirst).toEqual([0, 0]); // counted delivered (not pending) when the listener hears it
  const stats = d.stats();
  expect(delivered).toHaveLength(stats.delivered);
  expect(sum(delivered)).toBe(stats.events.delivered);
  // stats() samples the same latencies.
  expect(stats.latencyMs.p99).toBe(Math.max(...delivered.map((i) => i.latencyMs)));
});

test('nothing is built while nobody listens; a listener that throws is an error event, and delivery goes on', async () => {
  const c = await collector();
  const d = dispatcher();
  const built = jest.spyOn(d, 'notifyDelivered');
  await d.send('POST', c.url, { n: 1 });
  expect(built).not.toHaveBeenCalled();
  const errors = [];
  d.on('error', (err) => errors.push(err));
  const boom = () => {
    throw new Error('listener failed');
  };
  d.on('delivered', boom);
  expect(await d.send('POST', c.url, { n: 2 })).toEqual({ statusCode: 204, attempts: 1 });
  expect(built).toHaveBeenCalledTimes(1);
  expect(errors.map((e) => e.message)).toEqual(['listener failed']);
  d.off('delivered', boom);
  await d.send('POST', c.url, { n: 3 });
  expect(built).toHaveBeenCalledTimes(1);
  expect(d.stats()).toMatchObject({ delivered: 3, pending: 0 });
  expect(c.requests).toHaveLength(3);
});

test('events spooled by one run and delivered by the next are heard as replayed, with their age', async () => {
  const dir = tempDir();
  const port = await closedPort();
  const down = `http://127.0.0.1:${port}/v1/events`;
  const first = createDispatcher({ ...FAST, spoolDir: dir, maxAttempts: 1, spoolRetryMs: 60000 });
  later(() => first.close({ timeoutMs: 0 }));
  const spooled = hear(first, 'spool').spool;
  await first.dispatchEvent(logEvent(down, 2).event);
  await first.dispatchEvent(logEvent(down, 3).event);
  expect(await first.close()).toMatchObject({ spooled: 2, events: { spooled: 5 } });
  expect(spooled.map((i) => [i.reason, i.events])).toEqual([
    ['retries-exhausted', 2],
    ['retries-exhausted', 3],
  ]);

  const c = await collector(() => 'ok', { port });
  const second = dispatcher({ spoolDir: dir });
  const { delivered } = hear(second, 'delivered');
  await second.flush();
  expect(delivered).toEqual([
    {
      url: down,
      statusCode: 204,
      attempts: 1,
      latencyMs: expect.any(Number),
      events: 2,
      replayed: true,
    },
    {
      url: down,
      statusCode: 204,
      attempts: 1,
      latencyMs: expect.any(Number),
      events: 3,
      replayed: true,
    },
  ]);
  for (const { latencyMs } of delivered) expect(latencyMs).toBeGreaterThanOrEqual(0);
  expect(c.received.size).toBe(5);
  // Replayed deliveries are not in stats()'s latency, which is from acceptance in this run.
  expect(second.stats()).toMatchObject({
    delivered: 2,
    replayed: 2,
    events: { delivered: 5 },
    latencyMs: { p50: null },
  });
});

test("the events of 'failed', 'spool' and 'drop' add up to stats().events, reason by reason", async () => {
  const c = await collector((n, record) =>
    record.batch.visitors.length === 4 ? { status: 400 } : 'ok',
  );
  const port = await closedPort();
  const down = `http://127.0.0.1:${port}/v1/events`;
  // Without a spool: a 400 fails, a down endpoint loses, an event larger than the queue is lost.
  const d = dispatcher({ maxAttempts: 2, maxQueueBytes: 2048 });
  const heard = hear(d, 'delivered', 'failed', 'drop');
  const results = [];
  for (const [url, visitors] of [
    [c.url, 2],
    [c.url, 4],
    [down, 3],
    [c.url, 12],
  ]) {
    results.push(await d.dispatchEvent(logEvent(url, visitors).event));
  }
  expect(results.map((r) => r.statusCode || r.reason)).toEqual([
    204,
    400,
    'retries-exhausted',
    'queue-full',
  ]);
  expect(heard.failed.map((i) => [i.statusCode, i.events])).toEqual([[400, 4]]);
  expect(heard.drop.map((i) => [i.reason, i.events])).toEqual([
    ['retries-exhausted', 3],
    ['queue-full', 12],
  ]);
  const { events } = d.stats();
  expect([sum(heard.delivered), sum(heard.failed), sum(heard.drop)]).toEqual([
    events.delivered,
    events.failed,
    events.lost,
  ]);
  expect(events).toMatchObject({ accepted: 21, delivered: 2, failed: 4, lost: 15, pending: 0 });

  // With a spool, what is still held when the dispatcher closes is spooled ('closed'), and so
  // is what arrives once it is closed.
  const hung = await collector(() => 'hang');
  const s = createDispatcher({ ...FAST, spoolDir: tempDir() });
  later(() => s.close({ timeoutMs: 0 }));
  const spool = hear(s, 'spool').spool;
  const pending = s.dispatchEvent(logEvent(hung.url, 2).event);
  while (hung.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
  const closing = s.close({ timeoutMs: 100 });
  await s.dispatchEvent(logEvent(hung.url, 6).event);
  expect(await pending).toEqual({ spooled: true, attempts: 1 });
  expect(await closing).toMatchObject({ spooled: 2, events: { spooled: 8 } });
  expect(spool.map((i) => [i.reason, i.events]).sort()).toEqual([
    ['closed', 2],
    ['closed', 6],
  ]);
  expect(sum(spool)).toBe(s.stats().events.spooled);
});
