'use strict';
// One root for many processes: each Spool journals in its own slot; a starting Spool
// adopts, exactly once, the slots whose owner is gone, the late files, and a 0.1.0 journal.
const fs = require('node:fs');
const path = require('node:path');
const { Spool } = require('../lib/spool/index.js');
const OldSpool = require('./fixtures/spool-0.1.0.js').Spool; // 0.1.0's journal, to write a legacy fixture
const { useCleanup } = require('./helpers/cleanup');
const { spawnNode } = require('./helpers/processes');
const {
  HREF,
  tempRoot,
  request,
  lineOf,
  makeSlot,
  ownIdentity,
  startWorker,
  ids,
  drainParked,
} = require('./helpers/spool');

const { later } = useCleanup();

function open(root, options = {}) {
  const spool = new Spool(root, { maxBytes: 1024 * 1024, ...options });
  later(() => spool.close());
  return spool;
}

function slotNames(root) {
  return fs
    .readdirSync(root)
    .filter((n) => n.startsWith('slot-'))
    .sort();
}

// The files of a directory and their sizes: to show a slot was not touched.
function listing(dir) {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => `${n}:${fs.statSync(path.join(dir, n)).size}`);
}

test('Spools in one process share a root; a closed one is adopted, exactly, by the next', () => {
  const root = tempRoot(later);
  const a = open(root);
  const b = open(root); // no ERR_SPOOL_LOCKED any more
  expect(a.dir).not.toBe(b.dir);
  expect(path.dirname(a.dir)).toBe(root);
  const fromA = [1, 2, 3].map((i) => a.append(request(400, i)).id);
  const fromB = [b.append(request(400, 9))];
  expect(b.stats()).toMatchObject({ adopted: 0, liveRecords: 1 });
  const before = listing(b.dir);
  a.close();
  expect(fs.existsSync(path.join(a.dir, 'released.json'))).toBe(true);
  const c = open(root);
  expect(drainParked(c).map((r) => r.id)).toEqual(fromA);
  expect(fs.existsSync(a.dir)).toBe(false);
  // b is live: not adopted, not touched, and still works.
  expect(listing(b.dir)).toEqual(before);
  b.ack(fromB[0]);
  expect(b.append(request(400))).not.toBeNull();
  // A Spool closed with nothing live leaves nothing behind.
  const d = new Spool(root, { maxBytes: 1024 * 1024 });
  d.close();
  expect(fs.existsSync(d.dir)).toBe(false);
});

test('the slot of a SIGKILLed process is adopted with exactly its live records; an empty one is removed', async () => {
  const root = tempRoot(later);
  const holder = startWorker(later, ['hold', root, '12', '5']);
  const empty = startWorker(later, ['hold', root, '3', '3']);
  await holder.until((l) => l.includes('READY'));
  await empty.until((l) => l.includes('READY'));
  holder.proc.kill('SIGKILL');
  empty.proc.kill('SIGKILL');
  await holder.exited;
  await empty.exited;
  const live = ids(holder.lines, 'A').filter((id) => !ids(holder.lines, 'K').includes(id));
  expect(live).toHaveLength(7);
  const spool = open(root);
  expect(drainParked(spool).map((r) => r.id)).toEqual(live);
  expect(slotNames(root)).toEqual([path.basename(spool.dir)]);
  expect(fs.readdirSync(spool.dir).filter((n) => n.startsWith('adopt-'))).toEqual([]);
});

test('whose slot is gone: a dead or reused pid here; elsewhere, a heartbeat older than 60 s', () => {
  const root = tempRoot(later);
  const me = ownIdentity();
  const slot = (owner, options = {}) => {
    const line = lineOf(request(300));
    const id = JSON.parse(line.toString()).id;
    return { id, ...makeSlot(root, { owner, segments: [[line]], ...options }) };
  };
  const mine = slot(me); // this very process: live
  const reused = slot({ ...me, startTime: '1' }); // our pid, another start time: the pid was reused
  const otherHostFresh = slot({ ...me, pid: 1, bootId: 'another-boot' });
  const otherHostStale = slot(
    { ...me, pid: 1, bootId: 'another-boot' },
    { mtimeMs: Date.now() - 120000 },
  );
  const otherNsFresh = slot({ ...me, pid: 1, pidNs: 'pid:[1]' });
  const beingCreated = makeSlot(root, { segments: [] }); // no owner file yet
  const abandoned = slot(null, { mtimeMs: Date.now() - 120000 }); // its creator died before the owner file
  const spool = open(root);
  expect(
    drainParked(spool)
      .map((r) => r.id)
      .sort(),
  ).toEqual([reused.id, otherHostStale.id, abandoned.id].sort());
  expect(slotNames(root)).toEqual(
    [
      mine.name,
      otherHostFresh.name,
      otherNsFresh.name,
      beingCreated.name,
      path.basename(spool.dir),
    ].sort(),
  );
});

