'use strict';
// The "8 workers" scenario in its own process: node workers.js '<json spec>' → one JSON line.
// spec: { client: 'dispatcher' | 'undici' | 'none', workers, inFlight, connections, url, warmupMs,
//         durationMs }
// Each worker_thread sends back to back (`inFlight` lanes) to the collector while the main thread
// runs a small threadpool job in a loop — fs.stat, then crypto.pbkdf2 — and records how long each
// job took, waiting for a pool thread included. run.js starts it with UV_THREADPOOL_SIZE unset: the
// default 4-thread pool, the one a server has unless it was tuned. 'none' is the baseline: the
// same jobs with no worker sending.
const crypto = require('node:crypto');
const fsp = require('node:fs/promises');
const { performance } = require('node:perf_hooks');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { CLIENTS } = require('./clients');
const { eventBatch } = require('../demo/event-batch');

// About 1 ms of CPU on a current x86 core: a password check or a token signature, the kind of
// job a server hands to the pool all the time.
const PBKDF2_ITERATIONS = 5000;
const JOB_GAP_MS = 10; // between jobs: a steady trickle, not a flood of pool work
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pbkdf2() {
  return new Promise((resolve, reject) => {
    crypto.pbkdf2(
      'correct horse battery staple',
      'salt',
      PBKDF2_ITERATIONS,
      32,
      'sha256',
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

// Nearest rank.
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- a worker: sends until told to stop, counts completions while told to measure ----------------

async function runWorker() {
  const client = CLIENTS[workerData.client](workerData);
  let stopped = false;
  let counting = false;
  const tally = { completed: 0, errors: 0, firstError: null };
  const onDone = (status) => {
    if (status >= 200 && status < 300) {
      if (counting) tally.completed += 1;
    } else {
      tally.errors += 1;
      tally.firstError = tally.firstError || `status ${status}`;
    }
  };
  const onError = (err) => {
    tally.errors += 1;
    tally.firstError = tally.firstError || (err && (err.code || err.message));
  };
  const lane = async () => {
    while (!stopped) await client.send(eventBatch(10)).then(onDone, onError);
  };
  const lanes = Array.from({ length: workerData.inFlight }, lane);
  parentPort.on('message', async (message) => {
    if (message === 'measure') {
      counting = true;
      return;
    }
    counting = false;
    stopped = true;
    await Promise.all(lanes);
    const pump = client.pumpStats ? client.pumpStats() : null;
    await client.close();
    parentPort.postMessage({ ...tally, maxThreads: pump ? pump.maxThreads : null });
    parentPort.close();
  });
  parentPort.postMessage('ready');
}

// ---- the main thread: workers, and the job loop --------------------------------------------------

function startWorkers(spec) {
  return Array.from({ length: spec.client === 'none' ? 0 : spec.workers }, () => {
    const worker = new Worker(__filename, { workerData: spec });
    const ready = new Promise((resolve, reject) => {
      worker.once('message', (m) => (m && m.failed ? reject(new Error(m.failed)) : resolve()));
      worker.once('error', reject);
    });
    const result = new Promise((resolve, reject) => {
      ready.then(() => worker.once('message', resolve));
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new Error(`worker exited with ${code} before reporting`)),
      );
    });
    result.catch(() => {}); // awaited later; an early failure must not be unhandled meanwhile
    return { worker, ready, result };
  });
}

// Jobs back to back (with a short gap) until `untilMs`; the latency of each, in ms.
async function jobLoop(untilMs) {
  const latencies = [];
  while (performance.now() < untilMs) {
    const t = performance.now();
    await fsp.stat(__filename);
    await pbkdf2();
    latencies.push(performance.now() - t);
    await sleep(JOB_GAP_MS);
  }
  return latencies;
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const workers = startWorkers(spec);
  await Promise.all(workers.map((w) => w.ready));
  await sleep(spec.warmupMs);
  for (const w of workers) w.worker.postMessage('measure');
  const t0 = performance.now();
  const jobs = jobLoop(t0 + spec.durationMs);
  // The workers stop at the end of the window whatever the jobs do: a job stuck behind a full pool
  // finishes (late, and counted so) once they stop.
  await sleep(spec.durationMs);
  for (const w of workers) w.worker.postMessage('stop');
  const seconds = (performance.now() - t0) / 1000;
  const results = await Promise.all(workers.map((w) => w.result));
  const latencies = (await jobs).sort((x, y) => x - y);
  const perWorker = results.map((r) => r.completed / seconds);
  const maxThreads = results.map((r) => r.maxThreads).filter((n) => typeof n === 'number');
  console.log(
    JSON.stringify({
      throughput: perWorker.reduce((sum, x) => sum + x, 0),
      minWorkerThroughput: perWorker.length ? Math.min(...perWorker) : null,
      perWorker,
      errors: results.reduce((n, r) => n + r.errors, 0),
      firstError: (results.find((r) => r.firstError) || {}).firstError || null,
      jobs: latencies.length,
      jobP50Ms: percentile(latencies, 50),
      jobP99Ms: percentile(latencies, 99),
      jobMaxMs: latencies.length ? latencies[latencies.length - 1] : null,
      maxThreads: maxThreads.length ? Math.max(...maxThreads) : null,
      threadpoolSize: process.env.UV_THREADPOOL_SIZE || 'default (4)',
    }),
  );
}

if (isMainThread && require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.log(JSON.stringify({ failed: String((err && err.stack) || err) }));
      process.exit(1);
    },
  );
} else if (!isMainThread) {
  runWorker().catch((err) => {
    parentPort.postMessage({ failed: String((err && err.stack) || err) });
  });
}

// For the report's description of the job.
module.exports = { PBKDF2_ITERATIONS, JOB_GAP_MS };
