'use strict';
// npm run demo — the package's showcase: the real Optimizely SDK v6 makes a decision and a
// conversion for each of N users, its batch event processor hands the event batches to this
// package's dispatcher, and libcurl on the threadpool delivers them to an embedded collector on
// 127.0.0.1. The demo then checks that every event arrived (each counted once, by its uuid), and
// shows what that cost the main thread against the alternatives: the same users through the SDK's
// own default dispatcher (HTTP on the main thread) to the same collector, and through a dispatcher
// that does nothing (the SDK's own share) — main-thread CPU side by side.
//   node demo/demo.js [--users N] [--fail-rate R] [--url URL] [--help]
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const v8 = require('node:v8');
const vm = require('node:vm');
const optimizely = require('@optimizely/optimizely-sdk');
const { createDispatcher, closeOptimizely, versions } = require('..');
const { startCollector } = require('./collector');
const { progressBar } = require('./progress');
const { line, report, verdict } = require('./report');
const { mainThreadClock } = require('./thread-cpu');

const USAGE = `Usage: node demo/demo.js [options]   (or: npm run demo -- [options])

Runs the Optimizely SDK v6 with native-event-dispatcher: one decision (flag checkout_flow) and
one conversion (event purchase) per user, delivered to an embedded collector on 127.0.0.1, then
checks that every event arrived. The same users also go through the SDK's default dispatcher
(HTTP on the main thread, its own retries) to the same collector, and through a dispatcher that
does nothing (the SDK's own share): the main thread's CPU of each is printed side by side.

Options:
  --users N        users to simulate, a positive integer (default 10000); 2 events each
  --fail-rate R    share of requests the embedded collector fails with a transient 503,
                   0 <= R < 1 (default 0); this package retries them, the SDK's default
                   dispatcher gives a batch three attempts
  --url URL        send the events to this http(s) endpoint instead of the embedded collector
                   (both dispatchers send there); nothing counts them on the receiving side then
  --help           show this help

Exit code: 0 when every event sent through native-event-dispatcher arrived, 1 when any is
missing or lost, 2 for bad arguments.`;

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
// Users made before the measured runs, unmeasured: through the SDK alone, and through each
// dispatcher (to a run the collector counts apart), so that the SDK's code, Node's HTTP client and
// this package's are compiled before anything is measured.
const WARMUP_USERS = 5000;
const WARMUP_DISPATCHER_USERS = 1000;
// Measured rounds: see showcase().
const ROUNDS = 3;
// The SDK's share: its dispatcher answers at once and sends nothing.
const NOTHING_DISPATCHER = Object.freeze({
  dispatchEvent: () => Promise.resolve({ statusCode: 204 }),
});
// The SDK default dispatcher's longest wait before a retry (its backoff: 200 ms doubling up to
// 1 s, ± 50 ms), with a margin.
const SDK_RETRY_WAIT_MS = 1100;
// The collector counts the SDK default dispatcher's events apart (collector.urlFor), and the
// warm-up's.
const SDK_DEFAULT_RUN = 'sdk-default';
const WARMUP_RUN = 'warm-up';

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
    throw new UsageError(
      `--fail-rate needs a number from 0 up to (not including) 1, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function endpointUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--url needs an absolute http:// or https:// URL, got ${JSON.stringify(text)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url needs an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return url.href;
}

const OPTIONS = {
  users: positiveInteger.bind(null, 'users'),
  'fail-rate': failRate,
  url: endpointUrl,
};

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
    if (!match || !Object.hasOwn(OPTIONS, match[1]))
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
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
    throw new UsageError(
      '--fail-rate makes the embedded collector fail; it cannot be combined with --url',
    );
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
    return JSON.parse(fs.readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8'))
      .version;
  } catch {
    return 'unknown';
  }
}

// A v6 client from the bundled datafile: no network for the config, and `dispatcher` for every
// event. With this package's dispatcher, maxRetries 0: it retries (with jitter and Retry-After),
// and the SDK retrying too would offer an event it gave up on again. Others keep the SDK's
// default retries (`sdkRetries`).
function createClient(dispatcher, { sdkRetries = false } = {}) {
  const datafile = fs.readFileSync(path.join(__dirname, 'datafile.json'), 'utf8');
  return optimizely.createInstance({
    projectConfigManager: optimizely.createStaticProjectConfigManager({ datafile }),
    eventProcessor: optimizely.createBatchEventProcessor({
      eventDispatcher: dispatcher,
      closingEventDispatcher: dispatcher,
      batchSize: BATCH_SIZE,
      flushInterval: FLUSH_INTERVAL_MS,
      ...(sdkRetries ? {} : { maxRetries: 0 }),
    }),
  });
}

// One decision and one conversion for each of `users` users numbered from `first`, counted into
// `made`. v6 has no LOG_EVENT notification, so the events are counted here: the datafile sets
// sendFlagDecisions, so every decide() sends an impression, and every trackEvent() of a known
// event sends a conversion. `tick(n)` hears of every n users made.
async function simulateUsers(client, first, users, made, tick) {
  for (let i = first, done = 0; done < users; i++) {
    const user = client.createUserContext(`user-${i}`, { plan: i % 3 ? 'pro' : 'free' });
    const decision = user.decide('checkout_flow');
    made.impressions += 1;
    const variation = decision.variationKey || 'none';
    made.variations[variation] = (made.variations[variation] || 0) + 1;
    user.trackEvent('purchase', { revenue: REVENUE_CENTS });
    made.conversions += 1;
    done += 1;
    if (done % USERS_PER_TURN === 0 || done === users) {
      tick(done % USERS_PER_TURN || USERS_PER_TURN);
      await new Promise(setImmediate);
    }
  }
}

// Between measured rounds, a full garbage collection (outside the measured time): each round
// then pays for its own garbage, not for the one before it. (`gc` without --expose-gc on the
// command line: `npm run demo` and the tests run plain `node demo/demo.js`.)
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');

// A run: users made through SDK clients that send with one dispatcher, round after round, and what
// it cost the main thread. `makeClient()` gives a round its client; `close(client, last)` closes
// it, after the round's users (the last round closes the dispatcher as well).
function newRun(makeClient, close) {
  const made = { impressions: 0, conversions: 0, variations: {} };
  return { makeClient, close, made, cpuNs: 0, seconds: 0, closed: undefined };
}

// One round of `run`: the main thread's CPU from the first user to the end of the close (the SDK's
// work, the dispatcher's, the demo's loop; the collector runs on a thread of its own, outside it).
async function measureRound(run, first, users, { clock, tick = () => {}, last = true }) {
  const client = run.makeClient();
  await client.onReady();
  collectGarbage();
  const started = performance.now();
  const cpuStart = clock.read();
  await simulateUsers(client, first, users, run.made, tick);
  run.closed = await run.close(client, last);
  run.cpuNs += clock.read() - cpuStart;
  run.seconds += (performance.now() - started) / 1000;
  return run;
}

// `promise`'s value; a StuckError after `limitMs` ms, saying `what` did not finish.
async function settleWithin(promise, limitMs, what) {
  let timer;
  const stuck = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new StuckError(`${what()} did not finish within ${limitMs / 1000} s`)),
      limitMs,
    );
  });
  try {
    return await Promise.race([promise, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

// The SDK's own Node dispatcher, unchanged (http/https.request on the main thread through Node's
// global agent, a 60 s timeout), addressed where the demo sends: the SDK addresses
// logx.optimizely.com. `activity` counts its requests (all, in flight, failed) and notes when one
// last failed (as the SDK judges: a rejection, or a status outside 200–399), which the SDK then
// retries.
function sdkDefaultDispatcher(url, activity) {
  const failed = () => {
    activity.failed += 1;
    activity.lastFailure = performance.now();
  };
  return {
    dispatchEvent(event) {
      activity.requests += 1;
      activity.inFlight += 1;
      return optimizely.eventDispatcher
        .dispatchEvent({ ...event, url })
        .then(
          (response) => {
            if (
              response.statusCode !== undefined &&
              (response.statusCode < 200 || response.statusCode > 399)
            )
              failed();
            return response;
          },
          (err) => {
            failed();
            throw err;
          },
        )
        .finally(() => {
          activity.inFlight -= 1;
        });
    },
  };
}

// Resolves once the SDK default dispatcher has nothing in flight and no retry can still come (its
// longest backoff has passed since the last failure), or after `limitMs`.
async function quiet(activity, limitMs) {
  const until = performance.now() + limitMs;
  for (let now = performance.now(); now < until; now = performance.now()) {
    // Few wake-ups: they are main-thread CPU, counted to the SDK default dispatcher's run.
    const wait = activity.inFlight > 0 ? 50 : activity.lastFailure + SDK_RETRY_WAIT_MS - now;
    if (wait <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait, until - now)));
  }
}

// The SDK's default dispatcher with the SDK's default retries: three attempts a batch, then it is
// dropped. Each round waits for its retries before close(), which would cancel them: what is lost
// is what the SDK gives up on, not an artefact of the rounds. A close() that does not end (an
// endpoint that does not answer) is not this package's to judge: its requests are abandoned and
// said so.
function sdkDefaultRun(url) {
  const limitMs = DEFAULT_CLOSE_TIMEOUT_MS + CLOSE_GRACE_MS;
  const activity = { requests: 0, inFlight: 0, failed: 0, lastFailure: -Infinity };
  const run = newRun(
    () => createClient(sdkDefaultDispatcher(url, activity), { sdkRetries: true }),
    async (client) => {
      try {
        await quiet(activity, limitMs);
        await settleWithin(
          client.close().catch(() => {}),
          limitMs,
          () => 'close()',
        );
      } catch (err) {
        if (!(err instanceof StuckError)) throw err;
        run.abandonedAfterMs = limitMs;
        // Its requests still open must not keep the demo alive for their 60 s.
        http.globalAgent.destroy();
        https.globalAgent.destroy();
      }
    },
  );
  run.activity = activity;
  return run;
}

// This package's dispatcher: the SDK's close() waits for its dispatches to settle; the last round's
// closeOptimizely() closes the dispatcher too, and gives its summary. Both end within the
// dispatcher's close deadline, unless the SDK waits for a dispatch that never settles: a bug this
// showcase should report, not hang on.
function packageRun(dispatcher, closeTimeoutMs) {
  const limitMs = closeTimeoutMs + CLOSE_GRACE_MS;
  const what = (name) => () => `${name}; dispatcher: ${JSON.stringify(dispatcher.stats())}`;
  return newRun(
    () => createClient(dispatcher),
    (client, last) =>
      last
        ? settleWithin(closeOptimizely(client, dispatcher), limitMs, what('closeOptimizely()'))
        : settleWithin(client.close(), limitMs, what("the SDK's close()")),
  );
}

const nothingRun = () =>
  newRun(
    () => createClient(NOTHING_DISPATCHER),
    (client) => client.close(),
  );

async function run(args) {
  const v = versions();
  const transport =
    v.transport === 'fallback'
      ? `fallback transport on undici ${v.undici}: ${v.reason}`
      : `libcurl ${v.libcurl}, ${v.tls}`;
  console.log(
    `native-event-dispatcher ${v.addon} (${transport}) with @optimizely/optimizely-sdk ${sdkVersion()}`,
  );
  const collector = args.url ? undefined : await startCollector({ failRate: args.failRate });
  try {
    return await showcase(args, collector);
  } finally {
    if (collector) await collector.close();
  }
}

function describeTarget(args, collector) {
  if (collector) {
    const failing =
      args.failRate > 0
        ? `, failing ${+(args.failRate * 100).toFixed(2)}% of requests with a transient 503`
        : '';
    line(
      'sending to',
      `${collector.url} (embedded collector, counting each dispatcher's events apart${failing})`,
    );
  } else {
    line('sending to', `${args.url} (--url)`);
    console.log(
      "note: no embedded collector, so nothing counts what arrives; the check relies on the endpoint's answers",
    );
  }
}

