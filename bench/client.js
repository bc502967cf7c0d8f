'use strict';
// One measurement in its own process: node client.js '<json spec>' → one JSON line on stdout.
// spec: { client, url, mode: 'closed' | 'rate', inFlight, rate, warmupMs, durationMs, caFile, http2 }
//   closed: `inFlight` lanes send back to back (saturation); throughput is completions per second.
//   rate:   an open loop at `rate` requests per second.
// CPU per event, by thread: the load runs in two phases (warm-up, then the measured one); after
// each, sending stops, every request settles and the pump goes idle, so the measured window starts
// and ends with nothing in flight and every request sent in it is counted in it. The pump adds its
// thread's CPU to pumpStats().cpuMs only when a run ends, which is why it must be idle at both ends.
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const { CLIENTS } = require('./clients');
const { eventBatch } = require('../demo/event-batch');
const { mainThreadClock } = require('../demo/thread-cpu');

const spec = JSON.parse(process.argv[2]);
const PUMP_IDLE_WAIT_MS = 2000; // the pump lingers a few ms after its last transfer
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clock = mainThreadClock();

// The serialise-only floor, run in this process for the paired measurement below: what the
// serialise client does (build and stringify the batch, settle on the next turn).
const FLOOR = CLIENTS.serialise();
const PAIRS = 16;
const PAIR_PHASE_MS = 250;

// One phase of the open loop at spec.rate with `client`, `ms` long, then until every request it
// sent has settled: the main thread's CPU per request, in µs.
function ratePhase(client, ms) {
  return new Promise((resolve) => {
    const start = performance.now();
    const c0 = clock.read();
    const all = [];
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * spec.rate);
      for (; sent < due; sent++) all.push(client.send(eventBatch(10)).catch(() => 0));
      if (performance.now() - start < ms) return;
      clearInterval(timer);
      Promise.all(all).then(() => resolve((clock.read() - c0) / 1000 / sent));
    }, 5);
  });
}

// The main thread's cost beyond serialisation, measured so that this machine's drift cancels: the
// floor and the client alternate in one process, in short phases, and the median of the pairs'
// differences counts. The order within a pair alternates (floor first, then client first), so
// what going first or second does to a phase cancels too. Checked with a second copy of the floor
// in place of the client: medians of -0.7 to +0.4 µs in three runs (5 pairs of 0.8 s, floor
// always first: -2.1 to -0.6 µs); across processes, the floor and a client differ by more than
// 10 µs for nothing.
async function pairedBeyondFloor(client) {
  const diffs = [];
  await ratePhase(FLOOR, PAIR_PHASE_MS);
  for (let i = 0; i < PAIRS; i++) {
    if (i % 2 === 0) {
      const floor = await ratePhase(FLOOR, PAIR_PHASE_MS);
      diffs.push((await ratePhase(client, PAIR_PHASE_MS)) - floor);
    } else {
      const cost = await ratePhase(client, PAIR_PHASE_MS);
      diffs.push(cost - (await ratePhase(FLOOR, PAIR_PHASE_MS)));
    }
  }
  diffs.sort((x, y) => x - y);
  return diffs[diffs.length >> 1];
}

// Sends until stop(); `tally` counts what settles: every request, and those settled while
// `tally.counting` (the throughput window).
function startLoad(client, tally) {
  let stopped = false;
  const outstanding = [];
  const onDone = (status) => {
    tally.settled += 1;
    if (status >= 200 && status < 300) {
      if (tally.counting) tally.completed += 1;
    } else {
      tally.errors += 1;
      tally.firstError = tally.firstError || `status ${status}`;
    }
  };
  const onError = (err) => {
    tally.settled += 1;
    tally.errors += 1;
    tally.firstError = tally.firstError || (err && (err.code || err.message));
  };
  let timer = null;
  if (spec.mode === 'closed') {
    const lane = async () => {
      while (!stopped) await client.send(eventBatch(10)).then(onDone, onError);
    };
    for (let i = 0; i < spec.inFlight; i++) outstanding.push(lane());
  } else {
    // Open loop: every 5 ms, send what the rate says is due, whatever came back.
    const start = performance.now();
    let sent = 0;
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * spec.rate);
      for (; sent < due; sent++)
        outstanding.push(client.send(eventBatch(10)).then(onDone, onError));
    }, 5);
  }
  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.all(outstanding);
    },
  };
}

// True once the pump holds no thread and nothing is pending (clients without a pump: at once).
async function pumpIdle(client) {
  if (!client.pumpStats) return true;
  for (let waited = 0; waited < PUMP_IDLE_WAIT_MS; waited += 1) {
    const s = client.pumpStats();
    if (!s.pumpRunning && s.pending === 0) return true;
    await sleep(1);
  }
  return false;
}

function snapshot(client) {
  const cpu = process.cpuUsage();
  const pump = client.pumpStats ? client.pumpStats() : null;
  return {
    mainNs: clock.read(),
    processUs: cpu.user + cpu.system,
    // The fallback transport has no pump thread (and no cpuMs): 0.
    pumpMs: pump && typeof pump.cpuMs === 'number' ? pump.cpuMs : 0,
    pumpRuns: pump && typeof pump.pumpRuns === 'number' ? pump.pumpRuns : 0,
    maxThreads: pump && typeof pump.maxThreads === 'number' ? pump.maxThreads : null,
  };
}

async function main() {
  const client = CLIENTS[spec.client]({ ...spec });
  if (!client) {
    console.log(JSON.stringify({ skipped: true }));
    return;
  }
  const newTally = () => ({
    settled: 0,
    completed: 0,
    errors: 0,
    firstError: null,
    counting: false,
  });
  const warm = newTally();
  const warmup = startLoad(client, warm);
  await sleep(spec.warmupMs);
  await warmup.stop();
  const idleBefore = await pumpIdle(client);
  const tally = newTally();

  const a = snapshot(client);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  tally.counting = true;
  const load = startLoad(client, tally);
  await sleep(spec.durationMs);
  tally.counting = false;
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  delay.disable();
  await load.stop();
  const idleAfter = await pumpIdle(client);
  const b = snapshot(client);
  const paired =
    spec.mode === 'rate' && spec.client !== 'serialise' ? await pairedBeyondFloor(client) : null;
  await client.close();

  const requests = tally.settled; // every request sent in the measured window settled in it
  const per = (total) => (requests ? total / requests : null);
  const mainUs = (b.mainNs - a.mainNs) / 1000;
  const processUs = b.processUs - a.processUs;
  // A pump still running at either end has CPU not yet added to cpuMs: no figure rather than a wrong one.
  const pumpUs = idleBefore && idleAfter ? (b.pumpMs - a.pumpMs) * 1000 : null;
  console.log(
    JSON.stringify({
      throughput: tally.completed / seconds,
      completed: tally.completed,
      requests,
      errors: warm.errors + tally.errors, // warm-up included: an error anywhere shows
      firstError: warm.firstError || tally.firstError,
      elu,
      mainClock: clock.kind,
      mainCpuUsPerReq: per(mainUs),
      mainBeyondFloorPairedUs: paired,
      pumpCpuUsPerReq: pumpUs === null ? null : per(pumpUs),
      otherCpuUsPerReq: pumpUs === null ? null : per(processUs - mainUs - pumpUs),
      processCpuUsPerReq: per(processUs),
      pumpRunsPerReq: per(b.pumpRuns - a.pumpRuns),
      maxThreads: b.maxThreads,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(JSON.stringify({ failed: String((err && err.stack) || err) }));
    process.exit(1);
  },
);
