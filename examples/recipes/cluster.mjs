// node:cluster: WORKERS processes serving HTTP on one port, all with ONE spool root. The same
// shape under pm2 (pm2 start cluster.mjs -i 2; pm2 is the primary then): one EVENT_SPOOL_DIR for
// every instance, and kill_timeout above closeTimeoutMs (pm2 stops an instance with SIGINT, which
// handleProcessExit handles too, and SIGKILLs it kill_timeout later: 1600 ms by default).
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events EVENT_SPOOL_DIR=/var/spool/events PORT=3000 node examples/recipes/cluster.mjs
//   curl -X POST http://127.0.0.1:3000/events
// - Each worker's dispatcher journals in a slot of its own under the root: none locks the others
//   out, and none sends another's events while that one lives.
// - A worker that dies (a crash, the OOM killer) leaves its slot behind; the next one that starts
//   (the primary forks a replacement) adopts it and delivers what it held, each event once.
// - The primary sends nothing: it forks, replaces, and passes SIGTERM on; each worker closes its
//   dispatcher within closeTimeoutMs (handleProcessExit), and what is not delivered stays spooled.
import cluster from 'node:cluster';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createDispatcher } from 'native-event-dispatcher';

const WORKERS = 2;
const ENDPOINT = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';

if (cluster.isPrimary) {
  // Checked once, here: without it every worker would fail at start, be replaced, and fail again.
  if (!process.env.EVENT_SPOOL_DIR)
    throw new Error('Set EVENT_SPOOL_DIR: the spool root every worker shares');
  let stopping = false;
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${worker.process.pid} died (${signal ?? code}): starting another`);
    cluster.fork();
  });
  process.once('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  const dispatcher = createDispatcher({
    endpoint: ENDPOINT,
    spoolDir: process.env.EVENT_SPOOL_DIR,
    handleProcessExit: true,
    closeTimeoutMs: 10000,
  });
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/events') {
      res.writeHead(404).end();
      return;
    }
    const event = {
      event: 'signup',
      uuid: randomUUID(),
      worker: process.pid,
      at: new Date().toISOString(),
    };
    dispatcher.send('POST', ENDPOINT, event); // after the dispatcher closed: spooled for the next worker
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ uuid: event.uuid, worker: process.pid }));
  });
  server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
    console.log(
      `worker ${process.pid} listening on port ${server.address().port}; adopted ${dispatcher.stats().inherited} spooled event(s)`,
    );
  });
  // Stops taking connections and lets go of the primary's channel; handleProcessExit closes the
  // dispatcher meanwhile, and the worker ends once both are done.
  process.on('SIGTERM', () => cluster.worker.disconnect());
}
