'use strict';
// examples/otlp-traces.mjs runs as it is (the OpenTelemetry SDK's own tracer, batch processor and
// exporter parts, with createOtlpTransport) against a collector on 127.0.0.1 named by OTLP_ENDPOINT.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { startSdkCollector } = require('./helpers/sdk-collector');
const { useCleanup } = require('./helpers/cleanup');

const { later } = useCleanup();
const EXAMPLE = path.join(__dirname, '..', 'examples', 'otlp-traces.mjs');

function run(env) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [EXAMPLE],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

async function collector(plan) {
  const c = await startSdkCollector(plan);
  later(() => c.close());
  return { ...c, url: `${c.origin}/v1/traces` };
}

test('the span arrives at OTLP_ENDPOINT as OTLP JSON', async () => {
  const c = await collector(() => ({
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
  }));
  const r = await run({ OTLP_ENDPOINT: c.url });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`spans exported to ${c.url}\n`);
  expect(c.requests).toHaveLength(1);
  const [request] = c.requests;
  expect([request.method, request.path, request.headers['content-type']]).toEqual([
    'POST',
    '/v1/traces',
    'application/json',
  ]);
  const { scope, spans } = request.json.resourceSpans[0].scopeSpans[0];
  expect(scope).toEqual({ name: 'checkout-service', version: '1.0.0' });
  expect(spans.map((s) => [s.name, s.attributes])).toEqual([
    ['checkout', [{ key: 'order.id', value: { stringValue: 'A-1001' } }]],
  ]);
});

test('an export the collector rejects (400) is printed, and the exit code says so', async () => {
  const c = await collector(() => ({ status: 400, body: 'bad span' }));
  const r = await run({ OTLP_ENDPOINT: c.url });
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe('export failed: OTLP export failed with HTTP 400\n');
  expect(r.code).toBe(1);
  expect(c.requests).toHaveLength(1); // a 400 is not retried
});
