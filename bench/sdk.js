'use strict';
// node bench/sdk.js [--events-per-second N] [--rounds N]
// Segment's Node SDK sending the same events with its own HTTP client (Node's fetch) and through
// this package's createFetch(): the main thread's CPU per event, at a fixed rate, against the
// bench's nginx (answers 204). Each variant runs in its own process, alternating, median of rounds.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const args = process.argv.slice(2);
const value = (name, fallback) =>
  args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback;
const RATE = value('events-per-second', 2000);
const ROUNDS = value('rounds', 3);
const VARIANTS = ['segment default client', 'segment + createFetch'];

function child(variant, origin) {
  const { Analytics } = require('@segment/analytics-node');
  const { createFetch } = require('..');
  const cpu = () =>
    Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  const analytics = new Analytics({
    writeKey: 'bench',
    host: origin,
    path: '/v1/batch',
    flushAt: 15,
    flushInterval: 100,
    maxRetries: 0,
    ...(variant === VARIANTS[1] ? { httpClient: createFetch() } : {}),
  });
  let sent = 0;
  const phase = (ms) =>
    new Promise((resolve) => {
      const start = performance.now();
      let due = 0;
      const timer = setInterval(() => {
        const target = Math.floor(((performance.now() - start) / 1000) * RATE);
        for (; due < target; due++) {
          analytics.track({
            userId: `user-${sent % 1000}`,
            event: 'purchase',
            properties: { revenue: 4200, plan: 'pro', n: sent },
          });
          sent += 1;
        }
        if (performance.now() - start >= ms) {
          clearInterval(timer);
          resolve(due);
        }
      }, 5);
    });
  (async () => {
    await phase(1000);
    await analytics.flush?.();
    const c0 = cpu();
    const n = await phase(4000);
    await analytics.closeAndFlush({ timeout: 10000 });
    process.stdout.write(
      `${JSON.stringify({ variant, events: n, mainCpuUsPerEvent: (cpu() - c0) / 1000 / n })}\n`,
    );
    process.exit(0);
  })();
}

async function main() {
  const { startLoopbackCollectors } = require('./collectors');
  const collectors = await startLoopbackCollectors(
    fs.mkdtempSync(path.join(os.tmpdir(), 'ned-sdk-bench-')),
  );
  const origin = `http://127.0.0.1:${collectors.plainPort}`;
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of round % 2 ? [...VARIANTS].reverse() : VARIANTS) {
        const out = execFileSync(process.execPath, [__filename, '--child', variant, origin], {
          env: { ...process.env, NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native' },
        });
        const r = JSON.parse(out.toString().trim().split('\n').pop());
        runs[variant].push(r.mainCpuUsPerEvent);
        process.stderr.write(
          `  ${variant.padEnd(24)} ${r.mainCpuUsPerEvent.toFixed(1)} µs of main-thread CPU per event\n`,
        );
      }
    }
  } finally {
    await collectors.stop();
  }
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const result = {
    date: new Date().toISOString().slice(0, 10),
    rate: RATE,
    rounds: ROUNDS,
    mainCpuUsPerEvent: Object.fromEntries(VARIANTS.map((v) => [v, median(runs[v])])),
  };
  fs.writeFileSync(path.join(__dirname, 'sdk.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

if (args[0] === '--child') child(args[1], args[2]);
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