test('late records: appendLate writes a private, durable file that exactly one next Spool adopts', () => {
  const root = path.join(tempRoot(later), 'missing', 'root');
  const first = Spool.appendLate(root, {
    method: 'POST',
    href: HREF,
    body: '{"late":1}',
    json: true,
  });
  const second = Spool.appendLate(root, {
    method: 'PUT',
    href: HREF,
    body: Buffer.from([1, 2, 3]),
    json: false,
  });
  expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  const lateFiles = fs.readdirSync(root).filter((n) => n.startsWith('late-'));
  expect(lateFiles).toHaveLength(2);
  for (const n of lateFiles) expect(fs.statSync(path.join(root, n)).mode & 0o777).toBe(0o600);
  const a = open(root);
  const b = open(root);
  const adopted = drainParked(a);
  expect(adopted.map((r) => r.id)).toEqual([first, second]);
  expect(b.stats().adopted).toBe(0);
  expect(fs.readdirSync(root).filter((n) => !n.startsWith('slot-'))).toEqual([]);
  expect(a.read(adopted[0])).toMatchObject({ method: 'POST', body: '{"late":1}', json: true });
  expect(a.read(adopted[1]).body).toEqual(Buffer.from([1, 2, 3]));
});

// A 0.1.0 journal written by 0.1.0's own code: small segments, so that acknowledgements land in
// later segments than their records; then a late file; then `lock` with `holder`'s pid.
function legacyJournal(dir, holder) {
  const old = new OldSpool(dir, { maxBytes: 1024 * 1024, segmentBytes: 700 });
  const bodies = ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}'];
  const records = bodies.map((b) => old.append('POST', HREF, b, true));
  const text = old.append('POST', HREF, 'plain\ntext', false);
  const bytes = old.append('PUT', HREF, new Uint8Array([0, 255, 7]), false);
  old.ack(records[0]);
  old.ack(records[3]);
  old.close();
  OldSpool.appendLate(dir, 'PATCH', HREF, '{"late":true}', true);
  fs.writeFileSync(path.join(dir, 'lock'), String(holder));
  return {
    live: [
      { body: '{"n":2}', json: true },
      { body: '{"n":3}', json: true },
      { body: '{"n":5}', json: true },
      { body: 'plain\ntext', json: false },
      { body: Buffer.from([0, 255, 7]), json: false },
    ],
    lateBody: '{"late":true}',
    ids: [records[1], records[2], records[4], text, bytes].map((r) => r.id),
  };
}

test('a 0.1.0 directory whose process is gone is adopted: its live records, with their bytes, once', async () => {
  const root = tempRoot(later);
  const gone = spawnNode('');
  const { code } = await gone.exited;
  expect(code).toBe(0);
  const legacy = legacyJournal(root, gone.child.pid);
  expect(fs.readdirSync(root).filter((n) => /^segment-/.test(n)).length).toBeGreaterThan(1);
  const logs = [];
  const spool = open(root, { log: (level, message) => logs.push(`${level}: ${message}`) });
  const adopted = drainParked(spool);
  expect(adopted.map((r) => r.id).slice(0, 5)).toEqual(legacy.ids);
  expect(
    adopted.slice(0, 5).map((r) => {
      const { body, json } = spool.read(r);
      return { body, json };
    }),
  ).toEqual(legacy.live);
  expect(spool.read(adopted[5])).toMatchObject({
    method: 'PATCH',
    body: legacy.lateBody,
    json: true,
  });
  expect(adopted).toHaveLength(6);
  // The 0.1.0 files are gone; the root is private now.
  expect(fs.readdirSync(root)).toEqual([path.basename(spool.dir)]);
  expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  expect(logs.some((m) => /imported 5 event\(s\) from the 0\.1\.0 journal/.test(m))).toBe(true);
  // Imported once: a second Spool finds nothing.
  expect(open(root).stats().adopted).toBe(0);
});

