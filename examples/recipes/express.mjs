// Express: one dispatcher and one Optimizely client per process, made at startup; routes that
// decide and convert; on SIGTERM (or Ctrl-C) the server stops, then the client and the dispatcher
// close within one deadline and the process ends by itself.
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events PORT=3000 node examples/recipes/express.mjs
//   curl 'http://127.0.0.1:3000/checkout?user=u1'
//   curl -X POST http://127.0.0.1:3000/purchase -H 'content-type: application/json' -d '{"user":"u1","revenue":4200}'
// - Made once, not per request: the dispatcher holds the connections, the queue and the retries.
//   One per request would open a connection per event, and what a request's end cuts short is lost.
// - The SDK's batch processor keeps events until a batch of 10 or 30 s (its Node defaults); the
//   last partial batch goes out at shutdown, when closeOptimizely() closes the client first.
// - The order at shutdown: server.close() (requests in progress finish and make their events),
//   then closeOptimizely(), within SHUTDOWN_MS: keep it below what your platform waits before
//   SIGKILL (Kubernetes: terminationGracePeriodSeconds, 30 s by default; see kubernetes.mjs).
import express from 'express';
import { createBatchEventProcessor } from '@optimizely/optimizely-sdk';
import { createDispatcher, closeOptimizely } from 'native-event-dispatcher';
import { createOptimizely } from './optimizely.mjs';

const SHUTDOWN_MS = 10000;

const dispatcher = createDispatcher({
  endpoint: process.env.EVENT_ENDPOINT, // unset: the SDK's own (logx.optimizely.com)
  spoolDir: process.env.EVENT_SPOOL_DIR, // optional: what is not delivered by the deadline waits on disk
});
dispatcher.on('drop', (drop) => console.warn(`event lost (${drop.reason}: ${drop.cause})`));
const optimizely = await createOptimizely(
  createBatchEventProcessor({
    eventDispatcher: dispatcher,
    closingEventDispatcher: dispatcher,
    maxRetries: 0, // the dispatcher retries
  }),
);

const app = express();
app.use(express.json());

app.get('/checkout', (req, res) => {
  const decision = optimizely
    .createUserContext(String(req.query.user ?? 'anonymous'))
    .decide('checkout_flow');
  res.json({ variation: decision.variationKey });
});

app.post('/purchase', (req, res) => {
  const { user, revenue } = req.body ?? {};
  if (typeof user !== 'string' || !Number.isInteger(revenue)) {
    res.status(400).json({ error: 'expected { user: string, revenue: integer (cents) }' });
    return;
  }
  optimizely.createUserContext(user).trackEvent('purchase', { revenue });
  res.status(204).end();
});

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});

async function shutDown(signal) {
  console.log(`${signal}: closing`);
  await new Promise((resolve) => server.close(resolve));
  const summary = await closeOptimizely(optimizely, dispatcher, { timeoutMs: SHUTDOWN_MS });
  console.log('closed', JSON.stringify(summary));
}
process.once('SIGTERM', shutDown);
process.once('SIGINT', shutDown);
