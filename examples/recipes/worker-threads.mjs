// worker_threads: the main thread hands jobs to two workers, and every thread records its own
// events with a dispatcher of its own.
//   EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node examples/recipes/worker-threads.mjs
// - Every thread that loads the package shares the process's one pump (one threadpool thread for
//   libcurl, one connection pool): a dispatcher in a worker costs no thread of its own.
// - A dispatcher belongs to the thread that made it; a worker closes its own before it ends, and
//   close() delivers what it still holds.
// - A worker terminated (worker.terminate()) loses only its own transfers in flight — the other
//   threads' go on; with a spoolDir, what it had journaled is adopted by the next dispatcher that
//   starts on that root (on the fallback transport: in the next process).
import { Worker, isMainThread, parentPort, workerData, threadId } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { createDispatcher } from 'native-event-dispatcher';

const ENDPOINT = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';

const dispatcher = createDispatcher({ endpoint: ENDPOINT });
const record = (event) =>
  dispatcher.send('POST', ENDPOINT, {
    event,
    uuid: randomUUID(),
    thread: threadId,
    at: new Date().toISOString(),
  });

if (isMainThread) {
  record('batch_started');
  const workers = [
    ['invoices', 3],
    ['reports', 2],
  ].map(([queue, jobs]) => new Worker(new URL(import.meta.url), { workerData: { queue, jobs } }));
  const done = await Promise.all(
    workers.map(
      (worker) =>
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  for (const { queue, summary } of done) console.log(`${queue}: ${JSON.stringify(summary)}`);
  record('batch_finished');
  console.log(`main: ${JSON.stringify(await dispatcher.close())}`);
} else {
  for (let job = 0; job < workerData.jobs; job++) record(`${workerData.queue}_job_done`);
  parentPort.postMessage({ queue: workerData.queue, summary: await dispatcher.close() });
}
