'use strict';
// npm run bench — every client in its own process, one after another, against the same
// collectors, several alternating rounds; medians and ratios to undici go to bench/results.md and
// bench/results.svg, and the table into the README.
//   node bench/run.js [--rounds N] [--duration MS] [--quick] [--only a,b] [--soak] [--no-readme]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { startLoopbackCollectors, startNodeCollector } = require('./collectors');
const { CLIENT_NAMES } = require('./clients');
const report = require('./report');

const ROOT = path.join(__dirname, '..');
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
const ONLY = value('only', null);
const CLIENTS = ONLY ? CLIENT_NAMES.filter((c) => ONLY.split(',').includes(c)) : CLIENT_NAMES;

function runClient(spec) {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'client.js'), JSON.stringify(spec)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: spec.caFile || '' },
    maxBuffer: 1 << 20,
    timeout: (spec.warmupMs + spec.durationMs) * 4 + 30000,
  }).toString().trim().split('\n').pop();
  return JSON.parse(out);
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Runs every client once per round, in a rotated order each round; returns per-client medians.
function measure(label, base, clients) {
  const runs = Object.fromEntries(clients.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = clients.map((_, i) => clients[(i + round) % clients.length]);
    for (const client of order) {
      const result = runClient({ ...base, client });
      if (result.skipped) {
        runs[client] = null;
        continue;
      }
      if (result.failed) throw new Error(`${label} ${client}: ${result.failed}`);
      runs[client].push(result);
      process.stderr.write(`  ${label.padEnd(34)} ${client.padEnd(14)} ${Math.round(result.throughput).toString().padStart(6)} req/s`
        + `${result.errors ? `  ERRORS ${result.errors} (${result.firstError})` : ''}\n`);
    }
  }
  const summary = {};
  for (const [client, list] of Object.entries(runs)) {
    if (!list) continue;
    summary[client] = {
      throughput: median(list.map((r) => r.throughput)),
      elu: median(list.map((r) => r.elu)),
      mainCpuUsPerReq: median(list.map((r) => r.mainCpuUsPerReq)),
      processCpuUsPerReq: median(list.map((r) => r.processCpuUsPerReq)),
      loopDelayP99Ms: median(list.map((r) => r.loopDelayP99Ms)),
      peakRssMiB: Math.max(...list.map((r) => r.peakRssMiB)),
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
    kernelPerf: version('uname', ['-m'], /(\S+)/),
  };
}

async function main() {
  if (flag('soak')) {
    require('./soak').run({ events: Number(value('events', 1000000)) }).then((soak) => {
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
  const scenario = (id, title, base, clients = CLIENTS) => {
    process.stderr.write(`${title}\n`);
    results.scenarios.push({ id, title, base: { ...base, caFile: undefined }, clients: measure(title, base, clients) });
  };
  const common = { warmupMs: WARMUP, durationMs: DURATION, caFile: loopback.caFile };
  try {
    const plain = `http://127.0.0.1:${loopback.plainPort}/v1/events`;
    const far = `http://127.0.0.1:${slow.port}/v1/events`;
    for (const inFlight of [64, 256]) {
      scenario(`loopback-${inFlight}`, `loopback, ${inFlight} in flight`, { ...common, url: plain, mode: 'closed', inFlight });
    }
    for (const inFlight of [64, 256]) {
      scenario(`far-${inFlight}`, `20 ms collector, ${inFlight} in flight`, { ...common, url: far, mode: 'closed', inFlight });
    }
    if (loopback.tlsPort) {
      const tls = `https://127.0.0.1:${loopback.tlsPort}/v1/events`;
      const h2 = `https://127.0.0.1:${loopback.h2Port}/v1/events`;
      for (const inFlight of [64, 256]) {
        scenario(`tls-${inFlight}`, `HTTPS (HTTP/1.1), ${inFlight} in flight`, { ...common, url: tls, mode: 'closed', inFlight });
      }
      scenario('h2-64', 'HTTPS (HTTP/2), 64 in flight', { ...common, url: h2, mode: 'closed', inFlight: 64, http2: true },
        CLIENTS.filter((c) => ['dispatcher', 'dispatchEvent', 'undici', 'serialise'].includes(c)));
    }
    scenario('rate', `fixed ${RATE} requests/s (open loop), loopback`, {
      ...common, durationMs: RATE_DURATION, url: plain, mode: 'rate', rate: RATE, inFlight: 256,
    });
  } finally {
    await slow.stop();
    await loopback.stop();
  }
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  regenerate();
}

// results.json (+ soak.json) → results.md, results.svg and the README's table.
function regenerate() {
  const resultsFile = path.join(__dirname, 'results.json');
  if (!fs.existsSync(resultsFile)) return;
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  const soakFile = path.join(__dirname, 'soak.json');
  const soak = fs.existsSync(soakFile) ? JSON.parse(fs.readFileSync(soakFile, 'utf8')) : null;
  const markdown = report.markdown(results, soak);
  fs.writeFileSync(path.join(__dirname, 'results.md'), markdown);
  fs.writeFileSync(path.join(__dirname, 'results.svg'), report.svg(results, soak));
  if (!flag('no-readme')) report.updateReadme(path.join(ROOT, 'README.md'), report.readmeTable(results, soak));
  process.stderr.write('wrote bench/results.md, bench/results.svg and the README table\n');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
