'use strict';
// Optimizely-shaped events for the tests: each batch carries `visitors` visitors with one event
// (and one uuid) each.
const crypto = require('node:crypto');
const { batch: eventBatchOf } = require('../../demo/event-batch');

function batch(visitors = 2) {
  return eventBatchOf(
    Array.from({ length: visitors }, (_, i) => ({
      visitor_id: `user-${i}`,
      attributes: [],
      snapshots: [
        {
          decisions: [],
          events: [
            {
              entity_id: '30010',
              key: 'purchase',
              timestamp: Date.now(),
              uuid: crypto.randomUUID(),
            },
          ],
        },
      ],
    })),
  );
}

// A LogEvent as the SDK hands it over, and the uuids it carries.
function logEvent(url, visitors = 2) {
  const params = batch(visitors);
  const uuids = params.visitors.map((v) => v.snapshots[0].events[0].uuid);
  return { event: { url, httpVerb: 'POST', params }, uuids };
}

module.exports = { batch, logEvent };
