// The dispatcher's metrics for Prometheus, through OpenTelemetry (npm install @opentelemetry/api
// @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus). Run:
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events METRICS_PORT=9464 node prometheus.mjs
// then scrape http://127.0.0.1:9464/metrics; SIGINT (Ctrl-C) or SIGTERM stops it.
import { randomUUID } from 'node:crypto';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { createDispatcher, instrumentDispatcher } from 'native-event-dispatcher';

const url = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';
const port = Number(process.env.METRICS_PORT ?? 9464);

// The exporter is the meter provider's reader: Prometheus pulls from its /metrics.
const exporter = new PrometheusExporter({ host: '127.0.0.1', port, preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [exporter] });

const dispatcher = createDispatcher();
const metrics = instrumentDispatcher(dispatcher, { meterProvider });
await exporter.startServer();

// Your application's events: here three batches of two visitors each.
for (let batch = 0; batch < 3; batch++) {
  const visitors = [1, 2].map((n) => ({
    visitor_id: `user-${batch}-${n}`,
    attributes: [],
    snapshots: [
      { decisions: [], events: [{ key: 'purchase', timestamp: Date.now(), uuid: randomUUID() }] },
    ],
  }));
  dispatcher.send('POST', url, {
    account_id: '10000001',
    project_id: '10000002',
    revision: '42',
    visitors,
  });
}
await dispatcher.flush();
console.log(`metrics on http://127.0.0.1:${port}/metrics`);
// ned_events_accepted_total 6, ned_events_delivered_total{ned_replayed="false"} 6,
// ned_delivery_latency_bucket{le="…"}, ned_queue_bytes 0, ned_spool_parked 0, …

// The exporter's server does not keep the process alive (your application does); here, a timer.
const running = setInterval(() => {}, 60000);

// At shutdown: the dispatcher, then the metrics (which stops the /metrics server).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    clearInterval(running);
    console.log(await dispatcher.close({ timeoutMs: 5000 }));
    metrics.stop();
    await meterProvider.shutdown();
  });
}