test('a starter that listed a 0.1.0 journal before another imported and removed it claims nothing', () => {
  // Two processes starting at once, made deterministic: B lists the segments, then A claims,
  // imports and removes them (and its claim), then B claims. B must find nothing left to import
  // (it read files that were gone: ENOENT, the spool did not open).
  const slots = require('../lib/spool/slots.js');
  const root = tempRoot(later);
  legacyJournal(root, 2 ** 22 + 1); // a pid that does not exist
  const listedByB = fs.readdirSync(root);
  const a = open(root);
  expect(a.stats().adopted).toBe(6);
  const readdir = fs.readdirSync;
  let first = true;
  fs.readdirSync = function patched(dir, ...rest) {
    if (first && dir === root && rest.length === 0) {
      first = false;
      return listedByB.slice();
    }
    return readdir.call(this, dir, ...rest);
  };
  let claimed;
  try {
    claimed = slots.claimLegacy(root, { name: 'slot-b', dir: path.join(root, 'slot-b') }, () => {});
  } finally {
    fs.readdirSync = readdir;
  }
  expect(first).toBe(false); // B did list the old segments
  expect(claimed).toBeNull();
  expect(fs.readdirSync(root)).toEqual([path.basename(a.dir)]); // no claim left behind
});

test('a 0.1.0 journal whose process still runs is left alone', () => {
  const root = tempRoot(later);
  legacyJournal(root, process.pid);
  const before = fs.readdirSync(root).sort();
  const spool = open(root);
  expect(spool.stats().adopted).toBe(1); // only the late file, which no running 0.1.0 dispatcher reads
  expect(
    fs.readdirSync(root).filter((n) => !n.startsWith('slot-') && !n.startsWith('late-')),
  ).toEqual(before.filter((n) => !n.startsWith('late-')));
});

test('4 processes on one root; 2 SIGKILLed with live records; 2 started at once adopt each of them exactly once; the survivors are untouched', async () => {
  const root = tempRoot(later);
  const workers = [0, 1, 2, 3].map(() => startWorker(later, ['hold', root, '20', '6']));
  await Promise.all(workers.map((w) => w.until((l) => l.includes('READY'))));
  const slotOf = (w) => w.lines.find((l) => l.startsWith('SLOT ')).slice(5);
  const liveOf = (w) => ids(w.lines, 'A').filter((id) => !ids(w.lines, 'K').includes(id));
  const [dead1, dead2, alive1, alive2] = workers;
  const survivors = [alive1, alive2].map((w) => ({ dir: slotOf(w), files: listing(slotOf(w)) }));
  dead1.proc.kill('SIGKILL');
  dead2.proc.kill('SIGKILL');
  await dead1.exited;
  await dead2.exited;
  const orphaned = [...liveOf(dead1), ...liveOf(dead2)];
  expect(orphaned).toHaveLength(28);

  const starters = [0, 1].map(() => startWorker(later, ['hold', root, '0', '0']));
  await Promise.all(starters.map((w) => w.until((l) => l.includes('READY'))));
  const adopted = starters.flatMap((w) => ids(w.lines, 'ADOPTED'));
  expect(adopted.sort()).toEqual(orphaned.sort()); // every one, none twice
  for (const s of survivors) expect(listing(s.dir)).toEqual(s.files);
  const survivorIds = [...liveOf(alive1), ...liveOf(alive2)];
  expect(adopted.filter((id) => survivorIds.includes(id))).toEqual([]);
  // The dead slots are gone: four live slots remain, and the survivors close cleanly.
  expect(slotNames(root).sort()).toEqual(
    [
      ...survivors.map((s) => path.basename(s.dir)),
      ...starters.map((w) => path.basename(slotOf(w))),
    ].sort(),
  );
  for (const w of [alive1, alive2, ...starters]) w.send('close');
  for (const w of [alive1, alive2, ...starters]) expect((await w.exited).code).toBe(0);
}, 20000);

test('adopted again and again (each adopter closed with the records live): nothing is lost', () => {
  const root = tempRoot(later);
  const first = new Spool(root, { maxBytes: 1024 * 1024 });
  const live = [1, 2, 3, 4].map((i) => first.append(request(400, i)).id);
  first.close();
  for (let generation = 0; generation < 3; generation++) {
    const next = new Spool(root, { maxBytes: 1024 * 1024 });
    const records = drainParked(next);
    expect(records.map((r) => r.id)).toEqual(live);
    live.push(next.append(request(400, generation)).id);
    next.close();
  }
  expect(slotNames(root)).toHaveLength(1);
});

