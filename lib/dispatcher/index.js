'use strict';
// createDispatcher(): delivery on top of the transport — retries with backoff and Retry-After, a
// bounded memory queue, the durable spool, flush and close — behind the Optimizely SDKs' dispatcher
// interface. Every event it takes on ends in exactly one way, counted and reported:
//   delivered (2xx; 'delivered' event) · failed (a final answer such as 400; 'failed' event) ·
//   spooled (on disk, delivered later in this run or by the next one; 'spool' event) · lost
//   ('drop' event, with why)
// The flow of one event: accept() journals and holds it → drain() sends it → onResult() →
// decide(): settle it, retry it later, park it in the spool, or drop it. close() bounds it all.
const { EventEmitter } = require('node:events');
const { performance } = require('node:perf_hooks');
const transport = require('../transport/completions');
const { prepare } = require('../transport/request');
const { invalid, unreadable } = require('../errors');
const { decide, deliveryPolicy } = require('../retry');
const { DeliveryQueue, LinkedList } = require('../queue');
const { Spool } = require('../spool');
const { readLogEvent, callOnce } = require('./interface');
const { redactUrl, redactText } = require('../redact');
const { readOptions, readCloseTimeout } = require('./options');
const { Accounting } = require('./accounting');
const { Delivery } = require('./delivery');
const { installExitHandlers } = require('./exit');
const { Replay } = require('./replay');
const { FlushWaiters } = require('./flush');

// The part of a deadline (close()'s, settleWithin()'s) kept for its end, so that it happens within
// the deadline, not after: transfers it aborts come back (what was delivered after all is
// acknowledged, not sent again by the next run) and whoever waits on the events hears of them (an
// SDK's close()), every event still held is settled (HELD_US each, measured ~6 here), those held
// in memory only are written to a late file (LATE_US each plus LATE_BYTES_PER_MS, a slow disk's
// pace with its fsync; measured ~17 µs each), and the journal is synced (SYNC_MS). A tenth of
// timeoutMs, at most GRACE_MS, for the first; all of timeoutMs at most (then the end starts at
// once: there is no time to deliver anything). One formula, reserveMs(), for every deadline.
const GRACE_MS = 250;
const HELD_US = 15;
const LATE_US = 30;
const LATE_BYTES_PER_MS = 100 * 1000;
const SYNC_MS = 25;

// Timers, deadlines, backoff and pauses run on a monotonic clock: a step of the wall clock (NTP, a
// VM resumed) must neither stall events in backoff nor expire every deadline at once. Wall time is
// kept only where it leaves the process: the spool's acceptedAt, 'pause' events' untilMs, and the
// epoch deadline settleBy() takes.
const clock = () => performance.now();

// Marks a 'drop' listener that only counts losses (instrumentDispatcher's): it does not stand for
// someone hearing of them.
const COUNTS_ONLY = Symbol('counts only');

const oneEvent = () => 1;

function closedError() {
  const err = new Error('The dispatcher is closed; the event was not accepted');
  err.code = 'ERR_DISPATCHER_CLOSED';
  return err;
}

// What a drop or a failure came down to, in a few words: "ECONNREFUSED", "HTTP 503".
function causeOf(statusCode, failure) {
  if (failure) return failure.code;
  return statusCode > 0 ? `HTTP ${statusCode}` : undefined;
}

// Why the spool could not take an event: the system's code ("ENOSPC", "EACCES") when the disk
// refused, else the spool's own.
function spoolCause(err) {
  return (err && err.cause && typeof err.cause.code === 'string' && err.cause.code) || (err && err.code) || 'spool';
}

