'use strict';
// Accounting and reporting a user can trust. After close(), accepted = delivered +
// failed + spooled + lost, and stats() agrees with the summary; a result that is not a delivery
// never carries a 2xx; drops say why; stats() counts what really happened; a throwing callback is
// reported, never silent.
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');
const { tempDirs, treeBytes } = require('./helpers/dirs');
const { closedPort } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const FAST = { baseDelayMs: 5, maxDelayMs: 30 };

function expectBalanced(d, summary) {
  const s = d.stats();
  expect(s.pending).toBe(0);
  expect(s.accepted).toBe(s.delivered + s.failed + s.spooled + s.lost);
  expect(summary).toMatchObject({
    delivered: s.delivered,
    failed: s.failed,
    spooled: s.spooled,
    lost: s.lost,
  });
  const e = s.events;
  expect(e.accepted).toBe(e.delivered + e.failed + e.spooled + e.lost);
  expect(summary.events).toEqual({
    delivered: e.delivered,
    failed: e.failed,
    spooled: e.spooled,
    lost: e.lost,
  });
}

// Answers in turn: 204, 503, a reset before the answer, a 200 status line then a reset, 400, a hang.
const chaos = (n) =>
  [undefined, { status: 503 }, 'reset', 'reset-mid', { status: 400 }, 'hang', undefined][n % 7];

test.each([
  ['without a spool', false],
  ['with a spool', true],
])(
  'under faults, %s, with events handed over during close(): the books balance',
  async (_, withSpool) => {
    const c = await collector(chaos);
    const d = createDispatcher({
      ...FAST,
      maxAttempts: 3,
      timeoutMs: 300,
      spoolRetryMs: 600000,
      spoolDir: withSpool ? tempDir() : undefined,
    });
    const results = Array.from({ length: 60 }, () => d.dispatchEvent(logEvent(c.url, 3).event));
    await new Promise((r) => setTimeout(r, 50));
    const closing = d.close({ timeoutMs: 400 });
    // Late events, handed over while it closes (the SDK does this): in the books too.
    const late = Array.from({ length: 5 }, () =>
      d.dispatchEvent(logEvent(c.url, 3).event).catch((e) => e),
    );
    const summary = await closing;
    expectBalanced(d, summary);
    const settled = await Promise.all(results);
    expect(d.stats().accepted).toBe(withSpool ? 65 : 60); // without a spool, late events are refused
    // Each promise says one of four things, and none but a delivery carries a 2xx.
    for (const r of settled) {
      const kinds = [
        r.statusCode >= 200 && r.statusCode < 300,
        r.failed === true,
        r.spooled === true,
        r.dropped === true,
      ];
      expect(kinds.filter(Boolean)).toHaveLength(1);
    }
    const lateResults = await Promise.all(late);
    if (withSpool) expect(lateResults.every((r) => r.spooled === true)).toBe(true);
    else expect(lateResults.every((r) => r.code === 'ERR_DISPATCHER_CLOSED')).toBe(true);
  },
  20000,
);

test('a 200 status line followed by a reset is not a delivery: the dropped result carries no 2xx, the error does', async () => {
  const c = await collector(() => 'reset-mid');
  const d = createDispatcher({ ...FAST, maxAttempts: 2 });
  later(() => d.close({ timeoutMs: 0 }));
  const drops = [];
  d.on('drop', (x) => drops.push(x));
  const result = await d.dispatchEvent(logEvent(c.url).event);
  expect(result).toMatchObject({
    statusCode: 0,
    dropped: true,
    reason: 'retries-exhausted',
    attempts: 2,
  });
  expect(result.error).toMatchObject({
    name: 'DispatchError',
    code: 'ECONNRESET',
    statusCode: 200,
  });
  expect(drops[0]).toMatchObject({
    reason: 'retries-exhausted',
    code: 'ECONNRESET',
    cause: 'ECONNRESET',
  });
  expect(d.stats()).toMatchObject({ delivered: 0, lost: 1 });
});