// `endpoint` is always set: the SDK addresses logx.optimizely.com, and the demo sends only where it
// was told — the embedded collector on 127.0.0.1, or --url. `users` sizes the retry policy.
function createDemoDispatcher(args, endpoint, users) {
  const policy = retryPolicy(args.failRate, Math.ceil((2 * users) / BATCH_SIZE));
  const dispatcher = createDispatcher({ endpoint, ...policy });
  // A drop is a lost batch (or, with reason 'rejected', a refused one); the reasons go in the verdict.
  const dropReasons = new Set();
  dispatcher.on('drop', (drop) => {
    if (drop.reason !== 'rejected') dropReasons.add(drop.reason);
  });
  return {
    dispatcher,
    dropReasons,
    policy,
    closeTimeoutMs: policy.closeTimeoutMs || DEFAULT_CLOSE_TIMEOUT_MS,
  };
}

// Unmeasured users before the measured ones (WARMUP_USERS). With --url only through the SDK alone:
// the user's endpoint gets the measured users' events, no more.
async function warmUp(args, collector, clock) {
  const runs = [nothingRun()];
  if (collector) {
    const url = collector.urlFor(WARMUP_RUN);
    const { dispatcher, closeTimeoutMs } = createDemoDispatcher(args, url, WARMUP_DISPATCHER_USERS);
    runs.push(sdkDefaultRun(url), packageRun(dispatcher, closeTimeoutMs));
  }
  for (const [i, warm] of runs.entries()) {
    await measureRound(warm, 0, i === 0 ? WARMUP_USERS : WARMUP_DISPATCHER_USERS, { clock });
  }
}

