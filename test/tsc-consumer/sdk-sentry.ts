// tsc --strict against @sentry/node's own types: createSentryTransport is a `transport`, in both modes.
import * as Sentry from '@sentry/node';
import { createDispatcher, createSentryTransport } from 'native-event-dispatcher';

const direct: Sentry.NodeOptions = {
  dsn: 'https://public@o0.ingest.sentry.io/0',
  transport: createSentryTransport(Sentry.createTransport, { timeoutMs: 5000 }),
};
const dispatcher = createDispatcher({
  spoolDir: '/var/spool/sentry',
  headers: { 'content-type': 'application/x-sentry-envelope' },
});
const durable: Sentry.NodeOptions = {
  dsn: 'https://public@o0.ingest.sentry.io/0',
  transport: createSentryTransport(Sentry.createTransport, { dispatcher }),
};
export const clients = [Sentry.init(direct), Sentry.init(durable)];
