// The same dispatcher in the v5 SDK (callback interface), against its real types.
import { createInstance, logging, type EventDispatcher } from 'optimizely-sdk-v5';
import { createDispatcher } from 'native-event-dispatcher';

// The SDK's own logger (log(level, message)) serves the dispatcher too.
const dispatcher = createDispatcher({
  endpoint: 'https://logx.optimizely.com/v1/events',
  logger: logging.createLogger(),
});
const asSdkType: EventDispatcher = dispatcher;

export const client = createInstance({
  datafile: {},
  eventDispatcher: asSdkType,
  eventBatchSize: 10,
  eventFlushInterval: 1000,
});
