'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');
const { spawnNode } = require('./helpers/processes');

const { later, collector } = useCleanup();

test('flush() resolves once everything accepted before it is settled; later events do not hold it', async () => {
  const c = await collector(() => 'hang');
  const d = createDispatcher();
  later(() => d.close({ timeoutMs: 0 }));
  const before = [logEvent(c.url), logEvent(c.url)].map((e) => d.dispatchEvent(e.event));
  let flushed = false;
  const flushing = d.flush().then(() => {
    flushed = true;
  });
  await new Promise((r) => setImmediate(r));
  while (c.hanging.length < 2) await new Promise((r) => setTimeout(r, 5));
  d.dispatchEvent(logEvent(c.url).event); // after the flush: not waited for
  expect(flushed).toBe(false);
  const answer = c.hanging.splice(0, 2);
  for (const res of answer) res.writeHead(204).end();
  await flushing;
  expect((await Promise.all(before)).map((r) => r.statusCode)).toEqual([204, 204]);
  expect(d.stats().inFlight + d.stats().queued).toBe(1);
  expect(await createDispatcher().flush()).toBeUndefined(); // nothing pending: resolves at once
});

// A flush bounded by a deadline (a serverless invocation's remaining time).
test('flush({ timeoutMs }) against a hung collector: settled false at the deadline, with what it still waited for; those events go on', async () => {
  const c = await collector(() => 'hang');
  const d = createDispatcher({ timeoutMs: 600000 });
  later(() => d.close({ timeoutMs: 0 }));
  const results = [logEvent(c.url), logEvent(c.url)].map((e) => d.dispatchEvent(e.event));
  expect(await d.flush({ timeoutMs: 200 })).toEqual({ settled: false, pending: 2 });
  expect(await d.flush(0)).toEqual({ settled: false, pending: 2 }); // a bare number of ms, like close()
  // The deadline gave up waiting, not on the events: still in flight, answered later, delivered.
  while (c.hanging.length < 2) await new Promise((r) => setTimeout(r, 5));
  expect(d.stats()).toMatchObject({ inFlight: 2, delivered: 0, lost: 0 });
  const untilSettled = d.flush({ timeoutMs: 60000 });
  for (const res of c.hanging.splice(0)) res.writeHead(204).end();
  expect(await untilSettled).toEqual({ settled: true, pending: 0 });
  expect((await Promise.all(results)).map((r) => r.statusCode)).toEqual([204, 204]);
});

test('flush({ timeoutMs }) against a fast collector: settled true, everything delivered', async () => {
  const c = await collector();
  const d = createDispatcher();
  later(() => d.close());
  const events = Array.from({ length: 5 }, () => logEvent(c.url));
  for (const e of events) d.dispatchEvent(e.event);
  expect(await d.flush({ timeoutMs: 20000 })).toEqual({ settled: true, pending: 0 });
  expect(events.flatMap((e) => e.uuids).filter((u) => c.received.get(u) !== 1)).toEqual([]);
  expect(await d.flush({})).toEqual({ settled: true, pending: 0 }); // {}: no deadline, and an answer
  expect(await d.flush()).toBeUndefined(); // a plain flush() answers nothing, as before
});

test('flush({ timeoutMs }) with a spool: what is still pending at the deadline counts the spooled events due for replay', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-flush-'));
  later(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = await collector(() => 'hang');
  const d = createDispatcher({ spoolDir: dir, timeoutMs: 600000 });
  for (let i = 0; i < 3; i++) d.dispatchEvent(logEvent(c.url).event);
  expect(await d.close({ timeoutMs: 50 })).toMatchObject({ spooled: 3 });
  // The next run inherits the three; replay is due at start and takes them as the pace allows.
  const next = createDispatcher({ spoolDir: dir, timeoutMs: 600000, maxInFlight: 1 });
  later(() => next.close({ timeoutMs: 0 }));
  expect(await next.flush({ timeoutMs: 200 })).toEqual({ settled: false, pending: 3 });
});

