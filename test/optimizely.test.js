'use strict';
// The real Optimizely SDKs (v6 as @optimizely/optimizely-sdk, v5 under an npm alias) with this
// package's dispatcher plugged in, against a local collector, with the datafile in test/fixtures.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v6 = require('@optimizely/optimizely-sdk');
const v5 = require('optimizely-sdk-v5');
const { createDispatcher, closeOptimizely } = require('..');
const { useCleanup } = require('./helpers/cleanup');

const DATAFILE = fs.readFileSync(path.join(__dirname, 'fixtures', 'datafile.json'), 'utf8');
const FAST = { baseDelayMs: 5, maxDelayMs: 50 };
// The SDKs address logx.optimizely.com; `endpoint` keeps every test on 127.0.0.1.
const local = (c, extra = {}) => ({ ...FAST, endpoint: c.url, ...extra });

const { later, collector } = useCleanup();

// Fails the first attempt of every other batch, in turn with a 503, a reset before the answer, a
// reset in the middle of it, and once a 429 with Retry-After (which pauses the whole origin);
// every batch succeeds on its next attempt. Decided by batch content, so it is deterministic.
// Every other new batch fails once: a 503, a reset, a reset mid-answer, and once a 429 with
// Retry-After. `answered` counts the failures answered with a status: each is a retry of the
// dispatcher's. (A reset may be retried by libcurl itself, unseen: when it came on a reused
// connection before any answer, libcurl sends the request again on a fresh one.)
function flakyPlan() {
  const seen = new Set();
  let failures = 0;
  const plan = (n, record) => {
    if (seen.has(record.body)) return 'ok';
    seen.add(record.body);
    if (seen.size % 2) return 'ok';
    failures += 1;
    if (failures === 3) {
      plan.answered += 1;
      return { status: 429, headers: { 'retry-after': '1' } };
    }
    const failure = [{ status: 503 }, 'reset', 'reset-mid'][failures % 3];
    if (failure.status) plan.answered += 1;
    return failure;
  };
  plan.answered = 0;
  return plan;
}

function v6Client(dispatcher, processor = {}) {
  const client = v6.createInstance({
    projectConfigManager: v6.createStaticProjectConfigManager({ datafile: DATAFILE }),
    eventProcessor: v6.createBatchEventProcessor({
      eventDispatcher: dispatcher,
      closingEventDispatcher: dispatcher,
      batchSize: 10,
      flushInterval: 100,
      maxRetries: 0,
      ...processor,
    }),
  });
  return { client };
}

function v5Client(dispatcher) {
  const client = v5.createInstance({
    datafile: JSON.parse(DATAFILE),
    eventDispatcher: dispatcher,
    eventBatchSize: 10,
    eventFlushInterval: 100,
    logger: { log() {} },
  });
  return { client };
}

// N users, each with a decision (an impression) and a conversion: 2N user events.
function activity(client, users, prefix) {
  for (let i = 0; i < users; i++) {
    const user = client.createUserContext(`${prefix}-${i}`, { plan: 'pro' });
    user.decide('checkout_flow');
    user.trackEvent('purchase', { revenue: 4200 });
  }
}

// The SDKs' LOG_EVENT notifications do not cover every batch (v6 sends none, v5 drops its
// listeners at close), so events are checked from what the users did: each user's decision (campaign_activated) and conversion (purchase) arrived, each with its own
// uuid, and nothing else did.
function expectUsers(c, users, prefix, keys = ['campaign_activated', 'purchase']) {
  const byUser = new Map();
  const uuids = new Set();
  for (const r of c.requests.filter((q) => q.action >= 200 && q.action < 300)) {
    for (const v of r.batch.visitors) {
      for (const e of v.snapshots[0].events) {
        if (uuids.has(e.uuid)) continue; // a redelivery (at-least-once) is not a second event
        uuids.add(e.uuid);
        byUser.set(v.visitor_id, [...(byUser.get(v.visitor_id) || []), e.key].sort());
      }
    }
  }
  const expected = new Map(
    Array.from({ length: users }, (_, i) => [`${prefix}-${i}`, [...keys].sort()]),
  );
  expect(byUser).toEqual(expected);
  expect(uuids.size).toBe(users * keys.length);
}