test('adopted segments keep their order: events accepted in the same millisecond replay in the order they were accepted, over generations', () => {
  // Many segments (8 KiB each at this cap), every record with the same acceptedAt: only the order
  // of the files can tell which came first.
  const root = tempRoot(later);
  const at = 1_700_000_000_000;
  const first = new Spool(root, { maxBytes: 64 * 1024 });
  const live = Array.from({ length: 40 }, (_, i) => first.append(request(1000, i), at).id);
  expect(
    fs.readdirSync(first.dir).filter((n) => n.startsWith('seg-')).length,
  ).toBeGreaterThanOrEqual(4);
  first.close();
  for (let generation = 0; generation < 3; generation++) {
    const next = new Spool(root, { maxBytes: 1024 * 1024 });
    expect(drainParked(next).map((r) => r.id)).toEqual(live);
    // Its own, in the same millisecond as well: after the adopted ones only by their files' order.
    for (let i = 0; i < 5; i++) live.push(next.append(request(1000, 100 + i), at).id);
    next.close();
  }
});

test('a merge cut short (an adopt-… directory and an import file inside an orphan slot) is finished by the next adopter', () => {
  const root = tempRoot(later);
  const outer = makeSlot(root, {
    owner: { pid: 1 },
    released: true,
    segments: [[lineOf(request(300))]],
  });
  // What a process that died in the middle of adopting leaves: the orphan it was merging, nested.
  const inner = makeSlot(root, {
    owner: { pid: 1 },
    released: true,
    segments: [[lineOf(request(300)), lineOf(request(300))]],
  });
  fs.renameSync(inner.dir, path.join(outer.dir, `adopt-${inner.name}`));
  fs.writeFileSync(path.join(outer.dir, 'import-late-1-x.jsonl'), lineOf(request(300)), {
    mode: 0o600,
  });
  const spool = open(root);
  expect(spool.stats()).toMatchObject({ adopted: 4, liveRecords: 4, skipped: 0 });
  expect(fs.readdirSync(spool.dir).filter((n) => !n.startsWith('seg-'))).toEqual(['owner.json']);
});

test("the heartbeat: the owner file is touched every 10 s by an unref'd timer, and by append() when due", () => {
  const start = Date.now();
  jest.useFakeTimers({ now: start, doNotFake: ['nextTick', 'setImmediate'] });
  later(() => jest.useRealTimers());
  const spool = open(tempRoot(later));
  const owner = path.join(spool.dir, 'owner.json');
  const mtime = () => fs.statSync(owner).mtimeMs;
  const old = (start - 120000) / 1000;
  fs.utimesSync(owner, old, old);
  jest.advanceTimersByTime(9000);
  expect(mtime()).toBeLessThan(start - 100000); // not due yet
  jest.advanceTimersByTime(1000);
  expect(Math.abs(mtime() - (start + 10000))).toBeLessThan(1000);
  // With the timer starved (a busy loop still appending), append() beats when due.
  fs.utimesSync(owner, old, old);
  jest.setSystemTime(start + 25000);
  spool.append(request(300));
  expect(Math.abs(mtime() - (start + 25000))).toBeLessThan(1000);
});

test('an open Spool does not keep a process alive; its slot is then adopted like any other', async () => {
  const root = tempRoot(later);
  const spoolPath = JSON.stringify(path.join(__dirname, '..', 'lib', 'spool', 'index.js'));
  const run = spawnNode(`
    const { Spool } = require(${spoolPath});
    const spool = new Spool(${JSON.stringify(root)}, { maxBytes: 65536 });
    process.stdout.write(spool.append({ method: 'POST', href: ${JSON.stringify(HREF)}, body: '{}', json: true }).id);`);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 10000);
  const { code, signal, stdout } = await run.exited;
  clearTimeout(timer);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(drainParked(open(root)).map((r) => r.id)).toEqual([stdout]);
});

test('two processes starting at once on a 0.1.0 directory import it exactly once', async () => {
  const root = tempRoot(later);
  const gone = spawnNode('');
  await gone.exited;
  const legacy = legacyJournal(root, gone.child.pid);
  const starters = [0, 1].map(() => startWorker(later, ['hold', root, '0', '0']));
  await Promise.all(starters.map((w) => w.until((l) => l.includes('READY'))));
  const adopted = starters.flatMap((w) => ids(w.lines, 'ADOPTED'));
  expect(adopted).toHaveLength(6); // the 5 live records and the late one
  expect(adopted).toEqual(expect.arrayContaining(legacy.ids));
  expect(fs.readdirSync(root).filter((n) => !n.startsWith('slot-'))).toEqual([]);
  for (const w of starters) w.send('close');
  for (const w of starters) expect((await w.exited).code).toBe(0);
});

