// A local event collector for the examples and recipes: answers every POST with 204 and prints
// what arrived, one line a request. Run: npm run collector   (or: node examples/collector.mjs)
// Listens on http://127.0.0.1:8080/v1/events; PORT=0 picks a free port (printed on the first line).
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
let requests = 0;
let visitors = 0;

// One line a request: what an Optimizely EventBatch carries (visitors, event keys, uuids), or
// just its size for any other body.
function describe(body) {
  let batch;
  try {
    batch = JSON.parse(body);
  } catch {
    return null;
  }
  if (!Array.isArray(batch?.visitors)) return `${body.length} bytes of JSON`;
  const events = batch.visitors.flatMap((v) => (v.snapshots ?? []).flatMap((s) => s.events ?? []));
  visitors += batch.visitors.length;
  return `${batch.visitors.length} visitor(s): ${events.map((e) => `${e.key} ${e.uuid}`).join(', ') || 'no events'}`;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    requests += 1;
    const what = describe(Buffer.concat(chunks).toString('utf8'));
    console.log(`${req.method} ${req.url} ${what ?? 'not JSON: answered 400'}`);
    res.writeHead(what === null ? 400 : 204).end();
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`collector listening on http://127.0.0.1:${server.address().port}/v1/events`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.log(`collector: ${requests} request(s), ${visitors} visitor(s)`);
    server.close();
    server.closeAllConnections();
  });
}
