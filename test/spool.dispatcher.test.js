'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');

const CHILD = path.join(__dirname, 'fixtures', 'spool-child.js');
const FAST = { baseDelayMs: 5, maxDelayMs: 40, spoolRetryMs: 0 };

const { later, collector } = useCleanup();

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-spool-'));
  later(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function dispatcher(options) {
  const d = createDispatcher({ ...FAST, ...options });
  later(() => d.close({ timeoutMs: 0 }));
  return d;
}

function child(mode, url, dir) {
  const proc = spawn(process.execPath, [CHILD, mode, url, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let rest = '';
  let stderr = '';
  const listeners = [];
  proc.stdout.on('data', (d) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop();
    for (const line of parts) {
      lines.push(line);
      for (const l of listeners) l();
    }
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  const until = (predicate) =>
    new Promise((resolve) => {
      const check = () => {
        if (predicate(lines)) resolve(lines);
      };
      listeners.push(check);
      check();
    });
  return { proc, lines, exited, until };
}

async function waitFor(predicate) {
  for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

test('SIGKILL mid-stream, restart on the same spoolDir: the collector ends with every accepted uuid', async () => {
  const dir = tempDir();
  // Slow answers, so that many events are in flight or queued when the process dies.
  const slow = await collector(() => 'hang');
  const sender = child('send', slow.url, dir);
  await sender.until((lines) => lines.filter((l) => l.startsWith('A ')).length >= 3000);
  sender.proc.kill('SIGKILL');
  const { signal } = await sender.exited;
  expect(signal).toBe('SIGKILL');
  const accepted = sender.lines.filter((l) => l.startsWith('A ')).map((l) => l.slice(2));
  expect(accepted.length).toBeGreaterThanOrEqual(3000);
  expect(slow.received.size).toBe(0); // nothing was delivered before the kill

  const c = await collector();
  const drainer = child('drain', c.url, dir);
  const result = await drainer.exited;
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const done = drainer.lines.find((l) => l.startsWith('DONE '));
  expect(done).toBeDefined();
  const missing = accepted.filter((u) => !c.received.has(u));
  expect(missing).toEqual([]);
  const summary = JSON.parse(done.slice(5));
  expect(summary.spooled).toBe(0);
  expect(summary.replayed).toBeGreaterThanOrEqual(accepted.length / 2); // two uuids per batch
  // Everything delivered was acknowledged: a third run finds nothing.
  const third = child('drain', c.url, dir);
  await third.exited;
  expect(third.lines[0]).toBe('PARKED 0');
}, 60000);

test('a torn last line is skipped, never fatal; the rest is delivered', async () => {
  const dir = tempDir();
  const down = await collector(() => ({ status: 503 }));
  const first = dispatcher({ spoolDir: dir, maxAttempts: 1 });
  const events = Array.from({ length: 5 }, () => logEvent(down.url));
  const results = await Promise.all(events.map((e) => first.dispatchEvent(e.event)));
  expect(results.every((r) => r.spooled === true)).toBe(true);
  await first.close();
  // A crash in the middle of a write leaves half a line (in the slot the closed dispatcher left).
  const slot = fs.readdirSync(dir).find((n) => n.startsWith('slot-'));
  const segment = fs
    .readdirSync(path.join(dir, slot))
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .pop();
  fs.appendFileSync(
    path.join(dir, slot, segment),
    '{"a":0,"id":"torn","t":1,"m":"POST","u":"http://127.0.0.1:1/","e":"json","b":{"visi',
  );

  const c = await collector();
  const logs = [];
  const second = dispatcher({
    spoolDir: dir,
    endpoint: c.url,
    logger: { debug() {}, info() {}, warn: (m) => logs.push(m), error: (m) => logs.push(m) },
  });
  await waitFor(
    () =>
      second.stats().parked === 0 && second.stats().queued === 0 && second.stats().inFlight === 0,
  );
  expect(second.stats()).toMatchObject({ replayed: 5, delivered: 5 });
  expect(logs.some((m) => /torn/.test(m))).toBe(true);
  const missing = events.flatMap((e) => e.uuids).filter((u) => !c.received.has(u));
  expect(missing).toEqual([]);
});

test('events that exhaust their retries are spooled, and the next dispatcher delivers them first, oldest first', async () => {
  const dir = tempDir();
  const down = await collector(() => ({ status: 500 }));
  // spoolRetryMs: spooled events are not brought back in this run.
  const first = dispatcher({ spoolDir: dir, maxAttempts: 2, spoolRetryMs: 600000 });
  const events = Array.from({ length: 4 }, () => logEvent(down.url));
  for (const e of events) {
    const r = await first.dispatchEvent(e.event); // one at a time: acceptance order is known
    expect(r).toEqual({ spooled: true, attempts: 2 });
  }
  expect(first.stats()).toMatchObject({ spooled: 4, dropped: 0 });
  expect(await first.close()).toMatchObject({ spooled: 4, lost: 0 });

  const c = await collector();
  // `endpoint` sends replayed events to where events go now.
  const second = dispatcher({ spoolDir: dir, maxInFlight: 1, endpoint: c.url });
  const fresh = logEvent(c.url);
  const freshResult = await second.dispatchEvent(fresh.event);
  expect(freshResult.statusCode).toBe(204);
  await waitFor(() => c.requests.length === 5);
  const order = c.requests.map((r) => r.batch.visitors[0].snapshots[0].events[0].uuid);
  expect(order).toEqual([...events.map((e) => e.uuids[0]), fresh.uuids[0]]);
  expect(second.stats()).toMatchObject({ replayed: 4, delivered: 5 });
});

test('a spooled event the collector then rejects for good (400) is removed and counted as failed', async () => {
  const dir = tempDir();
  const down = await collector(() => ({ status: 503 }));
  const first = dispatcher({ spoolDir: dir, maxAttempts: 1 });
  expect(await first.dispatchEvent(logEvent(down.url).event)).toMatchObject({ spooled: true });
  await first.close();
  const rejecting = await collector(() => ({ status: 400 }));
  const second = dispatcher({ spoolDir: dir, endpoint: rejecting.url });
  const failures = [];
  second.on('failed', (d) => failures.push(d.reason));
  await waitFor(() => second.stats().failed === 1);
  expect(failures).toEqual(['rejected']);
  expect(await second.close()).toMatchObject({ spooled: 0, failed: 1 });
  const third = dispatcher({ spoolDir: dir, endpoint: rejecting.url });
  expect(third.stats().parked + third.stats().queued + third.stats().inFlight).toBe(0);
});

test('one spoolDir serves several dispatchers at once, each in its own slot', async () => {
  const dir = tempDir();
  const c = await collector();
  const first = dispatcher({ spoolDir: dir });
  const second = dispatcher({ spoolDir: dir }); // 0.1 refused this with ERR_SPOOL_LOCKED
  const a = logEvent(c.url);
  const b = logEvent(c.url);
  expect((await first.dispatchEvent(a.event)).statusCode).toBe(204);
  expect((await second.dispatchEvent(b.event)).statusCode).toBe(204);
  expect(fs.readdirSync(dir).filter((n) => n.startsWith('slot-'))).toHaveLength(2);
  await first.close();
  await second.close();
  expect([...a.uuids, ...b.uuids].every((u) => c.received.get(u) === 1)).toBe(true);
});

test('queue overflow with a spool: events are spooled instead of dropped, and come back when there is room', async () => {
  const dir = tempDir();
  const c = await collector(() => 'ok');
  const slow = await collector(() => 'hang');
  const d = dispatcher({ spoolDir: dir, maxInFlight: 2, maxQueueBytes: 4096 });
  const spools = [];
  d.on('spool', (s) => spools.push(s.reason));
  const events = Array.from({ length: 40 }, () => logEvent(slow.url));
  const results = events.map((e) => d.dispatchEvent(e.event));
  expect(spools.filter((r) => r === 'queue-full').length).toBeGreaterThan(0);
  expect(d.stats().dropped).toBe(0);
  expect(d.stats().queuedBytes).toBeLessThanOrEqual(4096);
  const settled = await Promise.all(results.filter((_, i) => i >= 10));
  expect(settled.every((r) => r.spooled)).toBe(true);
  await d.close({ timeoutMs: 0 });
  // Everything is on disk: a new dispatcher delivers all 40.
  const next = dispatcher({ spoolDir: dir, endpoint: c.url });
  await waitFor(() => next.stats().delivered === 40);
  const missing = events.flatMap((e) => e.uuids).filter((u) => !c.received.has(u));
  expect(missing).toEqual([]);
});

test('late events after close() go to the spool and are delivered by the next dispatcher', async () => {
  const dir = tempDir();
  const c = await collector();
  const first = dispatcher({ spoolDir: dir });
  await first.close();
  const late = logEvent(c.url);
  expect(await first.dispatchEvent(late.event)).toEqual({ spooled: true });
  const second = dispatcher({ spoolDir: dir });
  await waitFor(() => second.stats().delivered === 1);
  expect(c.received.has(late.uuids[0])).toBe(true);
});

test('spoolMaxBytes bounds the journal; events past it are kept in memory only and counted', async () => {
  const dir = tempDir();
  const c = await collector(() => 'hang');
  const d = dispatcher({ spoolDir: dir, spoolMaxBytes: 4096 });
  const events = Array.from({ length: 20 }, () => logEvent(c.url));
  for (const e of events) d.dispatchEvent(e.event);
  const s = d.stats();
  const oneRecord = Buffer.byteLength(JSON.stringify(events[0].event.params)) + 200;
  expect(s.spoolBytes).toBeLessThanOrEqual(4096 + oneRecord);
  expect(s.notJournaled).toBeGreaterThan(0);
  expect(s.accepted).toBe(20);
});
