'use strict';
// At the spool's level, the journal's files deleted while in use (rm -rf of the root, or
// one segment) are found by the heartbeat and at close(), and written back from the files still
// open — into a recreated root and slot when the slot is gone. What cannot be written back is
// handed to onLost (no longer live), never left counted as on disk.
const fs = require('node:fs');
const path = require('node:path');
const { Spool } = require('../lib/spool/index.js');
const { HEARTBEAT_MS } = require('../lib/spool/slots.js');
const { useCleanup } = require('./helpers/cleanup');
const { tempRoot, request, drainParked } = require('./helpers/spool');

const { later } = useCleanup();

function open(root, options = {}) {
  const spool = new Spool(root, { maxBytes: 1024 * 1024, ...options });
  later(() => spool.close());
  return spool;
}

function useFakeTimers() {
  jest.useFakeTimers();
  later(() => jest.useRealTimers());
}

// `n` records of distinct bodies, the first `acked` of them acknowledged → { live, bodies }.
function journal(spool, n, acked) {
  const bodies = new Map();
  const records = Array.from({ length: n }, (_, i) => {
    const req = request(700, i);
    const r = spool.append(req);
    bodies.set(r, req.body);
    return r;
  });
  for (const r of records.slice(0, acked)) spool.ack(r);
  return { live: records.slice(acked), bodies };
}

test('the heartbeat finds the root deleted (rm -rf) and writes the live records back into a recreated root and slot', () => {
  useFakeTimers();
  const root = path.join(tempRoot(later), 'spool');
  const logs = [];
  const spool = open(root, { maxBytes: 64 * 1024, log: (level, m) => logs.push(`${level}: ${m}`) });
  const { live, bodies } = journal(spool, 40, 9); // 8 KiB segments: several
  for (const r of live.slice(0, 5)) spool.park(r);
  const before = spool.dir;
  fs.rmSync(root, { recursive: true, force: true });
  jest.advanceTimersByTime(HEARTBEAT_MS);
  expect(spool.dir).not.toBe(before);
  expect(fs.statSync(spool.dir).isDirectory()).toBe(true);
  expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  expect(logs.filter((m) => /deleted while in use/.test(m))).toEqual([
    `warn: the spool's files were deleted while in use (the slot ${before}); recreated them in ${spool.dir} with the 31 live record(s) copied from the files still open`,
  ]);
  expect(spool.stats()).toMatchObject({ liveRecords: 31, parked: 5 });
  // Each reads back from its new place, and can still be acknowledged there.
  for (const r of live) expect(spool.read(r).body).toBe(bodies.get(r));
  spool.ack(live[30]);
  // The next heartbeat finds nothing wrong.
  jest.advanceTimersByTime(HEARTBEAT_MS);
  expect(logs.filter((m) => /deleted while in use/.test(m))).toHaveLength(1);
  spool.close();
  const next = open(root);
  expect(drainParked(next).map((r) => next.read(r).body)).toEqual(
    live.slice(0, 30).map((r) => bodies.get(r)),
  );
});

test('the heartbeat finds one segment deleted (the slot still there): its live records go to a new segment of the slot', () => {
  useFakeTimers();
  const root = tempRoot(later);
  const logs = [];
  const spool = open(root, { maxBytes: 64 * 1024, log: (level, m) => logs.push(`${level}: ${m}`) });
  const { live, bodies } = journal(spool, 40, 0);
  const dir = spool.dir;
  const first = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith('seg-'))
    .sort()[0];
  fs.unlinkSync(path.join(dir, first));
  jest.advanceTimersByTime(HEARTBEAT_MS);
  expect(spool.dir).toBe(dir);
  expect(logs.filter((m) => /deleted while in use/.test(m))).toEqual([
    expect.stringMatching(
      new RegExp(
        `^warn: the spool's files were deleted while in use \\(1 segment file\\(s\\) in ${dir}\\)`,
      ),
    ),
  ]);
  expect(spool.stats().liveRecords).toBe(40);
  spool.close();
  const next = open(root);
  expect(
    drainParked(next)
      .map((r) => next.read(r).body)
      .sort(),
  ).toEqual(live.map((r) => bodies.get(r)).sort());
});

test('close() finds the root replaced by a file: the live records are handed to onLost, no longer live; close() itself does not throw', () => {
  const root = path.join(tempRoot(later), 'spool');
  const lost = [];
  const spool = open(root, { onLost: (records, error) => lost.push({ records, error }) });
  const { live } = journal(spool, 12, 4);
  for (const r of live.slice(0, 3)) spool.park(r);
  fs.rmSync(root, { recursive: true, force: true });
  fs.writeFileSync(root, 'a file');
  expect(() => spool.close()).not.toThrow();
  expect(lost).toHaveLength(1);
  expect(new Set(lost[0].records)).toEqual(new Set(live));
  expect(lost[0].error).toMatchObject({ name: 'SpoolError', code: 'ERR_SPOOL_IO' });
  expect(lost[0].error.message).toBe(
    `the spool's files were deleted while in use (the slot ${spool.dir}) and could not be recreated; 8 record(s) are on disk no more: cannot use ${root} as a spool directory: ${root} is not a directory`,
  );
  expect(live.every((r) => !r.live)).toBe(true);
  expect(spool.stats()).toMatchObject({ liveRecords: 0, parked: 0 });
  expect(fs.readFileSync(root, 'utf8')).toBe('a file');
});

test('appends after the deletion: the first that finds the slot gone recreates it; none is refused', () => {
  const root = path.join(tempRoot(later), 'spool');
  const logs = [];
  const spool = open(root, { maxBytes: 64 * 1024, log: (level, m) => logs.push(`${level}: ${m}`) });
  const { live } = journal(spool, 5, 0);
  fs.rmSync(root, { recursive: true, force: true });
  const after = Array.from({ length: 30 }, (_, i) => spool.append(request(700, 100 + i))); // rotates: 8 KiB segments
  expect(after.every((r) => r !== null)).toBe(true);
  expect(logs.filter((m) => /deleted while in use/.test(m))).toHaveLength(1);
  spool.close();
  expect(open(root).stats()).toMatchObject({ adopted: live.length + after.length });
});