test('flush() never keeps the process alive: a long deadline, once settled, lets the process end by itself', async () => {
  const c = await collector();
  const r = await spawnNode(`
    const { createDispatcher } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const d = createDispatcher();
    d.send('POST', ${JSON.stringify(c.url)}, { visitors: [] });
    d.flush({ timeoutMs: 600000 }).then((result) => console.log(JSON.stringify(result)));
  `).exited;
  expect(r).toMatchObject({ code: 0, signal: null, stderr: '' });
  expect(JSON.parse(r.stdout)).toEqual({ settled: true, pending: 0 });
  expect(c.requests).toHaveLength(1);
}, 20000);

test('flush() validates its deadline like close() does', async () => {
  const d = createDispatcher();
  later(() => d.close());
  await expect(d.flush('500')).rejects.toMatchObject({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
  });
  await expect(d.flush(-1)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  await expect(d.flush({ timeoutMs: 1.5 })).rejects.toMatchObject({
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message: expect.stringContaining('options.timeoutMs'),
  });
  await expect(d.flush({ timeout: 500 })).rejects.toMatchObject({
    name: 'TypeError',
    code: 'ERR_UNKNOWN_OPTION',
    message: expect.stringContaining('"timeoutMs"'),
  });
  await expect(d.flush(null)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
});

test('close(): queued events are sent and delivered; the summary counts them', async () => {
  const c = await collector();
  const d = createDispatcher({ maxInFlight: 2 });
  const events = Array.from({ length: 20 }, () => logEvent(c.url));
  const results = events.map((e) => d.dispatchEvent(e.event));
  const summary = await d.close();
  expect(summary).toEqual({
    delivered: 20,
    spooled: 0,
    lost: 0,
    failed: 0,
    events: { delivered: 40, spooled: 0, lost: 0, failed: 0 },
  });
  expect((await Promise.all(results)).every((r) => r.statusCode === 204)).toBe(true);
  expect(c.received.size).toBe(40);
});

test('close() honours its deadline: it resolves while the collector still holds the requests', async () => {
  const c = await collector(() => 'hang');
  const d = createDispatcher({ maxInFlight: 4, timeoutMs: 600000 });
  const results = Array.from({ length: 10 }, () => d.dispatchEvent(logEvent(c.url).event));
  while (c.hanging.length < 4) await new Promise((r) => setTimeout(r, 5));
  const summary = await d.close({ timeoutMs: 100 });
  // Nothing was ever answered: close() gave up at its deadline, without a spool all 10 are lost.
  expect(c.hanging.length).toBe(4);
  expect(summary).toEqual({
    delivered: 0,
    spooled: 0,
    lost: 10,
    failed: 0,
    events: { delivered: 0, spooled: 0, lost: 20, failed: 0 },
  });
  const settled = await Promise.all(results);
  expect(settled.every((r) => r.dropped && r.reason === 'closed')).toBe(true);
});

test('close() with a spool: what is not delivered by the deadline is spooled, not lost', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-close-'));
  later(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = await collector(() => 'hang');
  const d = createDispatcher({ spoolDir: dir, maxInFlight: 2, timeoutMs: 600000 });
  const results = Array.from({ length: 6 }, () => d.dispatchEvent(logEvent(c.url).event));
  while (c.hanging.length < 2) await new Promise((r) => setTimeout(r, 5));
  expect(await d.close({ timeoutMs: 50 })).toEqual({
    delivered: 0,
    spooled: 6,
    lost: 0,
    failed: 0,
    events: { delivered: 0, spooled: 12, lost: 0, failed: 0 },
  });
  expect((await Promise.all(results)).every((r) => r.spooled)).toBe(true);
});

test('v4/v5 callbacks are called exactly once per event: delivered, rejected, invalid, closed, throwing', async () => {
  const c = await collector((n) => (n === 1 ? { status: 400 } : 'ok'));
  const d = createDispatcher({ maxInFlight: 1 });
  const calls = [];
  const cb = (tag) => (response) => calls.push([tag, response.statusCode]);
  const errors = [];
  d.on('error', (e) => errors.push(e.message));
  d.dispatchEvent(logEvent(c.url).event, cb('ok'));
  d.dispatchEvent(logEvent(c.url).event, cb('rejected'));
  const invalid = d.dispatchEvent({ url: c.url }, cb('invalid')); // no params
  d.dispatchEvent(logEvent(c.url).event, () => {
    throw new Error('callback blew up');
  });
  await d.flush();
  await d.close();
  d.dispatchEvent(logEvent(c.url).event, cb('closed'));
  await new Promise((r) => setImmediate(r));
  expect(calls).toEqual([
    ['invalid', 0],
    ['ok', 204],
    ['rejected', 400],
    ['closed', 0],
  ]);
  expect(errors).toEqual(['callback blew up']);
  await expect(invalid).rejects.toMatchObject({ code: 'ERR_INVALID_EVENT' });
});

test('a closed dispatcher rejects new events with ERR_DISPATCHER_CLOSED (without a spool)', async () => {
  const c = await collector();
  const d = createDispatcher();
  await d.close();
  await expect(d.dispatchEvent(logEvent(c.url).event)).rejects.toMatchObject({
    code: 'ERR_DISPATCHER_CLOSED',
  });
  await expect(d.send('POST', c.url, { a: 1 })).rejects.toMatchObject({
    code: 'ERR_DISPATCHER_CLOSED',
  });
  expect(c.requests).toHaveLength(0);
  expect(await d.close()).toMatchObject({ delivered: 0, spooled: 0, lost: 0, failed: 0 }); // idempotent
});

test('send(httpVerb, url, params) delivers like dispatchEvent; endpoint overrides the URL', async () => {
  const c = await collector();
  const other = await collector();
  const d = createDispatcher({ endpoint: c.url });
  later(() => d.close());
  const { event, uuids } = logEvent(other.url);
  expect(await d.send('POST', other.url, event.params)).toEqual({ statusCode: 204, attempts: 1 });
  expect(await d.dispatchEvent(logEvent(other.url).event)).toMatchObject({ statusCode: 204 });
  expect(other.requests).toHaveLength(0);
  expect(c.requests).toHaveLength(2);
  expect(c.received.has(uuids[0])).toBe(true);
});

test('stats() reports counts, bytes and latency percentiles', async () => {
  const c = await collector();
  const d = createDispatcher();
  later(() => d.close());
  await Promise.all(Array.from({ length: 30 }, () => d.dispatchEvent(logEvent(c.url).event)));
  const s = d.stats();
  expect(s).toMatchObject({
    state: 'open',
    queued: 0,
    inFlight: 0,
    accepted: 30,
    delivered: 30,
    failed: 0,
    dropped: 0,
    spooled: 0,
  });
  const bytes = c.requests.reduce((n, r) => n + Buffer.byteLength(r.body), 0);
  expect(s.bytesSent).toBe(bytes);
  expect(s.latencyMs.p50).toBeGreaterThanOrEqual(0);
  expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
});

test('a logger (console or Optimizely-shaped) hears about drops', async () => {
  const c = await collector(() => ({ status: 503 }));
  const lines = [];
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (m) => lines.push(['warn', m]),
    error: (m) => lines.push(['error', m]),
  };
  const d = createDispatcher({ logger, maxAttempts: 1 });
  await d.dispatchEvent(logEvent(c.url).event);
  await d.close();
  // The cause is in the line: not just "dropped", but why.
  expect(
    lines.some(
      ([level, m]) =>
        level === 'warn' && m.includes('dropped an event (retries-exhausted: HTTP 503)'),
    ),
  ).toBe(true);
});
