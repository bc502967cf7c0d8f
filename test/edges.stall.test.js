'use strict';
// A main thread that stalls (a long callback) must not turn answers that arrived meanwhile into
// timeouts: timers run before the poll phase that reads the sockets. On both transports, each in a
// child process (NATIVE_EVENT_DISPATCHER_TRANSPORT set) whose server runs in a worker thread, so
// that it answers while the child's main thread is stalled.
const path = require('node:path');
const { spawnNode } = require('./helpers/processes');

const ROOT = JSON.stringify(path.join(__dirname, '..'));

// The worker's server: it holds the requests to /v1/events until `hold` of them (and `hung` to
// /hang, which it never answers) have arrived, says so, and answers the held ones when told.
// shared[0]: responses written out; shared[1]: requests to /v1/events, ever.
const SERVER = `
  const http = require('node:http');
  const { parentPort, workerData } = require('node:worker_threads');
  const shared = new Int32Array(workerData.shared);
  const held = [];
  let hung = 0;
  const check = () => {
    if (held.length === workerData.hold && hung === workerData.hung) parentPort.postMessage({ held: held.length });
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/hang') {
        hung += 1;
      } else {
        Atomics.add(shared, 1, 1);
        held.push(res);
      }
      check();
    });
  });
  server.keepAliveTimeout = 30000;
  parentPort.on('message', () => {
    for (const res of held.splice(0)) {
      res.on('finish', () => Atomics.add(shared, 0, 1));
      res.end('ok');
    }
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
`;

// Runs `send` (code that starts the requests and resolves their outcomes, given `ned`, `url`,
// `hangUrl` and `args`) in a child on `transport`. Once the server holds them all, the child's main
// thread stalls inside the 'message' callback that says so: it tells the server to answer, then
// busy-waits 3 s, and at least until the server has written every answer. Resolves the child's
// report: { outcomes, seen } (seen: requests to /v1/events the server got).
async function stalled(transport, send, args) {
  const { exited } = spawnNode(
    `
    const { Worker } = require('node:worker_threads');
    const ned = require(${ROOT});
    const args = ${JSON.stringify(args)};
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(${JSON.stringify(SERVER)}, { eval: true,
      workerData: { shared: shared.buffer, hold: args.n, hung: args.hung || 0 } });
    const next = () => new Promise((resolve) => worker.once('message', resolve));
    (async () => {
      const { port } = await next();
      const url = 'http://127.0.0.1:' + port + '/v1/events';
      const hangUrl = 'http://127.0.0.1:' + port + '/hang';
      const held = new Promise((resolve) => worker.once('message', () => {
        worker.postMessage('answer');
        const began = Date.now();
        while ((Date.now() - began < 3000 || Atomics.load(shared, 0) < args.n) && Date.now() - began < 30000);
        resolve();
      }));
      const outcomes = await (async () => { ${send} })();
      await held;
      console.log(JSON.stringify({ outcomes, seen: Atomics.load(shared, 1), answered: Atomics.load(shared, 0) }));
      await worker.terminate();
      process.exit(0);
    })().catch((err) => {
      console.error(err);
      process.exit(1);
    });
  `,
    { NATIVE_EVENT_DISPATCHER_TRANSPORT: transport },
  );
  const { code, stdout, stderr } = await exited;
  if (code !== 0) throw new Error(`the child failed (${code}): ${stderr}`);
  return JSON.parse(stdout);
}

// Counted outcomes: status codes and failure codes.
const TALLY = `
  const tally = {};
  for (const outcome of outcomes) tally[outcome] = (tally[outcome] || 0) + 1;
  return tally;
`;

describe.each(['native', 'fallback'])('%s transport', (transport) => {
  test.each([1, 64])(
    '%i answered request(s), the main thread stalled 3 s while they arrived: all 200, none timed out (timeoutMs 1000)',
    async (n) => {
      const report = await stalled(
        transport,
        `
      const sends = Array.from({ length: args.n }, (_, i) => ned.dispatchEvent('POST', url, { i }, { timeoutMs: 1000 })
        .then((r) => r.statusCode, (e) => e.code));
      const outcomes = await Promise.all(sends);
      ${TALLY}
    `,
        { n },
      );
      expect(report.outcomes).toEqual({ 200: n }); // 0.1 fallback: every one ETIMEDOUT
      expect(report.seen).toBe(n);
    },
  );

  test('a request the server never answers still times out after the stall, beside 16 that were answered', async () => {
    const report = await stalled(
      transport,
      `
      const outcome = (p) => p.then((r) => r.statusCode, (e) => e.code);
      const answered = Array.from({ length: args.n }, (_, i) => outcome(ned.dispatchEvent('POST', url, { i }, { timeoutMs: 1000 })));
      const hung = Array.from({ length: args.hung }, (_, i) => outcome(ned.dispatchEvent('POST', hangUrl, { i }, { timeoutMs: 1000 })));
      const outcomes = await Promise.all([...answered, ...hung]);
      ${TALLY}
    `,
      { n: 16, hung: 2 },
    );
    expect(report.outcomes).toEqual({ 200: 16, ETIMEDOUT: 2 });
    expect(report.seen).toBe(16);
  });

  test('through a dispatcher: 64 events, the main thread stalled 3 s while their answers arrived: 64 delivered, each sent once', async () => {
    const report = await stalled(
      transport,
      `
      const d = ned.createDispatcher({ timeoutMs: 1000 });
      const results = Array.from({ length: args.n }, (_, i) => d.dispatchEvent({ url, httpVerb: 'POST', params: { i } }));
      const summary = await d.close();
      const statuses = await Promise.all(results);
      return { summary: { delivered: summary.delivered, lost: summary.lost, failed: summary.failed }, ok: statuses.filter((r) => r.statusCode === 200).length };
    `,
      { n: 64 },
    );
    expect(report.outcomes).toEqual({ summary: { delivered: 64, lost: 0, failed: 0 }, ok: 64 });
    expect(report.seen).toBe(64); // 0.1 fallback: more (timed-out requests were sent again)
  });
});

test('on both transports a server that never answers gives ETIMEDOUT (no stall)', async () => {
  for (const transport of ['native', 'fallback']) {
    const { code, stdout } = await spawnNode(
      `
      const http = require('node:http');
      const ned = require(${ROOT});
      const server = http.createServer(() => {}).listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/hang';
        const codes = await Promise.all([50, 300].map((timeoutMs) => ned.dispatchEvent('POST', url, {}, { timeoutMs }).then((r) => r.statusCode, (e) => e.code)));
        console.log(JSON.stringify(codes));
        process.exit(0);
      });
    `,
      { NATIVE_EVENT_DISPATCHER_TRANSPORT: transport },
    ).exited;
    expect({ transport, code, codes: JSON.parse(stdout) }).toEqual({
      transport,
      code: 0,
      codes: ['ETIMEDOUT', 'ETIMEDOUT'],
    });
  }
});
