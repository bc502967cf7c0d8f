'use strict';
// No event vanishes while counted. The spool directory is deleted (rm -rf) while the
// dispatcher runs: close() must report as spooled exactly what the next run finds on disk. The
// spool writes its live records back from the files still open, into a recreated root and slot;
// when that cannot be done they are counted lost, with the cause — never as spooled.
const fs = require('node:fs');
const path = require('node:path');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');
const { tempDirs } = require('./helpers/dirs');
const { closedPort } = require('./helpers/servers');
const { lineProcess } = require('./helpers/processes');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const ROOT = path.join(__dirname, '..');

// A dispatcher whose endpoint is down: every event is spooled after one attempt and not tried
// again in this run. Its log lines are kept in `logs`.
async function downDispatcher(spoolDir, options = {}) {
  const url = `http://127.0.0.1:${await closedPort()}/v1/events`;
  const logs = [];
  const logger = {
    debug() {},
    info() {},
    warn: (m) => logs.push(`warn: ${m}`),
    error: (m) => logs.push(`error: ${m}`),
  };
  const dispatcher = createDispatcher({
    spoolDir,
    maxAttempts: 1,
    spoolRetryMs: 600000,
    logger,
    ...options,
  });
  later(() => dispatcher.close({ timeoutMs: 0 }));
  return { dispatcher, url, logs };
}

// Hands `n` one-visitor events over → their uuids, once each was settled.
async function dispatch(dispatcher, url, n) {
  const events = Array.from({ length: n }, () => logEvent(url, 1));
  const results = await Promise.all(events.map((e) => dispatcher.dispatchEvent(e.event)));
  return { uuids: events.flatMap((e) => e.uuids), results };
}

// The next run on the same spoolDir, on a live endpoint: what it inherits and what it delivers.
async function nextRun(spoolDir) {
  const c = await collector();
  const next = createDispatcher({ spoolDir, endpoint: c.url });
  const { inherited } = next.stats();
  await next.flush();
  const summary = await next.close();
  return { inherited, summary, received: c.received };
}

function balanced(stats) {
  const { accepted, pending, delivered, failed, spooled, lost } = stats;
  return accepted === pending + delivered + failed + spooled + lost;
}

function deletedWarnings(logs) {
  return logs.filter((m) =>
    /^warn: \[native-event-dispatcher\] the spool's files were deleted while in use/.test(m),
  );
}

test('the reproduction: rm -rf spoolDir while it runs (events in retries), then close(): the next run finds exactly what close() counted as spooled', async () => {
  const spoolDir = path.join(tempDir(), 'spool');
  const { dispatcher, url, logs } = await downDispatcher(spoolDir, {
    maxAttempts: 3,
    baseDelayMs: 20,
    maxDelayMs: 40,
  });
  const events = Array.from({ length: 200 }, () => logEvent(url, 1));
  const settled = Promise.all(events.map((e) => dispatcher.dispatchEvent(e.event)));
  fs.rmSync(spoolDir, { recursive: true, force: true }); // accepted and journaled; most still retrying
  const results = await settled;
  expect(results.every((r) => r.spooled)).toBe(true);
  const summary = await dispatcher.close();
  expect(summary).toMatchObject({ spooled: 200, lost: 0, events: { spooled: 200, lost: 0 } });
  const next = await nextRun(spoolDir);
  expect(next.inherited).toBe(summary.spooled); // 0.2: 0, with close() saying 200
  expect(deletedWarnings(logs)).toHaveLength(1);
  expect(next.summary).toMatchObject({ delivered: 200, spooled: 0, lost: 0 });
  for (const uuid of events.flatMap((e) => e.uuids))
    expect([uuid, next.received.get(uuid)]).toEqual([uuid, 1]);
});

test('deleted right before close(), everything parked: the same', async () => {
  const spoolDir = path.join(tempDir(), 'spool');
  const { dispatcher, url } = await downDispatcher(spoolDir);
  const { uuids, results } = await dispatch(dispatcher, url, 200);
  expect(results.every((r) => r.spooled)).toBe(true);
  fs.rmSync(spoolDir, { recursive: true, force: true });
  const summary = await dispatcher.close();
  expect(summary).toMatchObject({ spooled: 200, lost: 0 });
  expect(balanced(dispatcher.stats())).toBe(true);
  expect(fs.statSync(spoolDir).mode & 0o777).toBe(0o700); // recreated private
  const next = await nextRun(spoolDir);
  expect(next.inherited).toBe(200);
  expect(uuids.filter((u) => next.received.get(u) === 1)).toHaveLength(200);
});

test('one segment file deleted alone: its live records are written back; the next run finds all of them', async () => {
  const spoolDir = path.join(tempDir(), 'spool');
  // 256 KiB: 32 KiB segments, so 200 events take several.
  const { dispatcher, url, logs } = await downDispatcher(spoolDir, { spoolMaxBytes: 256 * 1024 });
  const { uuids } = await dispatch(dispatcher, url, 200);
  const slot = fs.readdirSync(spoolDir).find((n) => n.startsWith('slot-'));
  const segments = fs
    .readdirSync(path.join(spoolDir, slot))
    .filter((n) => n.startsWith('seg-'))
    .sort();
  expect(segments.length).toBeGreaterThanOrEqual(3);
  fs.unlinkSync(path.join(spoolDir, slot, segments[0]));
  const summary = await dispatcher.close();
  expect(summary).toMatchObject({ spooled: 200, lost: 0 });
  expect(deletedWarnings(logs)).toEqual([expect.stringMatching(/1 segment file\(s\) in /)]);
  const next = await nextRun(spoolDir);
  expect(next.inherited).toBe(200); // 0.2: 200 minus those of the deleted segment
  expect(uuids.filter((u) => next.received.get(u) === 1)).toHaveLength(200);
});