test('drops say why: the drop event, the logger line and the result name the last error', async () => {
  const port = await closedPort();
  const lines = [];
  const logger = { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  const d = createDispatcher({ ...FAST, maxAttempts: 2, logger });
  later(() => d.close({ timeoutMs: 0 }));
  const drops = [];
  d.on('drop', (x) => drops.push(x));
  const result = await d.send('POST', `http://127.0.0.1:${port}/v1/events`, { a: 1 });
  expect(result).toMatchObject({
    dropped: true,
    reason: 'retries-exhausted',
    error: { code: 'ECONNREFUSED' },
  });
  expect(drops[0]).toMatchObject({ cause: 'ECONNREFUSED', code: 'ECONNREFUSED', attempts: 2 });
  // 0.1: "dropped an event (retries-exhausted) … after 2 attempt(s)", nothing about the cause.
  expect(lines.some((m) => m.includes('dropped an event (retries-exhausted: ECONNREFUSED)'))).toBe(
    true,
  );
});

test('stats(): bytesSent counts only what went out; latency is null before any delivery; spoolBytes stays true after close', async () => {
  const port = await closedPort();
  const dir = tempDir();
  const d = createDispatcher({ ...FAST, maxAttempts: 3, spoolDir: dir, spoolRetryMs: 600000 });
  const result = await d.send('POST', `http://127.0.0.1:${port}/v1/events`, {
    a: 'x'.repeat(1000),
  });
  expect(result.spooled).toBe(true);
  const s = d.stats();
  expect(s.bytesSent).toBe(0); // three attempts, none connected (0.1 counted 3 bodies)
  expect(s.latencyMs).toEqual({ p50: null, p95: null, p99: null }); // 0.1: 0/0/0
  await d.close();
  const after = d.stats();
  expect(after.spoolBytes).toBeGreaterThan(1000); // 0.1: 0 after close
  expect(after.spoolBytes).toBe(treeBytes(dir));
  const c = await collector();
  const next = createDispatcher({ spoolDir: dir, endpoint: c.url });
  await next.flush();
  await next.close();
  expect(next.stats().bytesSent).toBe(Buffer.byteLength(c.requests[0].body));
  expect(next.stats().latencyMs.p50).toBeNull(); // replays do not count as this run's latency
});

test('a callback that throws is an error event when someone listens', async () => {
  const c = await collector();
  const d = createDispatcher();
  later(() => d.close());
  const errors = [];
  d.on('error', (e) => errors.push(e.message));
  await new Promise((resolve) => {
    d.dispatchEvent(logEvent(c.url).event, () => {
      setImmediate(resolve);
      throw new Error('SDK callback bug');
    });
  });
  expect(errors).toEqual(['SDK callback bug']);
});

test('a callback that throws with nobody listening is a process warning (once), not silence', async () => {
  const c = await collector();
  const { exited } = spawnNode(`
    const { createDispatcher } = require(${JSON.stringify(require('node:path').join(__dirname, '..'))});
    const d = createDispatcher();
    process.on('warning', (w) => console.log('warning', w.code, w.message));
    (async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => d.dispatchEvent({ url: ${JSON.stringify(c.url)}, params: { i } },
          () => { setImmediate(resolve); throw new Error('SDK callback bug ' + i); }));
      }
      await d.close();
    })();
  `);
  const r = await exited;
  expect(r.code).toBe(0);
  const warnings = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('warning NED_DISPATCHER_ERROR'));
  expect(warnings).toHaveLength(1); // 0.1: nothing at all
  expect(warnings[0]).toContain('SDK callback bug 0');
});

