'use strict';
// An embedded event collector on 127.0.0.1: accepts EventBatch POSTs, answers 204, and counts
// requests, batches, visitors and distinct event uuids. `failRate` makes it fail that share of
// requests transiently (a 503 with `retry-after: 0`) so retries can be shown delivering everything
// anyway; those injected failures are counted too. It runs on its own thread (a worker), so that
// receiving and parsing the events never counts as main-thread work when the demo measures what
// the dispatcher costs the main thread.
const http = require('node:http');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { uuidsOf } = require('./event-batch');

// Counts one accepted batch. Delivery is at-least-once (a retry after a lost answer can bring a
// batch twice), so a visitor entry counts only when it carries an event uuid not seen before;
// entries that bring nothing new are counted apart as redeliveries, as a real collector would.
function countBatch(stats, batch) {
  stats.batches += 1;
  for (const visitor of Array.isArray(batch.visitors) ? batch.visitors : []) {
    const uuids = uuidsOf({ visitors: [visitor] });
    const fresh = uuids.filter((uuid) => !stats.uuids.has(uuid));
    for (const uuid of fresh) stats.uuids.add(uuid);
    if (fresh.length > 0 || uuids.length === 0) stats.visitors += 1;
    else stats.redelivered += 1;
  }
}

// The worker's side: the server, and answers to { stats: run } and 'close'. Each run (the `run`
// query parameter; '' without one) is counted apart, so that runs through different dispatchers
// never count each other's events.
function serve({ failRate }) {
  const runs = new Map();
  const statsOf = (run) => {
    if (!runs.has(run)) {
      runs.set(run, {
        requests: 0,
        injected: 0,
        batches: 0,
        visitors: 0,
        redelivered: 0,
        uuids: new Set(),
        bytes: 0,
      });
    }
    return runs.get(run);
  };
  const server = http.createServer((req, res) => {
    const stats = statsOf(new URL(req.url, 'http://collector').searchParams.get('run') || '');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.requests += 1;
      if (failRate > 0 && Math.random() < failRate) {
        // Transient by design: 503 is retried, and `retry-after: 0` lets the retry come at once.
        stats.injected += 1;
        res.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      const body = Buffer.concat(chunks);
      stats.bytes += body.length;
      let batch;
      try {
        batch = JSON.parse(body);
      } catch {
        res.writeHead(400).end('invalid JSON');
        return;
      }
      countBatch(stats, batch);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(0, '127.0.0.1', () => {
    // a port chosen by the OS: never clashes with others
    parentPort.postMessage({ port: server.address().port });
  });
  parentPort.on('message', (message) => {
    if (message !== null && typeof message === 'object' && typeof message.stats === 'string') {
      const { uuids, ...counts } = statsOf(message.stats);
      parentPort.postMessage({ stats: { ...counts, distinctUuids: uuids.size } });
    } else if (message === 'close') {
      server.closeAllConnections();
      server.close(() => parentPort.close());
    }
  });
}

// { url, urlFor(run), stats(run) → Promise of the counts, close() }: `url` counts as the run ''.
async function startCollector({ failRate = 0 } = {}) {
  const worker = new Worker(__filename, { workerData: { demoCollector: true, failRate } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const next = () =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`the embedded collector exited (code ${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (message) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        resolve(message);
      });
    });
  const { port } = await next();
  const url = `http://127.0.0.1:${port}/v1/events`;
  return {
    url,
    urlFor: (run) => `${url}?run=${encodeURIComponent(run)}`,
    stats: async (run = '') => {
      const answer = next();
      worker.postMessage({ stats: run });
      return (await answer).stats;
    },
    close: async () => {
      worker.postMessage('close');
      await exited;
    },
  };
}

if (!isMainThread && workerData && workerData.demoCollector) serve(workerData);

module.exports = { startCollector };
