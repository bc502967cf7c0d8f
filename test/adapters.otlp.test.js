'use strict';
// The real OpenTelemetry OTLP/HTTP exporter pieces (otlp-exporter-base's OTLPExporterBase and
// createOtlpNetworkExportDelegate, otlp-transformer's JSON serializer, sdk-trace-base spans) with
// createOtlpTransport: exact bytes at a local collector, the classification, retries with
// Retry-After, and the durable mode on a dispatcher.
const { ExportResultCode } = require('@opentelemetry/core');
const {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');
const {
  OTLPExporterBase,
  createOtlpNetworkExportDelegate,
  getSharedConfigurationDefaults,
} = require('@opentelemetry/otlp-exporter-base');
const { createOtlpHttpExporterMetrics } = require('@opentelemetry/otlp-exporter-base/node-http');
const {
  JsonTraceSerializer,
  TraceExporterMetricsHelper,
} = require('@opentelemetry/otlp-transformer');
const { createOtlpTransport, createDispatcher } = require('../lib');
const { startSdkCollector } = require('./helpers/sdk-collector');

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

// The exporter wiring the README shows: the SDK's own delegate, serializer and metrics; our transport.
class PumpTraceExporter extends OTLPExporterBase {
  constructor(url, transport) {
    super(
      createOtlpNetworkExportDelegate(
        getSharedConfigurationDefaults(),
        JsonTraceSerializer,
        createOtlpHttpExporterMetrics(
          'otlp_http_span_exporter',
          TraceExporterMetricsHelper,
          url,
          undefined,
        ),
        transport,
      ),
    );
  }
}

// Finished spans to export, made by the real SDK.
async function spans(...names) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('ned-test', '1.0.0');
  for (const name of names)
    tracer.startSpan(name, { attributes: { 'order.note': 'ünïcödé ✓' } }).end();
  await provider.forceFlush();
  const finished = memory.getFinishedSpans();
  await provider.shutdown();
  return finished;
}

async function setup(plan, options = {}) {
  const collector = await startSdkCollector(plan);
  cleanups.push(() => collector.close());
  const url = `${collector.origin}/v1/traces`;
  const inner = createOtlpTransport({ url, ...options });
  const handed = [];
  const results = [];
  const transport = {
    async send(data, timeoutMillis) {
      handed.push(Buffer.from(data));
      const result = await inner.send(data, timeoutMillis);
      results.push(result);
      return result;
    },
    shutdown() {
      inner.shutdown();
    },
  };
  const exporter = new PumpTraceExporter(url, transport);
  cleanups.push(() => exporter.shutdown());
  const exportSpans = async (list) =>
    new Promise((resolve) => {
      exporter.export(list, resolve);
    });
  return { collector, exporter, handed, results, exportSpans };
}

test('a JSON export arrives byte for byte with its content type; 2xx is success', async () => {
  const { collector, handed, exportSpans } = await setup(
    () => ({ headers: { 'Content-Type': 'application/json' }, body: '{}' }),
    { headers: { 'X-Tenant': 'acme' } },
  );
  const result = await exportSpans(await spans('checkout'));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(collector.requests).toHaveLength(1);
  const [request] = collector.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/v1/traces');
  expect(request.body.equals(handed[0])).toBe(true);
  expect(request.headers['content-type']).toBe('application/json');
  expect(request.headers['x-tenant']).toBe('acme');
  const span = request.json.resourceSpans[0].scopeSpans[0].spans[0];
  expect(span.name).toBe('checkout');
  expect(span.attributes).toEqual([{ key: 'order.note', value: { stringValue: 'ünïcödé ✓' } }]);
});

test('503 then 200: retryable, retried with the same bytes, then success', async () => {
  const { collector, results, exportSpans } = await setup((r, i) =>
    i === 0 ? { status: 503 } : { body: '{}' },
  );
  const result = await exportSpans(await spans('retried'));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(collector.requests).toHaveLength(2);
  expect(collector.requests[1].body.equals(collector.requests[0].body)).toBe(true);
  expect(results.map((r) => r.status)).toEqual(['success']);
});

