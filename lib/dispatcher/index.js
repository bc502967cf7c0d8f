'use strict';
// createDispatcher(): delivery on top of the transport — retries with backoff and Retry-After, a
// bounded memory queue, the durable spool, flush and close — behind the Optimizely SDKs' dispatcher
// interface. Every event it takes on ends in exactly one way, counted and reported:
//   delivered (2xx; 'delivered' event) · failed (a final answer such as 400; 'failed' event) ·
//   spooled (on disk, delivered later in this run or by the next one; 'spool' event) · lost
//   ('drop' event, with why)
// The flow of one event: accept() journals it and keeps it in memory → sendDue() sends it →
// onTransportResult() → decide(): settle it, retry it later, park it in the spool, or drop it.
// close() bounds it all.
const { EventEmitter } = require('node:events');
const { performance } = require('node:perf_hooks');
const completions = require('../transport/completions');
const { prepare } = require('../transport/request');
const { invalid, unreadable } = require('../errors');
const { decide, deliveryPolicy } = require('../retry');
const { DeliveryQueue } = require('../queue');
const { InMemory } = require('./in-memory');
const { readLogEvent, callOnce } = require('./interface');
const { redactUrl } = require('../redact');
const { Reports, COUNTS_ONLY, causeOf } = require('./reports');
const { readOptions, readCloseTimeout } = require('./options');
const { Shutdown } = require('./shutdown');
const { Accounting } = require('./accounting');
const { Delivery } = require('./delivery');
const { installExitHandlers } = require('./exit');
const { Durability, spoolCause } = require('./durability');
const { FlushWaiters } = require('./flush');

// Timers, deadlines, backoff and pauses run on a monotonic clock: a step of the wall clock (NTP, a
// VM resumed) must neither stall events in backoff nor expire every deadline at once. Wall time is
// kept only where it leaves the process: the spool's acceptedAt, 'pause' events' untilMs, and the
// epoch deadline settleBy() takes.
const clock = () => performance.now();

const oneEvent = () => 1;

function closedError() {
  const err = new Error('The dispatcher is closed; the event was not accepted');
  err.code = 'ERR_DISPATCHER_CLOSED';
  return err;
}