test.each([
  ['a 32 KiB segment (the journal rotates after the deletion)', 256 * 1024],
  ['the default bound (the open segment takes them all)', undefined],
])(
  'deleted while events keep coming, %s: those accepted after the deletion are on disk too',
  async (what, spoolMaxBytes) => {
    const spoolDir = path.join(tempDir(), 'spool');
    const { dispatcher, url } = await downDispatcher(
      spoolDir,
      spoolMaxBytes ? { spoolMaxBytes } : {},
    );
    const before = await dispatch(dispatcher, url, 100);
    fs.rmSync(spoolDir, { recursive: true, force: true });
    const after = await dispatch(dispatcher, url, 100);
    expect(after.results.every((r) => r.spooled)).toBe(true);
    expect(dispatcher.stats()).toMatchObject({ notJournaled: 0 });
    const summary = await dispatcher.close();
    expect(summary).toMatchObject({ spooled: 200, lost: 0 });
    const next = await nextRun(spoolDir);
    expect(next.inherited).toBe(200);
    expect(
      [...before.uuids, ...after.uuids].filter((u) => next.received.get(u) === 1),
    ).toHaveLength(200);
  },
);

test('cannot be recreated (the spoolDir path is now a regular file): counted lost with the cause, never spooled; the counts still balance', async () => {
  const spoolDir = path.join(tempDir(), 'spool');
  const { dispatcher, url, logs } = await downDispatcher(spoolDir);
  const drops = [];
  const errors = [];
  dispatcher.on('drop', (info) => drops.push(info));
  dispatcher.on('error', (err) => errors.push(err));
  await dispatch(dispatcher, url, 200);
  fs.rmSync(spoolDir, { recursive: true, force: true });
  fs.writeFileSync(spoolDir, 'not a directory');
  const late = await dispatch(dispatcher, url, 20); // accepted after it, while it cannot be written
  const summary = await dispatcher.close();
  expect(summary.spooled).toBe(0); // 0.2: 220, with nothing on disk
  expect(summary.lost + summary.spooled).toBe(220);
  expect(summary.events).toMatchObject({ spooled: 0, lost: 220 });
  const stats = dispatcher.stats();
  expect(stats).toMatchObject({ accepted: 220, pending: 0, delivered: 0, failed: 0 });
  expect(balanced(stats)).toBe(true);
  expect(balanced({ ...stats.events })).toBe(true);
  // Every lost event was reported: a drop with a reason and a cause.
  expect(drops).toHaveLength(220);
  const spoolLost = drops.filter((d) => d.reason === 'spool-lost');
  expect(spoolLost.length).toBeGreaterThanOrEqual(200);
  for (const d of spoolLost)
    expect(d).toMatchObject({
      cause: 'ERR_SPOOL_IO',
      error: expect.objectContaining({ code: 'ERR_SPOOL_IO' }),
    });
  for (const d of drops) expect(typeof d.cause).toBe('string');
  expect(late.results.filter((r) => r.dropped)).toHaveLength(
    late.results.filter((r) => !r.spooled).length,
  );
  expect(
    errors.some(
      (e) =>
        /the spool's files were deleted while in use .* and could not be recreated/.test(
          e.message,
        ) && /is not a directory/.test(e.message),
    ),
  ).toBe(true);
  expect(
    logs.some((m) =>
      /^warn: \[native-event-dispatcher\] dropped 220 spooled event\(s\): the spool's files were deleted/.test(
        m,
      ),
    ),
  ).toBe(true);
  expect(fs.readFileSync(spoolDir, 'utf8')).toBe('not a directory');
});

test('a child SIGKILLed after the spool was recreated: the next run delivers every event', async () => {
  const spoolDir = path.join(tempDir(), 'spool');
  const url = `http://127.0.0.1:${await closedPort()}/v1/events`;
  const child = lineProcess(later, process.execPath, [
    '-e',
    `
    const { createDispatcher } = require(${JSON.stringify(ROOT)});
    const { logEvent } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'events'))});
    const say = (line) => require('node:fs').writeSync(1, line + '\\n');
    const logger = { debug() {}, info() {}, warn: (m) => say('WARN ' + m), error: (m) => say('ERROR ' + m) };
    const d = createDispatcher({ spoolDir: ${JSON.stringify(spoolDir)}, maxAttempts: 1, spoolRetryMs: 600000, spoolMaxBytes: 256 * 1024, logger });
    const batch = async (tag) => {
      const events = Array.from({ length: 100 }, () => logEvent(${JSON.stringify(url)}, 1));
      const results = await Promise.all(events.map((e) => d.dispatchEvent(e.event)));
      for (const e of events) say('U ' + e.uuids[0]);
      say(tag + ' ' + results.filter((r) => r.spooled).length);
    };
    batch('FIRST');
    process.stdin.on('data', () => batch('SECOND'));
  `,
  ]);
  await child.until((lines) => lines.some((l) => l.startsWith('FIRST ')));
  fs.rmSync(spoolDir, { recursive: true, force: true });
  child.send('more');
  const lines = await child.until((l) => l.some((x) => x.startsWith('SECOND ')));
  expect(lines).toContain('FIRST 100');
  expect(lines).toContain('SECOND 100');
  expect(
    lines.filter((l) =>
      l.startsWith("WARN [native-event-dispatcher] the spool's files were deleted while in use"),
    ),
  ).toHaveLength(1);
  child.proc.kill('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
  const uuids = lines.filter((l) => l.startsWith('U ')).map((l) => l.slice(2));
  expect(uuids).toHaveLength(200);
  const next = await nextRun(spoolDir);
  expect(next.inherited).toBe(200);
  expect(uuids.filter((u) => next.received.get(u) === 1)).toHaveLength(200);
}, 30000);
