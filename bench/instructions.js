'use strict';
// Instructions per event, counted by valgrind's callgrind: whatever else the machine does, it does
// not enter them (repeated counts agree within a few thousand per event; see the cost log). They
// show what each client itself executes per event, apart from what the time columns carry besides
// (page faults, cache misses, the work of the other core on this one).
// Each client sends bursts of 10 events — the same EventBatch object, stringified for each send —
// and waits for all 10 before the next burst; it runs twice under callgrind (300 and 600 bursts),
// and the difference over the 3,000 extra events is per event, with start-up, V8's compiling of
// what runs hot (done within the first 300 bursts) and exit cancelled out. The main thread is
// callgrind's thread 1; the pump is the threads that call curl_multi_socket_action, summed.
// libcurl alone is counted the same way (10 lanes back to back).
//   child: node bench/instructions.js '{"client":…,"url":…,"bursts":N,"caFile":…}'
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BURST = 10;
const RUNS = [300, 600]; // bursts; the first 300 also see V8 compile what runs hot
const EXTRA_EVENTS = (RUNS[1] - RUNS[0]) * BURST;
const CLIENTS = ['serialise', 'copy', 'dispatcher', 'dispatchEvent', 'undici', 'http'];
const FLOOR = 'serialise';
const LIBCURL_MS = [2000, 6000]; // libcurl alone's runs, by duration (under valgrind)
// Garbage collected on the main thread only: the collections a client's allocations cause count on
// its main thread (V8's helper threads would take a share that varies from run to run). Hot
// functions optimised on the main thread, when they get hot: compiled in the background under
// valgrind, they ran unoptimised for most of the run (thousands of baseline-code property loads
// per burst in the dispatcher's functions), which no production process does.
const NODE_FLAGS = ['--single-threaded-gc', '--no-concurrent-recompilation'];

async function child(spec) {
  const { CLIENTS: FACTORIES } = require('./clients');
  const { eventBatch } = require('../demo/event-batch');
  const client = FACTORIES[spec.client]({ url: spec.url, inFlight: BURST, caFile: spec.caFile });
  const batch = eventBatch(10);
  for (let i = 0; i < spec.bursts; i++) {
    const sends = [];
    for (let j = 0; j < BURST; j++) sends.push(client.send(batch));
    const codes = await Promise.all(sends);
    const bad = codes.find((c) => c < 200 || c >= 300);
    if (bad !== undefined) throw new Error(`${spec.client}: HTTP ${bad}`);
  }
  await client.close();
}

function valgrindVersion() {
  const r = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// Instructions in a callgrind output file's text.
function totalOf(text, file) {
  const m = /^(?:totals|summary): (\d+)/m.exec(text);
  if (!m) throw new Error(`no instruction total in ${file}`);
  return Number(m[1]);
}

// { main, pump } instructions of one run of `client` (pump null where no thread drove libcurl).
function countRun(dir, client, bursts, base, env) {
  const prefix = `cg.${client}.${bursts}`;
  const spec = { ...base, client, bursts };
  const r = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      `--callgrind-out-file=${path.join(dir, `${prefix}.%p`)}`,
      process.execPath,
      ...NODE_FLAGS,
      __filename,
      JSON.stringify(spec),
    ],
    { env, encoding: 'utf8', maxBuffer: 16 << 20, timeout: 600000 },
  );
  if (r.status !== 0)
    throw new Error(
      `callgrind ${client} (${bursts} bursts) failed: ${(r.stderr || '')
        .split('\n')
        .filter((l) => !l.startsWith('=='))
        .join(' ')
        .slice(0, 300)}`,
    );
  const threads = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}.`) && /-\d+$/.test(f))
    .map((f) => ({ file: f, text: fs.readFileSync(path.join(dir, f), 'latin1') }));
  const main = threads.find((t) => t.file.endsWith('-01'));
  if (!main) throw new Error(`callgrind ${client}: no main-thread file`);
  // The pump's work item may run on more than one threadpool thread in a run.
  const pumps = threads.filter((t) => t.text.includes('curl_multi_socket_action'));
  return {
    main: totalOf(main.text, main.file),
    pump: pumps.length ? pumps.reduce((sum, t) => sum + totalOf(t.text, t.file), 0) : null,
  };
}

function countLibcurl(dir, libcurlAlone, url, caFile, userAgent) {
  const runs = LIBCURL_MS.map((ms) => {
    const out = path.join(dir, `cg.libcurl.${ms}`);
    const r = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${out}`,
        libcurlAlone.binary,
        url,
        'closed',
        String(BURST),
        '0',
        '0',
        String(ms),
        libcurlAlone.bodyFile,
        caFile || '',
        '',
        userAgent,
      ],
      { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 600000 },
    );
    if (r.status !== 0)
      throw new Error(`callgrind libcurl alone failed: ${(r.stderr || '').slice(0, 300)}`);
    const result = JSON.parse(r.stdout.trim().split('\n').pop());
    return {
      instructions: totalOf(fs.readFileSync(out, 'latin1'), out),
      requests: result.requests,
    };
  });
  const requests = runs[1].requests - runs[0].requests;
  return requests > 0
    ? { perRequest: (runs[1].instructions - runs[0].instructions) / requests, requests }
    : null;
}

// → { valgrind, events, burst, clients: { name: { mainPerEvent, beyondFloor, pumpPerEvent } },
// libcurl: { perRequest } | null }, or null (with a message) where valgrind is missing.
function countInstructions({ url, caFile, runDir, clientEnv, libcurlAlone, userAgent, log }) {
  const valgrind = valgrindVersion();
  if (!valgrind) {
    process.stderr.write('instruction counts are left out: valgrind is not installed\n');
    return null;
  }
  const dir = path.join(runDir, 'callgrind');
  fs.mkdirSync(dir, { recursive: true });
  const clients = {};
  for (const client of CLIENTS) {
    const [a, b] = RUNS.map((bursts) =>
      countRun(dir, client, bursts, { url, caFile }, clientEnv(client, caFile)),
    );
    clients[client] = {
      mainPerEvent: (b.main - a.main) / EXTRA_EVENTS,
      pumpPerEvent: a.pump !== null && b.pump !== null ? (b.pump - a.pump) / EXTRA_EVENTS : null,
    };
    log(
      `  instructions  ${client.padEnd(14)} main ${Math.round(clients[client].mainPerEvent)}` +
        `${clients[client].pumpPerEvent !== null ? `  pump ${Math.round(clients[client].pumpPerEvent)}` : ''} per event\n`,
    );
  }
  const floor = clients[FLOOR].mainPerEvent;
  for (const [name, c] of Object.entries(clients))
    c.beyondFloor = name === FLOOR ? null : c.mainPerEvent - floor;
  const libcurl = libcurlAlone ? countLibcurl(dir, libcurlAlone, url, caFile, userAgent) : null;
  if (libcurl)
    log(`  instructions  libcurl alone  ${Math.round(libcurl.perRequest)} per request\n`);
  return {
    valgrind,
    nodeFlags: NODE_FLAGS,
    events: EXTRA_EVENTS,
    burst: BURST,
    floor: FLOOR,
    clients,
    libcurl,
  };
}

if (require.main === module) {
  child(JSON.parse(process.argv[2])).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = { countInstructions };
