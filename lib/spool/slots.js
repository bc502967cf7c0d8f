'use strict';
// The shared root: any number of processes (and Spools in one process) journal into one root,
// each in its own slot directory, slot-<16 hex>/, holding an owner file (owner.json) that names
// its process. A starting Spool adopts what nobody owns any more, each exactly once:
// - orphan slots, claimed by one atomic rename into the adopter's own slot (adopt-<name>/), then
//   merged (their segments renamed into it). A rename has one winner, and a merge cut short is an
//   adopt-… directory inside a slot that is itself an orphan: the next adopter merges it.
// - late files (Spool.appendLate), claimed by a rename into the slot (import-….jsonl).
// - a legacy journal (spool format 1, 0.1.0's) in the root itself (segment-*.jsonl, a `lock`
//   file), claimed by creating `legacy.claim` (O_EXCL) and imported by copy.
// Whose slot is gone: released.json instead of owner.json (closed with records left); same boot
// and pid namespace: the pid is dead (or a zombie), or is another process (its start time differs);
// otherwise (another host or container sharing the volume): no heartbeat for STALE_MS. The
// heartbeat is the owner file's mtime, touched every HEARTBEAT_MS by an unref'd timer and by
// append().
// Only what this user made is handled: an entry that is a symlink, or another user's, is never
// adopted, imported, read or moved through (logged, and left alone); see directory.js for the root.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { ioError } = require('./error');
const {
  makePrivateDir,
  openPrivateFile,
  strangeEntry,
  readOwnFile,
  openOwnDir,
} = require('./directory');
const { isSegmentName, segmentOrder } = require('./journal');
// Slot holds (holds.js): a slot this process owns but no environment holds was left by a
// terminated worker.
const holds = require('./holds');

const OWNER = 'owner.json';
const RELEASED = 'released.json';
const HEARTBEAT_MS = 10 * 1000;
// For owners on another host or in another pid namespace only. Well above HEARTBEAT_MS: a
// process whose event loop stalls for less than a minute keeps its slot. Clocks of hosts that
// share a volume must agree to within a few seconds (NTP).
const STALE_MS = 60 * 1000;
const SLOT = /^slot-[0-9a-f]{16}$/;
const ADOPTED = /^adopt-slot-[0-9a-f]{16}$/;
const IMPORT = /^import-.+\.jsonl$/;
const LATE = /^late-.+\.jsonl$/;
const LATE_TMP = /^\.late-.+\.tmp$/;
const LEGACY_SEGMENT = /^segment-\d{10}\.jsonl$/;
const LEGACY_LOCK = 'lock';
const LEGACY_CLAIM = 'legacy.claim';
const UNRECOGNISED = 'unrecognised';

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

// The text of a file of ours in the root or a slot (never through a symlink), or null.
function readOwnText(file) {
  try {
    return readOwnFile(file).toString('utf8');
  } catch {
    return null;
  }
}

// The entries of `dir` whose names pass `test` and that are ours to handle (a `kind`, 'file' or
// 'directory', of this user's; never a symlink). The others are logged once (when `log` is given)
// and left alone.
function ownEntries(dir, test, kind, log) {
  const names = [];
  for (const name of fs.readdirSync(dir)) {
    if (!test(name)) continue;
    const file = path.join(dir, name);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!st) continue; // gone meanwhile
    const why = strangeEntry(st, kind);
    if (why === null) names.push(name);
    else if (log) log('warn', `left alone ${file}: ${why}`);
  }
  return names;
}

// Fields 3 and 22 of /proc/<pid>/stat: the state, and the start time in clock ticks since boot
// (the name in field 2 may hold spaces and parentheses: count from the last ')').
function procStat(pid) {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: fields[19] ?? null };
}

function startTimeOf(pid) {
  const stat = procStat(pid);
  return stat && stat.startTime;
}

let self = null;
function identity() {
  if (!self) {
    let pidNs = null;
    try {
      pidNs = fs.readlinkSync('/proc/self/ns/pid');
    } catch {
      // not Linux, or /proc hidden: judged by heartbeat only
    }
    const boot = readText('/proc/sys/kernel/random/boot_id');
    self = {
      pid: process.pid,
      pidNs,
      bootId: boot ? boot.trim() : null,
      hostname: os.hostname(),
      startTime: startTimeOf('self'),
    };
  }
  return self;
}

