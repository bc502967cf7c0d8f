'use strict';
// The real statsig-node with `networkOverrideFunc: createFetch()`: the config download (a GET-
// style download read with json()), a gate evaluated from it, and the event log (gzip) arriving
// byte for byte, with the SDK's own retry of a 503. A guard refuses every URL that is not the
// local collector: statsig-node falls back to its CDN and reports SDK errors to its API, and
// none of that may leave 127.0.0.1.
const zlib = require('node:zlib');
const statsig = require('statsig-node');
const { createFetch } = require('../lib');
const { startSdkCollector, until } = require('./helpers/sdk-collector');

const SECRET = 'secret-ned-test-key';
const SPECS = {
  has_updates: true,
  time: 1700000000000,
  feature_gates: [
    {
      name: 'new_checkout',
      type: 'feature_gate',
      salt: 'gate-salt',
      enabled: true,
      defaultValue: false,
      entity: 'feature_gate',
      idType: 'userID',
      rules: [
        {
          name: 'everyone',
          id: 'rule-1',
          salt: 'rule-salt',
          passPercentage: 100,
          returnValue: true,
          idType: 'userID',
          conditions: [
            {
              type: 'public',
              targetValue: null,
              operator: null,
              field: null,
              additionalValues: {},
              idType: 'userID',
            },
          ],
        },
      ],
    },
  ],
  dynamic_configs: [],
  layer_configs: [],
};

// statsig-node is a process-wide singleton that takes initialize() once: one SDK and one
// collector for the file; each test sets how the collector answers the event log.
let env;
let logPlan;
let logs = 0;

beforeAll(async () => {
  const collector = await startSdkCollector((r) => {
    if (r.path.startsWith('/v1/download_config_specs'))
      return { headers: { 'Content-Type': 'application/json' }, body: SPECS };
    if (r.path.startsWith('/v1/log_event')) return logPlan(r, logs++);
    return { status: 404 };
  });
  const fetch = createFetch();
  const outside = [];
  const handed = [];
  const networkOverrideFunc = (url, init) => {
    if (!String(url).startsWith(collector.origin)) {
      outside.push(String(url));
      return Promise.reject(new TypeError(`blocked: ${url}`));
    }
    handed.push({ url: String(url), init });
    return fetch(url, init);
  };
  await statsig.initialize(SECRET, {
    api: `${collector.origin}/v1`,
    networkOverrideFunc,
    disableDiagnostics: true,
    disableIdListsSync: true,
    initStrategyForIDLists: 'none',
    loggingMaxBufferSize: 1000,
    loggingIntervalMs: 60000,
    rulesetsSyncIntervalMs: 60000,
    postLogsRetryLimit: 2,
    postLogsRetryBackoff: 20,
  });
  // What initialize() fetched: the config download.
  env = { collector, handed, outside, initial: collector.requests.slice() };
});

afterAll(async () => {
  await statsig.shutdownAsync();
  await env.collector.close();
});

beforeEach(() => {
  logPlan = () => ({ body: '{"success":true}' });
  logs = 0;
  env.collector.requests.length = 0;
  env.handed.length = 0;
});

// The event log as the SDK meant it (its first attempt is gzip, its retries plain JSON).
function eventsOf(record) {
  const text =
    record.headers['content-encoding'] === 'gzip'
      ? zlib.gunzipSync(record.body).toString()
      : record.body.toString();
  return JSON.parse(text).events;
}

async function bytesOf(body) {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

test('config download read through json(), a gate from it, and the gzip event log byte for byte', async () => {
  const { collector, handed, outside } = env;
  expect(statsig.checkGateSync({ userID: 'user-1' }, 'new_checkout')).toBe(true);
  statsig.logEvent({ userID: 'user-1' }, 'purchase', 42, { note: 'ünïcödé ✓' });
  await statsig.flush();
  await until(
    () => collector.requests.some((r) => r.path.startsWith('/v1/log_event')),
    'the event log',
  );
  expect(outside).toEqual([]);
  const specs = env.initial.filter((r) => r.path.startsWith('/v1/download_config_specs'));
  expect(specs.length).toBeGreaterThanOrEqual(1);
  expect(specs[0].headers['statsig-api-key']).toBe(SECRET);
  const log = collector.requests.find((r) => r.path.startsWith('/v1/log_event'));
  const sent = handed.find((h) => h.url.includes('/log_event'));
  expect(log.body.equals(await bytesOf(sent.init.body))).toBe(true);
  expect(log.headers['content-encoding']).toBe('gzip');
  const events = eventsOf(log);
  expect(events.find((e) => e.eventName === 'purchase')).toMatchObject({
    value: 42,
    metadata: { note: 'ünïcödé ✓' },
  });
  expect(events.some((e) => e.eventName === 'statsig::gate_exposure')).toBe(true);
});

test('503 then 200 on the event log: the SDK retries the same events through fetch', async () => {
  const { collector, outside } = env;
  logPlan = (r, i) => (i === 0 ? { status: 503 } : { body: '{"success":true}' });
  statsig.logEvent({ userID: 'user-2' }, 'retried');
  await statsig.flush();
  await until(
    () => collector.requests.filter((r) => r.path.startsWith('/v1/log_event')).length >= 2,
    'the retried event log',
  );
  const logs = collector.requests.filter((r) => r.path.startsWith('/v1/log_event'));
  expect(logs).toHaveLength(2);
  expect(eventsOf(logs[1])).toEqual(eventsOf(logs[0]));
  expect(eventsOf(logs[1]).map((e) => e.eventName)).toEqual(['retried']);
  expect(outside).toEqual([]);
});
