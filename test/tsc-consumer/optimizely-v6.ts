// A TypeScript consumer, compiled with tsc --strict against the real SDK v6 types: the dispatcher
// plugs into createBatchEventProcessor as eventDispatcher and closingEventDispatcher.
import {
  createInstance,
  createBatchEventProcessor,
  createStaticProjectConfigManager,
  createLogger,
  INFO,
  type EventDispatcher,
} from '@optimizely/optimizely-sdk';
import { createDispatcher, closeOptimizely, type CloseSummary } from 'native-event-dispatcher';

// The SDK's own logger (createLogger's opaque result) serves the dispatcher too.
const logger = createLogger({ level: INFO });
const dispatcher = createDispatcher({
  spoolDir: '/var/spool/optimizely',
  handleProcessExit: true,
  logger,
});
const asSdkType: EventDispatcher = dispatcher;

const client = createInstance({
  projectConfigManager: createStaticProjectConfigManager({ datafile: '{}' }),
  eventProcessor: createBatchEventProcessor({
    eventDispatcher: dispatcher,
    closingEventDispatcher: asSdkType,
    maxRetries: 0,
  }),
});

export async function shutdown(): Promise<CloseSummary> {
  return closeOptimizely(client, dispatcher, { timeoutMs: 5000 });
}
