// Kubernetes: a service that records an event for each job it runs, and shuts down within the
// pod's grace period. Deployment settings that go with it:
//   terminationGracePeriodSeconds: 30         (the default)
//   lifecycle.preStop: sleep 5                (the pod leaves the Service's endpoints first)
//   env EVENT_SPOOL_DIR=/var/spool/events     (a volume: emptyDir, or a PersistentVolume)
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events PORT=3000 node examples/recipes/kubernetes.mjs
//   curl -X POST http://127.0.0.1:3000/jobs
// - On SIGTERM handleProcessExit closes the dispatcher within closeTimeoutMs while the server
//   finishes its requests; what is not delivered by then is spooled, and the process ends by itself.
// - The budget: the kubelet sends SIGKILL terminationGracePeriodSeconds after it began the
//   shutdown, preStop included. closeTimeoutMs < grace - preStop - the app's own shutdown, with a
//   margin: 30 s - 5 s - 5 s → 15 000 ms here (CLOSE_TIMEOUT_MS).
// - Readiness: with the preStop sleep, SIGTERM comes after the endpoints controller has stopped
//   sending traffic here, so the readiness probe needs no shutdown state of its own; without one,
//   fail readiness on SIGTERM and keep serving a few seconds before server.close().
// - The spool: an emptyDir survives container restarts (the next start delivers what the last one
//   spooled), not the pod's deletion; a ReadWriteMany PersistentVolume shared by the replicas is one
//   root for all of them: each journals in its own slot, and adopts what a gone pod left.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createDispatcher } from 'native-event-dispatcher';

const ENDPOINT = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';

const dispatcher = createDispatcher({
  endpoint: ENDPOINT,
  spoolDir: process.env.EVENT_SPOOL_DIR,
  handleProcessExit: true,
  closeTimeoutMs: Number(process.env.CLOSE_TIMEOUT_MS ?? 15000),
  logger: console, // says what it delivered, spooled or lost when it closes
});
const inherited = dispatcher.stats().inherited;
if (inherited > 0)
  console.log(`${inherited} event(s) spooled by an earlier run: delivering them first`);

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.end('ok');
    return;
  }
  if (req.method !== 'POST' || req.url !== '/jobs') {
    res.writeHead(404).end();
    return;
  }
  const job = { event: 'job_completed', uuid: randomUUID(), at: new Date().toISOString() };
  // Refused only once closed without a spool (a request that outlives the shutdown): say so.
  dispatcher
    .send('POST', ENDPOINT, job)
    .catch((err) => console.warn(`event not recorded: ${err.message}`));
  res
    .writeHead(202, { 'content-type': 'application/json' })
    .end(JSON.stringify({ uuid: job.uuid }));
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});

// The dispatcher's own handler closes it; this one stops the server. With a listener of the
// application's, the dispatcher does not re-raise the signal: the process ends once both are done.
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close();
});
