'use strict';
// A collector standing in for a far endpoint: answers 204 after a fixed delay. Also the Node
// fallback for (a) with delay 0 when nginx is missing, and the soak collector (failing 1 in N).
//   node slow-collector.js <delayMs> [failEvery] — prints its port, then serves until killed.
const http = require('node:http');

const delayMs = Number(process.argv[2] || 20);
const failEvery = Number(process.argv[3] || 0);
const SEQ = /"uuid":"00000000-0000-4000-8000-(\d{12})"/g;
let requests = 0;
const seen = failEvery ? new Uint8Array(2_000_000) : null;
let distinct = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests += 1;
    const answer = () => {
      if (failEvery && requests % failEvery === 0) {
        res.writeHead(503).end();
        return;
      }
      if (seen) {
        const body = Buffer.concat(chunks).toString('latin1');
        for (const m of body.matchAll(SEQ)) {
          const n = Number(m[1]);
          if (!seen[n]) {
            seen[n] = 1;
            distinct += 1;
          }
        }
      }
      res.writeHead(204).end();
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 75000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
// The soak asks for its counts on stdin.
process.stdin.on('data', () => {
  process.stdout.write(`${JSON.stringify({ requests, distinct })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
