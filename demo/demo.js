'use strict';
// npm run demo — the package's showcase: the real Optimizely SDK v6 makes a decision and a
// conversion for each of N users, its batch event processor hands the event batches to this
// package's dispatcher, and libcurl on the threadpool delivers them to an embedded collector on
// 127.0.0.1. The demo then checks that every event arrived (each counted once, by its uuid), and
// shows what the dispatcher cost the main thread: its CPU time, against the SDK's own share (the
// same users again, through a dispatcher that does nothing).
//   node demo/demo.js [--users N] [--fail-rate R] [--url URL] [--help]
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const optimizely = require('@optimizely/optimizely-sdk');
const { createDispatcher, closeOptimizely, versions } = require('..');
const { startCollector } = require('./collector');
const { progressBar } = require('./progress');
const { mainThreadClock } = require('./thread-cpu');

const USAGE = `Usage: node demo/demo.js [options]   (or: npm run demo -- [options])

Runs the Optimizely SDK v6 with native-event-dispatcher: one decision (flag checkout_flow) and
one conversion (event purchase) per user, delivered to an embedded collector on 127.0.0.1, then
checks that every event arrived. Then it runs the same users once more through a dispatcher that
does nothing, to show what the dispatcher itself cost the main thread against the SDK's share.

Options:
  --users N        users to simulate, a positive integer (default 10000); 2 events each
  --fail-rate R    share of requests the embedded collector fails with a transient 503,
                   0 <= R < 1 (default 0); the dispatcher retries them
  --url URL        send the events to this http(s) endpoint instead of the embedded collector;
                   nothing counts them on the receiving side then
  --help           show this help

Exit code: 0 when every event arrived, 1 when any is missing or lost, 2 for bad arguments.`;

const DEFAULT_USERS = 10000;
const BATCH_SIZE = 10; // user events per batch, the SDK's default
// The SDK's Node default is 30 s; at 1 s a partial batch leaves soon even while users trickle in.
const FLUSH_INTERVAL_MS = 1000;
// Users per turn of the event loop: between turns the SDK's batches reach the dispatcher, libcurl's
// completions settle, and the progress bar is redrawn.
const USERS_PER_TURN = 250;
const REVENUE_CENTS = 4200;
const DEFAULT_CLOSE_TIMEOUT_MS = 10000; // the dispatcher's closeTimeoutMs default
const CLOSE_GRACE_MS = 5000;
// Users made through the SDK alone, unmeasured, before the measured runs: the SDK's code is
// compiled and warm by then, so that the first measured run does not pay for it alone.
const WARMUP_USERS = 5000;
// The SDK's share: its dispatcher answers at once and sends nothing.
const NOTHING_DISPATCHER = Object.freeze({ dispatchEvent: () => Promise.resolve({ statusCode: 204 }) });

class UsageError extends Error {}
class StuckError extends Error {}

function positiveInteger(name, text) {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${name} needs a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function failRate(text) {
  const value = Number(text);
  // Plain decimals only: Number() would also take '', ' ', '0x0' and 'Infinity'.
  if (!/^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) || value < 0 || value >= 1) {
    throw new UsageError(`--fail-rate needs a number from 0 up to (not including) 1, got ${JSON.stringify(text)}`);
  }
  return value;
}

function endpointUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url needs an absolute http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url needs an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return url.href;
}

const OPTIONS = { users: positiveInteger.bind(null, 'users'), 'fail-rate': failRate, url: endpointUrl };

// Reads `--name value` and `--name=value`; anything else is a usage error.
function parseArgs(argv) {
  const args = { users: DEFAULT_USERS, failRate: 0, url: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      args.help = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match || !Object.hasOwn(OPTIONS, match[1])) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    const name = match[1];
    let text = match[2];
    if (text === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      text = argv[++i];
    }
    const value = OPTIONS[name](text);
    if (name === 'fail-rate') args.failRate = value;
    else args[name] = value;
  }
  if (args.url && args.failRate > 0) {
    throw new UsageError('--fail-rate makes the embedded collector fail; it cannot be combined with --url');
  }
  return args;
}