test('an owner that is a zombie (dead, not yet reaped) is gone', async () => {
  const root = tempRoot(later);
  // A parent too busy to reap its child: the child's pid stays, as a zombie.
  const parent = spawnNode(`
    const { spawn } = require('node:child_process');
    const child = spawn('sh', ['-c', 'exit 0'], { stdio: 'ignore' });
    process.stdout.write(String(child.pid) + '\\n');
    const until = Date.now() + 8000; while (Date.now() < until); // no reaping
  `);
  later(() => parent.child.kill('SIGKILL'));
  const stat = async () => {
    for (let i = 0; i < 400; i++) {
      const pid = parent.output().trim();
      const text = pid && fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (text && /\) Z /.test(text)) return { pid: Number(pid), text };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no zombie');
  };
  const { pid, text } = await stat();
  const zombie = makeSlot(root, {
    owner: {
      ...ownIdentity(),
      pid,
      startTime: text.slice(text.lastIndexOf(')') + 2).split(' ')[19],
    },
    segments: [[lineOf(request(300))]],
  });
  const spool = open(root);
  expect(spool.stats().adopted).toBe(1);
  expect(fs.existsSync(zombie.dir)).toBe(false);
});

// Odd entries in an orphan slot (found by the fault suite): each used to make every start throw,
// or to be carried from slot to slot, one level deeper each run, until paths grew too long.
test('an owner file that is JSON but not an object (null, a number) is judged like a torn one: no throw, adopted once stale', () => {
  const root = tempRoot(later);
  const old = Date.now() - 120 * 1000;
  const slots = ['null', '42', '"x"'].map((text) => {
    const s = makeSlot(root, { segments: [[lineOf(request(300))]] });
    const file = path.join(s.dir, 'owner.json');
    fs.writeFileSync(file, `${text}\n`, { mode: 0o600 });
    fs.utimesSync(file, old / 1000, old / 1000);
    fs.utimesSync(s.dir, old / 1000, old / 1000);
    return s;
  });
  const spool = open(root); // 0.1: "Cannot read properties of null (reading 'bootId')", every start
  expect(spool.stats()).toMatchObject({ adopted: 3, liveRecords: 3 });
  expect(slots.every((s) => !fs.existsSync(s.dir))).toBe(true);
});

test('entries of an orphan slot that are not ours (a stray file, directories named like journal files) are set aside once, never carried from run to run', () => {
  const root = tempRoot(later);
  const orphan = makeSlot(root, {
    owner: { pid: 1 },
    released: true,
    segments: [[lineOf(request(300)), lineOf(request(300))]],
  });
  fs.writeFileSync(path.join(orphan.dir, 'notes.txt'), 'kept by an operator');
  fs.mkdirSync(path.join(orphan.dir, 'seg-000000000997.jsonl'));
  fs.mkdirSync(path.join(orphan.dir, 'import-late-1-x.jsonl'));
  fs.mkdirSync(path.join(root, 'late-123-abc.jsonl')); // a directory named like a late file, in the root
  const logs = [];
  const first = new Spool(root, {
    maxBytes: 1024 * 1024,
    log: (level, m) => logs.push(`${level}: ${m}`),
  });
  expect(first.stats()).toMatchObject({ adopted: 2, liveRecords: 2 });
  for (const r of drainParked(first)) first.ack(r);
  first.close();
  expect(fs.existsSync(first.dir)).toBe(false); // nothing of its own left: removed, not released
  const aside = fs.readdirSync(path.join(root, 'unrecognised'));
  expect(aside.map((n) => n.slice(9)).sort()).toEqual([
    'import-late-1-x.jsonl',
    'notes.txt',
    'seg-000000000997.jsonl',
  ]);
  expect(logs.filter((m) => /is not a spool file; moved to/.test(m))).toHaveLength(3);
  // Ten more runs: each starts, nothing is adopted, nothing nests.
  for (let i = 0; i < 10; i++) {
    const s = new Spool(root, { maxBytes: 1024 * 1024 });
    expect(s.stats()).toMatchObject({ adopted: 0, liveRecords: 0 });
    s.close();
  }
  expect(fs.readdirSync(root).sort()).toEqual(['late-123-abc.jsonl', 'unrecognised']);
});

test('a 0.1.0 journal whose lock names a pid that started after the lock was written (a reused pid: pid 1 of a restarted container) is adopted', () => {
  const root = tempRoot(later);
  legacyJournal(root, process.pid);
  // The lock was written an hour before this process started: not by this process.
  const long = Date.now() - process.uptime() * 1000 - 3600 * 1000;
  fs.utimesSync(path.join(root, 'lock'), long / 1000, long / 1000);
  const spool = open(root);
  expect(spool.stats().adopted).toBe(6); // 0.1: 1 (the late file); the journal left alone for good
  expect(fs.readdirSync(root).filter((n) => /^segment-|^lock$/.test(n))).toEqual([]);
});
