// OpenTelemetry traces over OTLP/HTTP, sent from this package's pump (npm install @opentelemetry/api
// @opentelemetry/sdk-trace-base @opentelemetry/otlp-exporter-base @opentelemetry/otlp-transformer).
// Run: OTLP_ENDPOINT=http://127.0.0.1:4318/v1/traces node otlp-traces.mjs
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  OTLPExporterBase,
  createOtlpNetworkExportDelegate,
  getSharedConfigurationDefaults,
} from '@opentelemetry/otlp-exporter-base';
import { createOtlpHttpExporterMetrics } from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { createOtlpTransport } from 'native-event-dispatcher';

const url = process.env.OTLP_ENDPOINT ?? 'http://127.0.0.1:4318/v1/traces';
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN); // failed exports are printed

// OTLPTraceExporter cannot take a transport: the same exporter, from the SDK's own parts.
class PumpTraceExporter extends OTLPExporterBase {
  constructor(transport) {
    super(
      createOtlpNetworkExportDelegate(
        getSharedConfigurationDefaults(), // export timeout (10 s), concurrency limit
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

// createOtlpTransport({ url, headers }) retries as the SDK's own exporter does; for the
// dispatcher's retries and spool instead: createOtlpTransport({ url, dispatcher }).
const exporter = new PumpTraceExporter(createOtlpTransport({ url }));
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });

const tracer = provider.getTracer('checkout-service', '1.0.0');
const span = tracer.startSpan('checkout', { attributes: { 'order.id': 'A-1001' } });
span.end();

// At shutdown: what is left is exported; the promise rejects when that export fails.
try {
  await provider.shutdown();
  console.log(`spans exported to ${url}`);
} catch (err) {
  console.error(`export failed: ${err.message}`); // e.g. "OTLP export failed with HTTP 400"
  process.exitCode = 1;
}
