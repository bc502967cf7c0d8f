'use strict';
// One measurement in its own process: node client.js '<json spec>' → one JSON line on stdout.
// spec: { client, url, mode: 'closed' | 'rate', inFlight, rate, warmupMs, durationMs, caFile, http2 }
//   closed: `inFlight` lanes send back to back; throughput is completions per second.
//   rate:   an open loop at `rate` requests per second; main-thread cost is what is measured.
const fs = require('node:fs');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const { CLIENTS } = require('./clients');
const { eventBatch } = require('../demo/event-batch');

const spec = JSON.parse(process.argv[2]);
const TICKS = 100; // USER_HZ on Linux

// CPU time of this process's main thread (its tid is the pid), in ms.
function mainThreadCpuMs() {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

async function main() {
  const client = CLIENTS[spec.client]({ ...spec });
  if (!client) {
    console.log(JSON.stringify({ skipped: true }));
    return;
  }
  let completed = 0;
  let errors = 0;
  let firstError = null;
  let measuring = false;
  let stopped = false;
  const onDone = (status) => {
    if (status >= 200 && status < 300) {
      if (measuring) completed += 1;
    } else {
      errors += 1;
      firstError = firstError || `status ${status}`;
    }
  };
  const onError = (err) => {
    errors += 1;
    firstError = firstError || (err && (err.code || err.message));
  };

  const lanes = [];
  let rateTimer = null;
  if (spec.mode === 'closed') {
    const lane = async () => {
      while (!stopped) await client.send(eventBatch(10)).then(onDone, onError);
    };
    for (let i = 0; i < spec.inFlight; i++) lanes.push(lane());
  } else {
    // Open loop: every 5 ms, send what the rate says is due, whatever came back.
    const start = performance.now();
    let sent = 0;
    rateTimer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * spec.rate);
      for (; sent < due; sent++) lanes.push(client.send(eventBatch(10)).then(onDone, onError));
    }, 5);
  }

  await new Promise((r) => setTimeout(r, spec.warmupMs));
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, spec.durationMs));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const mainMs = mainThreadCpuMs() - main0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  delay.disable();
  stopped = true;
  if (rateTimer) clearInterval(rateTimer);
  await Promise.all(lanes);
  await client.close();
  console.log(JSON.stringify({
    throughput: completed / seconds,
    completed,
    errors,
    firstError,
    elu,
    mainCpuUsPerReq: completed ? (mainMs * 1000) / completed : null,
    processCpuUsPerReq: completed ? (cpu.user + cpu.system) / completed : null,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }));
}

main().then(() => process.exit(0), (err) => {
  console.log(JSON.stringify({ failed: String(err && err.stack || err) }));
  process.exit(1);
});
