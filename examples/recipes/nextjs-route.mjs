// A Next.js App Router route handler: copy to app/api/checkout/route.js.
//   POST /api/checkout {"user":"u1"}  →  {"variation":"treatment"}
// - runtime 'nodejs': the addon needs Node; the Edge runtime cannot load it.
// - One dispatcher and one Optimizely client per server process, at module scope; kept on
//   globalThis, because `next dev` evaluates route modules again as you edit them.
// - Only Web-standard Request and Response. On serverless hosting (Vercel) an instance may be
//   frozen once the response is sent, so each request's events are flushed within the
//   invocation: waitUntil() lets the flush outlive the response, bounded by FLUSH_MS (keep it
//   below the route's maxDuration). Self-hosted (`next start`) the process lives on, and the
//   dispatcher delivers in the background as usual (Next 15's after() from 'next/server' is the
//   framework's own way to do the same).
// - The SDK's forwarding event processor hands each event to the dispatcher at once: nothing
//   waits in an SDK batch that a frozen or recycled instance would never send.
// - Self-hosted, handleProcessExit closes the dispatcher on SIGTERM; with EVENT_SPOOL_DIR, what
//   the exit cuts short is on disk for the next start.
// Tested without Next (too heavy to install for a test): the test imports this module and calls
// POST with real Request objects, as Next does, with and without a Vercel request context.
import { waitUntil } from '@vercel/functions';
import { createForwardingEventProcessor } from '@optimizely/optimizely-sdk';
import { createDispatcher } from 'native-event-dispatcher';
import { createOptimizely } from './optimizely.mjs';

export const runtime = 'nodejs';

const FLUSH_MS = 5000;

function setUp() {
  const dispatcher = createDispatcher({
    endpoint: process.env.EVENT_ENDPOINT, // unset: the SDK's own (logx.optimizely.com)
    spoolDir: process.env.EVENT_SPOOL_DIR,
    handleProcessExit: true,
  });
  return { dispatcher, optimizely: createOptimizely(createForwardingEventProcessor(dispatcher)) };
}
const checkout = (globalThis.checkoutExperiment ??= setUp());

export async function POST(request) {
  const body = await request.json().catch(() => null);
  if (typeof body?.user !== 'string')
    return Response.json({ error: 'expected { user: string }' }, { status: 400 });
  const optimizely = await checkout.optimizely;
  const decision = optimizely.createUserContext(body.user).decide('checkout_flow');
  waitUntil(checkout.dispatcher.flush({ timeoutMs: FLUSH_MS }));
  return Response.json({ variation: decision.variationKey });
}
