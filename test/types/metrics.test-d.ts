import { expectAssignable, expectError, expectType } from 'tsd';
import { metrics, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  createDispatcher,
  instrumentDispatcher,
  DispatcherInstrumentation,
  MetricsMeter,
  MetricsMeterProvider,
} from '../..';

const dispatcher = createDispatcher();
const provider = new MeterProvider();

// The real SDK's and API's types fit the structural ones.
expectAssignable<MetricsMeterProvider>(provider);
expectAssignable<MetricsMeterProvider>(metrics.getMeterProvider() as ApiMeterProvider);
expectAssignable<MetricsMeter>(provider.getMeter('shop') as Meter);

expectType<DispatcherInstrumentation>(instrumentDispatcher(dispatcher));
expectType<DispatcherInstrumentation>(
  instrumentDispatcher(dispatcher, { meterProvider: provider }),
);
expectType<DispatcherInstrumentation>(
  instrumentDispatcher(dispatcher, {
    meter: metrics.getMeter('shop'),
    prefix: 'shop.events',
    attributes: { dispatcher: 'optimizely', shard: 2 },
  }),
);
expectType<void>(instrumentDispatcher(dispatcher).stop());

expectError(
  instrumentDispatcher(dispatcher, { meter: metrics.getMeter('shop'), meterProvider: provider }),
);
expectError(instrumentDispatcher(dispatcher, { prefix: 1 }));
expectError(instrumentDispatcher(dispatcher, { attributes: { tags: ['a'] } }));
expectError(instrumentDispatcher(dispatcher, { meterprovider: provider }));
expectError(instrumentDispatcher({}, {}));
