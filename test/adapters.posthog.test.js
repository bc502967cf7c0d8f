'use strict';
// The real posthog-node with `fetch: createFetch()`: a gzip batch arrives byte for byte (and
// gunzips to the events), a feature-flag call reads json() through the same fetch, and the SDK's
// own retry works through a single-shot fetch.
const zlib = require('node:zlib');
const { PostHog } = require('posthog-node');
const { createFetch } = require('../lib');
const { startSdkCollector, until } = require('./helpers/sdk-collector');

const TOKEN = 'phc_test_project_token';
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

// Routes by path: /batch/ and /flags/ (anything else is a 404 the test will see).
async function setup({ batch = () => ({ body: '{"status":"Ok"}' }), flags } = {}) {
  let batches = 0;
  const collector = await startSdkCollector((r) => {
    if (r.path.startsWith('/batch/')) return batch(r, batches++);
    if (r.path.startsWith('/flags/') && flags) return flags(r);
    return { status: 404 };
  });
  cleanups.push(() => collector.close());
  const fetch = createFetch();
  // What the SDK handed to fetch, to compare with what arrived.
  const handed = [];
  const spy = (url, init) => {
    handed.push({ url, init });
    return fetch(url, init);
  };
  const client = new PostHog(TOKEN, {
    host: collector.origin,
    fetch: spy,
    flushAt: 1,
    flushInterval: 0,
    fetchRetryDelay: 20,
    fetchRetryCount: 2,
    featureFlagsRequestTimeoutMs: 5000,
  });
  const errors = [];
  client.on('error', (e) => errors.push(e));
  cleanups.push(() => client.shutdown(5000));
  return { collector, client, handed, errors };
}

async function bytesOf(body) {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

test('a gzip batch arrives byte for byte with Content-Encoding: gzip, and gunzips to the event', async () => {
  const { collector, client, handed, errors } = await setup();
  client.capture({
    distinctId: 'user-1',
    event: 'signed up',
    properties: { plan: 'pro', note: 'ünïcödé ✓' },
  });
  await client.flush();
  expect(errors).toEqual([]);
  expect(collector.requests).toHaveLength(1);
  const [request] = collector.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/batch/');
  expect(request.headers['content-encoding']).toBe('gzip');
  expect(request.headers['content-type']).toBe('application/json');
  expect(request.body.equals(await bytesOf(handed[0].init.body))).toBe(true);
  expect(request.body.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
  const payload = JSON.parse(zlib.gunzipSync(request.body).toString());
  expect(payload.api_key).toBe(TOKEN);
  expect(payload.batch).toHaveLength(1);
  expect(payload.batch[0]).toMatchObject({ distinct_id: 'user-1', event: 'signed up' });
  expect(payload.batch[0].properties).toMatchObject({ plan: 'pro', note: 'ünïcödé ✓' });
});

test('a feature-flag call goes through the same fetch and reads json()', async () => {
  const { collector, client, handed } = await setup({
    flags: () => ({
      headers: { 'Content-Type': 'application/json' },
      body: {
        featureFlags: { 'new-checkout': 'variant-b', 'dark-mode': true },
        featureFlagPayloads: {},
      },
    }),
  });
  const flags = await client.evaluateFlags('user-2');
  expect(flags.getFlag('new-checkout', { sendFeatureFlagEvents: false })).toBe('variant-b');
  expect(flags.isEnabled('dark-mode', { sendFeatureFlagEvents: false })).toBe(true);
  const flagRequests = collector.requests.filter((r) => r.path.startsWith('/flags/'));
  expect(flagRequests).toHaveLength(1);
  const sentFlag = handed.find((h) => h.url.includes('/flags/'));
  expect(flagRequests[0].body.equals(await bytesOf(sentFlag.init.body))).toBe(true);
  expect(JSON.parse(flagRequests[0].body.toString())).toMatchObject({
    token: TOKEN,
    distinct_id: 'user-2',
  });
  expect(flagRequests[0].headers['content-type']).toBe('application/json');
});

test('503 then 200: the SDK retries the same gzip batch and it is delivered', async () => {
  const { collector, client, errors } = await setup({
    batch: (r, i) => (i === 0 ? { status: 503, body: 'busy' } : { body: '{"status":"Ok"}' }),
  });
  client.capture({ distinctId: 'user-3', event: 'retried' });
  await client.flush();
  await until(() => collector.requests.length >= 2, 'the retry');
  expect(collector.requests).toHaveLength(2);
  expect(collector.requests[1].body.equals(collector.requests[0].body)).toBe(true);
  expect(JSON.parse(zlib.gunzipSync(collector.requests[1].body)).batch[0].event).toBe('retried');
  expect(errors).toEqual([]);
});

test('413: the SDK halves its batch — it needs the real status, which fetch gives it', async () => {
  const { collector, client } = await setup({
    batch: (r) =>
      JSON.parse(zlib.gunzipSync(r.body)).batch.length > 1
        ? { status: 413 }
        : { body: '{"status":"Ok"}' },
  });
  client.flushAt = 100; // hold both events for one batch
  client.capture({ distinctId: 'user-4', event: 'first' });
  client.capture({ distinctId: 'user-4', event: 'second' });
  await client.flush();
  await until(
    () =>
      collector.requests.filter(
        (r) =>
          r.headers['content-length'] && JSON.parse(zlib.gunzipSync(r.body)).batch.length === 1,
      ).length >= 2,
    'the halved batches',
  );
  const sizes = collector.requests.map((r) => JSON.parse(zlib.gunzipSync(r.body)).batch.length);
  expect(sizes[0]).toBe(2);
  expect(sizes.slice(-2)).toEqual([1, 1]);
});
