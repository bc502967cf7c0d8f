// The dispatcher on its own. Run: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node dispatcher.mjs
// (no collector of your own? From a clone, `npm run collector` starts one there.)
import { randomUUID } from 'node:crypto';
import { createDispatcher } from 'native-event-dispatcher';

const url = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';
if (!process.env.EVENT_ENDPOINT)
  console.warn(
    `EVENT_ENDPOINT is not set: sending to ${url} (start a collector there with npm run collector)`,
  );

// One visitor's conversion, as the Optimizely SDK batches it.
const eventBatch = {
  account_id: '10000001',
  project_id: '10000002',
  revision: '42',
  client_name: 'node-sdk',
  client_version: '6.6.1',
  visitors: [
    {
      visitor_id: 'user-123',
      attributes: [],
      snapshots: [
        {
          decisions: [],
          events: [
            { entity_id: '30010', key: 'purchase', timestamp: Date.now(), uuid: randomUUID() },
          ],
        },
      ],
    },
  ],
};

const dispatcher = createDispatcher({ maxAttempts: 6, maxQueueBytes: 32 * 1024 * 1024 });
dispatcher.on('drop', (drop) =>
  console.warn(`event lost (${drop.reason}: ${drop.cause})`, drop.url),
);

const result = await dispatcher.send('POST', url, eventBatch);
// { statusCode: 204, attempts: 1 } — or { spooled: true }, or { dropped: true, reason, error }

await dispatcher.flush(); // everything accepted so far has ended one way or another
console.log(result, dispatcher.stats().delivered);
console.log(await dispatcher.close({ timeoutMs: 5000 }));
// { delivered: 1, spooled: 0, lost: 0, failed: 0, events: { delivered: 1, spooled: 0, lost: 0, failed: 0 } }
// Counted in requests (batches) and, under events, in the visitors they carry.
