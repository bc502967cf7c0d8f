'use strict';
// npm run bench — every client in its own process, one after another, against the same
// collectors, several alternating rounds; medians and ratios to undici go to bench/results.md and
// bench/results.svg, and the tables into docs/benchmarks.md. Each run measures throughput and the CPU each
// event costs, by thread (client.js); the "8 workers" scenario runs workers.js.
//   node bench/run.js [--rounds N] [--duration MS] [--quick] [--only a,b] [--soak] [--no-docs] [--report]
//   --report measures nothing: it writes results.md, results.svg and the docs tables again from
//   results.json (+ soak.json); --no-docs leaves docs/benchmarks.md as it is.
//   --only takes client names (dispatcher, dispatchEvent, fallback, undici, http, fetch, optimizely,
//   serialise, copy, libcurl) and/or scenario ids (loopback-64, far-256, tls-64, h2-64, rate, rate-tls,
//   instructions, workers-8, …). Such a partial run writes bench/results.partial.json only: the full
//   results the README and docs/ quote stay as they are.
// Two references are not dispatchers: `copy` (the floor plus copying the body out of the heap, the
// fixed rates only) and `libcurl` (bench/libcurl-alone.c: the same requests from libcurl in a C
// program, no Node; built here with cc, left out with a message where it cannot be).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { startLoopbackCollectors, startNodeCollector } = require('./collectors');
const { CLIENT_NAMES: JS_CLIENT_NAMES, CLIENT_ENV } = require('./clients');
const { eventBatch } = require('../demo/event-batch');
const { mainThreadClock } = require('../demo/thread-cpu');
const { PBKDF2_ITERATIONS, JOB_GAP_MS } = require('./workers');
const { countInstructions } = require('./instructions');
const report = require('./report');

const ROOT = path.join(__dirname, '..');
// libcurl alone sends the pump's agent line: the package's own default, not a copy of its format.
const { DEFAULT_USER_AGENT } = require('../lib/transport/options');
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

const QUICK = flag('quick');
const ROUNDS = Number(value('rounds', QUICK ? 1 : 3));
const DURATION = Number(value('duration', QUICK ? 1500 : 3000));
const WARMUP = QUICK ? 500 : 1000;
const RATE = 2000;
const RATE_DURATION = QUICK ? 2000 : 5000;
// The "8 workers" scenario: 8 × 32 lanes, 256 connections in all for each client.
const WORKERS = 8;
const WORKER_IN_FLIGHT = 32;
const WORKER_CLIENTS = ['dispatcher', 'undici'];
const CLIENT_NAMES = [...JS_CLIENT_NAMES, 'libcurl'];
const RATE_ONLY = ['copy']; // references that mean something at a fixed rate only
const ONLY = value('only', null);
const ONLY_NAMES = ONLY ? ONLY.split(',') : [];
const ONLY_CLIENTS = ONLY_NAMES.filter((n) => CLIENT_NAMES.includes(n));
const ONLY_SCENARIOS = ONLY_NAMES.filter((n) => !CLIENT_NAMES.includes(n));
const CLIENTS = ONLY_CLIENTS.length
  ? CLIENT_NAMES.filter((c) => ONLY_CLIENTS.includes(c))
  : CLIENT_NAMES;
const wanted = (id) => ONLY_SCENARIOS.length === 0 || ONLY_SCENARIOS.includes(id);

// One measurement process; its last stdout line is its JSON result.
function runScript(script, spec, env) {
  const out = execFileSync(process.execPath, [path.join(__dirname, script), JSON.stringify(spec)], {
    env,
    maxBuffer: 1 << 20,
    timeout: (spec.warmupMs + spec.durationMs) * 4 + 30000,
  })
    .toString()
    .trim()
    .split('\n')
    .pop();
  return JSON.parse(out);
}

function clientEnv(client, caFile) {
  return { ...process.env, NODE_EXTRA_CA_CERTS: caFile || '', ...(CLIENT_ENV[client] || {}) };
}

