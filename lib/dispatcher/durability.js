'use strict';
// The durability glue between a dispatcher and its spool (lib/spool): the write-ahead journal of
// each event it takes on, keeping an event that leaves memory (parked in the journal, or in a late
// file of its own at a deadline), what replay brings back (./replay.js), and why the spool last
// refused an event. It owns the spool, the replay and that cause; the dispatcher owns the events
// and their counts, and hears of problems through `host` ({ log, report, notJournaled, onLost }).
const { Spool } = require('../spool');
const { Replay } = require('./replay');

// Why the spool could not take an event: the system's code ("ENOSPC", "EACCES") when the disk
// refused, else the spool's own.
function spoolCause(err) {
  return (
    (err && err.cause && typeof err.cause.code === 'string' && err.cause.code) ||
    (err && err.code) ||
    'spool'
  );
}

class Durability {
  // host.notJournaled() → the count of events kept in memory only, one more; host.onLost(records,
  // err): records whose files were deleted and could not be written back.
  constructor(options, countEvents, host) {
    this.host = host;
    this.maxBytes = options.spoolMaxBytes;
    this.restMs = options.spoolRetryMs;
    this.spool = new Spool(options.spoolDir, {
      maxBytes: options.spoolMaxBytes,
      log: host.log,
      onLost: host.onLost,
    });
    this.replay = new Replay(this.spool, options.endpoint, countEvents);
    // Why the spool last refused an event ('spoolMaxBytes', or the disk's code): the cause of what
    // that leaves to be lost.
    this.trouble = undefined;
  }

  get root() {
    return this.spool.root;
  }

  // Records parked now: at start, those adopted from earlier runs.
  get parkedCount() {
    return this.spool.parkedCount;
  }

  // Write-ahead: the event's record, on disk before dispatchEvent returns → the record, or null
  // when the spool has no room or cannot be written (reported, and logged now and then: the event
  // is kept in memory only).
  journal(request, acceptedAt, events) {
    let failure;
    try {
      const record = this.append(request, acceptedAt, events);
      if (record) return record;
    } catch (err) {
      failure = err;
      this.host.report(err);
    }
    this.trouble = failure ? spoolCause(failure) : 'spoolMaxBytes';
    const n = this.host.notJournaled();
    if (n === 1 || n % 1000 === 0) {
      const why = failure
        ? `the spool cannot be written (${failure.cause ? failure.cause.code || failure.cause.message : failure.message})`
        : `the spool is full (spoolMaxBytes ${this.maxBytes})`;
      this.host.log('warn', `${why}; ${n} event(s) kept in memory only`);
    }
    return null;
  }

  // A record for an event kept in memory only so far, now that it must leave memory → the record,
  // or null (no room yet, or a write error: reported; `trouble` says why).
  late(request, acceptedAt, events) {
    try {
      const record = this.append(request, acceptedAt, events);
      if (!record) this.trouble = 'spoolMaxBytes';
      return record;
    } catch (err) {
      this.trouble = spoolCause(err);
      this.host.report(err);
      return null;
    }
  }

  // A journal record if the spool has room now → the record or null; throws on a write error.
  append(request, acceptedAt, events) {
    const record = this.spool.append(request, acceptedAt);
    if (record) this.replay.remember(record, events);
    return record;
  }

  // An event that arrives while the dispatcher closes (into the journal if it has room) or after
  // (`closed`: a file of its own), parked at once. Throws when it cannot be written.
  acceptLate(request, events, closed) {
    const record = closed ? null : this.spool.append(request, Date.now());
    if (record) {
      this.replay.remember(record, events);
      this.spool.park(record);
    } else {
      Spool.appendLate(this.spool.root, request, Date.now());
    }
  }

  // Entries kept in memory only, at a deadline: one file of their own for all of them (one write,
  // one fsync) → false if it could not be written (reported; `trouble` says why).
  writeLate(entries) {
    if (entries.length === 0) return true;
    try {
      Spool.appendLateAll(
        this.spool.root,
        entries.map((e) => ({ request: e.request, acceptedAt: e.acceptedAt })),
      );
      return true;
    } catch (err) {
      this.trouble = spoolCause(err);
      this.host.report(err);
      return false;
    }
  }

  // On disk, waiting to be replayed.
  park(record) {
    this.spool.park(record);
  }

  // Delivered, or failed for good: acknowledged in the journal (throws on a write error).
  ack(record) {
    this.spool.ack(record);
  }

  // The same, a write error reported → whether it was acknowledged.
  ackOrReport(record) {
    try {
      this.spool.ack(record);
      return true;
    } catch (err) {
      this.host.report(err);
      return false;
    }
  }

  // ---- replay ---------------------------------------------------------------------------------

  replayDue(now) {
    return this.replay.due(now);
  }

  // When a timer must wake the dispatcher for replay (Infinity: no need).
  replayWakeAt(now) {
    return this.replay.wakeAt(now);
  }

  // Records replay has taken out of the spool so far.
  get taken() {
    return this.replay.taken;
  }

  nextReplayed() {
    return this.replay.next();
  }

  eventsOf(record) {
    return this.replay.eventsOf(record);
  }

  // The endpoint answers: spooled events may come back at once.
  resume() {
    this.replay.resume();
  }

  // A spooled event failed again: replay rests for spoolRetryMs.
  rest(now) {
    this.replay.rest(now + this.restMs);
  }

  stopReplay() {
    this.replay.stop();
  }

  // ---- the end --------------------------------------------------------------------------------

  close() {
    this.spool.close();
  }

  stats() {
    return this.spool.stats();
  }
}

module.exports = { Durability, spoolCause };