class Dispatcher extends EventEmitter {
  constructor(options) {
    super();
    this.options = readOptions(options);
    // The user events a request carries (stats().events, each info's `events`): the options' hook
    // (the Optimizely adapter's counts the visitors of a batch), or one per request.
    this.countEvents = this.options.eventCount || oneEvent;
    this.policy = deliveryPolicy(this.options);
    // The facts decide() reads, filled in place for each answer.
    this.attemptResult = { statusCode: 0, code: undefined, retryAfterMs: undefined, attempts: 0, msLeft: 0, pausedMs: 0 };
    this.queue = new DeliveryQueue();
    this.held = new LinkedList('agePrev', 'ageNext'); // in memory, oldest first (by seq)
    this.heldBytes = 0;
    this.inFlight = 0;
    this.flyingBytes = 0; // of the events held that are in flight (never evicted)
    this.seq = 0;
    this.state = 'open';
    this.accounting = new Accounting();
    this.flushWaiters = new FlushWaiters();
    this.timer = null;
    this.timerAt = Infinity;
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
    this.closeEnd = Infinity;
    this.draining = false;
    this.closing = null;
    this.warned = false;
    this.lossWarned = false;
    // Why the spool last refused an event ('spoolMaxBytes', or the disk's code): the cause of what
    // that leaves to be lost.
    this.spoolTrouble = undefined;
    this.spool = null;
    this.replay = null;
    this.removeExitHandlers = null;
    if (this.options.spoolDir) {
      this.spool = new Spool(this.options.spoolDir, {
        maxBytes: this.options.spoolMaxBytes,
        log: (level, message) => this.log(level, message),
        onLost: (records, err) => this.spoolLost(records, err),
      });
      this.replay = new Replay(this.spool, this.options.endpoint, this.countEvents);
      // Adopted from earlier runs: this dispatcher's to deliver now. (Their events — visitors —
      // are counted when each is read back.)
      const inherited = this.spool.parkedCount;
      for (let i = 0; i < inherited; i++) this.accounting.enter('spooled', 0, true);
      if (inherited > 0) this.log('info', `${inherited} spooled event(s) to deliver first from ${this.spool.root}`);
    }
    if (this.options.handleProcessExit) this.removeExitHandlers = installExitHandlers(this);
    this.drain();
  }

  log(level, message) {
    const { logger } = this.options;
    if (!logger) return;
    try {
      logger[level](`[native-event-dispatcher] ${redactText(message)}`);
    } catch {
      // a logger that throws must not break delivery
    }
  }

