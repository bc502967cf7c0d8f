// A Vercel Function (Node.js runtime) relaying the browser's Optimizely events from your own
// domain: api/events.js. The browser SDK's event dispatcher posts each event batch here; the
// function answers 202 at once and forwards the batch to EVENT_ENDPOINT (logx.optimizely.com).
// - waitUntil (@vercel/functions) keeps the instance running after the response until the flush
//   settles, so the batch leaves before the instance is frozen. The flush is bounded by the
//   invocation's deadline (getDeadline(): the function's maxDuration) minus MARGIN_MS, so it never
//   runs into Vercel stopping the function.
// - One dispatcher per instance, at module scope: with Fluid compute an instance serves many
//   invocations at once, and they share its connections.
// - What misses the deadline stays in the instance's memory until its next invocation; an
//   instance that is not invoked again takes it along.
// - The waitUntil hook is optional: createRelay() without one (another host) awaits the flush
//   before it answers — the Lambda way, which delays the response instead.
import { waitUntil, getDeadline } from '@vercel/functions';
import { createDispatcher } from 'native-event-dispatcher';

const ENDPOINT = process.env.EVENT_ENDPOINT ?? 'https://logx.optimizely.com/v1/events';
const MARGIN_MS = 500;
const LOCAL_DEADLINE_MS = 10000; // where the platform sets none

const dispatcher = createDispatcher({ endpoint: ENDPOINT, timeoutMs: 5000 });

function flushTimeoutMs() {
  const deadline = getDeadline();
  const left = deadline ? deadline.getTime() - Date.now() : LOCAL_DEADLINE_MS;
  return Math.max(0, left - MARGIN_MS);
}

async function flushed() {
  const { settled, pending } = await dispatcher.flush({ timeoutMs: flushTimeoutMs() });
  if (!settled) console.warn(`${pending} event request(s) still pending at the deadline`);
  return settled;
}

export function createRelay({ waitUntil: extend } = {}) {
  return async function relay(request) {
    const batch = await request.json().catch(() => null);
    if (!Array.isArray(batch?.visitors))
      return new Response('expected an Optimizely event batch', { status: 400 });
    // Rejects only for a body it cannot send (or a closed dispatcher): nothing to wait for then.
    dispatcher
      .send('POST', ENDPOINT, batch)
      .catch((err) => console.error(`event batch refused: ${err.message}`));
    if (extend) extend(flushed());
    else await flushed();
    return new Response(null, { status: 202 });
  };
}

export const POST = createRelay({ waitUntil });
