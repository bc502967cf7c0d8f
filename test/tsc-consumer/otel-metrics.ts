// tsc --strict against OpenTelemetry's own types: instrumentDispatcher takes the SDK's
// MeterProvider (with a Prometheus reader, as in examples/prometheus.mjs) or a Meter from the API.
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  createDispatcher,
  instrumentDispatcher,
  type DispatcherInstrumentation,
} from 'native-event-dispatcher';

const meterProvider = new MeterProvider({
  readers: [new PrometheusExporter({ host: '127.0.0.1', port: 9464 })],
});
const dispatcher = createDispatcher();

export const instrumentations: DispatcherInstrumentation[] = [
  instrumentDispatcher(dispatcher, { meterProvider }),
  instrumentDispatcher(dispatcher, {
    meter: metrics.getMeter('shop'),
    prefix: 'shop.events',
    attributes: { dispatcher: 'optimizely' },
  }),
  instrumentDispatcher(dispatcher),
];