// The dispatcher's defaults (6 attempts, backoff from 250 ms up to 30 s) are made for a real
// endpoint that recovers in its own time. The embedded collector fails at random on purpose, so
// the demo retries soon, and often enough that a batch failing on every attempt stays below one
// chance in a billion over the whole run: the check "every event arrived" is then exact.
function retryPolicy(rate, batches) {
  if (rate === 0) return {};
  const needed = Math.ceil(Math.log(1e-9 / batches) / Math.log(rate));
  const maxAttempts = Math.min(1000, Math.max(6, needed));
  const maxDelayMs = 100;
  // Room for every attempt at the longest backoff; close() waits as long for the last retries.
  const deadlineMs = Math.max(120000, maxAttempts * maxDelayMs * 2);
  return { maxAttempts, baseDelayMs: 10, maxDelayMs, deadlineMs, closeTimeoutMs: deadlineMs };
}

function sdkVersion() {
  // The SDK's exports map hides its package.json; it sits one level above the entry point.
  try {
    const main = require.resolve('@optimizely/optimizely-sdk');
    return JSON.parse(fs.readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

// A v6 client from the bundled datafile: no network for the config, and the dispatcher for every
// event. maxRetries 0: the dispatcher retries (with jitter and Retry-After); the SDK retrying too
// would offer an event it gave up on again.
function createClient(dispatcher) {
  const datafile = fs.readFileSync(path.join(__dirname, 'datafile.json'), 'utf8');
  return optimizely.createInstance({
    projectConfigManager: optimizely.createStaticProjectConfigManager({ datafile }),
    eventProcessor: optimizely.createBatchEventProcessor({
      eventDispatcher: dispatcher,
      closingEventDispatcher: dispatcher,
      batchSize: BATCH_SIZE,
      flushInterval: FLUSH_INTERVAL_MS,
      maxRetries: 0,
    }),
  });
}

// One decision and one conversion per user. v6 has no LOG_EVENT notification, so the events are
// counted here: the datafile sets sendFlagDecisions, so every decide() sends an impression, and
// every trackEvent() of a known event sends a conversion.
async function simulateUsers(client, users, label) {
  const made = { impressions: 0, conversions: 0, variations: {} };
  const bar = label ? progressBar(users, label) : { update() {} };
  bar.update(0);
  for (let i = 0; i < users; i++) {
    const user = client.createUserContext(`user-${i}`, { plan: i % 3 ? 'pro' : 'free' });
    const decision = user.decide('checkout_flow');
    made.impressions += 1;
    const variation = decision.variationKey || 'none';
    made.variations[variation] = (made.variations[variation] || 0) + 1;
    user.trackEvent('purchase', { revenue: REVENUE_CENTS });
    made.conversions += 1;
    if ((i + 1) % USERS_PER_TURN === 0 || i + 1 === users) {
      bar.update(i + 1);
      await new Promise(setImmediate);
    }
  }
  return made;
}

// stats() on one line: the counters that are not zero (those of `events` in braces), and the
// latency percentiles.
function compactStats(stats) {
  const nonZero = (counts) => Object.entries(counts).filter(([, value]) => value !== 0);
  const { latencyMs, events, ...rest } = stats;
  const shown = nonZero(rest).map(([key, value]) => `${key} ${value}`);
  shown.push(`events {${nonZero(events).map(([key, value]) => `${key} ${value}`).join(', ')}}`);
  return `${shown.join(', ')}; latency p50/p95/p99 ${latencyMs.p50}/${latencyMs.p95}/${latencyMs.p99} ms`;
}

// Main-thread CPU time of making `users` users through an SDK whose dispatcher does nothing, and
// of closing it: the SDK's own share (null clock: a warm-up, not measured).
async function sdkAlone(users, clock, label) {
  const client = createClient(NOTHING_DISPATCHER);
  await client.onReady();
  const start = clock ? clock.read() : 0;
  await simulateUsers(client, users, label);
  await client.close();
  return clock ? clock.read() - start : null;
}

const line = (label, value) => console.log(`${label.padEnd(19)}${value}`);

async function run(args) {
  const v = versions();
  const transport = v.transport === 'fallback'
    ? `fallback transport on undici ${v.undici}: ${v.reason}` : `libcurl ${v.libcurl}, ${v.tls}`;
  console.log(`native-event-dispatcher ${v.addon} (${transport}) with @optimizely/optimizely-sdk ${sdkVersion()}`);
  const collector = args.url ? undefined : await startCollector({ failRate: args.failRate });
  try {
    return await showcase(args, collector);
  } finally {
    if (collector) await collector.close();
  }
}

// `endpoint` is always set: the SDK addresses logx.optimizely.com, and the demo sends only where it
// was told — the embedded collector on 127.0.0.1, or --url.
function createDemoDispatcher(args, collector) {
  const endpoint = collector ? collector.url : args.url;
  if (collector) {
    const failing = args.failRate > 0
      ? `, failing ${+(args.failRate * 100).toFixed(2)}% of requests with a transient 503` : '';
    line('sending to', `${endpoint} (embedded collector${failing})`);
  } else {
    line('sending to', `${endpoint} (--url)`);
    console.log('note: no embedded collector, so nothing counts what arrives; the check relies on the endpoint\'s answers');
  }
  const policy = retryPolicy(args.failRate, Math.ceil((2 * args.users) / BATCH_SIZE));
  if (policy.maxAttempts) {
    const { maxAttempts, baseDelayMs, maxDelayMs } = policy;
    line('retry policy', `up to ${maxAttempts} attempts, backoff ${baseDelayMs}–${maxDelayMs} ms with full jitter`);
  }
  const dispatcher = createDispatcher({ endpoint, ...policy });
  // A drop is a lost batch (or, with reason 'rejected', a refused one); the reasons go in the verdict.
  const dropReasons = new Set();
  dispatcher.on('drop', (drop) => {
    if (drop.reason !== 'rejected') dropReasons.add(drop.reason);
  });
  return { dispatcher, dropReasons, closeTimeoutMs: policy.closeTimeoutMs || DEFAULT_CLOSE_TIMEOUT_MS };
}

// closeOptimizely() ends within the dispatcher's close deadline, unless the SDK's close() waits for
// a dispatch that never settles: a bug this showcase should report, not hang on.
async function closeWithin(client, dispatcher, closeTimeoutMs) {
  let timer;
  const limitMs = closeTimeoutMs + CLOSE_GRACE_MS;
  const stuck = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new StuckError(`closeOptimizely() did not finish within ${limitMs / 1000} s;`
      + ` dispatcher: ${JSON.stringify(dispatcher.stats())}`)), limitMs);
  });
  try {
    return await Promise.race([closeOptimizely(client, dispatcher), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

// The main thread's CPU is measured from the first user to the end of closeOptimizely(): the SDK's
// work, the dispatcher's (serialising each batch, handing it to the pump, settling its answer), and
// the demo's loop. The same users through a dispatcher that does nothing take the SDK's share;
// the difference is the dispatcher's. The collector runs on a thread of its own, outside both.
async function showcase(args, collector) {
  const clock = mainThreadClock();
  await sdkAlone(WARMUP_USERS, null, null);
  const { dispatcher, dropReasons, closeTimeoutMs } = createDemoDispatcher(args, collector);
  const client = createClient(dispatcher);
  await client.onReady();
  const started = performance.now();
  const cpuStart = clock.read();
  const made = await simulateUsers(client, args.users, 'making users');
  const summary = await closeWithin(client, dispatcher, closeTimeoutMs);
  const cpuNs = clock.read() - cpuStart;
  const seconds = (performance.now() - started) / 1000;
  const stats = dispatcher.stats();
  const sdkNs = await sdkAlone(args.users, clock, null);
  const outcome = {
    args, made, summary, stats, seconds,
    received: collector ? await collector.stats() : null,
    dropReasons: [...dropReasons],
    cpu: { kind: clock.kind, totalNs: cpuNs, sdkNs, requests: stats.accepted },
  };
  report(outcome);
  return verdict(outcome);
}

const ms = (ns) => `${(ns / 1e6).toFixed(ns < 1e7 ? 1 : 0)} ms`;
const us = (ns) => `${(ns / 1e3).toFixed(1)} µs`;

// What the main thread spent, and whose it was.
function reportCpu(cpu, events) {
  const note = {
    schedstat: '',
    stat: ' (counted in 10 ms ticks: a coarse clock, run more --users)',
    process: ' (the whole process: this platform has no per-thread clock; the collector\'s thread included)',
  }[cpu.kind];
  line('main thread CPU', `${ms(cpu.totalNs)} while the events were made and delivered, ${us(cpu.totalNs / events)} per event${note}`);
  line('  the SDK', `${ms(cpu.sdkNs)}, ${us(cpu.sdkNs / events)} per event: the same users again, through a dispatcher that does nothing`);
  const dispatcherNs = cpu.totalNs - cpu.sdkNs;
  if (dispatcherNs <= 0) {
    line('  the dispatcher', `too small to tell from the noise in this run (the SDK alone took ${ms(-dispatcherNs)} more); try more --users`);
    return;
  }
  line('  the dispatcher', `${ms(dispatcherNs)}, ${us(dispatcherNs / events)} per event (${us(dispatcherNs / cpu.requests)} per request):`
    + ` ${((dispatcherNs / cpu.totalNs) * 100).toFixed(0)}% of the main thread's CPU, serialising the batches included`);
}

function report({ args, made, summary, received, stats, seconds, cpu }) {
  const eventsMade = made.impressions + made.conversions;
  const variations = Object.entries(made.variations).map(([key, n]) => `${n} ${key}`).join(', ');
  console.log('');
  line('users', `${args.users}`);
  line('events made', `${eventsMade} (${made.impressions} decisions: ${variations}; ${made.conversions} conversions)`);
  if (received) {
    const missing = eventsMade - received.visitors;
    const match = missing === 0 ? 'match' : `MISMATCH: ${missing > 0 ? `${missing} missing` : `${-missing} more than made`}`;
    line('visitors received', `${received.visitors} of ${eventsMade}, ${match}`
      + ` (${received.distinctUuids} distinct uuids, ${received.redelivered} redelivered)`);
    line('requests', `${received.requests} seen by the collector:`
      + ` ${received.batches} batches accepted, ${received.injected} failures injected`);
  } else {
    line('visitors received', 'not counted (--url)');
  }
  line('retries', `${stats.retried}`);
  line('close', JSON.stringify(summary));
  line('dispatcher', compactStats(stats));
  line('elapsed', `${seconds.toFixed(2)} s (${Math.round(args.users / seconds)} users/s)`);
  reportCpu(cpu, eventsMade);
}

// Exit code 0 only when every event made arrived (counted by the collector) and the dispatcher lost
// nothing; close() counts every dropped batch as lost, `failed` ones were refused for good.
function verdict({ made, summary, received, dropReasons }) {
  const problems = [];
  if (received) {
    const missing = made.impressions + made.conversions - received.visitors;
    if (missing > 0) problems.push(`${missing} events missing`);
    if (missing < 0) problems.push(`${-missing} events more than made`);
  }
  if (summary.lost > 0) problems.push(`${summary.lost} batches lost (${dropReasons.join(', ')})`);
  if (summary.failed > 0) problems.push(`${summary.failed} batches rejected by the endpoint`);
  if (problems.length > 0) {
    console.log(`FAILED: ${problems.join(', ')}`);
    return 1;
  }
  console.log(received ? 'OK: every event arrived' : 'OK: every event arrived (the endpoint answered 2xx for every batch)');
  return 0;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`demo: ${err.message}\nRun with --help for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  return run(args);
}

main().then((code) => {
  process.exitCode = code;
}, (err) => {
  console.error(`FAILED: ${err instanceof StuckError ? err.message : err.stack || err}`);
  // Whatever got stuck (a request, a timer) must not keep the demo alive after it failed.
  process.exit(1);
});
