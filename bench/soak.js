'use strict';
// The soak (npm run bench -- --soak): a million events through the dispatcher while the collector
// fails 1 request in 20; RSS over time, and the collector's count of distinct uuids at the end.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { startNodeCollector } = require('./collectors');

const FAIL_EVERY = 20;

async function run({ events }) {
  const collector = await startNodeCollector(0, FAIL_EVERY);
  try {
    process.stderr.write(
      `soak: ${events} events, the collector fails 1 request in ${FAIL_EVERY}\n`,
    );
    const out = await new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [
          path.join(__dirname, 'soak-client.js'),
          `http://127.0.0.1:${collector.port}/v1/events`,
          String(events),
        ],
        { maxBuffer: 64 << 20 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const result = JSON.parse(out.trim().split('\n').pop());
    const counts = await collector.counts();
    // Warm-up: the first tenth of the run (buffers, JIT, connection pool).
    const warm = result.samples.filter((s) => s.settled >= events / 10);
    const rssStartMiB = (warm[0] || result.samples[0]).rssMiB;
    const rssMaxMiB = Math.max(...warm.map((s) => s.rssMiB));
    return {
      events,
      failEvery: FAIL_EVERY,
      delivered: result.delivered,
      distinct: counts.distinct,
      requests: counts.requests,
      lost: events - counts.distinct,
      retried: result.stats.retried,
      seconds: result.seconds,
      rssStartMiB,
      rssMaxMiB,
      rssGrowthMiB: rssMaxMiB - rssStartMiB,
      samples: result.samples.map((s) => ({ t: s.t, rssMiB: Number(s.rssMiB.toFixed(1)) })),
      summary: result.summary,
    };
  } finally {
    await collector.stop();
  }
}

module.exports = { run };
