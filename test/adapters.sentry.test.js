'use strict';
// The real @sentry/node with createSentryTransport: envelopes arrive byte for byte (gzip over
// 32 KiB, as the SDK's own transport), the rate-limit headers reach the SDK's rate limiter, and
// the durable mode hands envelopes to a dispatcher that retries and spools them.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const Sentry = require('@sentry/node');
const { createSentryTransport, createDispatcher } = require('../lib');
const { startSdkCollector, until } = require('./helpers/sdk-collector');
const { closedPort } = require('./helpers/servers');

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

// One Sentry client at a time (Sentry.init replaces the global one); closed after each test.
function init(origin, transport, extra = {}) {
  Sentry.init({
    dsn: `${origin.replace('://', '://publickey@')}/42`,
    transport,
    defaultIntegrations: false,
    skipOpenTelemetrySetup: true,
    sendClientReports: false,
    enableRuntimeChannelInjection: false, // no module hooks: Jest cannot take them, and the test needs none
    ...extra,
  });
  cleanups.push(() => Sentry.close(2000));
}

// Records the exact body Sentry's createTransport hands to our makeRequest.
function recordingCreateTransport(bodies) {
  return (options, makeRequest) =>
    Sentry.createTransport(options, (request) => {
      bodies.push(Buffer.from(request.body));
      return makeRequest(request);
    });
}

async function collector(plan) {
  const c = await startSdkCollector(plan);
  cleanups.push(() => c.close());
  return c;
}

test("an event envelope arrives byte for byte at the DSN's envelope endpoint", async () => {
  const c = await collector();
  const bodies = [];
  init(c.origin, createSentryTransport(recordingCreateTransport(bodies)));
  const id = Sentry.captureMessage('checkout failed: ünïcödé ✓', 'error');
  expect(await Sentry.flush(5000)).toBe(true);
  expect(c.requests).toHaveLength(1);
  const [request] = c.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toMatch(/^\/api\/42\/envelope\/\?sentry_version=7&sentry_key=publickey/);
  expect(request.body.equals(bodies[0])).toBe(true);
  // Like @sentry/node's own transport: no content type, no encoding under 32 KiB.
  expect(request.headers['content-type']).toBeUndefined();
  expect(request.headers['content-encoding']).toBeUndefined();
  expect(request.headers['user-agent']).toMatch(/^sentry\.javascript\.node\/\d+\./);
  const [header, itemHeader, item] = request.body.toString().split('\n');
  expect(JSON.parse(header).event_id).toBe(id);
  expect(JSON.parse(itemHeader).type).toBe('event');
  expect(JSON.parse(item).message).toBe('checkout failed: ünïcödé ✓');
});

test("an envelope over 32 KiB goes gzip-compressed, as the SDK's own transport sends it", async () => {
  const c = await collector();
  const bodies = [];
  init(c.origin, createSentryTransport(recordingCreateTransport(bodies)));
  Sentry.captureMessage(`big ${'x'.repeat(40 * 1024)}`);
  expect(await Sentry.flush(5000)).toBe(true);
  expect(c.requests).toHaveLength(1);
  expect(c.requests[0].headers['content-encoding']).toBe('gzip');
  expect(zlib.gunzipSync(c.requests[0].body).equals(bodies[0])).toBe(true);
});

test("429 with X-Sentry-Rate-Limits and Retry-After: the SDK's rate limiter holds the next event back", async () => {
  const c = await collector((r, i) =>
    i === 0
      ? {
          status: 429,
          headers: { 'Retry-After': '60', 'X-Sentry-Rate-Limits': '60:error:organization' },
        }
      : { body: '{}' },
  );
  init(c.origin, createSentryTransport(Sentry.createTransport));
  Sentry.captureMessage('first', 'error');
  await Sentry.flush(5000);
  Sentry.captureMessage('second, rate limited', 'error');
  await Sentry.flush(5000);
  // The second never left the process: the SDK read the headers fetch gave back.
  expect(c.requests).toHaveLength(1);
});

test("the headers from Sentry's transportOptions are sent with each envelope", async () => {
  const c = await collector();
  init(c.origin, createSentryTransport(Sentry.createTransport), {
    transportOptions: { headers: { 'X-Relay-Token': 'abc' } },
  });
  Sentry.captureMessage('with a header');
  await Sentry.flush(5000);
  expect(c.requests[0].headers['x-relay-token']).toBe('abc');
});

test('durable: 503 then 200, the dispatcher retries the same envelope; the SDK heard it accepted', async () => {
  const c = await collector((r, i) => (i === 0 ? { status: 503 } : { body: '{}' }));
  const dispatcher = createDispatcher({
    baseDelayMs: 10,
    maxDelayMs: 20,
    headers: { 'Content-Type': 'application/x-sentry-envelope' },
  });
  cleanups.push(() => dispatcher.close({ timeoutMs: 2000 }));
  const bodies = [];
  init(c.origin, createSentryTransport(recordingCreateTransport(bodies), { dispatcher }));
  Sentry.captureMessage('durable');
  expect(await Sentry.flush(5000)).toBe(true);
  await dispatcher.flush();
  expect(c.requests).toHaveLength(2);
  expect(c.requests[0].body.equals(bodies[0])).toBe(true);
  expect(c.requests[1].body.equals(bodies[0])).toBe(true);
  expect(c.requests[1].headers['content-type']).toBe('application/x-sentry-envelope');
  expect(dispatcher.stats()).toMatchObject({ delivered: 1, retried: 1, dropped: 0 });
});

test('durable with a spool: an envelope sent while the endpoint is down is delivered by the next dispatcher', async () => {
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-sentry-'));
  cleanups.push(() => fs.rmSync(spoolDir, { recursive: true, force: true }));
  const c = await collector();
  const down = `http://127.0.0.1:${await closedPort()}`;
  // This run: nothing listens at the DSN; after its one attempt the envelope waits in the spool.
  const bodies = [];
  const offline = createDispatcher({ spoolDir, maxAttempts: 1 });
  init(down, createSentryTransport(recordingCreateTransport(bodies), { dispatcher: offline }));
  Sentry.captureMessage('kept on disk');
  await Sentry.flush(5000);
  const summary = await offline.close({ timeoutMs: 2000 });
  expect(summary).toMatchObject({ delivered: 0, spooled: 1, lost: 0 });
  expect(c.requests).toHaveLength(0);
  // Next run, endpoint up: delivered first, byte for byte.
  const next = createDispatcher({
    spoolDir,
    endpoint: `${c.origin}/api/42/envelope/?sentry_key=publickey`,
  });
  cleanups.push(() => next.close({ timeoutMs: 2000 }));
  await until(() => c.requests.length === 1, 'the spooled envelope');
  await next.flush();
  expect(c.requests[0].body.equals(bodies[0])).toBe(true);
  expect(next.stats().delivered).toBe(1);
});

test('durable mode refuses per-envelope headers and a dispatcher that is not one', async () => {
  const dispatcher = createDispatcher();
  cleanups.push(() => dispatcher.close({ timeoutMs: 0 }));
  const transport = createSentryTransport(Sentry.createTransport, { dispatcher });
  expect(() =>
    transport({
      url: 'http://127.0.0.1/api/1/envelope/',
      headers: { 'X-A': '1' },
      recordDroppedEvent() {},
    }),
  ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  expect(() => createSentryTransport(Sentry.createTransport, { dispatcher: {} })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() => createSentryTransport(Sentry.createTransport, { dispatcher, timeoutMs: 5 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
  expect(() => createSentryTransport(undefined)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
});