// Whether process `pid` started after `file` was last written: then it is not the process that
// wrote it (a format-1 lock file holds a pid only; a container's app is pid 1 in every run).
// Unknown (not Linux, /proc hidden): false, the lock is taken as held.
function startedAfter(pid, file) {
  const ticks = Number(startTimeOf(pid));
  const btime = /^btime (\d+)$/m.exec(readText('/proc/stat') || '');
  let written;
  try {
    written = fs.lstatSync(file).mtimeMs;
  } catch {
    return false;
  }
  if (!Number.isFinite(ticks) || !btime) return false;
  // Clock ticks are USER_HZ, 100 on every Linux Node runs on; btime has a resolution of 1 s.
  return Number(btime[1]) * 1000 + ticks * 10 > written + 2000;
}

function pidExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// 'live' or 'orphan' (or 'gone' when the directory vanished meanwhile).
function judge(dir, me, now) {
  if (fs.existsSync(path.join(dir, RELEASED))) return 'orphan';
  const ownerFile = path.join(dir, OWNER);
  let owner;
  let heartbeat;
  try {
    heartbeat = fs.lstatSync(ownerFile).mtimeMs;
    owner = JSON.parse(readOwnFile(ownerFile).toString('utf8'));
    if (owner === null || typeof owner !== 'object') throw new Error('not an owner');
  } catch {
    // No owner file (or half of one): a slot being created, or whose creator died at once.
    try {
      return now - fs.lstatSync(dir).mtimeMs > STALE_MS ? 'orphan' : 'live';
    } catch {
      return 'gone';
    }
  }
  if (me.bootId && owner.bootId === me.bootId && me.pidNs && owner.pidNs === me.pidNs) {
    if (!Number.isInteger(owner.pid) || !pidExists(owner.pid)) return 'orphan';
    const stat = procStat(owner.pid);
    // A pid we cannot look at is taken as its owner's: never adopt a slot that may be live.
    if (!stat) return 'live';
    if (stat.state === 'Z' || stat.state === 'X') return 'orphan'; // dead, not yet reaped
    if (owner.startTime != null && stat.startTime !== owner.startTime) return 'orphan';
    // This very process: live while an environment (the main thread, a worker) holds it.
    if (owner.pid === me.pid && owner.held && holds.available)
      return holds.isHeld(dir) ? 'live' : 'orphan';
    return 'live';
  }
  return now - heartbeat > STALE_MS ? 'orphan' : 'live';
}

