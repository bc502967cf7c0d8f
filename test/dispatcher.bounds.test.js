'use strict';
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { startCollector } = require('./helpers/collector');

const run = promisify(execFile);

test('endpoint down, 100 000 events offered: memory stays bounded and every drop is counted', async () => {
  const c = await startCollector(() => 'hang');
  try {
    const { stdout } = await run(process.execPath,
      ['--expose-gc', path.join(__dirname, 'fixtures', 'bounds-child.js'), c.url, '100000'],
      { maxBuffer: 1 << 20 });
    const r = JSON.parse(stdout);
    // The queue never held more than its limit, and the heap did not grow with the offered load
    // (100 000 events of ~1 KB would be ~100 MB if they were kept).
    expect(r.maxQueued).toBeLessThanOrEqual(r.limit);
    expect(r.heapGrowth).toBeLessThan(24 * 1024 * 1024);
    // Exactly the requests the collector holds were in flight; nothing was delivered.
    expect(r.before.inFlight).toBe(64);
    expect(c.hanging.length).toBe(64);
    expect(r.before.delivered).toBe(0);
    // Every event is accounted for: dropped while offered (queue full) or at close (no spool).
    expect(r.reasons['queue-full'] + r.reasons.closed).toBe(100000);
    expect(r.after.dropped).toBe(100000);
    expect(r.dropEvents).toBe(100000);
    expect(r.droppedResults).toBe(100000);
    expect(r.otherResults).toBe(0);
    expect(r.summary).toEqual({ delivered: 0, spooled: 0, lost: 100000, failed: 0, events: { delivered: 0, spooled: 0, lost: 100000, failed: 0 } });
    expect(r.after.queuedBytes).toBe(0);
  } finally {
    await c.close();
  }
}, 60000);
