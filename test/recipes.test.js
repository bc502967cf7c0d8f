'use strict';
// The recipes in examples/recipes/, each run as it is in a child process against a
// local collector, and checked for what a team would check: every event arrived (by uuid, once),
// the process ended by itself, nothing was lost. Serverless handlers are driven the way their
// runtimes drive them (test/fixtures/recipes/): Next.js is not installed (too heavy), so its route
// handler is called with real Request objects, as Next calls it.
const http = require('node:http');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { useCleanup } = require('./helpers/cleanup');
const { lineProcess } = require('./helpers/processes');
const { tempDirs } = require('./helpers/dirs');
const { batch } = require('./helpers/events');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
// The recipes of this clone, or — for the newcomer's path (scripts/test-newcomer.sh) — copies pasted
// into a consumer app that installed the packed package (NED_EXAMPLES_ROOT).
const ROOT = process.env.NED_EXAMPLES_ROOT || path.join(__dirname, '..');
const recipe = (name) => path.join(ROOT, 'examples', 'recipes', name);
const runtime = (name) => path.join(__dirname, 'fixtures', 'recipes', name);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A recipe (or a runtime fixture) in a child process, its stdout read line by line.
function start(args, env) {
  const child = lineProcess(later, process.execPath, args, env);
  const line = (predicate) =>
    child.until((lines) => lines.some(predicate)).then((lines) => lines.find(predicate));
  // The n-th line starting with `prefix` (1-based).
  const nth = (prefix, n = 1) =>
    child
      .until((lines) => lines.filter((l) => l.startsWith(prefix)).length >= n)
      .then((lines) => lines.filter((l) => l.startsWith(prefix))[n - 1]);
  return { ...child, line, nth };
}

// An HTTP app's base URL, from the line it prints once it listens.
async function listening(app) {
  return (await app.line((l) => l.startsWith('listening on '))).match(
    /listening on (http:\/\/[\d.]+:\d+)/,
  )[1];
}

// A request on a connection of its own (so that node:cluster spreads them over its workers).
function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

// Bounded: a check that does not come true within `ms` fails the test with what it waited for.
async function eventually(check, what, ms = 30000) {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`still waiting for ${what}`);
    await sleep(20);
  }
}

// A collector that is up (answers 204) or down (holds every request unanswered). back() brings
// it up and lets go of what it held: those connections drop, and the dispatcher sends again.
async function endpoint(upAtStart) {
  let up = upAtStart;
  const c = await collector(() => (up ? 'ok' : 'hang'));
  c.down = () => {
    up = false;
  };
  c.back = () => {
    up = true;
    for (const res of c.hanging.splice(0)) res.destroy();
  };
  return c;
}

// The uuids of the plain JSON events (the recipes that use dispatcher.send) the collector
// answered 2xx, and how many times each.
function plainReceived(c) {
  const counts = new Map();
  for (const r of c.requests) {
    if (r.action === 204 && r.batch && r.batch.uuid)
      counts.set(r.batch.uuid, (counts.get(r.batch.uuid) || 0) + 1);
  }
  return counts;
}

const onceEach = (counts, uuids) => uuids.filter((u) => counts.get(u) !== 1);
const summaryIn = (line) => JSON.parse(line.slice(line.indexOf('{')));

describe.each(['express', 'fastify'])(
  '%s: one dispatcher per process, closed on SIGTERM',
  (name) => {
    test('decisions and conversions made by requests all reach the collector at shutdown, and the process ends by itself', async () => {
      const c = await collector();
      const app = start([recipe(`${name}.mjs`)], { EVENT_ENDPOINT: c.url, PORT: '0' });
      const base = await listening(app);
      const users = ['u1', 'u2', 'u3', 'u4'];
      for (const user of users) {
        const decided = await request('GET', `${base}/checkout?user=${user}`);
        expect(decided).toMatchObject({
          status: 200,
          body: { variation: expect.stringMatching(/^(treatment|control)$/) },
        });
        expect((await request('POST', `${base}/purchase`, { user, revenue: 4200 })).status).toBe(
          204,
        );
      }
      expect((await request('POST', `${base}/purchase`, { user: 'u1' })).status).toBe(400);

      app.proc.kill('SIGTERM');
      expect(await app.exited).toMatchObject({ code: 0, signal: null });
      const summary = summaryIn(await app.nth('closed'));
      expect(summary).toMatchObject({
        spooled: 0,
        lost: 0,
        failed: 0,
        events: { delivered: 8, spooled: 0, lost: 0, failed: 0 },
      });
      // A decision and a conversion a user, each once.
      expect(c.received.size).toBe(8);
      expect([...c.received.values()].every((n) => n === 1)).toBe(true);
      const visitors = c.requests.flatMap((r) => r.batch.visitors.map((v) => v.visitor_id));
      expect(visitors.sort()).toEqual([...users, ...users].sort());
    });
  },
);

