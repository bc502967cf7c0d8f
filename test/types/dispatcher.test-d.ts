import { expectAssignable, expectError, expectType } from 'tsd';
import type { EventDispatcher as V6EventDispatcher } from '@optimizely/optimizely-sdk';
import type { EventDispatcher as V5EventDispatcher } from 'optimizely-sdk-v5';
import {
  createDispatcher,
  closeOptimizely,
  Dispatcher,
  DispatchResult,
  CloseSummary,
  DispatcherStats,
  DropReason,
  DeliveredInfo,
  FlushResult,
  SettleWithin,
} from '../..';

const dispatcher = createDispatcher({
  endpoint: 'https://logx.optimizely.com/v1/events',
  maxAttempts: 6,
  spoolDir: '/var/spool/events',
  timeoutMs: 5000,
  headers: { 'x-app': 'shop' },
  logger: console,
  handleProcessExit: true,
});
expectType<Dispatcher>(dispatcher);

// A drop-in for both SDK generations.
expectAssignable<V6EventDispatcher>(dispatcher);
expectAssignable<V5EventDispatcher>(dispatcher);

expectType<Promise<DispatchResult>>(
  dispatcher.dispatchEvent({ url: 'https://x/', httpVerb: 'POST', params: {} }),
);
dispatcher.dispatchEvent({ url: 'https://x/', httpVerb: 'POST', params: {} }, (response) => {
  expectType<number>(response.statusCode);
});
expectType<Promise<DispatchResult>>(dispatcher.send('POST', 'https://x/', { a: 1 }));
expectType<Promise<void>>(dispatcher.flush());
expectType<Promise<CloseSummary>>(dispatcher.close({ timeoutMs: 1000 }));
expectType<DispatcherStats>(dispatcher.stats());
dispatcher.on('drop', (info) => expectType<DropReason>(info.reason));
dispatcher.on('retry', (info) => expectType<number>(info.delayMs));

expectType<Promise<CloseSummary>>(
  closeOptimizely({ close: async () => ({ success: true }) }, dispatcher),
);

expectError(createDispatcher({ retries: 3 }));
expectError(createDispatcher({ maxAttempts: '6' }));
expectError(dispatcher.dispatchEvent({ url: 'https://x/', httpVerb: 'DELETE', params: {} }));

// 0.2: failures have their own event; the summary counts events inside requests; a deadline for
// everything held; the stats balance.
dispatcher.on('failed', (info) => {
  expectType<'rejected'>(info.reason);
  expectType<string>(info.cause);
});
// Every drop names its cause.
dispatcher.on('drop', (info) => expectType<string>(info.cause));
dispatcher.close().then((summary) => {
  expectType<number>(summary.events.delivered);
  expectType<number>(summary.lost);
});
expectType<void>(dispatcher.settleBy(Date.now() + 1000));
// settleWithin: close()'s deadline forms, and what it kept.
expectType<SettleWithin>(dispatcher.settleWithin());
expectType<number>(dispatcher.settleWithin({ timeoutMs: 2000 }).reserveMs);
expectType<number>(dispatcher.settleWithin(2000).timeoutMs);
expectError(dispatcher.settleWithin({ timeout: 2000 }));
// eventCount: the events a request carries.
createDispatcher({
  eventCount: (params) => (Array.isArray((params as { events?: unknown[] }).events) ? 2 : 1),
});
expectError(createDispatcher({ eventCount: 3 }));
expectType<number>(dispatcher.stats().pending);
expectType<number | null>(dispatcher.stats().latencyMs.p99);
expectType<number>(dispatcher.stats().events.accepted);
expectError(dispatcher.settleBy('soon'));

// close() and closeOptimizely: { timeoutMs } or a number of ms; no other name.
expectType<Promise<CloseSummary>>(dispatcher.close(500));
expectType<Promise<CloseSummary>>(
  closeOptimizely({ close: async () => ({ success: true }) }, dispatcher, 5000),
);
expectType<Promise<CloseSummary>>(
  closeOptimizely({ close: async () => ({ success: true }) }, dispatcher, { timeoutMs: 5000 }),
);
expectError(dispatcher.close({ timeout: 500 }));
expectError(
  closeOptimizely({ close: async () => ({ success: true }) }, dispatcher, { timeout: 5000 }),
);
expectError(dispatcher.close('500'));
dispatcher.on('drop', (info) =>
  expectType<
    | 'spool-lost'
    | 'closed'
    | 'queue-full'
    | 'retries-exhausted'
    | 'deadline'
    | 'unreadable'
    | 'invalid'
  >(info.reason),
);

// logger: console, the four methods, or a v4/v5 SDK logger's log(level, message).
createDispatcher({ logger: { debug() {}, info() {}, warn() {}, error() {} } });
createDispatcher({
  logger: {
    log(level: number, message: string) {
      void level;
      void message;
    },
  },
});
expectError(createDispatcher({ logger: 'console' }));
expectError(createDispatcher({ logger: 42 }));

// Issue 22: each delivery is heard ('delivered'), and every ending's event says how many events it holds.
dispatcher.on('delivered', (info) => {
  expectType<DeliveredInfo>(info);
  expectType<string>(info.url);
  expectType<number>(info.statusCode);
  expectType<number>(info.attempts);
  expectType<number>(info.latencyMs);
  expectType<number>(info.events);
  expectType<boolean>(info.replayed);
});
dispatcher.once('delivered', (info) => expectType<number>(info.latencyMs));
dispatcher.on('failed', (info) => expectType<number>(info.events));
dispatcher.on('drop', (info) => expectType<number>(info.events));
dispatcher.on('spool', (info) => expectType<number>(info.events));
expectError(dispatcher.on('delivered', (info: { url: number }) => info));

// flush() with a deadline (issue 22): { timeoutMs } or a number of ms; settled, or what is pending.
expectType<Promise<FlushResult>>(dispatcher.flush({ timeoutMs: 2000 }));
expectType<Promise<FlushResult>>(dispatcher.flush(2000));
dispatcher.flush({ timeoutMs: 2000 }).then((result) => {
  if (result.settled) expectType<0>(result.pending);
  else expectType<number>(result.pending);
});
expectType<Promise<FlushResult>>(dispatcher.flush({}));
expectError(dispatcher.flush({ timeout: 2000 }));
expectError(dispatcher.flush('2000'));
