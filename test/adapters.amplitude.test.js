'use strict';
// The real @amplitude/analytics-node with createAmplitudeTransport: the payload arrives byte for
// byte, the SDK's Response is built from the body's code (as its own Node transport does), and its
// own retries (a failed batch, a 429) work through the adapter.
const amplitude = require('@amplitude/analytics-node');
const { createAmplitudeTransport } = require('../lib');
const { buildResponse } = require('../lib/adapters/amplitude');
const { startSdkCollector } = require('./helpers/sdk-collector');
const { closedPort } = require('./helpers/servers');

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

const OK = {
  code: 200,
  events_ingested: 1,
  payload_size_bytes: 100,
  server_upload_time: 1700000000000,
};

async function setup(plan, { url } = {}) {
  const collector = await startSdkCollector(plan);
  cleanups.push(() => collector.close());
  const inner = createAmplitudeTransport();
  const payloads = [];
  const responses = [];
  const transportProvider = {
    async send(serverUrl, payload) {
      payloads.push(JSON.stringify(payload));
      const response = await inner.send(serverUrl, payload);
      responses.push(response);
      return response;
    },
  };
  const client = amplitude.createInstance();
  await client.init('amplitude-test-key', {
    serverUrl: url || `${collector.origin}/2/httpapi`,
    transportProvider,
    flushQueueSize: 1,
    flushIntervalMillis: 10,
    flushMaxRetries: 3,
    logLevel: 0, // none: the failures below are on purpose
    optOut: false,
  }).promise;
  cleanups.push(() => client.flush().promise);
  return { collector, client, payloads, responses };
}

test("an event arrives byte for byte as JSON; the SDK reads the body's code", async () => {
  const { collector, client, payloads, responses } = await setup(() => ({
    headers: { 'Content-Type': 'application/json' },
    body: OK,
  }));
  const result = await client.track(
    'Order Completed',
    { revenue: 42.5, note: 'ünïcödé ✓' },
    { user_id: 'user-1', insert_id: 'ins-1' },
  ).promise;
  expect(result.code).toBe(200);
  expect(collector.requests).toHaveLength(1);
  const [request] = collector.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/2/httpapi');
  expect(request.headers['content-type']).toBe('application/json');
  expect(request.body.toString()).toBe(payloads[0]);
  expect(request.json.api_key).toBe('amplitude-test-key');
  expect(request.json.events[0]).toMatchObject({
    event_type: 'Order Completed',
    user_id: 'user-1',
    insert_id: 'ins-1',
    event_properties: { revenue: 42.5, note: 'ünïcödé ✓' },
  });
  expect(responses[0]).toEqual({
    status: 'success',
    statusCode: 200,
    body: { eventsIngested: 1, payloadSizeBytes: 100, serverUploadTime: 1700000000000 },
  });
});

test('503 then 200: the SDK retries the batch (insert_id kept) and the event is delivered', async () => {
  const { collector, client, responses } = await setup((r, i) =>
    i === 0 ? { status: 503, body: { code: 503, error: 'busy' } } : { body: OK },
  );
  const result = await client.track('Retried', undefined, { user_id: 'user-2', insert_id: 'ins-2' })
    .promise;
  expect(result.code).toBe(200);
  expect(collector.requests).toHaveLength(2);
  expect(collector.requests.map((r) => r.json.events[0].insert_id)).toEqual(['ins-2', 'ins-2']);
  expect(responses.map((r) => r.status)).toEqual(['failed', 'success']);
});

test('429 (rate limited, not throttled): retried, then delivered; a 400 is final', async () => {
  const { collector, client, responses } = await setup((r) => {
    const event = r.json.events[0];
    if (event.event_type === 'Bad')
      return { status: 400, body: { code: 400, error: 'Invalid field', missing_field: 'user_id' } };
    return collector.requests.filter((q) => q.json.events[0].event_type === 'Limited').length === 1
      ? {
          status: 429,
          headers: { 'Retry-After': '1' },
          body: { code: 429, error: 'Too many requests', throttled_events: [] },
        }
      : { body: OK };
  });
  const limited = await client.track('Limited', undefined, { user_id: 'user-3' }).promise;
  expect(limited.code).toBe(200);
  expect(responses[0]).toMatchObject({
    status: 'rate_limit',
    statusCode: 429,
    body: { error: 'Too many requests', throttledEvents: [] },
  });
  const bad = await client.track('Bad', undefined, { user_id: 'user-4' }).promise;
  expect(bad.code).toBe(400);
  expect(collector.requests.filter((r) => r.json.events[0].event_type === 'Bad')).toHaveLength(1);
});

test("a body without JSON falls back to the HTTP status; no server: null, as the SDK's own transport", async () => {
  expect(buildResponse({ code: 413, error: 'too big' })).toEqual({
    status: 'payload_too_large',
    statusCode: 413,
    body: { error: 'too big' },
  });
  expect(buildResponse({ code: 408 })).toEqual({ status: 'Timeout', statusCode: 408 });
  expect(buildResponse({})).toEqual({ status: 'unknown', statusCode: 0 });
  const collector = await startSdkCollector(() => ({
    status: 502,
    body: '<html>bad gateway</html>',
  }));
  cleanups.push(() => collector.close());
  const transport = createAmplitudeTransport();
  expect(
    await transport.send(`${collector.origin}/2/httpapi`, { api_key: 'k', events: [] }),
  ).toEqual({ status: 'failed', statusCode: 502 });
  const port = await closedPort();
  expect(
    await transport.send(`http://127.0.0.1:${port}/2/httpapi`, { api_key: 'k', events: [] }),
  ).toBeNull();
});