test('SDK v6: N decisions and conversions reach the collector, every uuid, nothing else', async () => {
  const c = await collector();
  const d = createDispatcher(local(c));
  const { client } = v6Client(d);
  await client.onReady();
  activity(client, 150, 'v6');
  const summary = await closeOptimizely(client, d);
  expectUsers(c, 150, 'v6');
  // Requests (SDK batches of 10) at the top, events (visitors) inside.
  expect(summary).toEqual({
    delivered: 30,
    spooled: 0,
    lost: 0,
    failed: 0,
    events: { delivered: 300, spooled: 0, lost: 0, failed: 0 },
  });
  // Each user appears twice: one decision, one conversion.
  const visitors = c.requests.flatMap((r) => r.batch.visitors.map((v) => v.visitor_id));
  expect(new Set(visitors).size).toBe(150);
  expect(visitors).toHaveLength(300);
});

test('SDK v6 with a collector failing transiently (503, resets, a 429 with Retry-After): still every uuid', async () => {
  const plan = flakyPlan();
  const c = await collector(plan);
  const d = createDispatcher(local(c));
  const pauses = [];
  d.on('pause', (p) => pauses.push(p));
  const { client } = v6Client(d);
  await client.onReady();
  activity(client, 100, 'v6f');
  const summary = await closeOptimizely(client, d, { timeoutMs: 20000 });
  expectUsers(c, 100, 'v6f');
  expect(summary.lost).toBe(0);
  // 20 batches or more, so 10 failures or more, of which 3 or more answered with a status.
  expect(plan.answered).toBeGreaterThanOrEqual(3);
  expect(d.stats().retried).toBeGreaterThanOrEqual(plan.answered);
  expect(pauses).toHaveLength(1);
});

test('SDK v6 shutdown: the last, partial batch is delivered by closeOptimizely(client, dispatcher)', async () => {
  const c = await collector();
  const d = createDispatcher(local(c));
  // A long flush interval: only close() can hand over the last 3 events. Called right after the
  // decisions, client.close() alone would leave them for the next tick, a minute later.
  const { client } = v6Client(d, { batchSize: 10, flushInterval: 60000 });
  await client.onReady();
  for (let i = 0; i < 13; i++) client.createUserContext(`late-${i}`).decide('checkout_flow');
  const summary = await closeOptimizely(client, d);
  expectUsers(c, 13, 'late', ['campaign_activated']);
  expect(summary.delivered).toBe(2);
});

test('SDK v6 shutdown with a spool: a batch that arrives after the dispatcher closed is kept and delivered next run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-sdk-'));
  later(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = await collector();
  const d = createDispatcher(local(c, { spoolDir: dir }));
  const { client } = v6Client(d, { flushInterval: 60000 });
  await client.onReady();
  for (let i = 0; i < 3; i++) client.createUserContext(`after-${i}`).decide('checkout_flow');
  // The wrong order: the dispatcher first. The SDK's last batch then reaches a closed dispatcher.
  await d.close();
  await client.close();
  expect(c.received.size).toBe(0);
  const next = createDispatcher(local(c, { spoolDir: dir }));
  later(() => next.close());
  for (let i = 0; i < 500 && next.stats().delivered < 1; i++)
    await new Promise((r) => setTimeout(r, 10));
  expectUsers(c, 3, 'after', ['campaign_activated']);
});

test('SDK v5 (callback interface): every uuid arrives and close() does not hang', async () => {
  const c = await collector();
  const d = createDispatcher(local(c));
  const { client } = v5Client(d);
  await client.onReady();
  activity(client, 121, 'v5'); // 242 events: the last batch is a partial one
  const closed = await client.close();
  expect(closed.success).toBe(true);
  await d.close();
  expectUsers(c, 121, 'v5');
});

test('SDK v5 with a collector failing transiently: still every uuid', async () => {
  const c = await collector(flakyPlan());
  const d = createDispatcher(local(c));
  const { client } = v5Client(d);
  await client.onReady();
  activity(client, 60, 'v5f');
  await client.close();
  const summary = await d.close({ timeoutMs: 20000 });
  expect(summary.lost).toBe(0);
  expectUsers(c, 60, 'v5f');
});

test('SDK v5 close() does not hang when every event fails for good (callback called anyway)', async () => {
  const c = await collector(() => ({ status: 400 }));
  const d = createDispatcher(local(c));
  const { client } = v5Client(d);
  await client.onReady();
  activity(client, 7, 'v5x');
  const closed = await client.close(); // would wait forever if a callback were never called
  expect(closed.success).toBe(true);
  expect(await d.close()).toMatchObject({ failed: 2, delivered: 0 });
  expect(c.requests.reduce((n, r) => n + r.batch.visitors.length, 0)).toBe(14);
  expect(c.received.size).toBe(0);
});

test('the SDK accepts the dispatcher as it is (v6 validates it)', () => {
  const d = createDispatcher({ endpoint: 'http://127.0.0.1:9/v1/events' });
  expect(() => v6.createBatchEventProcessor({ eventDispatcher: d })).not.toThrow();
  return d.close();
});
