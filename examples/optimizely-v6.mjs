// The Optimizely SDK v6 with this package's dispatcher. Save as app.mjs beside your datafile.json:
//   node app.mjs                                          (events go to logx.optimizely.com)
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node app.mjs    (or to a collector of yours)
// From a clone, with the tiny example project in examples/datafile.json and a local collector:
//   npm run collector   and   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node examples/optimizely-v6.mjs
import { readFile } from 'node:fs/promises';
import {
  createInstance,
  createStaticProjectConfigManager,
  createBatchEventProcessor,
} from '@optimizely/optimizely-sdk';
import { createDispatcher, closeOptimizely } from 'native-event-dispatcher';

// Your project's datafile, beside this file (or createPollingProjectConfigManager({ sdkKey }) to download it).
const datafile = await readFile(
  process.env.OPTIMIZELY_DATAFILE ?? new URL('datafile.json', import.meta.url),
  'utf8',
);

const dispatcher = createDispatcher({
  endpoint: process.env.EVENT_ENDPOINT, // optional: a relay or collector instead of logx.optimizely.com
  spoolDir: process.env.EVENT_SPOOL_DIR, // optional: a private directory, for nothing lost across crashes
});
const client = createInstance({
  projectConfigManager: createStaticProjectConfigManager({ datafile }),
  eventProcessor: createBatchEventProcessor({
    eventDispatcher: dispatcher,
    closingEventDispatcher: dispatcher,
    maxRetries: 0, // the dispatcher retries; see "The SDK's own retries"
  }),
});
await client.onReady();

const user = client.createUserContext('user-123', { plan: 'pro' });
const decision = user.decide('checkout_flow');
user.trackEvent('purchase', { revenue: 4200 });

// At shutdown: the client, then the dispatcher, within one deadline (see "Shutdown").
const summary = await closeOptimizely(client, dispatcher, { timeoutMs: 5000 });
console.log(decision.variationKey, summary);
// treatment { delivered: 1, spooled: 0, lost: 0, failed: 0,
//             events: { delivered: 2, spooled: 0, lost: 0, failed: 0 } }
// Counted in requests (SDK batches): 1 batch delivered, carrying 2 events (the decision, the purchase).
