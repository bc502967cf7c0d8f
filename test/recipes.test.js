'use strict';
// Issue 22 §3: the recipes in examples/recipes/, each run as it is in a child process against a
// local collector, and checked for what a team would check: every event arrived (by uuid, once),
// the process ended by itself, nothing was lost.
const http = require('node:http');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { useCleanup } = require('./helpers/cleanup');
const { lineProcess } = require('./helpers/processes');
const { tempDirs } = require('./helpers/dirs');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const ROOT = path.join(__dirname, '..');
const recipe = (name) => path.join(ROOT, 'examples', 'recipes', name);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A recipe (or a runtime fixture) in a child process, its stdout read line by line.
function start(args, env) {
  const child = lineProcess(later, process.execPath, args, env);
  const line = (predicate) => child.until((lines) => lines.some(predicate)).then((lines) => lines.find(predicate));
  // The n-th line starting with `prefix` (1-based).
  const nth = (prefix, n = 1) => child.until((lines) => lines.filter((l) => l.startsWith(prefix)).length >= n)
    .then((lines) => lines.filter((l) => l.startsWith(prefix))[n - 1]);
  return { ...child, line, nth };
}

// An HTTP app's base URL, from the line it prints once it listens.
async function listening(app) {
  return (await app.line((l) => l.startsWith('listening on '))).match(/listening on (http:\/\/[\d.]+:\d+)/)[1];
}

// A request on a connection of its own (so that node:cluster spreads them over its workers).
function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
    });
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
  c.down = () => { up = false; };
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
    if (r.action === 204 && r.batch && r.batch.uuid) counts.set(r.batch.uuid, (counts.get(r.batch.uuid) || 0) + 1);
  }
  return counts;
}

const onceEach = (counts, uuids) => uuids.filter((u) => counts.get(u) !== 1);
const summaryIn = (line) => JSON.parse(line.slice(line.indexOf('{')));

describe.each(['express', 'fastify'])('%s: one dispatcher per process, closed on SIGTERM', (name) => {
  test('decisions and conversions made by requests all reach the collector at shutdown, and the process ends by itself', async () => {
    const c = await collector();
    const app = start([recipe(`${name}.mjs`)], { EVENT_ENDPOINT: c.url, PORT: '0' });
    const base = await listening(app);
    const users = ['u1', 'u2', 'u3', 'u4'];
    for (const user of users) {
      const decided = await request('GET', `${base}/checkout?user=${user}`);
      expect(decided).toMatchObject({ status: 200, body: { variation: expect.stringMatching(/^(treatment|control)$/) } });
      expect((await request('POST', `${base}/purchase`, { user, revenue: 4200 })).status).toBe(204);
    }
    expect((await request('POST', `${base}/purchase`, { user: 'u1' })).status).toBe(400);

    app.proc.kill('SIGTERM');
    expect(await app.exited).toMatchObject({ code: 0, signal: null });
    const summary = summaryIn(await app.nth('closed'));
    expect(summary).toMatchObject({ spooled: 0, lost: 0, failed: 0, events: { delivered: 8, spooled: 0, lost: 0, failed: 0 } });
    // A decision and a conversion a user, each once.
    expect(c.received.size).toBe(8);
    expect([...c.received.values()].every((n) => n === 1)).toBe(true);
    const visitors = c.requests.flatMap((r) => r.batch.visitors.map((v) => v.visitor_id));
    expect(visitors.sort()).toEqual([...users, ...users].sort());
  });
});

describe('Kubernetes: SIGTERM closes within closeTimeoutMs; the spool keeps the rest for the restarted container', () => {
  test('the endpoint hangs: on SIGTERM the process ends by itself at the close deadline with every event spooled; the restart delivers each once', async () => {
    const c = await endpoint(false);
    const env = { EVENT_ENDPOINT: c.url, EVENT_SPOOL_DIR: tempDir('ned-k8s-'), PORT: '0', CLOSE_TIMEOUT_MS: '1000' };
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
    expect(summaryIn(await pod.line((l) => l.includes('closed: {')))).toMatchObject({ delivered: 0, spooled: 3, lost: 0 });

    c.back();
    const restarted = start([recipe('kubernetes.mjs')], env);
    expect(await restarted.nth('3 event(s) spooled by an earlier run')).toBeDefined();
    await eventually(() => onceEach(plainReceived(c), uuids).length === 0, 'the spooled events');
    restarted.proc.kill('SIGTERM');
    expect(await restarted.exited).toMatchObject({ code: 0, signal: null });
    expect(summaryIn(await restarted.line((l) => l.includes('closed: {')))).toMatchObject({ delivered: 3, spooled: 0, lost: 0 });
    expect(onceEach(plainReceived(c), uuids)).toEqual([]);
  });
});

describe('worker_threads: every thread sends through the one pump', () => {
  test('the events of the main thread and of two workers all arrive, once each', async () => {
    const c = await collector();
    const r = await new Promise((resolve) => {
      execFile(process.execPath, [recipe('worker-threads.mjs')], { env: { ...process.env, EVENT_ENDPOINT: c.url }, timeout: 60000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
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
    const primary = start([recipe('cluster.mjs')], { EVENT_ENDPOINT: c.url, EVENT_SPOOL_DIR: tempDir('ned-cluster-'), PORT: '0' });
    const firstTwo = [await primary.nth('worker', 1), await primary.nth('worker', 2)];
    for (const line of firstTwo) expect(line).toMatch(/^worker \d+ listening on port \d+; adopted 0 spooled event\(s\)$/);
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
    expect(await primary.nth('worker', 4)).toMatch(new RegExp(`^worker \\d+ listening on port \\d+; adopted ${orphaned} spooled event\\(s\\)$`));

    c.back();
    const uuids = sent.map((e) => e.uuid);
    await eventually(() => onceEach(plainReceived(c), uuids).length === 0, 'every event');

    primary.proc.kill('SIGTERM');
    expect(await primary.exited).toMatchObject({ code: 0, signal: null });
    expect(onceEach(plainReceived(c), uuids)).toEqual([]);
    expect(plainReceived(c).size).toBe(10);
  });
});
