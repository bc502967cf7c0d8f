'use strict';
// examples/prometheus.mjs runs as it is, in its own process, against a collector on 127.0.0.1 that
// answers its first request with a 503 and its second with a 400; Prometheus's view of it, scraped
// over HTTP from the exporter's /metrics, counts what the collector saw.
const path = require('node:path');
const { useCleanup } = require('./helpers/cleanup');
const { closedPort } = require('./helpers/servers');
const { lineProcess } = require('./helpers/processes');

const { later, collector } = useCleanup();
const EXAMPLE = path.join(__dirname, '..', 'examples', 'prometheus.mjs');

// The value of the sample `name` whose labels include `labels`, from Prometheus's text format.
function sample(text, name, labels = {}) {
  const found = text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) =>
      Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`)),
    );
  expect(found).toHaveLength(1);
  return Number(found[0].slice(found[0].lastIndexOf(' ') + 1));
}

test('the Prometheus example: counters, latency and gauges as scraped equal what the collector saw', async () => {
  const c = await collector((n) => (n === 0 ? { status: 503 } : n === 1 ? { status: 400 } : 'ok'));
  const port = await closedPort();
  const app = lineProcess(later, process.execPath, [EXAMPLE], {
    EVENT_ENDPOINT: c.url,
    METRICS_PORT: String(port),
  });
  await app.until((lines) => lines.includes(`metrics on http://127.0.0.1:${port}/metrics`));

  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  // Three batches of two: one retried after the 503 and delivered, one rejected (400), one delivered.
  expect(c.requests.map((r) => r.action).sort()).toEqual([204, 204, 400, 503]);
  expect(sample(text, 'ned_events_accepted_total')).toBe(6);
  expect(sample(text, 'ned_events_delivered_total', { ned_replayed: 'false' })).toBe(
    c.received.size,
  );
  expect(c.received.size).toBe(4);
  expect(sample(text, 'ned_events_failed_total', { http_response_status_code: '400' })).toBe(2);
  expect(text).not.toContain('ned_events_lost_total');
  expect(sample(text, 'ned_delivery_latency_count')).toBe(2);
  expect(sample(text, 'ned_delivery_latency_bucket', { le: '+Inf' })).toBe(2);
  for (const gauge of [
    'ned_queue_bytes',
    'ned_requests_in_flight',
    'ned_spool_bytes',
    'ned_spool_parked',
  ]) {
    expect([gauge, sample(text, gauge)]).toEqual([gauge, 0]);
  }
  expect(text).toContain('# TYPE ned_queue_bytes gauge');

  app.proc.kill('SIGTERM');
  const { code, stderr } = await app.exited;
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(app.lines.join('\n')).toMatch(
    /delivered: 2,\s+spooled: 0,\s+lost: 0,\s+failed: 1,\s+events: \{ delivered: 4, spooled: 0, lost: 0, failed: 2 \}/,
  );
});