// Listeners are application code (found by the fault suite): one that sends again while memory is
// full counted the same event lost twice (pending -1); one that throws left events unsettled
// forever, made close() reject and overrun its deadline, or crashed the process from settleBy's timer.
describe('listeners that send again or throw', () => {
  function balanced(d) {
    const s = d.stats();
    return {
      sum: s.pending + s.delivered + s.failed + s.spooled + s.lost,
      accepted: s.accepted,
      queuedBytesOk: s.queuedBytes >= 0,
    };
  }

  test.each(['settleBy', 'retries exhausted'])(
    "a 'drop' listener that sends again while memory is full (%s): each event counted once",
    async (mode) => {
      const c = await collector(() => (mode === 'settleBy' ? 'hang' : { status: 503 }));
      const d = createDispatcher({
        ...FAST,
        maxQueueBytes: 10000,
        maxInFlight: 1,
        maxAttempts: 1,
        timeoutMs: 600000,
      });
      later(() => d.close({ timeoutMs: 0 }));
      let drops = 0;
      let sent = false;
      d.on('drop', () => {
        drops += 1;
        if (sent) return;
        sent = true; // before send(): its own drop (room for it) calls this listener again
        d.send('POST', c.url, 'y'.repeat(9000));
      });
      const first = [0, 1].map((i) => d.send('POST', c.url, String(i).repeat(4000)));
      for (let i = 0; i < 200 && c.requests.length < 1; i++)
        await new Promise((r) => setTimeout(r, 5));
      if (mode === 'settleBy') d.settleBy(Date.now()); // what closeOptimizely() does
      await Promise.all(first);
      await new Promise((r) => setTimeout(r, 50));
      expect(balanced(d)).toEqual({ sum: 3, accepted: 3, queuedBytesOk: true }); // 0.1: sum 4, queuedBytes -4000
      const summary = await d.close({ timeoutMs: 100 });
      expect(summary.lost + summary.delivered + summary.failed + summary.spooled).toBe(3);
      expect(drops).toBe(summary.lost); // one 'drop' per lost event, not two
      expect(d.stats().pending).toBe(0);
    },
  );

  test.each(['drop', 'spool', 'retry', 'failed', 'pause'])(
    "a '%s' listener that throws: every event still settles, counts add up, close() keeps its deadline",
    async (name) => {
      const dir = tempDir();
      const plan = {
        drop: 'hang',
        spool: 'hang',
        retry: { status: 500 },
        failed: { status: 400 },
        pause: { status: 429, headers: { 'retry-after': '0' } },
      }[name];
      const c = await collector(() => plan);
      const d = createDispatcher({
        ...FAST,
        timeoutMs: 600000,
        maxAttempts: 2,
        ...(name === 'spool' ? { spoolDir: dir } : {}),
      });
      const errors = [];
      d.on('error', (e) => errors.push(e.message));
      d.on(name, () => {
        throw new Error(`a bug in a '${name}' listener`);
      });
      const results = Array.from({ length: 5 }, (_, i) => d.send('POST', c.url, { i }));
      for (let i = 0; i < 400 && c.requests.length < 5; i++)
        await new Promise((r) => setTimeout(r, 5));
      const started = Date.now();
      const summary = await d.close({ timeoutMs: 300 }); // 0.1: rejected with the listener's error
      expect(Date.now() - started).toBeLessThan(300 + 1500);
      expect(await Promise.all(results)).toHaveLength(5); // 0.1: never settled
      expect(summary.delivered + summary.failed + summary.spooled + summary.lost).toBe(5);
      expect(d.stats().pending).toBe(0);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((m) => m === `a bug in a '${name}' listener`)).toBe(true);
      for (const res of c.hanging.splice(0)) res.destroy();
    },
  );

  test("a throwing 'drop' listener when settleBy's deadline comes: reported, the process lives on", async () => {
    const c = await collector(() => 'hang');
    const { exited } = spawnNode(`
      const { createDispatcher } = require(${JSON.stringify(require('node:path').join(__dirname, '..'))});
      const d = createDispatcher({ timeoutMs: 600000 });
      d.on('error', (e) => console.log('error:', e.message));
      d.on('drop', () => { throw new Error('listener bug'); });
      const all = Promise.all([0, 1, 2].map((i) => d.send('POST', ${JSON.stringify(c.url)}, { i })));
      setTimeout(() => d.settleBy(Date.now()), 100);
      all.then((r) => { console.log('settled', r.map((x) => x.reason).join(',')); return d.close({ timeoutMs: 0 }); })
        .then((s) => console.log('lost', s.lost));
    `);
    const r = await exited;
    expect(r.code).toBe(0); // 0.1: an uncaught exception from the deadline timer, exit code 1
    expect(r.stdout.trim().split('\n')).toEqual([
      'error: listener bug',
      'error: listener bug',
      'error: listener bug',
      'settled closed,closed,closed',
      'lost 3',
    ]);
    for (const res of c.hanging.splice(0)) res.destroy();
  });
});

test('close() with options that are not an object, or a bad timeoutMs while a close runs: a rejection with a code', async () => {
  const d = createDispatcher({});
  let rejected;
  expect(() => {
    rejected = d.close(null);
  }).not.toThrow(); // 0.1: a synchronous TypeError without a code
  await expect(rejected).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  await expect(d.close('5')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  const closing = d.close({ timeoutMs: 100 });
  await expect(d.close({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' }); // 0.1: the running close
  await closing;
});
