// The Optimizely SDK v4 or v5 (callback interface) with this package's dispatcher. Save as app.mjs
// beside your datafile.json, then: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node app.mjs
// (From a clone: examples/datafile.json is a tiny example project; `npm run collector` listens there.)
import { readFile } from 'node:fs/promises';
import optimizely from '@optimizely/optimizely-sdk'; // 4.x or 5.x
import { createDispatcher, closeOptimizely } from 'native-event-dispatcher';

const datafile = JSON.parse(
  await readFile(
    process.env.OPTIMIZELY_DATAFILE ?? new URL('datafile.json', import.meta.url),
    'utf8',
  ),
);

const dispatcher = createDispatcher({ endpoint: process.env.EVENT_ENDPOINT });
const client = optimizely.createInstance({
  datafile, // or sdkKey: process.env.OPTIMIZELY_SDK_KEY
  eventDispatcher: dispatcher, // called with a callback: called exactly once per event
});
await client.onReady();

client.createUserContext('user-123', { plan: 'pro' }).decide('checkout_flow');

const summary = await closeOptimizely(client, dispatcher, { timeoutMs: 5000 });
console.log(summary);
// { delivered: 1, spooled: 0, lost: 0, failed: 0, events: { delivered: 1, spooled: 0, lost: 0, failed: 0 } }