// Creates this process's new slot in `root` → { name, dir, ownerFile, ownerBytes, ino, dev }.
function createSlot(root) {
  let name;
  let dir;
  for (;;) {
    name = `slot-${crypto.randomBytes(8).toString('hex')}`;
    dir = path.join(root, name);
    try {
      makePrivateDir(dir);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw ioError(`cannot create a spool slot in ${root}`, err);
    }
  }
  const ownerFile = path.join(dir, OWNER);
  // Held before its owner file says so: a slot is never judged by its hold before it has one.
  const held = holds.take(dir);
  const text = `${JSON.stringify({ ...identity(), createdAt: Date.now(), held })}\n`;
  try {
    const fd = openPrivateFile(ownerFile, 'wx');
    try {
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (held) holds.letGo(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    throw ioError(`cannot create a spool slot in ${root}`, err);
  }
  const { ino, dev } = fs.lstatSync(dir);
  return { name, dir, ownerFile, ownerBytes: Buffer.byteLength(text), ino, dev };
}

// Whether the slot's directory is still where it was made (not deleted, nor replaced). A slot
// that cannot be looked at is taken as there.
function slotThere(slot) {
  let st;
  try {
    st = fs.lstatSync(slot.dir);
  } catch (err) {
    return err.code !== 'ENOENT' && err.code !== 'ENOTDIR';
  }
  return st.ino === slot.ino && st.dev === slot.dev && st.isDirectory();
}

// A slot deleted while in use: its hold is let go (a new slot takes over).
function abandonSlot(slot) {
  holds.letGo(slot.dir);
}

// Gives the slot up (at close, or when open fails): removed when only its owner file is left,
// else released, for the next Spool on the root to adopt at once. Gone already: nothing to do.
function releaseSlot(slot) {
  try {
    let names;
    try {
      names = fs.readdirSync(slot.dir);
    } catch (err) {
      if (err.code === 'ENOENT') return;
      throw err;
    }
    if (names.every((n) => n === OWNER)) fs.rmSync(slot.dir, { recursive: true, force: true });
    else fs.renameSync(slot.ownerFile, path.join(slot.dir, RELEASED));
  } finally {
    holds.letGo(slot.dir); // after: until then it is judged live
  }
}

// Moves every orphan slot into `slot` and merges it there → the names adopted.
function adoptOrphans(root, slot, log) {
  const me = identity();
  const now = Date.now();
  const adopted = [];
  for (const name of ownEntries(root, (n) => SLOT.test(n) && n !== slot.name, 'directory', log)) {
    if (judge(path.join(root, name), me, now) !== 'orphan') continue;
    try {
      fs.renameSync(path.join(root, name), path.join(slot.dir, `adopt-${name}`));
    } catch (err) {
      if (err.code === 'ENOENT') continue; // another starter won it
      throw ioError(`cannot adopt ${path.join(root, name)}`, err);
    }
    adopted.push(name);
  }
  for (const name of ownEntries(slot.dir, (n) => ADOPTED.test(n), 'directory', log)) {
    merge(slot.dir, path.join(slot.dir, name), log);
  }
  if (adopted.length > 0)
    log('info', `adopted ${adopted.length} slot(s) whose owner is gone: ${adopted.join(', ')}`);
  return adopted;
}

// Moves the files of an adopted slot (and of the slots it had adopted) into `into`. Only its owner
// file is deleted: an entry we do not know (or a directory named like a journal file, a symlink,
// another user's file) is moved unread to the root's unrecognised/ directory, logged, and never
// looked at again — not lost, and not carried from slot to slot by every later run.
function merge(into, from, log) {
  // New names: unique in `into`, in the order the owner's journal wrote its segments (events
  // accepted in the same millisecond replay in the order they were accepted).
  const entries = fs
    .readdirSync(from)
    .map((name) => ({ name, st: fs.lstatSync(path.join(from, name)) }));
  const ours = (kind) =>
    new Set(entries.filter((e) => strangeEntry(e.st, kind) === null).map((e) => e.name));
  const files = ours('file');
  const dirs = ours('directory');
  const base = uniqueName(into, 'seg-adopted', '-000000');
  const segments = segmentOrder([...files].filter(isSegmentName));
  segments.forEach((name, i) => {
    fs.renameSync(
      path.join(from, name),
      path.join(into, `${base}-${String(i).padStart(6, '0')}.jsonl`),
    );
  });
  const moved = new Set(segments);
  for (const { name } of entries) {
    const file = path.join(from, name);
    if (moved.has(name)) continue;
    if (ADOPTED.test(name) && dirs.has(name)) {
      merge(into, file, log);
    } else if (IMPORT.test(name) && files.has(name)) {
      fs.renameSync(file, path.join(into, `${uniqueName(into, 'import')}.jsonl`));
    } else if (name === OWNER || name === RELEASED) {
      fs.rmSync(file, { force: true, recursive: true });
    } else {
      setAside(path.dirname(into), file, log);
    }
  }
  try {
    fs.rmdirSync(from);
  } catch (err) {
    log('warn', `could not remove ${from} after adopting it: ${err.message}`);
  }
}

// An entry of an adopted slot that is not ours → <root>/unrecognised/<random>-<name>: moved into
// the directory itself, never through a symlink found (or swapped in) at unrecognised. If it
// cannot be used, the entry stays where it is (in the adopted slot, logged at each start).
function setAside(root, file, log) {
  const dir = path.join(root, UNRECOGNISED);
  const name = `${crypto.randomBytes(4).toString('hex')}-${path.basename(file)}`;
  let aside;
  try {
    try {
      makePrivateDir(dir);
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    aside = openOwnDir(dir);
  } catch (err) {
    log('warn', `${file} is not a spool file and was not moved: ${err.message}`);
    return;
  }
  try {
    fs.renameSync(file, aside.pathOf(name));
    log('warn', `${file} is not a spool file; moved to ${path.join(dir, name)}`);
  } catch (err) {
    log('warn', `${file} is not a spool file and could not be moved aside: ${err.message}`);
  } finally {
    aside.close();
  }
}

// prefix-<random hex>, such that prefix-<hex><suffix>.jsonl is not in dir yet.
function uniqueName(dir, prefix, suffix = '') {
  for (;;) {
    const name = `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
    if (!fs.existsSync(path.join(dir, `${name}${suffix}.jsonl`))) return name;
  }
}

// Claims the late files of the root into the slot (import-….jsonl) and clears the temporary
// files of appendLate() calls that died before their rename.
function claimLateFiles(root, slot, log) {
  const now = Date.now();
  let claimed = 0;
  for (const name of ownEntries(root, (n) => LATE.test(n) || LATE_TMP.test(n), 'file', log)) {
    const file = path.join(root, name);
    if (LATE.test(name)) {
      try {
        fs.renameSync(file, path.join(slot.dir, `import-${name}`));
        claimed += 1;
      } catch (err) {
        if (err.code !== 'ENOENT') throw ioError(`cannot adopt ${file}`, err);
      }
    } else {
      try {
        if (now - fs.lstatSync(file).mtimeMs > STALE_MS) fs.unlinkSync(file);
      } catch {
        // gone already
      }
    }
  }
  return claimed;
}

// The files in the slot that wait to be imported (late files, and those of adopted slots).
function importFiles(slot) {
  return fs
    .readdirSync(slot.dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMPORT.test(e.name))
    .map((e) => e.name)
    .sort()
    .map((n) => path.join(slot.dir, n));
}

// A legacy journal (format 1) in the root → { files (oldest first), release() } once claimed by
// this slot, or null (none, its dispatcher is still running, or another starter holds the claim).
function claimLegacy(root, slot, log) {
  const legacySegments = (report) =>
    ownEntries(root, (n) => LEGACY_SEGMENT.test(n), 'file', report).sort();
  if (legacySegments(log).length === 0) return null;
  const lockFile = path.join(root, LEGACY_LOCK);
  const holder = Number(readOwnText(lockFile));
  if (
    Number.isInteger(holder) &&
    holder > 0 &&
    pidExists(holder) &&
    !startedAfter(holder, lockFile)
  ) {
    log(
      'info',
      `${root} holds a 0.1.0 journal still locked by process ${holder}; it is adopted once that process is gone`,
    );
    return null;
  }
  const claimFile = path.join(root, LEGACY_CLAIM);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openPrivateFile(claimFile, 'wx');
      try {
        fs.writeSync(fd, slot.name);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw ioError(`cannot claim the 0.1.0 journal in ${root}`, err);
    }
    const claimant = readOwnText(claimFile);
    const live =
      claimant &&
      SLOT.test(claimant) &&
      judge(path.join(root, claimant), identity(), Date.now()) === 'live';
    if (live || attempt > 0) return null;
    // The claimant died before it finished: its copies went with its slot (merged by id).
    fs.rmSync(claimFile, { force: true });
  }
  // Listed again now that the claim is ours: a starter that claimed first removes the segments it
  // imported before its claim, so what was listed before ours may be gone (imported once, there).
  const names = legacySegments();
  if (names.length === 0) {
    fs.rmSync(claimFile, { force: true });
    return null;
  }
  return {
    files: names.map((n) => path.join(root, n)),
    release() {
      // Oldest first: a newer segment may hold the acknowledgements of an older one.
      for (const n of names) fs.rmSync(path.join(root, n), { force: true });
      fs.rmSync(path.join(root, LEGACY_LOCK), { force: true });
      fs.rmSync(claimFile, { force: true });
    },
  };
}

// Touches the owner file: every HEARTBEAT_MS (unref'd) and whenever beat() finds it due; first,
// check() (the spool's: are the slot and its files still on disk? never throws).
class Heartbeat {
  constructor(file, log, check = () => {}) {
    this.file = file;
    this.log = log;
    this.check = check;
    this.last = Date.now();
    this.lost = false;
    this.timer = setInterval(() => this.beat(Date.now()), HEARTBEAT_MS);
    this.timer.unref();
  }

  due(now) {
    return now - this.last >= HEARTBEAT_MS;
  }

  beat(now) {
    this.last = now;
    this.check();
    try {
      fs.utimesSync(this.file, now / 1000, now / 1000);
    } catch (err) {
      if (!this.lost) {
        this.lost = true;
        this.log(
          'error',
          `the spool slot's owner file ${this.file} is gone (${err.code}): was the slot adopted by another host after a heartbeat stall of over ${STALE_MS / 1000} s?`,
        );
      }
    }
  }

  stop() {
    clearInterval(this.timer);
  }

  // The slot was recreated: its owner file from now on.
  follow(file) {
    this.file = file;
    this.lost = false;
  }
}

module.exports = {
  HEARTBEAT_MS,
  STALE_MS,
  identity,
  judge,
  createSlot,
  slotThere,
  abandonSlot,
  releaseSlot,
  adoptOrphans,
  claimLateFiles,
  importFiles,
  claimLegacy,
  Heartbeat,
};
