'use strict';
// The soak's dispatcher process: node soak-client.js <url> <events>. Offers `events` one-visitor
// batches (uuid 00000000-0000-4000-8000-<12-digit sequence>) with at most 4 096 awaiting an answer,
// samples RSS twice a second, and prints one JSON line at the end.
const { createDispatcher } = require('..');
const { batch: eventBatchOf } = require('../demo/event-batch');

const [url, total] = [process.argv[2], Number(process.argv[3])];
const dispatcher = createDispatcher({ baseDelayMs: 50, maxDelayMs: 1000 });
const samples = [];
const started = Date.now();
let next = 0;
let settled = 0;
let delivered = 0;
let notDelivered = 0;

function batch(seq) {
  const uuid = `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  return eventBatchOf([
    {
      visitor_id: `user-${seq}`,
      attributes: [],
      snapshots: [
        {
          decisions: [],
          events: [{ entity_id: '30010', key: 'purchase', timestamp: Date.now(), uuid }],
        },
      ],
    },
  ]);
}

const sampler = setInterval(() => {
  samples.push({
    t: (Date.now() - started) / 1000,
    rssMiB: process.memoryUsage.rss() / 2 ** 20,
    settled,
  });
}, 500);

function pump() {
  while (next < total && next - settled < 4096) {
    dispatcher.send('POST', url, batch(next++)).then((r) => {
      settled += 1;
      if (r.statusCode >= 200 && r.statusCode < 300) delivered += 1;
      else notDelivered += 1;
      if (next < total) pump();
      else if (settled === total) finish();
    });
  }
}

async function finish() {
  clearInterval(sampler);
  samples.push({
    t: (Date.now() - started) / 1000,
    rssMiB: process.memoryUsage.rss() / 2 ** 20,
    settled,
  });
  const stats = dispatcher.stats();
  const summary = await dispatcher.close();
  console.log(
    JSON.stringify({
      events: total,
      delivered,
      notDelivered,
      seconds: (Date.now() - started) / 1000,
      samples,
      stats,
      summary,
    }),
  );
}

pump();
