'use strict';
// The durable spool: a write-ahead journal of accepted events in a slot of its own, inside a root
// that any number of processes and Spools may share (slots.js). The dispatcher appends each event
// it accepts — on disk (the page cache) before append() returns, so a SIGKILL loses nothing —
// acknowledges it once it is delivered or failed for good, and parks what should be replayed.
//   const spool = new Spool(root, { maxBytes, log });
//   append(request, acceptedAt) → record | null   ack(record)   park(record)   takeParked()
//   parkedCount   read(record)   close()   stats()   Spool.appendLate(root, request)
// maxBytes bounds this Spool's slot (each slot has its own bound, not the root). What a Spool
// inherits at open — orphan slots, late files, a legacy (format 1) journal — is live and parked,
// oldest acceptedAt first, and counts toward its slot; it is never deleted for lack of room (new
// appends are refused instead until it drains).
// Deleted while in use (rm -rf of the root, or a segment file): found by the heartbeat, by an
// append that finds the slot gone, and always at close(). The live records are written back from
// the files still open, into a recreated root and slot if need be (logged); those that cannot be
// (no permission, no space, the root replaced by a file) are handed to onLost, no longer live —
// never left counted as on disk.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { invalid } = require('../errors');
const { SpoolError, ioError } = require('./error');
const record = require('./record');
const directory = require('./directory');
const slots = require('./slots');
const { Journal, SpoolRecord } = require('./journal');

const METHOD_LIST = [...record.METHODS].join(', ');

function checkRequest(request) {
  if (request === null || typeof request !== 'object') {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'request',
      'an object { method, href, body, json }',
      request,
    );
  }
  const { method, href, body, json } = request;
  if (!record.METHODS.has(method)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      'request.method',
      `one of ${METHOD_LIST}`,
      method,
    );
  }
  if (typeof href !== 'string')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'request.href', 'a string', href);
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'request.body',
      'a string, a Uint8Array or undefined',
      body,
    );
  }
  if (json && typeof body !== 'string') {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'request.body',
      'a string (request.json is true)',
      body,
    );
  }
}

function checkAcceptedAt(acceptedAt) {
  if (typeof acceptedAt !== 'number')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'acceptedAt', 'a time in ms', acceptedAt);
  if (!Number.isFinite(acceptedAt) || acceptedAt < 0) {
    throw invalid(
      RangeError,
      'ERR_OUT_OF_RANGE',
      'acceptedAt',
      'a finite time in ms >= 0',
      acceptedAt,
    );
  }
}

function checkRoot(root) {
  if (typeof root !== 'string' || root === '')
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'root', 'a directory path', root);
}

// A logger that throws must not break the journal.
function safeLog(log) {
  if (log === undefined) return () => {};
  return (level, message) => {
    try {
      log(level, message);
    } catch {
      // ignored on purpose
    }
  };
}

// Files to import: ours, never read through a symlink.
function readFiles(files) {
  return files.map((file) => directory.readOwnFile(file));
}

class Spool {
  #root;
  #slot;
  #journal;
  #heartbeat = null;
  #log;
  #given; // the root as the caller named it: recreated from this path
  #onLost;
  #slotGone = false; // deleted, and not recreated (yet)
  #parked = []; // FIFO; entries whose record left the queue are skipped by takeParked()
  #parkedHead = 0;
  #parkedCount = 0;
  #skipped = 0;
  #adopted = 0;
  #closed = false;

