// The dispatcher on its own. Run: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node dispatcher.mjs
import { createDispatcher } from 'native-event-dispatcher';

const url = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';
const eventBatch = { account_id: '10000001', project_id: '10000002', revision: '42', visitors: [] };

const dispatcher = createDispatcher({ maxAttempts: 6, maxQueueBytes: 32 * 1024 * 1024 });
dispatcher.on('drop', (drop) => console.warn(`event lost (${drop.reason}: ${drop.cause})`, drop.url));

const result = await dispatcher.send('POST', url, eventBatch);
// { statusCode: 204, attempts: 1 } — or { spooled: true }, or { dropped: true, reason, error }

await dispatcher.flush(); // everything accepted so far has ended one way or another
console.log(result, dispatcher.stats().delivered);
console.log(await dispatcher.close({ timeoutMs: 5000 })); // { delivered, spooled, lost, failed, events }
