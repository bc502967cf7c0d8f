'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');

const { later, collector } = useCleanup();

test('flush() resolves once everything accepted before it is settled; later events do not hold it', async () => {
  let answer;
  const c = await collector(() => 'hang');
  const d = createDispatcher();
  later(() => d.close({ timeoutMs: 0 }));
  const before = [logEvent(c.url), logEvent(c.url)].map((e) => d.dispatchEvent(e.event));
  let flushed = false;
  const flushing = d.flush().then(() => { flushed = true; });
  await new Promise((r) => setImmediate(r));
  while (c.hanging.length < 2) await new Promise((r) => setTimeout(r, 5));
  d.dispatchEvent(logEvent(c.url).event); // after the flush: not waited for
  expect(flushed).toBe(false);
  answer = c.hanging.splice(0, 2);
  for (const res of answer) res.writeHead(204).end();
  await flushing;
  expect((await Promise.all(before)).map((r) => r.statusCode)).toEqual([204, 204]);
  expect(d.stats().inFlight + d.stats().queued).toBe(1);
  expect(await createDispatcher().flush()).toBeUndefined(); // nothing pending: resolves at once
});

test('close(): queued events are sent and delivered; the summary counts them', async () => {
  const c = await collector();
  const d = createDispatcher({ maxInFlight: 2 });
  const events = Array.from({ length: 20 }, () => logEvent(c.url));
  const results = events.map((e) => d.dispatchEvent(e.event));
  const summary = await d.close();
  expect(summary).toEqual({ delivered: 20, spooled: 0, lost: 0, failed: 0, events: { delivered: 40, spooled: 0, lost: 0, failed: 0 } });
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
  expect(summary).toEqual({ delivered: 0, spooled: 0, lost: 10, failed: 0, events: { delivered: 0, spooled: 0, lost: 20, failed: 0 } });
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
  expect(await d.close({ timeoutMs: 50 })).toEqual({ delivered: 0, spooled: 6, lost: 0, failed: 0, events: { delivered: 0, spooled: 12, lost: 0, failed: 0 } });
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
  d.dispatchEvent(logEvent(c.url).event, () => { throw new Error('callback blew up'); });
  await d.flush();
  await d.close();
  d.dispatchEvent(logEvent(c.url).event, cb('closed'));
  await new Promise((r) => setImmediate(r));
  expect(calls).toEqual([['invalid', 0], ['ok', 204], ['rejected', 400], ['closed', 0]]);
  expect(errors).toEqual(['callback blew up']);
  await expect(invalid).rejects.toMatchObject({ code: 'ERR_INVALID_EVENT' });
});

test('a closed dispatcher rejects new events with ERR_DISPATCHER_CLOSED (without a spool)', async () => {
  const c = await collector();
  const d = createDispatcher();
  await d.close();
  await expect(d.dispatchEvent(logEvent(c.url).event)).rejects.toMatchObject({ code: 'ERR_DISPATCHER_CLOSED' });
  await expect(d.send('POST', c.url, { a: 1 })).rejects.toMatchObject({ code: 'ERR_DISPATCHER_CLOSED' });
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
  expect(s).toMatchObject({ state: 'open', queued: 0, inFlight: 0, accepted: 30, delivered: 30, failed: 0, dropped: 0, spooled: 0 });
  const bytes = c.requests.reduce((n, r) => n + Buffer.byteLength(r.body), 0);
  expect(s.bytesSent).toBe(bytes);
  expect(s.latencyMs.p50).toBeGreaterThanOrEqual(0);
  expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
});

test('a logger (console or Optimizely-shaped) hears about drops', async () => {
  const c = await collector(() => ({ status: 503 }));
  const lines = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m) => lines.push(['warn', m]), error: (m) => lines.push(['error', m]) };
  const d = createDispatcher({ logger, maxAttempts: 1 });
  await d.dispatchEvent(logEvent(c.url).event);
  await d.close();
  // The cause is in the line: not just "dropped", but why.
  expect(lines.some(([level, m]) => level === 'warn' && m.includes('dropped an event (retries-exhausted: HTTP 503)'))).toBe(true);
});
