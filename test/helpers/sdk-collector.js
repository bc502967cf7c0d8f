'use strict';
// A collector on 127.0.0.1 for the SDK tests: records every request exactly as it arrived (raw
// header pairs in order, the body's bytes) and answers from a plan:
//   plan(record, index) → { status = 200, headers = {}, body = '' } (or a promise of one)
const http = require('node:http');
const zlib = require('node:zlib');

async function startSdkCollector(plan = () => ({})) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method,
        path: req.url,
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body,
        // The body as the SDK meant it: gunzipped when it says gzip.
        get text() {
          return (
            req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(body) : body
          ).toString('utf8');
        },
        get json() {
          return JSON.parse(this.text);
        },
      };
      const index = requests.push(record) - 1;
      let answer;
      try {
        answer = (await plan(record, index)) || {};
      } catch (err) {
        answer = { status: 500, body: String(err && err.stack) };
      }
      let payload = answer.body === undefined ? '' : answer.body;
      if (typeof payload !== 'string' && !Buffer.isBuffer(payload))
        payload = JSON.stringify(payload);
      const status = answer.status || 200;
      const headers = { ...(answer.headers || {}) };
      if (status !== 204 && status !== 304) headers['Content-Length'] = Buffer.byteLength(payload);
      res.writeHead(status, headers);
      res.end(payload);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    requests,
    // Header names as sent, in lower case, for requests `i` (order kept, repeats kept).
    headerNames(i) {
      const raw = requests[i].rawHeaders;
      const names = [];
      for (let k = 0; k < raw.length; k += 2) names.push(raw[k].toLowerCase());
      return names;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// Waits, a bounded number of turns, until `predicate()` holds; throws with `what` otherwise.
async function until(predicate, what, { timeoutMs = 15000, stepMs = 10 } = {}) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

module.exports = { startSdkCollector, until };