describe('Next.js route handler (module scope, Web Request/Response, waitUntil on serverless)', () => {
  test("a decision a request; on Vercel the flush outlives the response within its deadline; next dev's reload keeps the one dispatcher", async () => {
    const c = await collector();
    const next = start([runtime('web-runtime.mjs'), recipe('nextjs-route.mjs')], {
      EVENT_ENDPOINT: c.url,
    });
    next.send(
      JSON.stringify({ handler: 'POST', body: { user: 'u1' }, vercel: { deadlineMs: 5000 } }),
    );
    expect(await next.nth('RESPONSE', 1)).toMatch(
      /^RESPONSE 200 \{"variation":"(treatment|control)"\}$/,
    );
    // The flush handed to waitUntil settled: the decision had arrived before the instance could be frozen.
    expect(JSON.parse((await next.nth('WAITED', 1)).slice(7))).toEqual([
      { settled: true, pending: 0 },
    ]);
    expect(c.received.size).toBe(1);

    next.send(JSON.stringify({ reload: true, keep: 'checkoutExperiment' }));
    expect(await next.nth('SAME')).toBe('SAME true');
    // Self-hosted (no Vercel context): waitUntil does nothing, the dispatcher delivers in the background.
    next.send(JSON.stringify({ handler: 'POST', body: { user: 'u2' } }));
    expect(await next.nth('RESPONSE', 2)).toMatch(/^RESPONSE 200 /);
    next.send(JSON.stringify({ handler: 'POST', body: { name: 'u3' } }));
    expect(await next.nth('RESPONSE', 3)).toBe(
      'RESPONSE 400 {"error":"expected { user: string }"}',
    );
    await eventually(() => c.received.size === 2, 'the second decision');

    next.proc.stdin.end();
    expect(await next.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect([...c.received.values()]).toEqual([1, 1]);
    expect(c.requests.map((r) => r.batch.visitors[0].visitor_id)).toEqual(['u1', 'u2']);
  });
});

describe("AWS Lambda: flush within each invocation's deadline", () => {
  test('fast collector: flushed before the handler returns; hung: returns at its deadline with the pending count, and the next warm invocation delivers it', async () => {
    const c = await endpoint(true);
    const lambda = start([runtime('lambda-runtime.mjs'), recipe('lambda.mjs')], {
      EVENT_ENDPOINT: c.url,
    });
    await lambda.nth('READY');

    lambda.send(`3000 ${JSON.stringify({ userId: 'u1', revenue: 4200 })}`);
    expect(JSON.parse((await lambda.nth('RESULT', 1)).slice(7))).toEqual({
      variation: expect.any(String),
      eventsSettled: true,
    });
    expect(c.received.size).toBe(2); // the decision and the purchase, before the handler returned

    c.down();
    lambda.send(`1500 ${JSON.stringify({ userId: 'u2' })}`);
    expect(JSON.parse((await lambda.nth('RESULT', 2)).slice(7))).toMatchObject({
      eventsSettled: false,
    });
    // It returned while the collector still held the request: the deadline, not the answer, ended the wait.
    expect(c.hanging).toHaveLength(1);
    expect(c.received.size).toBe(2);
    expect(lambda.stderr()).toContain(
      '1 event request(s) still pending at the deadline; the next invocation sends them',
    );

    // Thawed for the next invocation: the connection the collector held is gone; its flush waits
    // for the earlier event too.
    c.back();
    lambda.send(`3000 ${JSON.stringify({ userId: 'u3' })}`);
    expect(JSON.parse((await lambda.nth('RESULT', 3)).slice(7))).toMatchObject({
      eventsSettled: true,
    });
    expect(c.received.size).toBe(4);
    expect([...c.received.values()].every((n) => n === 1)).toBe(true);

    lambda.proc.stdin.end();
    expect(await lambda.exited).toMatchObject({ code: 0, signal: null });
  });

  test('a spool on /tmp: what an environment left pending is delivered by the runtime that starts next on that /tmp', async () => {
    const c = await endpoint(false);
    const tmp = tempDir('ned-lambda-tmp-');
    const env = { EVENT_ENDPOINT: c.url, EVENT_SPOOL_DIR: path.join(tmp, 'event-spool') };
    const first = start([runtime('lambda-runtime.mjs'), recipe('lambda.mjs')], env);
    await first.nth('READY');
    first.send(`1000 ${JSON.stringify({ userId: 'u1' })}`);
    expect(JSON.parse((await first.nth('RESULT')).slice(7))).toMatchObject({
      eventsSettled: false,
    });
    first.proc.kill('SIGKILL'); // the environment goes without a word
    expect((await first.exited).signal).toBe('SIGKILL');

    c.back();
    const next = start([runtime('lambda-runtime.mjs'), recipe('lambda.mjs')], env);
    await next.nth('READY');
    next.send(`3000 ${JSON.stringify({ userId: 'u2' })}`);
    expect(JSON.parse((await next.nth('RESULT')).slice(7))).toMatchObject({ eventsSettled: true });
    expect(c.received.size).toBe(2); // u1's decision, from the spool, and u2's
    expect([...c.received.values()]).toEqual([1, 1]);
    next.proc.stdin.end();
    expect(await next.exited).toMatchObject({ code: 0, signal: null });
  });
});

describe('Vercel function: waitUntil lets the flush outlive the response', () => {
  test("answered at once; the flush settles (fast) or stops at the invocation's deadline (hung); without the hook the flush comes first", async () => {
    const c = await endpoint(true);
    const fn = start([runtime('web-runtime.mjs'), recipe('vercel.mjs')], { EVENT_ENDPOINT: c.url });
    const first = batch(1);
    fn.send(JSON.stringify({ handler: 'POST', body: first, vercel: { deadlineMs: 5000 } }));
    expect(await fn.nth('RESPONSE', 1)).toBe('RESPONSE 202 ');
    expect(await fn.nth('WAITED', 1)).toBe('WAITED [true]');
    expect(c.received.get(first.visitors[0].snapshots[0].events[0].uuid)).toBe(1);

    c.down();
    const second = batch(1);
    fn.send(JSON.stringify({ handler: 'POST', body: second, vercel: { deadlineMs: 1500 } }));
    // The response before the flush: the collector holds the batch, and the 202 is out already.
    expect(await fn.nth('RESPONSE', 2)).toBe('RESPONSE 202 ');
    expect(await fn.nth('WAITED', 2)).toBe('WAITED [false]');
    expect(c.hanging).toHaveLength(1);
    expect(fn.stderr()).toContain('1 event request(s) still pending at the deadline');

    fn.send(
      JSON.stringify({ handler: 'POST', body: { not: 'a batch' }, vercel: { deadlineMs: 5000 } }),
    );
    expect(await fn.nth('RESPONSE', 3)).toBe('RESPONSE 400 expected an Optimizely event batch');

    // Another host, no waitUntil: the flush is awaited before the answer — the earlier batch too.
    c.back();
    const third = batch(1);
    fn.send(JSON.stringify({ handler: 'createRelay()', body: third }));
    expect(await fn.nth('RESPONSE', 4)).toBe('RESPONSE 202 ');
    expect(c.received.size).toBe(3);
    expect([...c.received.values()]).toEqual([1, 1, 1]);

    fn.proc.stdin.end();
    expect(await fn.exited).toMatchObject({ code: 0, signal: null });
  });
});

describe('Kubernetes: SIGTERM closes within closeTimeoutMs; the spool keeps the rest for the restarted container', () => {
  test('the endpoint hangs: on SIGTERM the process ends by itself at the close deadline with every event spooled; the restart delivers each once', async () => {
    const c = await endpoint(false);
    const env = {
      EVENT_ENDPOINT: c.url,
      EVENT_SPOOL_DIR: tempDir('ned-k8s-'),
      PORT: '0',
      CLOSE_TIMEOUT_MS: '1000',
    };
    const pod = start([recipe('kubernetes.mjs')], env);
    const base = await listening(pod);
    const uuids = [];
    for (let i = 0; i < 3; i++) {
      const r = await request('POST', `${base}/jobs`);
      expect(r.status).toBe(202);
      uuids.push(r.body.uuid);
    }
    await eventually(() => c.hanging.length === 3, 'the 3 requests at the collector');
    pod.proc.kill('SIGTERM');
    // The process ended by itself while the collector still held every request: closeTimeoutMs,
    // not an answer, ended the close (without it the transport's 10 s timeout and the retries would
    // still be running); all three are on disk.
    expect(await pod.exited).toMatchObject({ code: 0, signal: null });
    expect(c.requests.every((r) => r.action === 'hang')).toBe(true);
    expect(summaryIn(await pod.line((l) => l.includes('closed: {')))).toMatchObject({
      delivered: 0,
      spooled: 3,
      lost: 0,
    });

    c.back();
    const restarted = start([recipe('kubernetes.mjs')], env);
    expect(await restarted.nth('3 event(s) spooled by an earlier run')).toBeDefined();
    await eventually(() => onceEach(plainReceived(c), uuids).length === 0, 'the spooled events');
    restarted.proc.kill('SIGTERM');
    expect(await restarted.exited).toMatchObject({ code: 0, signal: null });
    expect(summaryIn(await restarted.line((l) => l.includes('closed: {')))).toMatchObject({
      delivered: 3,
      spooled: 0,
      lost: 0,
    });
    expect(onceEach(plainReceived(c), uuids)).toEqual([]);
  });
});

describe('worker_threads: every thread sends through the one pump', () => {
  test('the events of the main thread and of two workers all arrive, once each', async () => {
    const c = await collector();
    const r = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [recipe('worker-threads.mjs')],
        { env: { ...process.env, EVENT_ENDPOINT: c.url }, timeout: 60000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }),
      );
    });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(['invoices', 'reports', 'main']);
    expect(lines.map((l) => summaryIn(l).delivered)).toEqual([3, 2, 2]);
    const received = plainReceived(c);
    expect(received.size).toBe(7);
    expect([...received.values()].every((n) => n === 1)).toBe(true);
    const threads = new Set(c.requests.map((q) => q.batch.thread));
    expect(threads.size).toBe(3); // the main thread and the two workers
  });
});

