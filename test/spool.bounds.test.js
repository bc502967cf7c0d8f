'use strict';
// The spool's bound: maxBytes bounds the slot's files at every step, space is
// reclaimed continuously, and append refuses only when live records really fill the cap.
const fs = require('node:fs');
const path = require('node:path');
const { Spool } = require('../lib/spool/index.js');
const { useCleanup } = require('./helpers/cleanup');
const { tempRoot, dirBytes, request, random, drainParked } = require('./helpers/spool');

const { later } = useCleanup();
const KiB = 1024;
const MiB = 1024 * KiB;

function open(root, maxBytes, log) {
  const spool = new Spool(root, { maxBytes, log });
  later(() => spool.close());
  return spool;
}

// The slot's files, within maxBytes + one record, as stats() counts them and (when `onDisk`, the
// costlier check) as they are on disk.
function expectWithinBound(spool, maxBytes, largestRecord, onDisk = true) {
  const { bytes } = spool.stats();
  if (onDisk) expect(dirBytes(spool.dir)).toBe(bytes);
  expect(bytes).toBeLessThanOrEqual(maxBytes + largestRecord);
}

function segments(spool) {
  return fs.readdirSync(spool.dir).filter((n) => n.startsWith('seg-'));
}

test('a 1 MiB spool through 4 rounds of 1,000 ~1 KB events acked after each round: nothing refused, the bound holds', () => {
  const maxBytes = MiB;
  const spool = open(tempRoot(later), maxBytes);
  let refused = 0;
  for (let round = 0; round < 4; round++) {
    const records = [];
    for (let i = 0; i < 1000; i++) {
      const r = spool.append(request(1000, i));
      if (r) records.push(r);
      else refused += 1;
      expectWithinBound(spool, maxBytes, 1000, i % 50 === 0);
    }
    for (const r of records) spool.ack(r);
    expectWithinBound(spool, maxBytes, 1000);
    // Every segment went with its last acknowledgement, the current one too.
    expect(segments(spool)).toEqual([]);
    expect(spool.stats()).toMatchObject({ liveBytes: 0, liveRecords: 0 });
  }
  expect(refused).toBe(0);
});

test.each([64 * KiB, 100 * KiB + 17, 512 * KiB])(
  'a steady healthy load (ack shortly after append, in any order) never refuses: maxBytes %i',
  (maxBytes) => {
    const rand = random(maxBytes);
    const spool = open(tempRoot(later), maxBytes);
    const largest = 3000;
    // A window of unacknowledged records that uses at most half of the cap.
    const window = Math.floor(maxBytes / 2 / largest);
    const live = [];
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const r = spool.append(request(200 + Math.floor(rand() * (largest - 200)), i));
      if (r) live.push(r);
      else refused += 1;
      while (live.length > window) spool.ack(live.splice(Math.floor(rand() * live.length), 1)[0]);
      expectWithinBound(spool, maxBytes, largest, i % 25 === 0);
    }
    expect(refused).toBe(0);
    expect(spool.stats().liveRecords).toBe(live.length);
  },
);

test('flapping (a random 20% stays live for a while): refused only when live records fill the cap, never over the bound', () => {
  const maxBytes = 128 * KiB;
  const rand = random(20);
  const spool = open(tempRoot(later), maxBytes);
  const ownerBytes = spool.stats().bytes;
  const due = new Map(); // record -> the step at which it is acknowledged
  let refused = 0;
  let accepted = 0;
  for (let step = 0; step < 4000; step++) {
    for (const [r, at] of due) {
      if (at > step) continue;
      spool.ack(r);
      due.delete(r);
    }
    const size = 500 + Math.floor(rand() * 1000);
    const before = spool.stats();
    const r = spool.append(request(size, step));
    if (r) {
      accepted += 1;
      due.set(
        r,
        step + (rand() < 0.2 ? 300 + Math.floor(rand() * 600) : 1 + Math.floor(rand() * 5)),
      );
    } else {
      refused += 1;
      // Refused: everything reclaimable was reclaimed, and the live records leave no room.
      const after = spool.stats();
      expect(after.bytes).toBe(after.liveBytes + ownerBytes);
      expect(after.liveBytes).toBe(before.liveBytes);
      expect(after.liveBytes + size + ownerBytes).toBeGreaterThan(maxBytes);
    }
    expectWithinBound(spool, maxBytes, 1500, step % 10 === 0);
    if (step % 10 === 0) expect(segments(spool).length).toBeLessThanOrEqual(4 * 8 + 16 + 1); // a few dozen files at most
  }
  // The pattern does fill the cap at times, and most events are journaled all the same.
  expect(refused).toBeGreaterThan(0);
  expect(accepted).toBeGreaterThan(refused * 4);
});

test('acknowledgements never grow a file; segments rotate at maxBytes/8 and go once all acked', () => {
  const maxBytes = 256 * KiB;
  const spool = open(tempRoot(later), maxBytes);
  const records = [];
  for (let i = 0; i < 200; i++) records.push(spool.append(request(1000, i)));
  const names = segments(spool);
  expect(names.length).toBeGreaterThanOrEqual(6);
  for (const name of names)
    expect(fs.statSync(path.join(spool.dir, name)).size).toBeLessThanOrEqual(maxBytes / 8);
  let bytes = spool.stats().bytes;
  for (const r of records.reverse()) {
    spool.ack(r);
    spool.ack(r); // idempotent
    const now = spool.stats().bytes;
    expect(now).toBeLessThanOrEqual(bytes);
    bytes = now;
  }
  expect(segments(spool)).toEqual([]);
});

test('compaction keeps every live record, with its bytes, and reclaims the rest', () => {
  const maxBytes = 64 * KiB;
  const spool = open(tempRoot(later), maxBytes);
  const keep = new Map();
  // Every 7th record stays: segments full of holes, so appends must compact to go on.
  for (let i = 0; i < 2000; i++) {
    const req = request(400 + (i % 13) * 20, i);
    const r = spool.append(req);
    expect(r).not.toBeNull();
    if (i % 7 === 0 && keep.size < 60) keep.set(r, req);
    else spool.ack(r);
    expectWithinBound(spool, maxBytes, 700, i % 10 === 0);
  }
  expect(spool.stats().liveRecords).toBe(keep.size);
  for (const [r, req] of keep)
    expect(spool.read(r)).toMatchObject({ body: req.body, href: req.href, json: true });
});

test('records inherited past the cap are kept, never deleted; appends are refused until they drain', () => {
  const root = tempRoot(later);
  const first = new Spool(root, { maxBytes: MiB });
  const inherited = [];
  for (let i = 0; i < 60; i++) inherited.push(first.append(request(1000, i)).id);
  first.close();
  const small = open(root, 16 * KiB);
  expect(small.stats()).toMatchObject({ adopted: 60, liveRecords: 60, parked: 60 });
  expect(small.stats().bytes).toBeGreaterThan(60 * 1000);
  expect(small.append(request(1000))).toBeNull();
  const records = drainParked(small);
  expect(records.map((r) => r.id)).toEqual(inherited);
  for (const r of records.slice(0, 50)) small.ack(r);
  expect(small.append(request(1000))).not.toBeNull();
  expectWithinBound(small, 16 * KiB, 1000);
  for (const r of records.slice(50))
    expect(small.read(r).body).toMatch(/^\{"tag":\d+,"pad":"x+"\}$/);
});