  // root: a directory any number of processes may share (created 0700 if missing). maxBytes: the
  // bound of this Spool's slot on disk. log(level, message), level: debug|info|warn|error.
  // onLost(records, error): live records that are on disk no more (their files were deleted and
  // could not be written back); they are no longer live nor parked. Without it, logged.
  constructor(root, { maxBytes, log, onLost } = {}) {
    checkRoot(root);
    if (typeof maxBytes !== 'number')
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options.maxBytes', 'an integer', maxBytes);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw invalid(
        RangeError,
        'ERR_OUT_OF_RANGE',
        'options.maxBytes',
        'an integer >= 1',
        maxBytes,
      );
    }
    if (log !== undefined && typeof log !== 'function') {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        'options.log',
        'a function (level, message)',
        log,
      );
    }
    if (onLost !== undefined && typeof onLost !== 'function') {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        'options.onLost',
        'a function (records, error)',
        onLost,
      );
    }
    this.#log = safeLog(log);
    this.#onLost = onLost;
    this.#given = root;
    this.#root = directory.ensureRoot(root, this.#log);
    this.#slot = slots.createSlot(this.#root);
    this.#journal = new Journal(
      this.#slot.dir,
      Math.max(0, maxBytes - this.#slot.ownerBytes),
      this.#log,
    );
    try {
      this.#open();
    } catch (err) {
      this.#abandon();
      throw err instanceof SpoolError
        ? err
        : ioError(`cannot open the spool in ${this.#root}`, err);
    }
    this.#heartbeat = new slots.Heartbeat(this.#slot.ownerFile, this.#log, () => this.#verify());
  }

  get root() {
    return this.#root;
  }

  get dir() {
    return this.#slot.dir;
  }

  get parkedCount() {
    return this.#parkedCount;
  }

  // Journals one accepted event → its record, or null (nothing written) when live records leave
  // no room for it. Throws SpoolError ERR_SPOOL_IO on an I/O failure (nothing half-written stays).
  append(request, acceptedAt = Date.now()) {
    if (this.#closed) throw new SpoolError('the spool is closed', 'ERR_SPOOL_CLOSED');
    checkRequest(request);
    checkAcceptedAt(acceptedAt);
    const id = crypto.randomUUID();
    const line = record.encode(id, acceptedAt, request);
    let r;
    try {
      r = this.#journal.append(line, id, acceptedAt);
    } catch (err) {
      // A new segment could not be made: the slot is gone? Recreated, then once more.
      const code = err.cause && err.cause.code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || !this.#verify()) throw err;
      r = this.#journal.append(line, id, acceptedAt);
    }
    const now = Date.now();
    if (this.#heartbeat.due(now)) this.#heartbeat.beat(now);
    return r;
  }

  // Delivered, or failed for good: it never comes back (durable when ack returns: a flag byte
  // written in place). Idempotent; never throws for I/O (logged). After close() the flag is still
  // written, unless another Spool adopted the slot meanwhile (then it may be delivered again).
  ack(r) {
    this.#own(r);
    if (!r.live) return;
    if (r.parked) {
      r.parked = false;
      this.#parkedCount -= 1;
    }
    this.#journal.ack(r);
  }

  // Stays live on disk; queued for replay (FIFO, at the back). A no-op for a parked or dead record.
  park(r) {
    this.#own(r);
    if (!r.live || r.parked) return;
    r.parked = true;
    this.#parked.push(r);
    this.#parkedCount += 1;
  }

  // The oldest parked record, out of the replay queue (still live), or undefined.
  takeParked() {
    const queue = this.#parked;
    while (this.#parkedHead < queue.length) {
      const r = queue[this.#parkedHead];
      queue[this.#parkedHead++] = undefined;
      if (this.#parkedHead > 1024 && this.#parkedHead * 2 > queue.length) {
        queue.splice(0, this.#parkedHead);
        this.#parkedHead = 0;
      }
      if (r.parked) {
        r.parked = false;
        this.#parkedCount -= 1;
        return r;
      }
    }
    return undefined;
  }

  // The event as journaled: { method, href, body, json, acceptedAt }; body is a string for JSON
  // and text, a Buffer for bytes, undefined for none — the bytes accepted.
  read(r) {
    if (this.#closed) throw new SpoolError('the spool is closed', 'ERR_SPOOL_CLOSED');
    this.#own(r);
    if (!r.live) throw new SpoolError(`record ${r.id} is acknowledged`, 'ERR_SPOOL_NOT_LIVE');
    let line;
    try {
      line = this.#journal.readLine(r);
    } catch (err) {
      throw ioError(`cannot read record ${r.id} from ${r.segment.file}`, err);
    }
    const parsed = line.length === r.bytes && record.parse(line.subarray(0, line.length - 1));
    if (!parsed || parsed.id !== r.id || parsed.acked) {
      throw new SpoolError(
        `record ${r.id} in ${r.segment.file} is unreadable (corrupt or changed on disk)`,
        'ERR_SPOOL_CORRUPT',
      );
    }
    return record.requestOf(parsed);
  }

  // Durable (fsync), heartbeat stopped, slot released (removed if nothing is live, else left for
  // the next Spool on the root to adopt). First, what was deleted is written back (or handed to
  // onLost). Idempotent.
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    this.#verify();
    let failure;
    try {
      this.#journal.close();
      if (!this.#slotGone) directory.syncDir(this.#slot.dir);
    } catch (err) {
      failure =
        err instanceof SpoolError ? err : ioError(`cannot make ${this.#slot.dir} durable`, err);
    }
    try {
      if (this.#slotGone) slots.abandonSlot(this.#slot);
      else slots.releaseSlot(this.#slot);
    } catch (err) {
      failure = failure || ioError(`cannot release ${this.#slot.dir}`, err);
    }
    if (failure) throw failure;
  }

  // bytes: this slot's files on disk; liveBytes/liveRecords: not acknowledged; parked: queued for
  // replay; skipped: torn or invalid lines found at open; adopted: records inherited at open.
  stats() {
    return {
      bytes: this.#journal.bytes + this.#slot.ownerBytes,
      liveBytes: this.#journal.liveBytes,
      liveRecords: this.#journal.liveCount,
      parked: this.#parkedCount,
      skipped: this.#skipped,
      adopted: this.#adopted,
    };
  }

  // For an event handed to a closed dispatcher: a file of its own in the root (fsynced, then
  // renamed into view), adopted by the next Spool opened on the root. → the record's id.
  static appendLate(root, request, acceptedAt = Date.now()) {
    return Spool.appendLateAll(root, [{ request, acceptedAt }])[0];
  }

  // Several events ([{ request, acceptedAt }]) in one such file: one write and one fsync for all
  // (what a deadline leaves in memory can be thousands). → their ids, in order.
  static appendLateAll(root, events) {
    checkRoot(root);
    if (!Array.isArray(events))
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'events', 'an array', events);
    if (events.length === 0) return [];
    const ids = [];
    const lines = events.map(({ request, acceptedAt = Date.now() }) => {
      checkRequest(request);
      checkAcceptedAt(acceptedAt);
      const id = crypto.randomUUID();
      ids.push(id);
      return record.encode(id, acceptedAt, request);
    });
    const dir = directory.ensureRoot(root);
    const line = Buffer.concat(lines);
    const suffix = crypto.randomBytes(8).toString('hex');
    const tmp = path.join(dir, `.late-${suffix}.tmp`);
    try {
      const fd = directory.openPrivateFile(tmp, 'wx');
      try {
        for (let done = 0; done < line.length;)
          done += fs.writeSync(fd, line, done, line.length - done);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, path.join(dir, `late-${Date.now()}-${suffix}.jsonl`));
      directory.syncDir(dir);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw ioError(
        `cannot write ${events.length === 1 ? 'a late event' : `${events.length} late events`} to ${dir}`,
        err,
      );
    }
    return ids;
  }

  // ---- internals ----------------------------------------------------------------------------

  #own(r) {
    if (!(r instanceof SpoolRecord) || (r.live && r.segment.journal !== this.#journal)) {
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'record', 'a record of this spool', r);
    }
  }

  // Adopts what is inherited, loads the journal, parks every live record oldest first.
  #open() {
    const root = this.#root;
    const slot = this.#slot;
    const journal = this.#journal;
    const log = this.#log;
    slots.adoptOrphans(root, slot, log);
    slots.claimLateFiles(root, slot, log);
    const loaded = journal.load();
    const inherited = loaded.records;
    let { skipped, torn } = loaded;
    const importAll = (files) => {
      const found = record.liveEntries(readFiles(files));
      skipped += found.skipped;
      torn += found.torn;
      for (const r of journal.import(found.entries, loaded.byId)) inherited.push(r);
      journal.sync(); // the copies are durable before their sources go
    };
    for (const file of slots.importFiles(slot)) {
      importAll([file]);
      fs.unlinkSync(file);
    }
    const legacy = slots.claimLegacy(root, slot, log);
    if (legacy) {
      const before = inherited.length;
      importAll(legacy.files);
      legacy.release();
      log(
        'info',
        `imported ${inherited.length - before} event(s) from the 0.1.0 journal in ${root}`,
      );
    }
    if (skipped + torn > 0) {
      log(
        'warn',
        `skipped ${torn} torn last line(s) and ${skipped} invalid line(s) in the spool ${root}; they are not replayed`,
      );
    }
    if (loaded.duplicates > 0)
      log(
        'debug',
        `merged ${loaded.duplicates} duplicate record(s) left by an interrupted compaction`,
      );
    this.#skipped = skipped + torn;
    this.#adopted = inherited.length;
    inherited.sort((a, b) => a.acceptedAt - b.acceptedAt); // stable: file order among equals
    for (const r of inherited) this.park(r);
    if (journal.bytes > journal.capacity) journal.reclaim(0);
  }

  // Whether the journal is still on disk where it was written: the slot's directory, and each
  // segment file (fstat: still linked). What was deleted is written back from the files still open
  // — into a recreated root and slot when the slot is gone — and logged; what cannot be is lost
  // (onLost). → true when something was recreated. Never throws (the heartbeat's timer calls it).
  #verify() {
    const journal = this.#journal;
    const before = this.#slot.dir;
    let gone;
    let unlinked;
    try {
      gone = !slots.slotThere(this.#slot);
      unlinked = journal.unlinked();
    } catch (err) {
      this.#log('error', `cannot check the spool's files in ${before}: ${err.message}`);
      return false;
    }
    if (!gone && unlinked.length === 0) return false;
    const what = gone ? `the slot ${before}` : `${unlinked.length} segment file(s) in ${before}`;
    const live = unlinked.reduce((n, s) => n + s.records.size, 0);
    try {
      if (gone) this.#relocate();
      for (const s of unlinked) journal.rescue(s);
      journal.sync();
      directory.syncDir(this.#slot.dir);
    } catch (err) {
      const lost = unlinked
        .filter((s) => journal.segments.has(s))
        .flatMap((s) => journal.forget(s));
      // Nothing more lost (a retry while the root still cannot be made): said once already.
      if (lost.length === 0 && this.#slotGone) return false;
      this.#slotGone = gone && this.#slot.dir === before;
      this.#lose(
        lost,
        new SpoolError(
          `the spool's files were deleted while in use (${what}) and could not be recreated; ${lost.length} record(s) are on disk no more: ${err.message}`,
          'ERR_SPOOL_IO',
          err,
        ),
      );
      return false;
    }
    this.#log(
      'warn',
      `the spool's files were deleted while in use (${what}); recreated them in ${this.#slot.dir} with the ${live} live record(s) copied from the files still open`,
    );
    return true;
  }

  // A new slot in the root (made again if need be, with every check) in place of a deleted one.
  #relocate() {
    const root = directory.ensureRoot(this.#given, this.#log);
    const slot = slots.createSlot(root);
    slots.abandonSlot(this.#slot);
    this.#root = root;
    this.#slot = slot;
    this.#slotGone = false;
    this.#journal.relocate(slot.dir);
    if (this.#heartbeat) this.#heartbeat.follow(slot.ownerFile);
  }

  #lose(records, error) {
    for (const r of records) {
      if (!r.parked) continue;
      r.parked = false;
      this.#parkedCount -= 1;
    }
    if (!this.#onLost) {
      this.#log('error', error.message);
      return;
    }
    try {
      this.#onLost(records, error);
    } catch (err) {
      this.#log('error', `onLost threw: ${err && err.message}`);
    }
  }

  #abandon() {
    try {
      this.#journal.close();
    } catch {
      // the open failed already; the slot keeps what it holds for the next Spool
    }
    try {
      slots.releaseSlot(this.#slot);
    } catch {
      // as above
    }
  }
}

module.exports = { Spool, SpoolError, SpoolRecord };
