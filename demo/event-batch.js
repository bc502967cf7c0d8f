'use strict';
// Optimizely-shaped EventBatch payloads (the body the SDK posts to logx.optimizely.com): one
// visitor entry per user event, each event with its own uuid. Used by the demo, the benchmarks
// and the tests (test/helpers/events.js), which put visitors of their own in batch().
const crypto = require('node:crypto');

let visitorSeq = 0;

function visitor() {
  const n = visitorSeq++;
  const now = Date.now();
  return {
    visitor_id: `user-${n}`,
    attributes: [
      { entity_id: '10010', key: 'plan', type: 'custom', value: n % 3 ? 'pro' : 'free' },
      { entity_id: '$opt_bot_filtering', key: '$opt_bot_filtering', type: 'custom', value: false },
    ],
    snapshots: [
      {
        decisions: [
          {
            campaign_id: '20010',
            experiment_id: '20011',
            variation_id: n % 2 ? '20012' : '20013',
            metadata: {
              flag_key: 'checkout_flow',
              rule_key: 'checkout_test',
              rule_type: 'experiment',
              variation_key: n % 2 ? 'treatment' : 'control',
              enabled: true,
            },
          },
        ],
        events: [
          {
            entity_id: '20010',
            key: 'campaign_activated',
            timestamp: now,
            uuid: crypto.randomUUID(),
          },
          {
            entity_id: '30010',
            key: 'purchase',
            timestamp: now,
            uuid: crypto.randomUUID(),
            revenue: 4200,
            value: 42.5,
            tags: { revenue: 4200, value: 42.5, currency: 'EUR' },
          },
        ],
      },
    ],
  };
}

// An EventBatch around `visitors` (an array of visitor entries).
function batch(visitors) {
  return {
    account_id: '10000001',
    project_id: '10000002',
    revision: '42',
    client_name: 'node-sdk',
    client_version: '6.6.1',
    anonymize_ip: true,
    enrich_decisions: true,
    visitors,
  };
}

// An EventBatch with `visitors` visitors (10 is about 6 KB of JSON).
function eventBatch(visitors = 10) {
  return batch(Array.from({ length: visitors }, visitor));
}

// Every event uuid in a batch (as the collector sees it).
function uuidsOf(batch) {
  const out = [];
  for (const v of batch.visitors || []) {
    for (const s of v.snapshots || []) for (const e of s.events || []) out.push(e.uuid);
  }
  return out;
}

module.exports = { batch, eventBatch, uuidsOf };
