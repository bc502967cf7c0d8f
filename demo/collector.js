'use strict';
// An embedded event collector on 127.0.0.1: accepts EventBatch POSTs, answers 204, and counts
// batches, visitors and distinct event uuids. `failRate` makes it fail that share of requests
// (a 503) so retries can be shown delivering everything anyway.
const http = require('node:http');
const { uuidsOf } = require('./event-batch');

async function startCollector({ failRate = 0 } = {}) {
  const stats = { requests: 0, failed: 0, batches: 0, visitors: 0, uuids: new Set(), bytes: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.requests += 1;
      if (failRate > 0 && Math.random() < failRate) {
        stats.failed += 1;
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
      stats.batches += 1;
      stats.visitors += Array.isArray(batch.visitors) ? batch.visitors.length : 0;
      for (const uuid of uuidsOf(batch)) stats.uuids.add(uuid);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/events`,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

module.exports = { startCollector };