  // A problem that is nobody's result: an 'error' event, or else a process warning (once) and the
  // logger. Never silent.
  report(err) {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', err);
      } catch (thrown) {
        this.log('error', `an 'error' listener threw: ${thrown && thrown.stack ? thrown.stack : thrown}`);
      }
      return;
    }
    this.log('error', err && err.stack ? err.stack : String(err));
    if (!this.warned) {
      this.warned = true;
      process.emitWarning(`native-event-dispatcher: ${redactText(err && err.message ? err.message : String(err))} (listen for 'error' on the dispatcher to handle these)`,
        { code: 'NED_DISPATCHER_ERROR' });
    }
  }

  // Listeners hear of an event once its state has changed (settled, counted, out of memory), so
  // one that calls send() or throws finds the dispatcher consistent; a throw is reported like a
  // callback's, and never breaks a deadline, the counts or the caller.
  notify(name, info) {
    try {
      this.emit(name, info);
    } catch (err) {
      this.report(err);
    }
  }

  // ---- accepting events -----------------------------------------------------------------------

  // The Optimizely interface: v6 uses the promise; v4/v5 pass a callback, called exactly once.
  dispatchEvent(event, callback) {
    let request;
    let events;
    try {
      const e = readLogEvent(event, this.options.endpoint);
      request = prepare(e.httpVerb, e.url, e.params);
      events = this.eventsOf(e.params);
    } catch (err) {
      return this.refuse(unreadable(err, 'ERR_INVALID_EVENT', 'the event'), callback);
    }
    return this.accept(request, events, callback);
  }

  // The same delivery with a plain signature.
  send(httpVerb, url, params) {
    let request;
    let events;
    try {
      request = prepare(httpVerb, this.options.endpoint || url, params);
      events = this.eventsOf(params);
    } catch (err) {
      return this.refuse(unreadable(err, 'ERR_INVALID_ARG_VALUE', 'the request'));
    }
    return this.accept(request, events);
  }

  eventsOf(params) {
    const n = this.countEvents(params);
    if (!Number.isInteger(n) || n < 0) {
      throw invalid(TypeError, 'ERR_INVALID_RETURN_VALUE', 'options.eventCount(params)', 'an integer ≥ 0', n);
    }
    return n;
  }

  refuse(err, callback) {
    callOnce(callback, { statusCode: 0, error: err }, (e) => this.report(e));
    const promise = Promise.reject(err);
    // With a callback the SDK does not look at the promise: never leave it unhandled.
    if (callback) promise.catch(() => {});
    return promise;
  }

  accept(request, events, callback) {
    if (this.state !== 'open') return this.acceptLate(request, events, callback);
    // The caller may reuse its buffer once send() returns; retries (and a first attempt that
    // waits its turn) send the bytes it handed over.
    const { body } = request;
    if (body !== undefined && typeof body !== 'string') {
      request = { ...request, body: Buffer.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
    }
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    const now = clock();
    const straight = this.queue.size === 0 && this.inFlight < this.options.maxInFlight
      && !this.queue.isPaused(request.origin, now) && !this.replayDue(now);
    // Text that fits even at 3 bytes a character and goes straight out is counted by the pump's
    // copy of it, not by a pass of our own over it first.
    const uncounted = straight && typeof body === 'string'
      && this.heldBytes + 3 * body.length <= this.options.maxQueueBytes;
    const entry = new Delivery(this, ++this.seq, request, Date.now(), now, now + this.options.deadlineMs, events, uncounted);
    entry.resolve = resolve;
    entry.callback = callback;
    this.accounting.accepted(events);
    if (this.spool) this.journal(entry);
    if (uncounted) {
      this.held.push(entry);
      this.sendEntry(entry);
      return promise;
    }
    const room = this.makeRoom(entry.bytes);
    this.hold(entry);
    if (!room) {
      if (entry.record) this.park(entry, 'queue-full');
      else this.drop(entry, 'queue-full', { cause: this.spool ? this.spoolTrouble : 'maxQueueBytes' });
    } else if (straight) {
      this.sendEntry(entry); // nothing waits before it: straight out
    } else {
      this.queue.add(entry);
      this.drain();
    }
    return promise;
  }

  // An event that arrives while or after the dispatcher closes (the SDK may hand over its last
  // batch then): spooled when there is a spool, refused otherwise.
  acceptLate(request, events, callback) {
    if (!this.spool) return this.refuse(closedError(), callback);
    let result;
    let failure;
    try {
      // While closing, into the journal if it has room; otherwise (or once closed) a file of its
      // own, as an event that is pending at close: the bound is for what the journal keeps live.
      const record = this.state === 'closed' ? null : this.spool.append(request, Date.now());
      if (record) {
        this.replay.events.set(record, events);
        this.spool.park(record);
      } else {
        Spool.appendLate(this.spool.root, request, Date.now());
      }
      this.accounting.enter('spooled', events);
      result = { spooled: true };
    } catch (err) {
      failure = err;
      this.accounting.enter('lost', events);
      result = { statusCode: 0, dropped: true, reason: 'closed' };
    }
    callOnce(callback, result, (e) => this.report(e));
    if (failure) this.emitDrop({ reason: 'closed', request, attempts: 0, events, error: failure, cause: spoolCause(failure) });
    else this.notify('spool', { reason: 'closed', url: redactUrl(request.href), attempts: 0, events });
    return Promise.resolve(result);
  }

  // Write-ahead: the event is on disk before dispatchEvent returns.
  journal(entry) {
    let failure;
    try {
      this.record(entry);
    } catch (err) {
      failure = err;
      this.report(err);
    }
    if (entry.record) return;
    this.spoolTrouble = failure ? spoolCause(failure) : 'spoolMaxBytes';
    const n = ++this.accounting.notJournaled;
    if (n === 1 || n % 1000 === 0) {
      const why = failure ? `the spool cannot be written (${failure.cause ? failure.cause.code || failure.cause.message : failure.message})`
        : `the spool is full (spoolMaxBytes ${this.options.spoolMaxBytes})`;
      this.log('warn', `${why}; ${n} event(s) kept in memory only`);
    }
  }

  // Gives the event a journal record if the spool has room now (throws on a write error).
  record(entry) {
    entry.record = this.spool.append(entry.request, entry.acceptedAt);
    if (entry.record) this.replay.events.set(entry.record, entry.events);
    return entry.record !== null;
  }

  // An event that must leave memory (its retries are exhausted, or a deadline came) goes to the
  // spool if there is one — also one kept in memory only because the spool was full when it came:
  // into the journal if it has room now. Parked and true, or false (no spool, or no room in it; a
  // write error is reported). At a deadline, what finds no room gets a file of its own (writeLate).
  keep(entry, reason, last) {
    if (!this.spool) return false;
    if (!entry.record) {
      try {
        if (!this.record(entry)) {
          this.spoolTrouble = 'spoolMaxBytes';
          return false;
        }
      } catch (err) {
        this.spoolTrouble = spoolCause(err);
        this.report(err);
        return false;
      }
    }
    this.park(entry, reason, last);
    return true;
  }

  // Entries kept in memory only, at a deadline: one file of their own for all of them (one write,
  // one fsync), then parked; false if it could not be written (reported; spoolTrouble says why).
  writeLate(entries) {
    if (entries.length === 0) return true;
    try {
      Spool.appendLateAll(this.spool.root, entries.map((e) => ({ request: e.request, acceptedAt: e.acceptedAt })));
    } catch (err) {
      this.spoolTrouble = spoolCause(err);
      this.report(err);
      return false;
    }
    for (const e of entries) e.lateFile = true;
    return true;
  }

  // Frees memory for `bytes`: without a spool the oldest waiting events are dropped (never one in
  // flight). With a spool nothing is evicted: the new event is parked instead (see accept).
  makeRoom(bytes) {
    const limit = this.options.maxQueueBytes;
    if (this.heldBytes + bytes <= limit) return true;
    if (this.spool) return false;
    // If evicting every waiting event would not make room, none is evicted (the new one is not taken).
    if (this.flyingBytes + bytes > limit) return false;
    for (let e = this.held.head; e && this.heldBytes + bytes > limit;) {
      const next = e.ageNext;
      if (!e.inFlight) {
        this.queue.remove(e);
        this.drop(e, 'queue-full', { ...e.last, cause: 'maxQueueBytes' });
      }
      e = next;
    }
    return this.heldBytes + bytes <= limit;
  }

  hold(entry) {
    this.held.push(entry);
    this.heldBytes += entry.bytes;
  }

  // ---- sending ----------------------------------------------------------------------------------

  drain() {
    // Nothing waits, nothing to replay, no timer to move: the common case after a delivery.
    if (this.queue.size === 0 && this.replay === null && this.timer === null && this.flushWaiters.size === 0) return;
    if (this.draining) return;
    this.draining = true;
    try {
      const now = clock();
      this.queue.promote(now);
      this.refill(now);
      while (this.inFlight < this.options.maxInFlight) {
        const entry = this.queue.take();
        if (!entry) break;
        this.sendEntry(entry);
      }
      this.arm(now);
    } finally {
      this.draining = false;
    }
    if (this.flushWaiters.size > 0) this.checkFlush();
  }

  sendEntry(entry) {
    entry.attempts += 1;
    entry.inFlight = true;
    this.inFlight += 1;
    if (entry.bytes < 0) {
      entry.bytes = 0; // what it counts if the submit throws (and it settles at once)
      entry.transferId = this.submit(entry);
      if (entry.transferId === 0) return;
      entry.bytes = transport.copiedBytes();
      this.heldBytes += entry.bytes;
      this.flyingBytes += entry.bytes;
      return;
    }
    if (!entry.settled) this.flyingBytes += entry.bytes;
    entry.transferId = this.submit(entry);
  }

  // The transfer's id, or 0 when the request could not be handed over (settled as failed).
  submit(entry) {
    try {
      return transport.submit(entry.request, this.options.profile, entry);
    } catch (err) {
      // Junk that validation should have caught: the event cannot be sent, now or later.
      this.onResult(entry, 0, 0, { statusCode: 0, failure: { code: err.code || 'EINVAL', message: err.message, curlCode: 0 } });
      return 0;
    }
  }

  onResult(entry, statusCode, bytesSent, outcome) {
    if (!entry.settled) this.flyingBytes -= entry.bytes;
    entry.inFlight = false;
    entry.transferId = 0;
    this.inFlight -= 1;
    this.accounting.bytesSent += bytesSent;
    try {
      this.conclude(entry, statusCode, outcome);
    } catch (err) {
      this.report(err);
    }
    this.drain();
  }

  // One attempt's answer: the delivery policy decides (lib/retry.js: a pure function of the
  // result), the dispatcher carries it out.
  conclude(entry, statusCode, outcome) {
    const failure = outcome && outcome.failure;
    const now = clock();
    const result = this.attemptResult; // reused: nothing is allocated per event
    result.statusCode = statusCode;
    result.code = failure ? failure.code : undefined;
    result.retryAfterMs = outcome && !failure ? outcome.retryAfterMs : undefined;
    result.attempts = entry.attempts;
    result.msLeft = entry.deadline - now;
    result.pausedMs = this.queue.pausedUntil(entry.origin) - now;
    const decision = decide(result, this.policy);
    const { action } = decision;
    if (entry.settled) {
      // Settled while in flight (a deadline gave up on it and aborted it), yet an answer came:
      // the journal and the counts follow the server. Our own abort is no answer.
      if (action === 'deliver' || (action === 'fail' && statusCode > 0)) this.settledLate(entry, action === 'deliver' ? 'delivered' : 'failed');
      return;
    }
    if (action === 'deliver') {
      if (entry.record) this.spool.ack(entry.record);
      this.accounting.delivered(entry.events);
      if (this.replay) this.replay.notBefore = 0; // the endpoint answers: spooled events may come back
      const latencyMs = entry.replayed ? undefined : now - entry.since;
      if (!entry.replayed) this.accounting.latency(latencyMs);
      this.settle(entry, { statusCode, attempts: entry.attempts });
      // The hot path: nothing is built for nobody.
      if (this.listenerCount('delivered') !== 0) this.notifyDelivered(entry, statusCode, latencyMs);
      return;
    }
    if (action === 'fail') {
      if (entry.record) this.spool.ack(entry.record);
      this.accounting.move('pending', 'failed', entry.events);
      const error = failure && transport.errorOf(failure, entry.request);
      this.settle(entry, {
        statusCode, attempts: entry.attempts, failed: true, ...(error ? { error } : {}),
      });
      this.notify('failed', this.dropInfo({
        reason: 'rejected', request: entry.request, attempts: entry.attempts, events: entry.events, statusCode, error,
      }));
      return;
    }
    this.retryLater(entry, statusCode, failure, now, decision);
  }

  // latencyMs: from acceptance, on the monotonic clock; a replayed event was accepted by this or
  // an earlier run, whose clock is gone: its wall-clock age, never below 0.
  notifyDelivered(entry, statusCode, latencyMs) {
    this.notify('delivered', {
      url: redactUrl(entry.request.href), statusCode, attempts: entry.attempts,
      latencyMs: entry.replayed ? Math.max(0, Date.now() - entry.acceptedAt) : latencyMs,
      events: entry.events, replayed: entry.replayed,
    });
  }

  // Retried later, or (retries exhausted, or past its deadline) kept in the spool or dropped;
  // then the listeners hear of it (a pause of the origin first).
  retryLater(entry, statusCode, failure, now, decision) {
    const { delayMs: delay, pauseMs } = decision;
    let pause;
    if (pauseMs !== undefined) {
      this.queue.pause(entry.origin, now + pauseMs);
      pause = { origin: entry.origin, untilMs: Date.now() + pauseMs, statusCode };
    }
    const last = { statusCode, failure };
    entry.last = last; // what a later drop of it names
    if (decision.action === 'exhausted') {
      const { reason } = decision;
      if (this.keep(entry, reason, last)) {
        this.replay.notBefore = now + this.options.spoolRetryMs;
      } else if (this.spool) {
        // Kept in memory only, and the journal is still full: it stays in memory (within
        // maxQueueBytes) and is tried again at the spool's pace, journaled once there is room.
        this.queue.defer(entry, now + Math.max(delay, this.options.spoolRetryMs));
      } else {
        this.drop(entry, reason, last);
      }
      if (pause) this.notify('pause', pause);
      return;
    }
    this.accounting.retried += 1;
    this.queue.defer(entry, now + delay);
    if (pause) this.notify('pause', pause);
    this.notify('retry', {
      url: redactUrl(entry.request.href), attempt: entry.attempts, delayMs: delay,
      statusCode: statusCode || undefined, code: failure && failure.code,
    });
  }

  // A deadline settled this event (spooled, or lost) while it was in flight, and then its answer
  // came: the journal and the counts follow what really happened.
  settledLate(entry, kind) {
    // After close() the summary is given and the journal closed; a file of its own cannot be
    // acknowledged: the next run may deliver it again (at least once).
    if (this.state === 'closed' || entry.lateFile) return;
    const from = entry.record ? 'spooled' : 'lost';
    if (entry.record) {
      try {
        this.spool.ack(entry.record);
      } catch (err) {
        this.report(err);
        return;
      }
    }
    this.accounting.move(from, kind, entry.events);
  }

  // Keeps the event loop busy only while events wait on time (a retry, a pause); a timer that
  // only waits to replay the spool does not keep the process alive — those events are on disk.
  arm(now) {
    let at = this.queue.nextWake();
    const { replay } = this;
    if (replay && replay.spool.parkedCount > 0 && !replay.stopped && replay.notBefore > now) {
      at = Math.min(at, replay.notBefore);
    }
    if (at === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.drain();
    }, Math.max(0, at - now));
    if (this.queue.size === 0) this.timer.unref();
  }

  replayDue(now) {
    return this.replay !== null && this.replay.due(now);
  }

  // Brings spooled events back into memory while there is room: oldest first. A record that does
  // not read back, or does not pass the checks a new event passes, is dropped and reported.
  refill(now) {
    if (!this.replayDue(now)) return;
    const limit = this.options.maxQueueBytes / 2;
    for (let budget = this.options.maxInFlight; this.heldBytes < limit && budget > 0; budget--) {
      const next = this.replay.next();
      if (!next) break;
      const { record, request, events } = next;
      if (!next.counted) this.accounting.addEvents('spooled', events);
      if (next.error) {
        this.discard(record, next.error, events);
        continue;
      }
      const entry = new Delivery(this, ++this.seq, request, record.acceptedAt, now, now + this.options.deadlineMs, events);
      entry.record = record;
      entry.replayed = true;
      this.accounting.replayed += 1;
      this.accounting.move('spooled', 'pending', events);
      this.hold(entry);
      this.queue.add(entry, true);
      this.flushWaiters.took(this.replay.taken, entry.seq);
    }
  }

  discard(record, err, events) {
    try {
      this.spool.ack(record);
    } catch (ackError) {
      this.report(ackError);
    }
    this.accounting.move('spooled', 'lost', events);
    const reason = err.code === 'ERR_SPOOL_CORRUPT' || err.code === 'ERR_SPOOL_IO' ? 'unreadable' : 'invalid';
    this.emitDrop({ reason, request: undefined, attempts: 0, events, error: err, cause: reason === 'unreadable' ? spoolCause(err) : err.code });
  }

  // ---- endings ----------------------------------------------------------------------------------

  // The entry leaves memory; nothing more will be done with it.
  release(entry) {
    entry.settled = true;
    this.held.remove(entry);
    this.heldBytes -= entry.bytes;
    if (entry.inFlight) this.flyingBytes -= entry.bytes;
  }

  settle(entry, result) {
    this.release(entry);
    const { resolve, callback } = entry;
    entry.resolve = null;
    entry.callback = null;
    if (resolve) resolve(result);
    callOnce(callback, result, (e) => this.report(e));
  }

  // On disk, waiting to be replayed (later in this run, or by the next one).
  park(entry, reason, last = {}) {
    if (!entry.lateFile) this.spool.park(entry.record);
    this.accounting.move('pending', 'spooled', entry.events);
    if (entry.replayed) {
      this.release(entry); // its promise was settled in an earlier run
    } else {
      this.settle(entry, { spooled: true, attempts: entry.attempts });
    }
    this.notify('spool', {
      reason, url: redactUrl(entry.request.href), attempts: entry.attempts, events: entry.events,
      statusCode: last.statusCode || undefined, code: last.failure && last.failure.code,
    });
  }

  drop(entry, reason, last = {}, quiet = false) {
    this.accounting.move('pending', 'lost', entry.events);
    const error = last.failure && transport.errorOf(last.failure, entry.request);
    // A status that came with a failure is not an answer: only delivered results carry a 2xx.
    const statusCode = last.statusCode >= 300 ? last.statusCode : 0;
    this.settle(entry, {
      statusCode, dropped: true, reason, attempts: entry.attempts, ...(error ? { error } : {}),
    });
    this.emitDrop({
      reason, request: entry.request, attempts: entry.attempts, events: entry.events, statusCode: last.statusCode, error, cause: last.cause,
    }, quiet);
  }

  // `cause`: the few words that say why (a code, "HTTP 503", "maxQueueBytes", "ENOSPC"); by default
  // the last answer's. The URL is shown with its credentials masked.
  dropInfo({ reason, request, attempts, events, statusCode, error, cause }) {
    return {
      reason, httpVerb: request && request.method, url: request && redactUrl(request.href), body: request && request.body, attempts, events,
      statusCode: statusCode || undefined, code: error && error.code, cause: cause ?? causeOf(statusCode, error), error,
    };
  }

  emitDrop(details, quiet = false) {
    const info = this.dropInfo(details);
    const why = info.cause ? `${info.reason}: ${info.cause}` : info.reason;
    const what = info.url ? `an event (${why}) for ${info.url}` : `a spooled event (${why})`;
    if (!quiet) this.log('warn', `dropped ${what} after ${info.attempts} attempt(s)`);
    // A loss is never silent: with nobody listening and no logger, the first one is a process
    // warning (the counts in stats() and close() hold the rest).
    if (!this.lossWarned && !this.options.logger && !this.listeners('drop').some((listener) => !listener[COUNTS_ONLY])) {
      this.lossWarned = true;
      process.emitWarning(`native-event-dispatcher lost ${what}; listen for 'drop' or pass a logger to hear of every loss`,
        { code: 'NED_EVENT_LOST' });
    }
    this.notify('drop', info);
  }

  // ---- the spool's files deleted ---------------------------------------------------------------

  // Records the spool could not write back after their files were deleted (lib/spool/index.js): on
  // disk no more. Those parked were counted spooled: lost now, each a 'drop' with the cause. Those
  // of events still in memory are journaled again if the events leave it (keep(), writeLate()).
  spoolLost(records, err) {
    const lost = new Set(records);
    for (let e = this.held.head; e; e = e.ageNext) {
      if (e.record && lost.delete(e.record)) e.record = null;
    }
    this.report(err);
    for (const record of lost) {
      const events = this.replay.events.get(record) ?? 0;
      this.accounting.move('spooled', 'lost', events);
      this.emitDrop({ reason: 'spool-lost', request: undefined, attempts: 0, events, error: err, cause: spoolCause(err) }, true);
    }
    if (lost.size > 0) this.log('warn', `dropped ${lost.size} spooled event(s): ${err.message}`);
  }

  // ---- flush and close --------------------------------------------------------------------------

  // Resolves once every event accepted before the call has been settled — delivered, failed,
  // spooled or lost — and, when the spool's replay is due, once the spooled events waiting at the
  // call have each been tried (delivered, failed, or back in the spool). With options — a deadline,
  // `timeoutMs` or a number of ms, read as close() reads its own — it says which came first:
  // { settled: true, pending: 0 }, or { settled: false, pending } at the deadline (the events go
  // on; only the waiting stops).
  flush(options) {
    let deadline = null;
    if (options !== undefined) {
      try {
        deadline = { timeoutMs: readCloseTimeout(options, Infinity), pendingOf: (waiter) => this.flushPending(waiter) };
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const now = clock();
    const taken = this.replay ? this.replay.taken : 0;
    const target = this.replayDue(now) ? taken + this.spool.parkedCount : taken;
    const promise = this.flushWaiters.add(this.seq, target, deadline);
    this.drain();
    return promise;
  }

  // What a flush still waits for at its deadline, in requests: those held in memory (accepted
  // before it, or replayed for it) and the spooled ones replay has yet to take for it.
  flushPending(waiter) {
    let held = 0;
    for (let e = this.held.head; e; e = e.ageNext) if (e.seq <= waiter.seq) held += 1;
    return held + Math.max(0, waiter.takeTarget - (this.replay ? this.replay.taken : 0));
  }

  checkFlush() {
    const head = this.held.head;
    this.flushWaiters.settle(head ? head.seq : Infinity, this.replay ? this.replay.taken : 0, this.replayDue(clock()));
  }

  // At `deadline` (ms since the epoch), everything this dispatcher still holds is settled —
  // spooled, or lost without a spool — and transfers in flight are aborted; it stays open.
  // closeOptimizely() uses it so that the SDK's own close() cannot outlast the deadline.
  // The earliest deadline set wins: a later one never extends it.
  settleBy(deadline) {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'deadline', 'a time in ms since the epoch (Date.now() + ms)', deadline);
    }
    // The epoch time is read once, here; from now on the clock is monotonic.
    const at = clock() + Math.max(0, deadline - Date.now());
    if (this.deadlineTimer) {
      if (this.deadlineAt <= at) return;
      clearTimeout(this.deadlineTimer);
    }
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.deadlineAt = Infinity;
      this.expire();
    }, Math.min(2 ** 31 - 1, at - clock()));
    this.deadlineTimer.unref();
  }

  expire() {
    if (this.replay) this.replay.stopped = true; // nothing more comes back from the spool
    // A snapshot: listeners may accept or settle events meanwhile.
    const held = [];
    for (let e = this.held.head; e; e = e.ageNext) held.push(e);
    const late = [];
    const causes = new Map(); // cause -> events lost for it
    const lose = (e, cause) => {
      causes.set(cause, (causes.get(cause) || 0) + 1);
      this.drop(e, 'closed', { ...e.last, cause }, true);
    };
    let full = false; // once the journal has no room, the rest go to the late file directly
    for (const e of held) {
      if (e.settled) continue;
      this.queue.remove(e);
      if (e.inFlight) transport.abort(e.transferId);
      if ((e.record || !full) && this.keep(e, 'closed')) continue;
      if (this.spool) {
        full = true;
        late.push(e);
      } else {
        // Nowhere to keep it: the cause is what kept it from being delivered, if anything did.
        lose(e, (e.last && causeOf(e.last.statusCode, e.last.failure)) || 'no spoolDir');
      }
    }
    const written = this.writeLate(late);
    for (const e of late) {
      if (e.settled) continue;
      if (written) this.park(e, 'closed');
      else lose(e, this.spoolTrouble);
    }
    // One line for all of them: thousands of lines would cost the deadline what it is for.
    if (causes.size > 0) {
      const lost = [...causes.values()].reduce((a, b) => a + b, 0);
      const why = [...causes].map(([cause, n]) => `${n} ${cause}`).join(', ');
      this.log('warn', `dropped ${lost} event(s) still held at the deadline (${why})`);
    }
    this.checkFlush();
  }

  // Stops accepting (new events are refused, or spooled when there is a spool), delivers what it
  // holds and what the spool has due, until timeoutMs; then settles the rest — spooled, or lost
  // without a spool — aborting what is in flight, and closes the spool.
  // Called again while closing: the same promise, and the earlier of the two deadlines holds (a
  // SIGTERM's closeTimeoutMs cuts short an application's longer close()).
  close(options) {
    let timeoutMs;
    try {
      timeoutMs = readCloseTimeout(options, this.options.closeTimeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closing) {
      const end = clock() + timeoutMs;
      if (this.state === 'closing' && end < this.closeEnd) {
        this.closeEnd = end;
        this.settleBy(Date.now() + timeoutMs - this.reserveMs(timeoutMs));
      }
      return this.closing;
    }
    this.state = 'closing';
    this.closing = this.shutDown(timeoutMs);
    return this.closing;
  }

  // For a deadline `options` away (as close() reads them: ms, { timeoutMs }, or by default
  // closeTimeoutMs), settles what is held early enough that the settling — and whoever waits on
  // the events hearing of it — ends by the deadline: settleBy() then, less reserveMs. Returns
  // { timeoutMs, reserveMs }. closeOptimizely() uses it.
  settleWithin(options) {
    const timeoutMs = readCloseTimeout(options, this.options.closeTimeoutMs);
    const reserveMs = this.reserveMs(timeoutMs);
    this.settleBy(Date.now() + timeoutMs - reserveMs);
    return { timeoutMs, reserveMs };
  }

  // Milliseconds of a deadline `timeoutMs` away to keep for settling what is still held then.
  reserveMs(timeoutMs) {
    let late = 0;
    let lateBytes = 0;
    if (this.spool) {
      for (let e = this.held.head; e; e = e.ageNext) {
        if (e.record) continue;
        late += 1;
        lateBytes += e.bytes;
      }
    }
    const reserve = Math.min(GRACE_MS, Math.floor(timeoutMs / 10)) + (this.spool ? SYNC_MS : 0)
      + Math.ceil((this.held.size * HELD_US + late * LATE_US) / 1000) + Math.ceil(lateBytes / LATE_BYTES_PER_MS);
    return Math.min(reserve, timeoutMs);
  }

  async shutDown(timeoutMs) {
    this.closeEnd = clock() + timeoutMs;
    const grace = this.reserveMs(timeoutMs);
    let timer;
    const deadline = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs - grace); });
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    this.expire();
    // Aborted transfers come back within moments; what turns out delivered is acknowledged.
    while (this.inFlight > 0 && clock() < this.closeEnd) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, this.closeEnd - clock())));
    }
    if (this.timer) clearTimeout(this.timer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.timer = null;
    this.deadlineTimer = null;
    if (this.spool) {
      try {
        this.spool.close();
      } catch (err) {
        this.report(err);
      }
    }
    if (this.removeExitHandlers) this.removeExitHandlers();
    this.removeExitHandlers = null;
    // No connection is left open behind it; whoever sends next through the transport reconnects.
    transport.closeIdle();
    this.state = 'closed';
    const summary = this.accounting.summary();
    this.log('info', `closed: ${JSON.stringify(summary)}`);
    return summary;
  }

  // Synchronous, at process exit: what is still in memory is journaled already; make it durable.
  onProcessExit() {
    const inMemory = this.held.size;
    if (this.spool && this.state !== 'closed') {
      // Those kept in memory only (the journal was full when they came) get a file of their own.
      const late = [];
      for (let e = this.held.head; e; e = e.ageNext) if (!e.record && !e.lateFile) late.push(e);
      this.writeLate(late);
      try {
        this.spool.close();
      } catch (err) {
        this.log('error', `could not close the spool at exit: ${err.message}`);
      }
      if (inMemory > 0) this.log('warn', `exit with ${inMemory} event(s) not yet delivered; they are in the spool`);
    } else if (inMemory > 0 && this.state !== 'closed') {
      this.log('error', `exit with ${inMemory} event(s) not delivered and no spoolDir: they are lost`);
    }
  }

  // ---- observability ----------------------------------------------------------------------------

  stats() {
    const spool = this.spool ? this.spool.stats() : null;
    return {
      state: this.state,
      queued: this.queue.size,
      inFlight: this.inFlight,
      queuedBytes: this.heldBytes,
      ...this.accounting.counts(),
      parked: spool ? spool.parked : 0,
      spoolBytes: spool ? spool.bytes : 0,
      latencyMs: this.accounting.latencyMs(),
    };
  }
}

function createDispatcher(options) {
  return new Dispatcher(options);
}

module.exports = { createDispatcher, Dispatcher, COUNTS_ONLY };
