'use strict';
// The real @segment/analytics-node with `httpClient: createFetch()`: what a collector on
// 127.0.0.1 receives, byte for byte, and the SDK's own retries (503, 429 with Retry-After)
// working through a single-shot fetch.
const { Analytics } = require('@segment/analytics-node');
const { createFetch } = require('../lib');
const { startSdkCollector } = require('./helpers/sdk-collector');

const WRITE_KEY = 'segment-test-write-key';
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

async function setup(plan) {
  const collector = await startSdkCollector(plan);
  cleanups.push(() => collector.close());
  const fetch = createFetch();
  const analytics = new Analytics({
    writeKey: WRITE_KEY,
    host: collector.origin,
    path: '/v1/batch',
    flushAt: 1,
    maxRetries: 3,
    httpClient: fetch,
  });
  // What the SDK handed to its HTTP client, to compare with what arrived.
  const sent = [];
  analytics.on('http_request', (r) => sent.push(r));
  const errors = [];
  analytics.on('error', (e) => errors.push(e));
  cleanups.push(() => analytics.closeAndFlush({ timeout: 5000 }));
  return { collector, analytics, sent, errors };
}

function track(analytics, event) {
  return new Promise((resolve) => {
    analytics.track(event, (err, ctx) => resolve({ err, ctx }));
  });
}

test("a batch arrives byte for byte, with the SDK's headers", async () => {
  const { collector, analytics, sent, errors } = await setup(() => ({ body: '{"success":true}' }));
  const { err } = await track(analytics, {
    userId: 'user-1',
    event: 'Order Completed',
    messageId: 'msg-1',
    properties: { revenue: 42.5, currency: 'EUR', note: 'ünïcödé ✓' },
  });
  expect(err).toBeUndefined();
  expect(errors).toEqual([]);
  expect(collector.requests).toHaveLength(1);
  const [request] = collector.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/v1/batch');
  expect(sent).toHaveLength(1);
  expect(request.body.equals(Buffer.from(sent[0].body))).toBe(true);
  const batch = request.json;
  expect(batch.writeKey).toBe(WRITE_KEY);
  expect(batch.batch).toHaveLength(1);
  expect(batch.batch[0]).toMatchObject({
    type: 'track',
    userId: 'user-1',
    event: 'Order Completed',
    messageId: 'msg-1',
    properties: { revenue: 42.5, currency: 'EUR', note: 'ünïcödé ✓' },
  });
  expect(request.headers).toMatchObject({
    'content-type': 'application/json',
    'user-agent': 'analytics-node-next/latest',
    authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
    'content-length': String(Buffer.byteLength(sent[0].body)),
  });
  expect(request.headers['x-retry-count']).toBeUndefined();
  expect(request.headers.expect).toBeUndefined();
});

test('503 then 200: the SDK retries (X-Retry-Count: 1) and the event is delivered', async () => {
  const { collector, analytics } = await setup((r, i) =>
    i === 0 ? { status: 503, body: 'busy' } : { body: '{}' },
  );
  const { err } = await track(analytics, {
    userId: 'user-2',
    event: 'Retry Me',
    messageId: 'msg-2',
  });
  expect(err).toBeUndefined();
  expect(collector.requests).toHaveLength(2);
  expect(collector.requests[0].headers['x-retry-count']).toBeUndefined();
  expect(collector.requests[1].headers['x-retry-count']).toBe('1');
  expect(collector.requests.map((r) => r.json.batch[0].messageId)).toEqual(['msg-2', 'msg-2']);
});

test('429 with Retry-After: the SDK reads the header through fetch, waits, retries and delivers', async () => {
  const { collector, analytics } = await setup((r, i) =>
    i === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : { body: '{}' },
  );
  const { err } = await track(analytics, {
    userId: 'user-3',
    event: 'Rate Limited',
    messageId: 'msg-3',
  });
  expect(err).toBeUndefined();
  expect(collector.requests).toHaveLength(2);
  expect(collector.requests[1].headers['x-retry-count']).toBe('1');
  expect(collector.requests[1].json.batch[0].messageId).toBe('msg-3');
});

test('a 400 is final: one request, the event fails with the status and the standard reason phrase', async () => {
  const { collector, analytics } = await setup(() => ({ status: 400, body: 'bad' }));
  const { err } = await track(analytics, { userId: 'user-4', event: 'Bad', messageId: 'msg-4' });
  expect(collector.requests).toHaveLength(1);
  expect(err).toBeDefined();
  expect(err.message).toBe('[400] Bad Request'); // the SDK's `[${status}] ${statusText}`
});
