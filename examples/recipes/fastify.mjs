// Fastify: one dispatcher and one Optimizely client per process, made at startup; routes that
// decide and convert; on SIGTERM (or Ctrl-C) app.close() stops the server, waits for requests in
// progress, then runs the onClose hook: the client and the dispatcher close within one deadline.
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events PORT=3000 node examples/recipes/fastify.mjs
//   curl 'http://127.0.0.1:3000/checkout?user=u1'
//   curl -X POST http://127.0.0.1:3000/purchase -H 'content-type: application/json' -d '{"user":"u1","revenue":4200}'
// - Made once, not per request (or per plugin instance): the dispatcher holds the connections,
//   the queue and the retries.
// - onClose runs after the server has stopped taking requests: the events of the last ones are
//   in the SDK's batch by then, and closeOptimizely() hands that batch over before it closes the
//   dispatcher.
// - SHUTDOWN_MS bounds the whole; keep it below what your platform waits before SIGKILL.
import Fastify from 'fastify';
import { createBatchEventProcessor } from '@optimizely/optimizely-sdk';
import { createDispatcher, closeOptimizely } from 'native-event-dispatcher';
import { createOptimizely } from './optimizely.mjs';

const SHUTDOWN_MS = 10000;

const app = Fastify({ logger: { level: 'warn' } });

const dispatcher = createDispatcher({
  endpoint: process.env.EVENT_ENDPOINT, // unset: the SDK's own (logx.optimizely.com)
  spoolDir: process.env.EVENT_SPOOL_DIR, // optional: what is not delivered by the deadline waits on disk
  logger: app.log, // Fastify's pino: retries given up, losses and spool trouble are logged with the rest
});
const optimizely = await createOptimizely(
  createBatchEventProcessor({
    eventDispatcher: dispatcher,
    closingEventDispatcher: dispatcher,
    maxRetries: 0, // the dispatcher retries
  }),
);

app.get('/checkout', async (request) => {
  const decision = optimizely
    .createUserContext(String(request.query.user ?? 'anonymous'))
    .decide('checkout_flow');
  return { variation: decision.variationKey };
});

const purchase = {
  type: 'object',
  required: ['user', 'revenue'],
  properties: { user: { type: 'string' }, revenue: { type: 'integer' } },
};
app.post('/purchase', { schema: { body: purchase } }, async (request, reply) => {
  optimizely
    .createUserContext(request.body.user)
    .trackEvent('purchase', { revenue: request.body.revenue });
  reply.code(204);
});

app.addHook('onClose', async () => {
  const summary = await closeOptimizely(optimizely, dispatcher, { timeoutMs: SHUTDOWN_MS });
  console.log('closed', JSON.stringify(summary));
});

const address = await app.listen({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
});
console.log(`listening on ${address}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    console.log(`${signal}: closing`);
    app.close();
  });
}
