'use strict';
// A test collector on 127.0.0.1 for Optimizely-shaped batches. `plan(n, record)` decides the
// answer to the n-th request (0-based): 'ok' (204), { status, headers, body }, 'reset' (RST before
// any answer), 'reset-mid' (headers, part of the body, then RST), 'hang' (never answers) or
// 'close' (closes without a word). Uuids count as received only from requests answered 2xx.
const http = require('node:http');

function uuidsOf(batch) {
  const out = [];
  for (const v of (batch && batch.visitors) || []) {
    for (const s of v.snapshots || []) for (const e of s.events || []) if (e.uuid) out.push(e.uuid);
  }
  return out;
}

async function startCollector(plan = () => 'ok', { port = 0 } = {}) {
  const requests = [];
  const received = new Map(); // uuid -> times received (2xx only)
  const hanging = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      const body = Buffer.concat(chunks).toString('utf8');
      let batch = null;
      try {
        batch = JSON.parse(body);
      } catch {
        /* not JSON */
      }
      const record = {
        n,
        at: Date.now(),
        method: req.method,
        url: req.url,
        headers: req.headers,
        body,
        batch,
      };
      requests.push(record);
      let action = plan(n, record);
      if (action === 'ok' || action === undefined) action = { status: 204 };
      record.action = typeof action === 'string' ? action : action.status;
      if (action === 'hang') {
        hanging.push(res);
        return;
      }
      if (action === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (action === 'close') {
        req.socket.destroy();
        return;
      }
      if (action === 'reset-mid') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        setImmediate(() => req.socket.resetAndDestroy());
        return;
      }
      if (action.status >= 200 && action.status < 300) {
        for (const uuid of uuidsOf(batch)) received.set(uuid, (received.get(uuid) || 0) + 1);
      }
      res.writeHead(action.status, action.headers || {});
      res.end(action.body || '');
    });
  });
  server.keepAliveTimeout = 30000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  return {
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}/v1/events`,
    requests,
    received,
    hanging,
    close() {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startCollector, uuidsOf };