// The libcurl reference (bench/libcurl-alone.c), compiled into the run's directory; null (and a
// message) where there is no C compiler or no libcurl headers.
let libcurlAlone = null;
function buildLibcurlAlone(runDir) {
  const binary = path.join(runDir, 'libcurl-alone');
  const bodyFile = path.join(runDir, 'event-batch.json');
  fs.writeFileSync(bodyFile, JSON.stringify(eventBatch(10)));
  const r = spawnSync(
    'sh',
    [
      '-c',
      `cc -O2 -o "${binary}" "${path.join(__dirname, 'libcurl-alone.c')}" $(pkg-config --cflags --libs libcurl)`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    process.stderr.write(
      `the libcurl reference is left out: it did not build (${(r.stderr || r.error || '').toString().trim().split('\n')[0]})\n`,
    );
    return null;
  }
  return { binary, bodyFile };
}

function runLibcurlAlone(spec) {
  const argv = [
    spec.url,
    spec.mode,
    String(spec.inFlight),
    String(spec.rate || 0),
    String(spec.warmupMs),
    String(spec.durationMs),
    libcurlAlone.bodyFile,
    spec.caFile || '',
    spec.http2 ? 'http2' : '',
    DEFAULT_USER_AGENT,
  ];
  const out = execFileSync(libcurlAlone.binary, argv, {
    maxBuffer: 1 << 20,
    timeout: (spec.warmupMs + spec.durationMs) * 4 + 30000,
  });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

function runClient(spec) {
  if (spec.client === 'libcurl') return runLibcurlAlone(spec);
  return runScript('client.js', spec, clientEnv(spec.client, spec.caFile));
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Runs every client once per round, in a rotated order each round; returns per-client medians.
// `label` (the scenario id) names the progress lines.
function measure(label, base, clients) {
  const runs = Object.fromEntries(clients.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = clients.map((_, i) => clients[(i + round) % clients.length]);
    for (const client of order) {
      let result;
      try {
        result = runClient({ ...base, client });
      } catch (err) {
        // A client whose process never finishes (killed at the timeout) gets no figures and the run
        // goes on; any other failure ends the run, as before.
        if (err.code !== 'ETIMEDOUT') throw err;
        process.stderr.write(
          `  ${label.padEnd(13)} ${client.padEnd(14)} did not finish (timed out)\n`,
        );
        continue;
      }
      if (result.skipped) {
        runs[client] = null;
        continue;
      }
      if (result.failed) throw new Error(`${label} ${client}: ${result.failed}`);
      runs[client].push(result);
      const us = (n) => (typeof n === 'number' ? n.toFixed(1).padStart(6) : '     –');
      process.stderr.write(
        `  ${label.padEnd(13)} ${client.padEnd(14)} ${Math.round(result.throughput).toString().padStart(6)} req/s` +
          `   µs/event: main ${us(result.mainCpuUsPerReq)}  pump ${us(result.pumpCpuUsPerReq)}  process ${us(result.processCpuUsPerReq)}` +
          `${result.errors ? `  ERRORS ${result.errors} (${result.firstError})` : ''}\n`,
      );
    }
  }
  const summary = {};
  for (const [client, list] of Object.entries(runs)) {
    if (!list) continue;
    if (list.length === 0) {
      summary[client] = { didNotFinish: true, runs: 0 };
      continue;
    }
    const med = (key) => median(list.map((r) => r[key]));
    summary[client] = {
      throughput: med('throughput'),
      elu: med('elu'),
      // CPU per event (one request), by thread; medians per column, so the parts need not add up
      // to the whole exactly.
      mainCpuUsPerReq: med('mainCpuUsPerReq'),
      mainBeyondFloorPairedUs: list.some((r) => typeof r.mainBeyondFloorPairedUs === 'number')
        ? med('mainBeyondFloorPairedUs')
        : null,
      pumpCpuUsPerReq: med('pumpCpuUsPerReq'),
      otherCpuUsPerReq: med('otherCpuUsPerReq'),
      processCpuUsPerReq: med('processCpuUsPerReq'),
      pumpRunsPerReq: med('pumpRunsPerReq'),
      maxThreads: list.some((r) => typeof r.maxThreads === 'number')
        ? Math.max(...list.map((r) => r.maxThreads || 0))
        : null,
      loopDelayP99Ms: med('loopDelayP99Ms'),
      peakRssMiB: Math.max(...list.map((r) => r.peakRssMiB)),
      errors: list.reduce((n, r) => n + r.errors, 0),
      runs: list.length,
    };
  }
  // Main-thread cost beyond serialisation: what a client adds to the floor of building and
  // stringifying the batch (the serialise-only client, same scenario, same run).
  const floor = summary.serialise && summary.serialise.mainCpuUsPerReq;
  // At a fixed rate the client measures it itself, against the floor run in its own process
  // (client.js, pairedBeyondFloor): the steadier figure there.
  for (const [client, s] of Object.entries(summary)) {
    s.mainBeyondSerialiseUsPerReq =
      typeof s.mainBeyondFloorPairedUs === 'number'
        ? s.mainBeyondFloorPairedUs
        : client !== 'serialise' &&
            typeof floor === 'number' &&
            typeof s.mainCpuUsPerReq === 'number'
          ? s.mainCpuUsPerReq - floor
          : null;
  }
  return summary;
}

// The "8 workers" scenario: each client (and 'none', the baseline) once per round in its own
// process, on the default threadpool; medians, and the most pump threads ever held at once.
function measureWorkers(label, base, clients) {
  const runs = Object.fromEntries(clients.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = clients.map((_, i) => clients[(i + round) % clients.length]);
    for (const client of order) {
      const env = clientEnv(client, null);
      delete env.UV_THREADPOOL_SIZE; // the default pool of 4: the point of the scenario
      const result = runScript('workers.js', { ...base, client }, env);
      if (result.failed) throw new Error(`${label} ${client}: ${result.failed}`);
      runs[client].push(result);
      const ms = (n) => (typeof n === 'number' ? n.toFixed(1) : '–');
      process.stderr.write(
        `  ${label.padEnd(13)} ${client.padEnd(14)} ${Math.round(result.throughput).toString().padStart(6)} req/s` +
          `   main-thread job p50 ${ms(result.jobP50Ms)} ms, p99 ${ms(result.jobP99Ms)} ms` +
          `${typeof result.maxThreads === 'number' ? `, pump threads ≤ ${result.maxThreads}` : ''}` +
          `${result.errors ? `  ERRORS ${result.errors} (${result.firstError})` : ''}\n`,
      );
    }
  }
  const summary = {};
  for (const [client, list] of Object.entries(runs)) {
    const med = (key) => median(list.map((r) => r[key]));
    const threads = list.map((r) => r.maxThreads).filter((n) => typeof n === 'number');
    summary[client] = {
      throughput: med('throughput'),
      minWorkerThroughput: med('minWorkerThroughput'),
      jobs: med('jobs'),
      jobP50Ms: med('jobP50Ms'),
      jobP99Ms: med('jobP99Ms'),
      jobMaxMs: Math.max(...list.map((r) => r.jobMaxMs || 0)),
      maxThreads: threads.length ? Math.max(...threads) : null,
      errors: list.reduce((n, r) => n + r.errors, 0),
      runs: list.length,
    };
  }
  return summary;
}

function machine(collectorKind) {
  const cpu = os.cpus();
  const version = (cmd, argv, re) => {
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    const m = re.exec(`${r.stdout}${r.stderr}`);
    return m ? m[1] : 'n/a';
  };
  const pkg = (name) => {
    try {
      return require(path.join(ROOT, 'node_modules', name, 'package.json')).version;
    } catch {
      return 'n/a';
    }
  };
  const v = require('..').versions();
  return {
    cpu: `${cpu.length} × ${cpu[0].model}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    addon: v.addon,
    libcurl: v.libcurl,
    tls: v.tls,
    collector: collectorKind,
    undici: pkg('undici'),
    optimizely: pkg('@optimizely/optimizely-sdk'),
    date: new Date().toISOString().slice(0, 10),
    rounds: ROUNDS,
    durationMs: DURATION,
    quick: QUICK,
    // How main-thread CPU was read: 'schedstat' (ns, per thread), 'stat' (10 ms ticks) or 'process'.
    mainThreadClock: mainThreadClock().kind,
    kernelPerf: version('uname', ['-m'], /(\S+)/),
  };
}

async function main() {
  if (flag('report')) {
    regenerate();
    return;
  }
  if (flag('soak')) {
    require('./soak')
      .run({ events: Number(value('events', 1000000)) })
      .then((soak) => {
        const file = path.join(__dirname, 'soak.json');
        fs.writeFileSync(file, `${JSON.stringify(soak, null, 2)}\n`);
        process.stderr.write(`soak written to ${file}\n`);
        regenerate();
      });
    return;
  }
  const runDir = path.join(__dirname, '.run');
  fs.rmSync(runDir, { recursive: true, force: true });
  const loopback = await startLoopbackCollectors(runDir);
  const slow = await startNodeCollector(20);
  const results = { machine: machine(loopback.kind), scenarios: [] };
  if (CLIENTS.includes('libcurl')) libcurlAlone = buildLibcurlAlone(runDir);
  const available = (c) => c !== 'libcurl' || libcurlAlone !== null;
  const saturating = CLIENTS.filter((c) => !RATE_ONLY.includes(c) && available(c));
  const scenario = (id, title, base, wantedClients = saturating) => {
    const clients = wantedClients.filter(available);
    if (!wanted(id) || clients.length === 0) return;
    process.stderr.write(`${title}\n`);
    results.scenarios.push({
      id,
      title,
      base: { ...base, caFile: undefined },
      clients: measure(id, base, clients),
    });
  };
  const common = { warmupMs: WARMUP, durationMs: DURATION, caFile: loopback.caFile };
  try {
    const plain = `http://127.0.0.1:${loopback.plainPort}/v1/events`;
    const far = `http://127.0.0.1:${slow.port}/v1/events`;
    for (const inFlight of [64, 256]) {
      scenario(`loopback-${inFlight}`, `loopback, ${inFlight} in flight`, {
        ...common,
        url: plain,
        mode: 'closed',
        inFlight,
      });
    }
    for (const inFlight of [64, 256]) {
      scenario(`far-${inFlight}`, `20 ms collector, ${inFlight} in flight`, {
        ...common,
        url: far,
        mode: 'closed',
        inFlight,
      });
    }
    if (loopback.tlsPort) {
      const tls = `https://127.0.0.1:${loopback.tlsPort}/v1/events`;
      const h2 = `https://127.0.0.1:${loopback.h2Port}/v1/events`;
      for (const inFlight of [64, 256]) {
        scenario(`tls-${inFlight}`, `HTTPS (HTTP/1.1), ${inFlight} in flight`, {
          ...common,
          url: tls,
          mode: 'closed',
          inFlight,
        });
      }
      scenario(
        'h2-64',
        'HTTPS (HTTP/2), 64 in flight',
        { ...common, url: h2, mode: 'closed', inFlight: 64, http2: true },
        CLIENTS.filter((c) =>
          ['dispatcher', 'dispatchEvent', 'fallback', 'undici', 'serialise', 'libcurl'].includes(c),
        ),
      );
    }
    const rate = { ...common, durationMs: RATE_DURATION, mode: 'rate', rate: RATE, inFlight: 256 };
    scenario(
      'rate',
      `fixed ${RATE} requests/s (open loop), loopback`,
      { ...rate, url: plain },
      CLIENTS,
    );
    if (loopback.tlsPort) {
      // Not the Optimizely SDK's default dispatcher: on Node's global agent it opens a connection
      // for every request that waits, and at this rate over TLS it opened them until nginx ran out
      // (8,192) and its run did not finish (see report.js, RATE_TLS_NOTE).
      scenario(
        'rate-tls',
        `fixed ${RATE} requests/s (open loop), HTTPS (HTTP/1.1)`,
        { ...rate, url: `https://127.0.0.1:${loopback.tlsPort}/v1/events` },
        CLIENTS.filter((c) => c !== 'optimizely'),
      );
    }
    // Counted, not timed: left out when --only names clients (it has its own set).
    if (wanted('instructions') && ONLY_CLIENTS.length === 0) {
      process.stderr.write('instructions per event (callgrind), loopback, bursts of 10\n');
      try {
        results.instructions = countInstructions({
          url: plain,
          caFile: loopback.caFile,
          runDir,
          clientEnv,
          libcurlAlone,
          userAgent: DEFAULT_USER_AGENT,
          log: (line) => process.stderr.write(line),
        });
      } catch (err) {
        // A reference, not a scenario: its failure is reported and the timed results are kept.
        process.stderr.write(
          `INSTRUCTION COUNTS FAILED (left out of the results): ${err.message}\n`,
        );
      }
    }
    const workerClients = WORKER_CLIENTS.filter((c) => CLIENTS.includes(c));
    if (wanted('workers-8') && workerClients.length) {
      const title = `${WORKERS} workers × ${WORKER_IN_FLIGHT} in flight, loopback, default threadpool`;
      process.stderr.write(`${title}\n`);
      const base = {
        warmupMs: WARMUP,
        durationMs: DURATION,
        url: plain,
        workers: WORKERS,
        inFlight: WORKER_IN_FLIGHT,
        connections: WORKERS * WORKER_IN_FLIGHT,
      };
      results.scenarios.push({
        id: 'workers-8',
        title,
        base,
        job: { pbkdf2Iterations: PBKDF2_ITERATIONS, gapMs: JOB_GAP_MS },
        clients: measureWorkers('workers-8', base, ['none', ...workerClients]),
      });
    }
  } finally {
    await slow.stop();
    await loopback.stop();
  }
  if (ONLY) {
    const file = path.join(__dirname, 'results.partial.json');
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stderr.write(
      `wrote bench/results.partial.json (--only: results.json and the docs are left as they are)\n`,
    );
    return;
  }
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  regenerate();
}

// results.json (+ soak.json) → results.md, results.svg and the tables in docs/benchmarks.md.
function regenerate() {
  const resultsFile = path.join(__dirname, 'results.json');
  if (!fs.existsSync(resultsFile)) return;
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  const soakFile = path.join(__dirname, 'soak.json');
  const soak = fs.existsSync(soakFile) ? JSON.parse(fs.readFileSync(soakFile, 'utf8')) : null;
  const markdown = report.markdown(results, soak);
  fs.writeFileSync(path.join(__dirname, 'results.md'), markdown);
  fs.writeFileSync(path.join(__dirname, 'results.svg'), report.svg(results, soak));
  const docs = !flag('no-docs');
  if (docs)
    report.updateDocs(path.join(ROOT, 'docs', 'benchmarks.md'), report.docsTable(results, soak));
  process.stderr.write(
    `wrote bench/results.md, bench/results.svg${docs ? ' and the tables in docs/benchmarks.md' : ''}\n`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
