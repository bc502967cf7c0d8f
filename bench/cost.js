'use strict';
// node bench/cost.js [--client dispatcher|dispatchEvent] [--pairs N] [--closed]
// What one event costs the main thread, measured so that this machine's noise cancels out: a
// fixed-rate phase that sends a pre-serialised 7 KB EventBatch alternates with a baseline phase
// that runs the same timers and promises without a request, in one process; the median of the
// differences is the transport's own main-thread cost per event (serialisation excluded). With
// --closed: 64 lanes back to back instead, requests/s and main-thread µs per request.
// Uses the bench's nginx (bench/collectors.js). Main-thread CPU: /proc/self/task/<pid>/schedstat.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startLoopbackCollectors } = require('./collectors');
const { eventBatch } = require('../demo/event-batch');

const args = process.argv.slice(2);
const value = (name, fallback) =>
  args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback;
const CLIENT = value('client', 'dispatcher');
const PAIRS = Number(value('pairs', 8));
const RATE = 2000;
const cpu = () =>
  Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
const switches = () =>
  Number(
    /voluntary_ctxt_switches:\s+(\d+)/.exec(
      fs.readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8'),
    )[1],
  );
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const collectors = await startLoopbackCollectors(
    fs.mkdtempSync(path.join(os.tmpdir(), 'ned-cost-')),
  );
  const url = `http://127.0.0.1:${collectors.plainPort}/v1/events`;
  const ned = require('..');
  ned.setConnectionLimits({ maxConnectionsPerHost: 64, maxConnections: 64, maxInFlight: 64 });
  const d = ned.createDispatcher({ maxInFlight: 64 });
  const body = JSON.stringify(eventBatch(10));
  let done = 0;
  const real =
    CLIENT === 'dispatchEvent'
      ? () =>
          ned.dispatchEvent('POST', url, body).then(() => {
            done += 1;
          })
      : () =>
          d.send('POST', url, body).then(() => {
            done += 1;
          });
  const baseline = () =>
    Promise.resolve().then(() => {
      done += 1;
    });
  try {
    if (args.includes('--closed')) {
      let stop = false;
      let count = 0;
      const lane = async () => {
        while (!stop) {
          await real();
          count += 1;
        }
      };
      const lanes = Array.from({ length: 64 }, lane);
      await sleep(1000);
      const [c0, t0, u0] = [count, performance.now(), cpu()];
      await sleep(4000);
      const n = count - c0;
      console.log(
        `${CLIENT}, 64 lanes: ${Math.round((n / (performance.now() - t0)) * 1000)} requests/s, main thread ${((cpu() - u0) / 1000 / n).toFixed(1)} µs per request`,
      );
      stop = true;
      await Promise.all(lanes);
      return;
    }
    const phase = (send, ms) =>
      new Promise((resolve) => {
        const start = performance.now();
        const [d0, c0, w0] = [done, cpu(), switches()];
        let sent = 0;
        const timer = setInterval(async () => {
          const due = Math.floor(((performance.now() - start) / 1000) * RATE);
          for (; sent < due; sent++) send();
          if (performance.now() - start < ms) return;
          clearInterval(timer);
          while (done - d0 < sent) await sleep(1);
          resolve([(cpu() - c0) / sent / 1000, (switches() - w0) / sent]);
        }, 5);
      });
    await phase(real, 1000);
    await phase(baseline, 500);
    const diffs = [];
    const wakes = [];
    for (let i = 0; i < PAIRS; i++) {
      const [a, wa] = await phase(baseline, 1000);
      const [b, wb] = await phase(real, 1000);
      diffs.push(b - a);
      wakes.push(wb - wa);
    }
    wakes.sort((x, y) => x - y);
    diffs.sort((x, y) => x - y);
    const s = ned.pumpStats();
    console.log(
      `${CLIENT} at ${RATE}/s: main thread ${diffs[diffs.length >> 1].toFixed(1)} µs per event beyond the baseline (median of ${PAIRS}: ${diffs.map((x) => x.toFixed(1)).join(' ')}); pump thread ${((s.cpuMs * 1000) / s.settled).toFixed(1)} µs per request; ${(s.settled / s.batches).toFixed(1)} completions per batch; ${wakes[wakes.length >> 1].toFixed(2)} more sleeps of the main thread per event`,
    );
  } finally {
    await d.close();
    await collectors.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
