'use strict';
// instrumentDispatcher against the real OpenTelemetry SDK (@opentelemetry/sdk-metrics' MeterProvider
// and a MetricReader collected here): a real dispatcher, a real collector on 127.0.0.1 with faults
// (a 503 then 200, a 400, a down endpoint, an event larger than the queue, the spool), and the
// exported data points equal the dispatcher's stats().
const path = require('node:path');
const { metrics } = require('@opentelemetry/api');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { createDispatcher, instrumentDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { tempDirs } = require('./helpers/dirs');
const { closedPort } = require('./helpers/servers');
const { logEvent } = require('./helpers/events');
const { spawnNode } = require('./helpers/processes');

const FAST = { baseDelayMs: 5, maxDelayMs: 20 };

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);

class CollectingReader extends MetricReader {
  async onForceFlush() {}

  async onShutdown() {}
}

function meterProvider() {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  later(() => provider.shutdown());
  return { provider, reader };
}

function dispatcher(options) {
  const d = createDispatcher({ ...FAST, ...options });
  later(() => d.close({ timeoutMs: 0 }));
  return d;
}

// One collection → { name: { unit, points: [{ attributes, value }] } }, and sum(name).
async function collect(reader) {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const out = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    expect(scope.scope).toMatchObject({
      name: 'native-event-dispatcher',
      version: require('../package.json').version,
    });
    for (const m of scope.metrics) {
      out[m.descriptor.name] = {
        unit: m.descriptor.unit,
        points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
      };
    }
  }
  const sum = (name) => (out[name] ? out[name].points.reduce((n, p) => n + p.value, 0) : 0);
  const byAttribute = (name, attribute) =>
    Object.fromEntries(
      (out[name] ? out[name].points : []).map((p) => [p.attributes[attribute], p.value]),
    );
  return { metrics: out, sum, byAttribute };
}

// The collector answers by path: /retry a 503 the first time, /bad a 400, the rest 204.
async function faultyCollector() {
  let retried = false;
  const c = await collector((n, record) => {
    if (record.url === '/retry' && !retried) {
      retried = true;
      return { status: 503 };
    }
    return record.url === '/bad' ? { status: 400 } : 'ok';
  });
  return { ...c, at: (p) => `http://127.0.0.1:${c.port}${p}` };
}

test('deliveries, a retry, a 400, a down endpoint and a full queue: every data point equals stats()', async () => {
  const c = await faultyCollector();
  const down = `http://127.0.0.1:${await closedPort()}/v1/events`;
  const { provider, reader } = meterProvider();
  const d = dispatcher({ maxAttempts: 2, maxQueueBytes: 2048 });
  instrumentDispatcher(d, { meterProvider: provider });
  const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
  later(() => warnings.mockRestore());
  const sends = [
    [c.at('/ok'), 2],
    [c.at('/ok'), 2],
    [c.at('/ok'), 2],
    [c.at('/retry'), 1],
    [c.at('/bad'), 4],
    [down, 3],
    [c.at('/ok'), 12],
  ];
  const results = [];
  for (const [url, visitors] of sends)
    results.push(await d.dispatchEvent(logEvent(url, visitors).event));
  expect(results.map((r) => r.statusCode || r.reason)).toEqual([
    204,
    204,
    204,
    204,
    400,
    'retries-exhausted',
    'queue-full',
  ]);

  const stats = d.stats();
  const { metrics: m, sum, byAttribute } = await collect(reader);
  expect(stats.events).toMatchObject({
    accepted: 26,
    delivered: 7,
    failed: 4,
    lost: 15,
    spooled: 0,
    pending: 0,
  });
  expect(sum('ned.events.accepted')).toBe(stats.events.accepted);
  expect(sum('ned.events.delivered')).toBe(stats.events.delivered);
  expect(m['ned.events.delivered'].points).toEqual([
    { attributes: { 'ned.replayed': false }, value: 7 },
  ]);
  expect(m['ned.events.failed'].points).toEqual([
    { attributes: { 'http.response.status_code': 400 }, value: stats.events.failed },
  ]);
  expect(byAttribute('ned.events.lost', 'ned.reason')).toEqual({
    'retries-exhausted': 3,
    'queue-full': 12,
  });
  expect(sum('ned.events.lost')).toBe(stats.events.lost);
  expect(m['ned.events.spooled']).toBeUndefined(); // nothing recorded, no data point
  // One latency per delivered request, the same numbers stats() samples.
  const [latency] = m['ned.delivery.latency'].points;
  expect(m['ned.delivery.latency'].unit).toBe('ms');
  expect(latency.value.count).toBe(stats.delivered);
  expect(latency.value.max).toBe(stats.latencyMs.p99);
  for (const [name, key] of [
    ['ned.queue.bytes', 'queuedBytes'],
    ['ned.requests.in_flight', 'inFlight'],
    ['ned.spool.bytes', 'spoolBytes'],
    ['ned.spool.parked', 'parked'],
  ]) {
    expect([name, sum(name)]).toEqual([name, stats[key]]);
  }
  expect(Object.fromEntries(Object.entries(m).map(([name, { unit }]) => [name, unit]))).toEqual({
    'ned.events.accepted': '{event}',
    'ned.events.delivered': '{event}',
    'ned.events.failed': '{event}',
    'ned.events.lost': '{event}',
    'ned.delivery.latency': 'ms',
    'ned.queue.bytes': 'By',
    'ned.requests.in_flight': '{request}',
    'ned.spool.bytes': 'By',
    'ned.spool.parked': '{request}',
  });
  // Counting losses is not hearing of them: with no logger and no 'drop' listener of the user's,
  // the first loss is still a process warning.
  expect(warnings.mock.calls.filter(([, o]) => o && o.code === 'NED_EVENT_LOST')).toHaveLength(1);
});