test('429 with Retry-After: retryInMillis from the header, then success', async () => {
  // The first two answers are 429s: one for the single attempt below, one for the export.
  const { collector, exportSpans } = await setup((r, i) =>
    i < 2 ? { status: 429, headers: { 'Retry-After': '1' } } : { body: '{}' },
  );
  const inner = createOtlpTransport({ url: `${collector.origin}/v1/traces`, retries: 0 });
  // One attempt alone shows the classification the retry loop uses.
  const single = await inner.send(Buffer.from('{}'), 5000);
  expect(single).toEqual({ status: 'retryable', retryInMillis: 1000 });
  const result = await exportSpans(await spans('rate limited'));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(collector.requests).toHaveLength(3);
  expect(collector.requests[2].body.equals(collector.requests[1].body)).toBe(true);
});

test('a 400 is a failure carrying the status; retries: 0 leaves a 503 retryable after one attempt', async () => {
  const { collector, exportSpans } = await setup((r) =>
    r.path === '/v1/traces' ? { status: 400, body: 'bad span' } : { status: 503 },
  );
  const result = await exportSpans(await spans('bad'));
  expect(result.code).toBe(ExportResultCode.FAILED);
  expect(result.error).toMatchObject({ name: 'OTLPExporterError', code: 400, data: 'bad span' });
  expect(collector.requests).toHaveLength(1);
  const once = createOtlpTransport({ url: `${collector.origin}/other`, retries: 0 });
  expect(await once.send(Buffer.from('{}'), 5000)).toEqual({
    status: 'retryable',
    retryInMillis: undefined,
  });
  expect(collector.requests).toHaveLength(2);
});

test('durable: the dispatcher owns the export (503 then 200); the exporter hears success at once', async () => {
  const collector = await startSdkCollector((r, i) => (i === 0 ? { status: 503 } : { body: '{}' }));
  cleanups.push(() => collector.close());
  const dispatcher = createDispatcher({ baseDelayMs: 10, maxDelayMs: 20 });
  cleanups.push(() => dispatcher.close({ timeoutMs: 2000 }));
  const url = `${collector.origin}/v1/traces`;
  const exporter = new PumpTraceExporter(url, createOtlpTransport({ url, dispatcher }));
  cleanups.push(() => exporter.shutdown());
  const finished = await spans('durable');
  const ok = await new Promise((resolve) => {
    exporter.export(finished, resolve);
  });
  expect(ok.code).toBe(ExportResultCode.SUCCESS);
  await dispatcher.flush();
  const delivered = collector.requests.filter(
    (r) => r.json.resourceSpans[0].scopeSpans[0].spans[0].name === 'durable',
  );
  expect(delivered).toHaveLength(2);
  expect(delivered[0].body.equals(delivered[1].body)).toBe(true);
  expect(delivered[1].headers['content-type']).toBe('application/json');
  expect(dispatcher.stats()).toMatchObject({ delivered: 1, retried: 1 });
});

test('invalid options are refused with codes', () => {
  expect(() => createOtlpTransport()).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() => createOtlpTransport({ url: 'ftp://x/' })).toThrow(
    expect.objectContaining({ code: 'ERR_UNSUPPORTED_PROTOCOL' }),
  );
  expect(() => createOtlpTransport({ url: 'http://127.0.0.1/v1/traces', retries: -1 })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  );
  expect(() => createOtlpTransport({ url: 'http://127.0.0.1/v1/traces', headers: 'x' })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() => createOtlpTransport({ url: 'http://127.0.0.1/v1/traces', timeoutMS: 1 })).toThrow(
    expect.objectContaining({ code: 'ERR_UNKNOWN_OPTION' }),
  );
});

test('with a dispatcher, options it would not use are refused, not ignored (0.1: retries, headers and transport options were dropped without a word)', () => {
  const { createDispatcher } = require('..');
  const dispatcher = createDispatcher();
  const url = 'http://127.0.0.1/v1/traces';
  for (const extra of [{ retries: 5 }, { headers: { 'x-api-key': 'k' } }, { timeoutMs: 100 }]) {
    expect(() => createOtlpTransport({ url, dispatcher, ...extra })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringContaining('either a dispatcher or transport options'),
      }),
    );
  }
  // Unknown names are refused with the adapter's own names among the suggestions.
  expect(() => createOtlpTransport({ url, dispatchr: dispatcher })).toThrow(
    expect.objectContaining({
      code: 'ERR_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "dispatcher"'),
    }),
  );
  expect(createOtlpTransport({ url, dispatcher })).toBeDefined();
  return dispatcher.close(0);
});