// The same users through the SDK's default dispatcher, through this package's (serialising each
// batch, handing it to the pump, settling its answer), and through one that does nothing — the
// SDK's own share, so that the difference to it is what the dispatching cost. In three rounds of a
// third of the users each, in an order that puts each run first, second and third once: a run
// measured right after another came out up to a quarter cheaper than one measured first, even
// after the warm-up. With --url in one round: a round's close() waits for every event to settle,
// and only the last closeOptimizely() bounds that wait for an endpoint that fails.
async function showcase(args, collector) {
  const clock = mainThreadClock();
  await warmUp(args, collector, clock);
  describeTarget(args, collector);
  const endpoint = collector ? collector.url : args.url;
  const { dispatcher, dropReasons, policy, closeTimeoutMs } = createDemoDispatcher(
    args,
    endpoint,
    args.users,
  );
  if (policy.maxAttempts) {
    const { maxAttempts, baseDelayMs, maxDelayMs } = policy;
    line(
      'retry policy',
      `up to ${maxAttempts} attempts, backoff ${baseDelayMs}–${maxDelayMs} ms with full jitter`,
    );
  }
  const sdkDefault = sdkDefaultRun(collector ? collector.urlFor(SDK_DEFAULT_RUN) : args.url);
  const ours = packageRun(dispatcher, closeTimeoutMs);
  const nothing = nothingRun();
  const runs = [sdkDefault, ours, nothing];
  const bar = progressBar(
    runs.length * args.users,
    `making users (${runs.length} × ${args.users})`,
  );
  let done = 0;
  bar.update(0);
  const tick = (n) => bar.update((done += n));
  const rounds = collector ? ROUNDS : 1;
  for (let round = 0, first = 0; round < rounds; round++) {
    const users = Math.floor((args.users * (round + 1)) / rounds) - first;
    for (let k = 0; k < runs.length; k++) {
      await measureRound(runs[(round + k) % runs.length], first, users, {
        clock,
        tick,
        last: round === rounds - 1,
      });
    }
    first += users;
  }
  const stats = dispatcher.stats();
  const outcome = {
    args,
    stats,
    made: ours.made,
    summary: ours.closed,
    seconds: ours.seconds,
    received: collector ? await collector.stats() : null,
    dropReasons: [...dropReasons],
    cpu: {
      kind: clock.kind,
      ours,
      nothing,
      requests: stats.accepted,
      sdkDefault: {
        ...sdkDefault,
        received: collector ? await collector.stats(SDK_DEFAULT_RUN) : null,
      },
    },
  };
  report(outcome);
  return verdict(outcome);
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

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`FAILED: ${err instanceof StuckError ? err.message : err.stack || err}`);
    // Whatever got stuck (a request, a timer) must not keep the demo alive after it failed.
    process.exit(1);
  },
);
