// tsc --strict against the OpenTelemetry exporter packages' own types: createOtlpTransport is an
// IExporterTransport for createOtlpNetworkExportDelegate.
import {
  OTLPExporterBase,
  createOtlpNetworkExportDelegate,
  getSharedConfigurationDefaults,
  type IExporterTransport,
} from '@opentelemetry/otlp-exporter-base';
import { createOtlpHttpExporterMetrics } from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { createDispatcher, createOtlpTransport } from 'native-event-dispatcher';

const url = 'http://127.0.0.1:4318/v1/traces';

class PumpTraceExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(transport: IExporterTransport) {
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

export const provider = new BasicTracerProvider({
  spanProcessors: [
    new BatchSpanProcessor(
      new PumpTraceExporter(
        createOtlpTransport({ url, headers: { 'x-tenant': 'acme' }, timeoutMs: 10000 }),
      ),
    ),
    new BatchSpanProcessor(
      new PumpTraceExporter(
        createOtlpTransport({ url, dispatcher: createDispatcher({ spoolDir: '/var/spool/otlp' }) }),
      ),
    ),
  ],
});