class Dispatcher extends EventEmitter {
  constructor(options) {
    super();
    this.options = readOptions(options);
    this.reports = new Reports(this, this.options.logger); // log lines, 'error', listeners, losses
    // For callbacks that throw, and the spool's problems: one function, made once.
    this.reportError = (err) => this.reports.report(err);
    // The user events a request carries (stats().events, each info's `events`): the options' hook
    // (the Optimizely adapter's counts the visitors of a batch), or one per request.
    this.countEvents = this.options.eventCount || oneEvent;
    this.policy = deliveryPolicy(this.options);
    // The facts decide() reads, filled in place for each answer.
    this.attemptResult = {
      statusCode: 0,
      code: undefined,
      retryAfterMs: undefined,
      attempts: 0,
      msLeft: 0,
      pausedMs: 0,
    };
    this.queue = new DeliveryQueue();
    this.inMemory = new InMemory(); // every event not settled, oldest first, and its bytes
    this.inFlight = 0;
    this.seq = 0;
    // open → closing → closed, and deadlines
    this.shutdown = new Shutdown(this, this.options.closeTimeoutMs);
    this.accounting = new Accounting();
    this.flushWaiters = new FlushWaiters();
    this.timer = null;
    this.timerAt = Infinity;
    this.sendingDue = false;
    // The spool, its replay and why it last refused an event (./durability.js), with a spoolDir.
    this.durable = null;
    this.removeExitHandlers = null;
    if (this.options.spoolDir) {
      this.durable = new Durability(this.options, this.countEvents, {
        log: (level, message) => this.reports.log(level, message),
        report: this.reportError,
        notJournaled: () => this.accounting.notJournaledOne(),
        onLost: (records, err) => this.spoolLost(records, err),
      });
      // Adopted from earlier runs: this dispatcher's to deliver now. (Their events — visitors —
      // are counted when each is read back.)
      const inherited = this.durable.parkedCount;
      for (let i = 0; i < inherited; i++) this.accounting.enter('spooled', 0, true);
      if (inherited > 0)
        this.reports.log(
          'info',
          `${inherited} spooled event(s) to deliver first from ${this.durable.root}`,
        );
    }
    if (this.options.handleProcessExit) this.removeExitHandlers = installExitHandlers(this);
    this.sendDue();
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
      throw invalid(
        TypeError,
        'ERR_INVALID_RETURN_VALUE',
        'options.eventCount(params)',
        'an integer ≥ 0',
        n,
      );
    }
    return n;
  }

  refuse(err, callback) {
    callOnce(callback, { statusCode: 0, error: err }, this.reportError);
    const promise = Promise.reject(err);
    // With a callback the SDK does not look at the promise: never leave it unhandled.
    if (callback) promise.catch(() => {});
    return promise;
  }

  accept(request, events, callback) {
    if (this.shutdown.state !== 'open') return this.acceptLate(request, events, callback);
    // The caller may reuse its buffer once send() returns; retries (and a first attempt that
    // waits its turn) send the bytes it handed over.
    const { body } = request;
    if (body !== undefined && typeof body !== 'string') {
      request = {
        ...request,
        body: Buffer.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)),
      };
    }
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    const now = clock();
    const straight =
      this.queue.size === 0 &&
      this.inFlight < this.options.maxInFlight &&
      !this.queue.isPaused(request.origin, now) &&
      !this.replayDue(now);
    // Text that fits even at 3 bytes a character and goes straight out is counted by the pump's
    // copy of it, not by a pass of our own over it first.
    const uncounted =
      straight &&
      typeof body === 'string' &&
      this.inMemory.bytes + 3 * body.length <= this.options.maxQueueBytes;
    const entry = new Delivery(
      ++this.seq,
      request,
      Date.now(),
      now,
      now + this.options.deadlineMs,
      events,
      uncounted,
    );
    entry.resolve = resolve;
    entry.callback = callback;
    this.accounting.accepted(events);
    if (this.durable !== null)
      entry.record = this.durable.journal(request, entry.acceptedAt, events);
    if (uncounted) {
      this.inMemory.add(entry);
      this.sendEntry(entry);
      return promise;
    }
    const room = this.makeRoom(entry.bytes);
    this.inMemory.add(entry);
    if (!room) {
      if (entry.record) this.park(entry, 'queue-full');
      else
        this.drop(entry, 'queue-full', {
          cause: this.durable ? this.durable.trouble : 'maxQueueBytes',
        });
    } else if (straight) {
      this.sendEntry(entry); // nothing waits before it: straight out
    } else {
      this.queue.add(entry);
      this.sendDue();
    }
    return promise;
  }

  // An event that arrives while or after the dispatcher closes (the SDK may hand over its last
  // batch then): spooled when there is a spool, refused otherwise.
  acceptLate(request, events, callback) {
    if (!this.durable) return this.refuse(closedError(), callback);
    let result;
    let failure;
    try {
      // While closing, into the journal if it has room; otherwise (or once closed) a file of its
      // own, as an event that is pending at close: the bound is for what the journal keeps live.
      this.durable.acceptLate(request, events, this.shutdown.state === 'closed');
      this.accounting.enter('spooled', events);
      result = { spooled: true };
    } catch (err) {
      failure = err;
      this.accounting.enter('lost', events);
      result = { statusCode: 0, dropped: true, reason: 'closed' };
    }
    callOnce(callback, result, this.reportError);
    if (failure)
      this.reports.drop({
        reason: 'closed',
        request,
        attempts: 0,
        events,
        error: failure,
        cause: spoolCause(failure),
      });
    else
      this.reports.notify('spool', {
        reason: 'closed',
        url: redactUrl(request.href),
        attempts: 0,
        events,
      });
    return Promise.resolve(result);
  }

  // An event that must leave memory (its retries are exhausted, or a deadline came) goes to the
  // spool if there is one — also one kept in memory only because the spool was full when it came:
  // into the journal if it has room now. Parked and true, or false (no spool, or no room in it; a
  // write error is reported). At a deadline, what finds no room gets a file of its own (writeLate).
  keepOnDisk(entry, reason, last) {
    if (!this.durable) return false;
    if (!entry.record) {
      entry.record = this.durable.late(entry.request, entry.acceptedAt, entry.events);
      if (!entry.record) return false;
    }
    this.park(entry, reason, last);
    return true;
  }

  // Entries kept in memory only, at a deadline: one file of their own for all of them (one write,
  // one fsync), then parked; false if it could not be written (reported; the durability's trouble
  // says why).
  writeLate(entries) {
    if (entries.length === 0) return true;
    if (!this.durable.writeLate(entries)) return false;
    for (const e of entries) e.lateFile = true;
    return true;
  }

  // Frees memory for `bytes`: without a spool the oldest waiting events are dropped (never one in
  // flight). With a spool nothing is evicted: the new event is parked instead (see accept).
  makeRoom(bytes) {
    const limit = this.options.maxQueueBytes;
    const fits = () => this.inMemory.bytes + bytes <= limit;
    if (fits()) return true;
    if (this.durable) return false;
    // If evicting every waiting event would not make room, none is evicted (the new one is not
    // taken).
    if (!this.inMemory.couldFit(bytes, limit)) return false;
    for (const e of this.inMemory.waiting(() => !fits())) {
      this.queue.remove(e);
      this.drop(e, 'queue-full', { ...e.last, cause: 'maxQueueBytes' });
    }
    return fits();
  }

  // ---- sending ----------------------------------------------------------------------------------

  sendDue() {
    // Nothing waits, nothing to replay, no timer to move: the common case after a delivery.
    if (
      this.queue.size === 0 &&
      this.durable === null &&
      this.timer === null &&
      this.flushWaiters.size === 0
    )
      return;
    if (this.sendingDue) return;
    this.sendingDue = true;
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
      this.sendingDue = false;
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
      entry.bytes = completions.copiedBytes();
      this.inMemory.sentUncounted(entry);
      return;
    }
    this.inMemory.sent(entry);
    entry.transferId = this.submit(entry);
  }

  // The transfer's id, or 0 when the request could not be handed over (settled as failed).
  submit(entry) {
    try {
      return completions.submit(entry.request, this.options.profile, this, entry);
    } catch (err) {
      // Junk that validation should have caught: the event cannot be sent, now or later.
      this.onTransportResult(entry, 0, 0, {
        statusCode: 0,
        failure: { code: err.code || 'EINVAL', message: err.message, curlCode: 0 },
      });
      return 0;
    }
  }

  // The transport's owner callback (lib/transport/completions.js): `entry` is the token it was
  // submitted with.
  onTransportResult(entry, statusCode, bytesSent, outcome) {
    this.inMemory.landed(entry);
    entry.inFlight = false;
    entry.transferId = 0;
    this.inFlight -= 1;
    this.accounting.sent(bytesSent);
    try {
      this.conclude(entry, statusCode, outcome);
    } catch (err) {
      this.reports.report(err);
    }
    this.sendDue();
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
      if (action === 'deliver' || (action === 'fail' && statusCode > 0))
        this.settledLate(entry, action === 'deliver' ? 'delivered' : 'failed');
      return;
    }
    if (action === 'deliver') {
      if (entry.record) this.durable.ack(entry.record);
      this.accounting.delivered(entry.events);
      // The endpoint answers: spooled events may come back.
      if (this.durable !== null) this.durable.resume();
      const latencyMs = entry.replayed ? undefined : now - entry.since;
      if (!entry.replayed) this.accounting.latency(latencyMs);
      this.settle(entry, { statusCode, attempts: entry.attempts });
      // The hot path: nothing is built for nobody.
      if (this.listenerCount('delivered') !== 0) this.notifyDelivered(entry, statusCode, latencyMs);
      return;
    }
    if (action === 'fail') {
      if (entry.record) this.durable.ack(entry.record);
      this.accounting.move('pending', 'failed', entry.events);
      const error = failure && completions.errorOf(failure, entry.request);
      this.settle(entry, {
        statusCode,
        attempts: entry.attempts,
        failed: true,
        ...(error ? { error } : {}),
      });
      this.reports.notify(
        'failed',
        this.reports.dropInfo({
          reason: 'rejected',
          request: entry.request,
          attempts: entry.attempts,
          events: entry.events,
          statusCode,
          error,
        }),
      );
      return;
    }
    this.retryLater(entry, statusCode, failure, now, decision);
  }

  // latencyMs: from acceptance, on the monotonic clock; a replayed event was accepted by this or
  // an earlier run, whose clock is gone: its wall-clock age, never below 0.
  notifyDelivered(entry, statusCode, latencyMs) {
    this.reports.notify('delivered', {
      url: redactUrl(entry.request.href),
      statusCode,
      attempts: entry.attempts,
      latencyMs: entry.replayed ? Math.max(0, Date.now() - entry.acceptedAt) : latencyMs,
      events: entry.events,
      replayed: entry.replayed,
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
      if (this.keepOnDisk(entry, reason, last)) {
        this.durable.rest(now);
      } else if (this.durable) {
        // Kept in memory only, and the journal is still full: it stays in memory (within
        // maxQueueBytes) and is tried again at the spool's pace, journaled once there is room.
        this.queue.defer(entry, now + Math.max(delay, this.options.spoolRetryMs));
      } else {
        this.drop(entry, reason, last);
      }
      if (pause) this.reports.notify('pause', pause);
      return;
    }
    this.accounting.retry();
    this.queue.defer(entry, now + delay);
    if (pause) this.reports.notify('pause', pause);
    this.reports.notify('retry', {
      url: redactUrl(entry.request.href),
      attempt: entry.attempts,
      delayMs: delay,
      statusCode: statusCode || undefined,
      code: failure && failure.code,
    });
  }

  // A deadline settled this event (spooled, or lost) while it was in flight, and then its answer
  // came: the journal and the counts follow what really happened.
  settledLate(entry, kind) {
    // After close() the summary is given and the journal closed; a file of its own cannot be
    // acknowledged: the next run may deliver it again (at least once).
    if (this.shutdown.state === 'closed' || entry.lateFile) return;
    const from = entry.record ? 'spooled' : 'lost';
    if (entry.record && !this.durable.ackOrReport(entry.record)) return;
    this.accounting.move(from, kind, entry.events);
  }

  // Keeps the event loop busy only while events wait on time (a retry, a pause); a timer that
  // only waits to replay the spool does not keep the process alive — those events are on disk.
  arm(now) {
    let at = this.queue.nextWake();
    if (this.durable !== null) at = Math.min(at, this.durable.replayWakeAt(now));
    if (at === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.sendDue();
      },
      Math.max(0, at - now),
    );
    if (this.queue.size === 0) this.timer.unref();
  }

  replayDue(now) {
    return this.durable !== null && this.durable.replayDue(now);
  }

  // Brings spooled events back into memory while there is room: oldest first. A record that does
  // not read back, or does not pass the checks a new event passes, is dropped and reported.
  refill(now) {
    if (!this.replayDue(now)) return;
    const limit = this.options.maxQueueBytes / 2;
    for (
      let budget = this.options.maxInFlight;
      this.inMemory.bytes < limit && budget > 0;
      budget--
    ) {
      const next = this.durable.nextReplayed();
      if (!next) break;
      const { record, request, events } = next;
      if (!next.counted) this.accounting.addEvents('spooled', events);
      if (next.error) {
        this.discard(record, next.error, events);
        continue;
      }
      const entry = new Delivery(
        ++this.seq,
        request,
        record.acceptedAt,
        now,
        now + this.options.deadlineMs,
        events,
      );
      entry.record = record;
      entry.replayed = true;
      this.accounting.replay();
      this.accounting.move('spooled', 'pending', events);
      this.inMemory.add(entry);
      this.queue.add(entry, true);
      this.flushWaiters.took(this.durable.taken, entry.seq);
    }
  }

  discard(record, err, events) {
    this.durable.ackOrReport(record);
    this.accounting.move('spooled', 'lost', events);
    const reason =
      err.code === 'ERR_SPOOL_CORRUPT' || err.code === 'ERR_SPOOL_IO' ? 'unreadable' : 'invalid';
    this.reports.drop({
      reason,
      request: undefined,
      attempts: 0,
      events,
      error: err,
      cause: reason === 'unreadable' ? spoolCause(err) : err.code,
    });
  }

  // ---- endings ----------------------------------------------------------------------------------

  // The entry leaves memory; nothing more will be done with it.
  release(entry) {
    this.inMemory.remove(entry);
    entry.settled = true;
  }

  settle(entry, result) {
    this.release(entry);
    const { resolve, callback } = entry;
    entry.resolve = null;
    entry.callback = null;
    if (resolve) resolve(result);
    callOnce(callback, result, this.reportError);
  }

  // On disk, waiting to be replayed (later in this run, or by the next one).
  park(entry, reason, last = {}) {
    if (!entry.lateFile) this.durable.park(entry.record);
    this.accounting.move('pending', 'spooled', entry.events);
    if (entry.replayed) {
      this.release(entry); // its promise was settled in an earlier run
    } else {
      this.settle(entry, { spooled: true, attempts: entry.attempts });
    }
    this.reports.notify('spool', {
      reason,
      url: redactUrl(entry.request.href),
      attempts: entry.attempts,
      events: entry.events,
      statusCode: last.statusCode || undefined,
      code: last.failure && last.failure.code,
    });
  }

  drop(entry, reason, last = {}, quiet = false) {
    this.accounting.move('pending', 'lost', entry.events);
    const error = last.failure && completions.errorOf(last.failure, entry.request);
    // A status that came with a failure is not an answer: only delivered results carry a 2xx.
    const statusCode = last.statusCode >= 300 ? last.statusCode : 0;
    this.settle(entry, {
      statusCode,
      dropped: true,
      reason,
      attempts: entry.attempts,
      ...(error ? { error } : {}),
    });
    this.reports.drop(
      {
        reason,
        request: entry.request,
        attempts: entry.attempts,
        events: entry.events,
        statusCode: last.statusCode,
        error,
        cause: last.cause,
      },
      quiet,
    );
  }

  // ---- the spool's files deleted ---------------------------------------------------------------

  // Records the spool could not write back after their files were deleted (lib/spool/index.js): on
  // disk no more. Those parked were counted spooled: lost now, each a 'drop' with the cause. Those
  // of events still in memory are journaled again if the events leave it (keepOnDisk(),
  // writeLate()).
  spoolLost(records, err) {
    const lost = new Set(records);
    for (const e of this.inMemory) if (e.record && lost.delete(e.record)) e.record = null;
    this.reports.report(err);
    for (const record of lost) {
      const events = this.durable.eventsOf(record);
      this.accounting.move('spooled', 'lost', events);
      this.reports.drop(
        {
          reason: 'spool-lost',
          request: undefined,
          attempts: 0,
          events,
          error: err,
          cause: spoolCause(err),
        },
        true,
      );
    }
    if (lost.size > 0)
      this.reports.log('warn', `dropped ${lost.size} spooled event(s): ${err.message}`);
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
        deadline = {
          timeoutMs: readCloseTimeout(options, Infinity),
          pendingOf: (waiter) => this.flushPending(waiter),
        };
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const now = clock();
    const taken = this.durable ? this.durable.taken : 0;
    const target = this.replayDue(now) ? taken + this.durable.parkedCount : taken;
    const promise = this.flushWaiters.add(this.seq, target, deadline);
    this.sendDue();
    return promise;
  }

  // What a flush still waits for at its deadline, in requests: those in memory (accepted
  // before it, or replayed for it) and the spooled ones replay has yet to take for it.
  flushPending(waiter) {
    let waiting = 0;
    for (const e of this.inMemory) if (e.seq <= waiter.seq) waiting += 1;
    return waiting + Math.max(0, waiter.takeTarget - (this.durable ? this.durable.taken : 0));
  }

  checkFlush() {
    this.flushWaiters.resolveDone(
      this.inMemory.oldestSeq,
      this.durable ? this.durable.taken : 0,
      this.replayDue(clock()),
    );
  }

  // At `deadline` (ms since the epoch) everything in memory is settled; it stays open
  // (./shutdown.js).
  settleBy(deadline) {
    this.shutdown.settleBy(deadline);
  }

  // The same for a deadline the settling must end by; closeOptimizely() uses it (./shutdown.js).
  settleWithin(options) {
    return this.shutdown.settleWithin(options);
  }

  // Settles everything in memory — spooled, or lost without a spool — aborting what is in flight:
  // at a deadline (settleBy, or close()'s).
  expire() {
    if (this.durable) this.durable.stopReplay(); // nothing more comes back from the spool
    // A snapshot: listeners may accept or settle events meanwhile.
    const snapshot = this.inMemory.snapshot();
    const late = [];
    const causes = new Map(); // cause -> events lost for it
    const lose = (e, cause) => {
      causes.set(cause, (causes.get(cause) || 0) + 1);
      this.drop(e, 'closed', { ...e.last, cause }, true);
    };
    let full = false; // once the journal has no room, the rest go to the late file directly
    for (const e of snapshot) {
      if (e.settled) continue;
      this.queue.remove(e);
      if (e.inFlight) completions.abort(e.transferId);
      if ((e.record || !full) && this.keepOnDisk(e, 'closed')) continue;
      if (this.durable) {
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
      else lose(e, this.durable.trouble);
    }
    // One line for all of them: thousands of lines would cost the deadline what it is for.
    if (causes.size > 0) {
      const lost = [...causes.values()].reduce((a, b) => a + b, 0);
      const why = [...causes].map(([cause, n]) => `${n} ${cause}`).join(', ');
      this.reports.log('warn', `dropped ${lost} event(s) still held at the deadline (${why})`);
    }
    this.checkFlush();
  }

  // Stops accepting, delivers what is in memory until the deadline, then settles the rest and
  // closes (./shutdown.js).
  close(options) {
    return this.shutdown.close(options);
  }

  // What the reserve of a deadline counts (./shutdown.js): events in memory, and those of them kept
  // in memory only (a late file's worth) when there is a spool.
  memoryCosts() {
    let late = 0;
    let lateBytes = 0;
    if (this.durable) {
      for (const e of this.inMemory) {
        if (e.record) continue;
        late += 1;
        lateBytes += e.bytes;
      }
    }
    return { inMemory: this.inMemory.size, late, lateBytes, spooled: this.durable !== null };
  }

  // Closed: its timer, spool, exit handlers and connections let go of.
  letGo() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.durable) {
      try {
        this.durable.close();
      } catch (err) {
        this.reports.report(err);
      }
    }
    if (this.removeExitHandlers) this.removeExitHandlers();
    this.removeExitHandlers = null;
    // No connection is left open behind it; whoever sends next through the transport reconnects.
    completions.closeIdle();
  }

  summary() {
    const summary = this.accounting.summary();
    this.reports.log('info', `closed: ${JSON.stringify(summary)}`);
    return summary;
  }

  // Synchronous, at process exit: what is still in memory is journaled already; make it durable.
  onProcessExit() {
    const inMemory = this.inMemory.size;
    if (this.durable && this.shutdown.state !== 'closed') {
      // Those kept in memory only (the journal was full when they came) get a file of their own.
      this.writeLate(this.inMemory.snapshot().filter((e) => !e.record && !e.lateFile));
      try {
        this.durable.close();
      } catch (err) {
        this.reports.log('error', `could not close the spool at exit: ${err.message}`);
      }
      if (inMemory > 0)
        this.reports.log(
          'warn',
          `exit with ${inMemory} event(s) not yet delivered; they are in the spool`,
        );
    } else if (inMemory > 0 && this.shutdown.state !== 'closed') {
      this.reports.log(
        'error',
        `exit with ${inMemory} event(s) not delivered and no spoolDir: they are lost`,
      );
    }
  }

  // ---- observability ----------------------------------------------------------------------------

  stats() {
    const spool = this.durable ? this.durable.stats() : null;
    return {
      state: this.shutdown.state,
      queued: this.queue.size,
      inFlight: this.inFlight,
      queuedBytes: this.inMemory.bytes,
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
