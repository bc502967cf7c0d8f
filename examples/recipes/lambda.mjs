// AWS Lambda (Node.js 20+ runtime, an ES module handler): deploy as index.mjs, handler index.handler.
//   invoked with { "userId": "u1" } or { "userId": "u1", "revenue": 4200 }
// - The dispatcher and the Optimizely client are made once per execution environment, outside the
//   handler, and reused by every warm invocation.
// - Lambda freezes the environment as soon as the handler returns: nothing is sent between
//   invocations. So each invocation flushes before it returns, within its deadline
//   (context.getRemainingTimeInMillis() minus MARGIN_MS for the rest of the handler). What does
//   not make it stays in memory and goes out during the next warm invocation, whose flush waits
//   for it too.
// - EVENT_SPOOL_DIR=/tmp/event-spool keeps what is pending, or out of retries, in the environment's
//   /tmp, which lasts as long as that environment does: a new one (a cold start) starts with an
//   empty /tmp, and one that Lambda reclaims takes its spool along. Best effort, not durable.
// - The SDK's forwarding event processor hands each event to the dispatcher at once; a batch
//   processor would hold them for a batch across freezes.
import { createForwardingEventProcessor } from '@optimizely/optimizely-sdk';
import { createDispatcher } from 'native-event-dispatcher';
import { createOptimizely } from './optimizely.mjs';

const MARGIN_MS = 500;

const dispatcher = createDispatcher({
  endpoint: process.env.EVENT_ENDPOINT, // unset: the SDK's own (logx.optimizely.com)
  spoolDir: process.env.EVENT_SPOOL_DIR,
  timeoutMs: 5000, // one request, at most; a flush's deadline may end the wait sooner
});
const optimizely = await createOptimizely(createForwardingEventProcessor(dispatcher));

export const handler = async (event, context) => {
  const user = optimizely.createUserContext(String(event.userId));
  const decision = user.decide('checkout_flow');
  if (Number.isInteger(event.revenue)) user.trackEvent('purchase', { revenue: event.revenue });

  const { settled, pending } = await dispatcher.flush({
    timeoutMs: Math.max(0, context.getRemainingTimeInMillis() - MARGIN_MS),
  });
  if (!settled)
    console.warn(
      `${pending} event request(s) still pending at the deadline; the next invocation sends them`,
    );
  return { variation: decision.variationKey, eventsSettled: settled };
};