test('the spool: events moved to disk are counted with their reason, the gauges show them there, and their replay is counted delivered', async () => {
  const port = await closedPort();
  const down = `http://127.0.0.1:${port}/v1/events`;
  const { provider, reader } = meterProvider();
  const d = dispatcher({ spoolDir: tempDir(), maxAttempts: 1, spoolRetryMs: 600000 });
  instrumentDispatcher(d, { meterProvider: provider });
  expect(await d.dispatchEvent(logEvent(down, 2).event)).toEqual({ spooled: true, attempts: 1 });
  expect(await d.dispatchEvent(logEvent(down, 3).event)).toEqual({ spooled: true, attempts: 1 });

  let stats = d.stats();
  let { metrics: m, sum, byAttribute } = await collect(reader);
  expect(stats).toMatchObject({ parked: 2, events: { accepted: 5, spooled: 5 } });
  expect(m['ned.events.spooled'].unit).toBe('{event}');
  expect(byAttribute('ned.events.spooled', 'ned.reason')).toEqual({ 'retries-exhausted': 5 });
  expect(sum('ned.spool.parked')).toBe(2);
  expect(sum('ned.spool.bytes')).toBe(stats.spoolBytes);
  expect(stats.spoolBytes).toBeGreaterThan(0);
  expect(sum('ned.events.accepted')).toBe(5);

  // The endpoint comes back: a new event's delivery brings the spooled ones back.
  const c = await collector(() => 'ok', { port });
  expect(await d.dispatchEvent(logEvent(down, 1).event)).toEqual({ statusCode: 204, attempts: 1 });
  await d.flush();
  expect(c.received.size).toBe(6);
  stats = d.stats();
  ({ metrics: m, sum, byAttribute } = await collect(reader));
  expect(stats).toMatchObject({
    parked: 0,
    delivered: 3,
    replayed: 2,
    events: { accepted: 6, delivered: 6, spooled: 0 },
  });
  expect(byAttribute('ned.events.delivered', 'ned.replayed')).toEqual({ false: 1, true: 5 });
  expect(sum('ned.events.delivered')).toBe(stats.events.delivered);
  expect(sum('ned.events.spooled')).toBe(5); // a counter: each move to disk, not what is there now
  expect(sum('ned.spool.parked')).toBe(stats.parked);
  expect(sum('ned.spool.bytes')).toBe(stats.spoolBytes);
  expect(sum('ned.events.accepted')).toBe(stats.events.accepted);
  expect(m['ned.delivery.latency'].points[0].value.count).toBe(1); // the replayed ones are not in it, as in stats()

  // At close, what is still in flight goes to the spool ('closed').
  const hung = await collector(() => 'hang');
  const pending = d.dispatchEvent(logEvent(hung.url, 4).event);
  while (hung.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
  stats = d.stats();
  ({ sum } = await collect(reader));
  expect(stats).toMatchObject({
    inFlight: 1,
    queuedBytes: Buffer.byteLength(hung.requests[0].body),
  });
  expect([sum('ned.requests.in_flight'), sum('ned.queue.bytes')]).toEqual([
    stats.inFlight,
    stats.queuedBytes,
  ]);
  expect(await d.close({ timeoutMs: 100 })).toMatchObject({ spooled: 1, events: { spooled: 4 } });
  expect(await pending).toEqual({ spooled: true, attempts: 1 });
  stats = d.stats();
  ({ sum, byAttribute } = await collect(reader));
  expect(byAttribute('ned.events.spooled', 'ned.reason')).toEqual({
    'retries-exhausted': 5,
    closed: 4,
  });
  expect(sum('ned.spool.parked')).toBe(stats.parked);
  expect(sum('ned.events.accepted')).toBe(stats.events.accepted);
});

test('stop() removes the listeners and the collection callback; counting starts at the call', async () => {
  const c = await collector();
  const { provider, reader } = meterProvider();
  const d = dispatcher();
  await d.send('POST', c.url, logEvent(c.url, 2).event.params); // before: not counted
  const before = ['delivered', 'failed', 'spool', 'drop'].map((name) => d.listenerCount(name));
  const instrumentation = instrumentDispatcher(d, {
    meterProvider: provider,
    prefix: 'shop.events_out',
    attributes: { dispatcher: 'optimizely' },
  });
  await d.send('POST', c.url, logEvent(c.url, 3).event.params);
  const { metrics: m } = await collect(reader);
  expect(m['shop.events_out.events.delivered'].points).toEqual([
    { attributes: { dispatcher: 'optimizely', 'ned.replayed': false }, value: 3 },
  ]);
  expect(m['shop.events_out.events.accepted'].points).toEqual([
    { attributes: { dispatcher: 'optimizely' }, value: 3 },
  ]);

  instrumentation.stop();
  instrumentation.stop(); // again: nothing more to do
  expect(['delivered', 'failed', 'spool', 'drop'].map((name) => d.listenerCount(name))).toEqual(
    before,
  );
  await d.send('POST', c.url, logEvent(c.url, 4).event.params);
  expect(d.stats().events.accepted).toBe(9);
  const { sum } = await collect(reader);
  expect(sum('shop.events_out.events.delivered')).toBe(3);
  expect(sum('shop.events_out.events.accepted')).toBe(3); // no callback reads stats() any more
});

test('two dispatchers on one meter, told apart by their attributes; without a meter, the global MeterProvider', async () => {
  const c = await collector();
  const { provider, reader } = meterProvider();
  metrics.setGlobalMeterProvider(provider);
  later(() => metrics.disable());
  const a = dispatcher();
  const b = dispatcher();
  instrumentDispatcher(a, { attributes: { dispatcher: 'a' } });
  instrumentDispatcher(b, { meter: provider.getMeter('shop'), attributes: { dispatcher: 'b' } });
  await a.send('POST', c.url, logEvent(c.url, 2).event.params);
  await b.send('POST', c.url, logEvent(c.url, 5).event.params);
  const { resourceMetrics } = await reader.collect();
  const delivered = resourceMetrics.scopeMetrics.map((s) => [
    s.scope.name,
    s.metrics
      .find((m) => m.descriptor.name === 'ned.events.delivered')
      .dataPoints.map((p) => [p.attributes.dispatcher, p.value]),
  ]);
  expect(delivered).toEqual([
    ['native-event-dispatcher', [['a', 2]]],
    ['shop', [['b', 5]]],
  ]);
});

test('invalid arguments are refused with codes', () => {
  const d = dispatcher();
  const { provider } = meterProvider();
  const meter = provider.getMeter('x');
  const cases = [
    [
      () => instrumentDispatcher({}),
      'ERR_INVALID_ARG_TYPE',
      'a dispatcher from createDispatcher()',
    ],
    [() => instrumentDispatcher(d, 'ned'), 'ERR_INVALID_ARG_TYPE', 'a plain object'],
    [
      () => instrumentDispatcher(d, { meterprovider: provider }),
      'ERR_UNKNOWN_OPTION',
      'did you mean "meterProvider"',
    ],
    [
      () => instrumentDispatcher(d, { meter, meterProvider: provider }),
      'ERR_INVALID_ARG_VALUE',
      'either a meter or a meterProvider',
    ],
    [
      () => instrumentDispatcher(d, { meterProvider: meter }),
      'ERR_INVALID_ARG_TYPE',
      'a MeterProvider',
    ],
    [
      () => instrumentDispatcher(d, { meter: provider }),
      'ERR_INVALID_ARG_TYPE',
      'an OpenTelemetry Meter',
    ],
    [
      () => instrumentDispatcher(d, { meterProvider: provider, prefix: '9lives' }),
      'ERR_INVALID_ARG_VALUE',
      'an instrument name prefix',
    ],
    [
      () => instrumentDispatcher(d, { meterProvider: provider, prefix: 'a b' }),
      'ERR_INVALID_ARG_VALUE',
      'an instrument name prefix',
    ],
    [
      () => instrumentDispatcher(d, { meterProvider: provider, attributes: { tags: ['x'] } }),
      'ERR_INVALID_ARG_TYPE',
      'options.attributes["tags"]',
    ],
  ];
  for (const [call, code, words] of cases) {
    expect(call).toThrow(
      expect.objectContaining({ code, message: expect.stringContaining(words) }),
    );
  }
  // Nothing was left listening by a refused call.
  expect(d.listenerCount('delivered')).toBe(0);
});

test('without @opentelemetry/api installed: a clear error with a code, and the rest of the package loads', async () => {
  // The optional peer is hidden from the resolver, as in an application that did not install it.
  const hide = path.join(__dirname, 'fixtures', 'hide-otel-api.js');
  const lib = path.join(__dirname, '..');
  const r = await spawnNode(`
    require(${JSON.stringify(hide)});
    const { createDispatcher, instrumentDispatcher } = require(${JSON.stringify(lib)});
    const d = createDispatcher();
    try { instrumentDispatcher(d); } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message, cause: err.cause.code })); }
    d.close(0);
  `).exited;
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({
    code: 'ERR_PEER_MISSING',
    cause: 'MODULE_NOT_FOUND',
    message: expect.stringContaining(
      'needs @opentelemetry/api, an optional peer dependency of native-event-dispatcher: npm install @opentelemetry/api',
    ),
  });
});
