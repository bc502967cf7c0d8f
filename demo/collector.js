'use strict';
// An embedded event collector on 127.0.0.1: accepts EventBatch POSTs, answers 204, and counts
// requests, batches, visitors and distinct event uuids. `failRate` makes it fail that share of
// requests transiently (a 503 with `retry-after: 0`) so retries can be shown delivering everything
// anyway; those injected failures are counted too.
const http = require('node:http');
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

async function startCollector({ failRate = 0 } = {}) {
  const stats = {
    requests: 0, injected: 0, batches: 0, visitors: 0, redelivered: 0, uuids: new Set(), bytes: 0,
  };
  const server = http.createServer((req, res) => {
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
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve); // a port chosen by the OS: never clashes with others
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/events`,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

module.exports = { startCollector };