describe('node:cluster: one spool root for every worker', () => {
  test('collector down, a worker killed, its replacement adopts its events; collector up: every event delivered once', async () => {
    const c = await endpoint(false);
    const primary = start([recipe('cluster.mjs')], {
      EVENT_ENDPOINT: c.url,
      EVENT_SPOOL_DIR: tempDir('ned-cluster-'),
      PORT: '0',
    });
    const firstTwo = [await primary.nth('worker', 1), await primary.nth('worker', 2)];
    for (const line of firstTwo)
      expect(line).toMatch(/^worker \d+ listening on port \d+; adopted 0 spooled event\(s\)$/);
    const base = `http://127.0.0.1:${firstTwo[0].match(/port (\d+)/)[1]}`;

    const sent = [];
    for (let i = 0; i < 10; i++) {
      const r = await request('POST', `${base}/events`);
      expect(r.status).toBe(202);
      sent.push(r.body);
    }
    // Every event is at the collector (held, unanswered) before a worker dies: nothing it sent is
    // still on its way to arrive after the collector is back.
    await eventually(() => c.hanging.length === 10, 'the 10 requests at the collector');
    const victim = sent[0].worker;
    const orphaned = sent.filter((e) => e.worker === victim).length;
    process.kill(victim, 'SIGKILL');
    expect(await primary.nth(`worker ${victim} died (SIGKILL): starting another`)).toBeDefined();
    expect(await primary.nth('worker', 4)).toMatch(
      new RegExp(`^worker \\d+ listening on port \\d+; adopted ${orphaned} spooled event\\(s\\)$`),
    );

    c.back();
    const uuids = sent.map((e) => e.uuid);
    await eventually(() => onceEach(plainReceived(c), uuids).length === 0, 'every event');

    primary.proc.kill('SIGTERM');
    expect(await primary.exited).toMatchObject({ code: 0, signal: null });
    expect(onceEach(plainReceived(c), uuids)).toEqual([]);
    expect(plainReceived(c).size).toBe(10);
  });
});
