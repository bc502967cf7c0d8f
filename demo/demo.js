'use strict';
// npm run demo: an embedded collector on 127.0.0.1 receives Optimizely-shaped event batches sent
// through dispatchEvent from libcurl on the threadpool; the demo checks that every batch arrived.
//   node demo/demo.js [--batches N] [--in-flight N]
const { performance } = require('node:perf_hooks');
const { dispatchEvent, versions, pumpStats } = require('..');
const { eventBatch, uuidsOf } = require('./event-batch');
const { startCollector } = require('./collector');
const { progressBar } = require('./progress');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} needs a positive integer`);
    process.exit(2);
  }
  return value;
}

async function main() {
  const total = option('batches', 3000);
  const inFlight = option('in-flight', 64);
  const v = versions();
  console.log(`native-event-dispatcher ${v.addon} on libcurl ${v.libcurl} (${v.tls})`);
  const collector = await startCollector();
  console.log(`collector listening at ${collector.url}`);

  const bar = progressBar(total, 'sending');
  const sentUuids = new Set();
  let next = 0;
  let done = 0;
  let accepted = 0;
  const failures = [];
  const loopDelay = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const elu = performance.eventLoopUtilization();
  const started = performance.now();

  async function lane() {
    while (next < total) {
      next += 1;
      const batch = eventBatch(10);
      for (const uuid of uuidsOf(batch)) sentUuids.add(uuid);
      try {
        const res = await dispatchEvent('POST', collector.url, batch);
        if (res.statusCode >= 200 && res.statusCode < 300) accepted += 1;
        else failures.push(`HTTP ${res.statusCode}`);
      } catch (err) {
        failures.push(err.code);
      }
      done += 1;
      bar.update(done);
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  const seconds = (performance.now() - started) / 1000;
  const utilisation = performance.eventLoopUtilization(elu).utilization;
  loopDelay.disable();
  await collector.close();

  const received = collector.stats;
  const missing = [...sentUuids].filter((u) => !received.uuids.has(u)).length;
  console.log('');
  console.log(`batches sent        ${total} (${inFlight} in flight), accepted ${accepted}`);
  console.log(`batches received    ${received.batches} (${(received.bytes / 1048576).toFixed(1)} MiB of JSON)`);
  console.log(`visitors received   ${received.visitors} of ${total * 10}`);
  console.log(`event uuids         ${received.uuids.size} received, ${missing} missing`);
  console.log(`throughput          ${Math.round(total / seconds)} batches/s over ${seconds.toFixed(2)} s`);
  console.log(`main thread         event-loop utilisation ${(utilisation * 100).toFixed(0)}%, delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms`);
  console.log(`pump                ${JSON.stringify(pumpStats())}`);
  if (failures.length || missing || received.visitors !== total * 10) {
    console.log(`FAILED: ${failures.length} failures (${[...new Set(failures)].join(', ')}), ${missing} uuids missing`);
    process.exitCode = 1;
  } else {
    console.log('OK: every batch arrived');
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
