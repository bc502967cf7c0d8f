'use strict';
// Crash safety: a SIGKILL at any moment — an append, an ack, a compaction — loses no live record
// and resurrects no acknowledged one; an I/O failure leaves the journal consistent.
const { Spool } = require('../lib/spool/index.js');
const { useCleanup } = require('./helpers/cleanup');
const { tempRoot, startWorker, ids, random, drainParked } = require('./helpers/spool');

const { later } = useCleanup();

test('SIGKILL at random moments, compaction included (tiny maxBytes): the live set is exactly appended − acked', async () => {
  const root = tempRoot(later);
  const seed = Date.now() % 100000;
  const rand = random(seed);
  const appended = new Set();
  const acked = new Set();
  const ackInProgress = new Set();
  let unreported = 0; // appends that may have completed without their "A" line
  let reclaims = 0;
  for (let run = 0; run < 8; run++) {
    // 12 KiB: 4 KiB segments, ~20 live records of 200–800 bytes: nearly every append compacts.
    const worker = startWorker(later, ['churn', root, String(12 * 1024), String(seed + run)]);
    // Short runs too: a worker killed soon after it adopted still holds its adopted segments.
    const lines = run % 2 === 0 ? 20 + Math.floor(rand() * 200) : 300 + Math.floor(rand() * 3000);
    await worker.until((l) => l.length >= lines);
    worker.proc.kill('SIGKILL');
    const { signal, stderr } = await worker.exited;
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    for (const id of ids(worker.lines, 'A')) appended.add(id);
    for (const id of ids(worker.lines, 'K')) acked.add(id);
    const started = ids(worker.lines, 'k');
    const last = started[started.length - 1];
    if (last !== undefined && !acked.has(last)) ackInProgress.add(last);
    reclaims += worker.lines.filter((l) => l === 'R').length;
    unreported += 1;
  }
  expect(reclaims).toBeGreaterThan(0); // compaction did run while the workers were being killed

  const logs = [];
  const spool = new Spool(root, {
    maxBytes: 12 * 1024,
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  later(() => spool.close());
  const live = drainParked(spool);
  const liveIds = new Set(live.map((r) => r.id));
  expect(liveIds.size).toBe(live.length); // no id twice
  const missing = [...appended].filter(
    (id) => !acked.has(id) && !ackInProgress.has(id) && !liveIds.has(id),
  );
  expect({ seed, missing }).toEqual({ seed, missing: [] });
  const resurrected = [...acked].filter((id) => liveIds.has(id));
  expect({ seed, resurrected }).toEqual({ seed, resurrected: [] });
  const unknown = [...liveIds].filter((id) => !appended.has(id));
  expect(unknown.length).toBeLessThanOrEqual(unreported);
  for (const r of live) expect(spool.read(r).body).toMatch(/^\{"tag":\d+,"pad":"x*"\}$/);
}, 20000);

test('an I/O failure (EFBIG under ulimit -f) throws ERR_SPOOL_IO and leaves no torn line: every returned record survives', async () => {
  const root = tempRoot(later);
  // 16 KiB per file: the first segment fills up long before maxBytes (1 MiB, 128 KiB segments).
  const worker = startWorker(later, ['fill', root, String(1024 * 1024)], {
    shell: 'ulimit -f 16;',
  });
  const { code, stderr } = await worker.exited;
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const lines = worker.lines;
  expect(lines[lines.length - 1]).toBe('CLOSED');
  const firstFailure = lines.findIndex((l) => l.startsWith('E '));
  expect(lines[firstFailure]).toBe('E ERR_SPOOL_IO');
  expect(firstFailure).toBeGreaterThan(10);
  // After a failure the next append starts a new segment, and succeeds.
  expect(lines[firstFailure + 1]).toMatch(/^A /);
  const spool = new Spool(root, { maxBytes: 1024 * 1024 });
  later(() => spool.close());
  expect(spool.stats().skipped).toBe(0);
  expect(drainParked(spool).map((r) => r.id)).toEqual(ids(lines, 'A'));
});
