'use strict';
// createDispatcher(): delivery on top of the transport — retries with backoff and Retry-After, a
// bounded memory queue, the durable spool, flush and close — behind the Optimizely SDKs' dispatcher
// interface. Every accepted event ends in exactly one way, and each is counted and reported:
//   delivered (2xx) · failed (a final HTTP answer such as 400) · spooled (on disk, delivered by a
//   later run or later in this one) · dropped (lost; 'drop' event with the reason).
const { EventEmitter } = require('node:events');
const transport = require('./transport');
const { invalid } = require('./errors');
const { classify, backoffMs, retryAfterMs, shouldPauseOrigin } = require('./retry');
const { DeliveryQueue, LinkedList } = require('./queue');
const { Spool } = require('./spool');
const { readLogEvent, callOnce, closeOptimizely } = require('./optimizely');

const DEFAULTS = Object.freeze({
  endpoint: undefined,
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 30000,
  deadlineMs: 120000,
  maxRetryAfterMs: 60000,
  maxInFlight: 256,
  maxQueueBytes: 32 * 1024 * 1024,
  spoolDir: undefined,
  spoolMaxBytes: 256 * 1024 * 1024,
  spoolRetryMs: 30000,
  handleProcessExit: false,
  closeTimeoutMs: 10000,
  logger: undefined,
});
const LIMITS = {
  maxAttempts: [1, 1000],
  baseDelayMs: [0, 3600000],
  maxDelayMs: [0, 3600000],
  deadlineMs: [1, 7 * 24 * 3600000],
  maxRetryAfterMs: [0, 24 * 3600000],
  maxInFlight: [1, 100000],
  maxQueueBytes: [1024, 2 ** 40],
  spoolMaxBytes: [1024, 2 ** 50],
  spoolRetryMs: [0, 24 * 3600000],
  closeTimeoutMs: [0, 2 ** 31 - 1],
};
// The transport's options, but timings (the dispatcher's lean path reports none).
const TRANSPORT_OPTIONS = new Set(transport.OPTION_NAMES.filter((name) => name !== 'timings'));
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];
const LATENCY_SAMPLES = 1024;

function closedError() {
  const err = new Error('The dispatcher is closed; the event was not accepted');
  err.code = 'ERR_DISPATCHER_CLOSED';
  return err;
}

function readOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  const o = { ...DEFAULTS };
  const request = {};
  for (const key of Object.keys(options)) {
    const value = options[key];
    if (TRANSPORT_OPTIONS.has(key)) {
      request[key] = value;
      continue;
    }
    if (!Object.hasOwn(DEFAULTS, key)) {
      throw invalid(TypeError, 'ERR_UNKNOWN_OPTION', 'an option name',
        `one of ${[...Object.keys(DEFAULTS), ...TRANSPORT_OPTIONS].join(', ')}`, key);
    }
    if (value === undefined) continue;
    const what = `options.${key}`;
    if (LIMITS[key]) {
      const [min, max] = LIMITS[key];
      if (typeof value !== 'number') throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'an integer', value);
      if (!Number.isInteger(value) || value < min || value > max) {
        throw invalid(RangeError, 'ERR_OUT_OF_RANGE', what, `an integer from ${min} to ${max}`, value);
      }
    } else if (key === 'endpoint') {
      transport.prepare('POST', value, {}); // same URL rules as dispatchEvent
    } else if (key === 'spoolDir') {
      if (typeof value !== 'string' || value === '') {
        throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a directory path', value);
      }
    } else if (key === 'handleProcessExit') {
      if (typeof value !== 'boolean') throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what, 'a boolean', value);
    } else if (key === 'logger') {
      const ok = value && typeof value === 'object' || typeof value === 'function';
      if (!ok || !LOG_LEVELS.every((level) => typeof value[level] === 'function')) {
        throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', what,
          'an object with debug, info, warn and error methods (console works)', value);
      }
    }
    o[key] = value;
  }
  if (o.maxDelayMs < o.baseDelayMs) {
    throw invalid(RangeError, 'ERR_OUT_OF_RANGE', 'options.maxDelayMs',
      `an integer no smaller than baseDelayMs (${o.baseDelayMs})`, o.maxDelayMs);
  }
  o.profile = transport.compileOptions(request);
  return o;
}

// One accepted event on its way: the links let it sit on the acceptance list and a queue lane at
// once; one class keeps every event the same shape for V8.
class Delivery {
  constructor(dispatcher, seq, request, acceptedAt, deadline) {
    this.dispatcher = dispatcher;
    this.seq = seq;
    this.request = request;
    this.origin = request.origin;
    // Memory held: a string costs about its length (V8 keeps JSON text one byte per character).
    this.bytes = typeof request.body === 'string' ? request.body.length
      : request.body ? request.body.byteLength : 0;
    this.attempts = 0;
    this.acceptedAt = acceptedAt;
    this.deadline = deadline;
    this.resolve = null;
    this.callback = null;
    this.record = null;
    this.replayed = false;
    this.settled = false;
    this.inFlight = false;
    this.agePrev = null;
    this.ageNext = null;
    this.lanePrev = null;
    this.laneNext = null;
    this.where = null;
    this.heapIndex = -1;
    this.dueAt = 0;
  }

  // Called by the transport's completion sink.
  onTransportResult(statusCode, bytes, record) {
    this.dispatcher.onTransportResult(this, statusCode, bytes, record);
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

class Dispatcher extends EventEmitter {
  constructor(options) {
    super();
    const o = readOptions(options);
    this.options = o;
    this.queue = new DeliveryQueue();
    this.held = new LinkedList('agePrev', 'ageNext'); // accepted, not settled, in memory
    this.heldBytes = 0;
    this.inFlight = 0;
    this.seq = 0;
    this.state = 'open';
    this.flushWaiters = [];
    this.timer = null;
    this.timerAt = Infinity;
    this.replayNotBefore = 0;
    this.latencies = new Float64Array(LATENCY_SAMPLES);
    this.latencyCount = 0;
    this.counts = {
      accepted: 0, delivered: 0, failed: 0, retried: 0, dropped: 0, spooled: 0, replayed: 0,
      bytesSent: 0, notJournaled: 0,
    };
    this.spool = null;
    if (o.spoolDir) {
      this.spool = new Spool(o.spoolDir, { maxBytes: o.spoolMaxBytes, log: (level, msg) => this.log(level, msg) });
      if (this.spool.parked.length > 0) {
        this.log('info', `${this.spool.parked.length} spooled event(s) to deliver first from ${this.spool.dir}`);
      }
    }
    this.exitHandlers = null;
    if (o.handleProcessExit) this.installExitHandlers();
    this.drain();
  }

  log(level, message) {
    const { logger } = this.options;
    if (!logger) return;
    try {
      logger[level](`[native-event-dispatcher] ${message}`);
    } catch {
      // a logger that throws must not break delivery
    }
  }

  report(err) {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log('error', err && err.stack ? err.stack : String(err));
  }

  // ---- accepting events -----------------------------------------------------------------------

  // The Optimizely interface: v6 uses the promise; v4/v5 pass a callback, called exactly once.
  dispatchEvent(event, callback) {
    let request;
    try {
      const e = readLogEvent(event, this.options.endpoint);
      request = transport.prepare(e.httpVerb, e.url, e.params);
    } catch (err) {
      return this.refuse(err, callback);
    }
    return this.accept(request, callback);
  }

  // The same delivery with a plain signature.
  send(httpVerb, url, params) {
    let request;
    try {
      request = transport.prepare(httpVerb, this.options.endpoint || url, params);
    } catch (err) {
      return this.refuse(err);
    }
    return this.accept(request);
  }

  refuse(err, callback) {
    callOnce(callback, { statusCode: 0, error: err }, (e) => this.report(e));
    const promise = Promise.reject(err);
    // With a callback the SDK does not look at the promise: never leave it unhandled.
    if (callback) promise.catch(() => {});
    return promise;
  }

  accept(request, callback) {
    if (this.state !== 'open') return this.acceptLate(request, callback);
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    const now = Date.now();
    const entry = new Delivery(this, ++this.seq, request, now, now + this.options.deadlineMs);
    entry.resolve = resolve;
    entry.callback = callback;
    this.counts.accepted += 1;
    if (this.spool) this.journal(entry);
    const room = this.makeRoom(entry.bytes);
    this.hold(entry);
    if (room) {
      this.queue.add(entry);
      this.drain();
    } else if (entry.record) {
      this.park(entry, 'queue-full');
    } else {
      this.drop(entry, 'queue-full');
    }
    return promise;
  }

  // A late event (the SDK may hand over its last batch while or after we close): spooled when
  // there is a spool, refused otherwise.
  acceptLate(request, callback) {
    if (!this.spool) return this.refuse(closedError(), callback);
    let result;
    try {
      if (this.spool.closed) {
        Spool.appendLate(this.spool.dir, request.method, request.href, request.body ?? '', request.json);
      } else if (!this.spool.append(request.method, request.href, request.body ?? '', request.json)) {
        throw new Error('the spool is full');
      }
      this.counts.spooled += 1;
      this.emit('spool', { reason: 'closed', url: request.href, attempts: 0 });
      result = { spooled: true };
    } catch (err) {
      this.counts.dropped += 1;
      this.emitDrop({ reason: 'closed', request, attempts: 0, error: err });
      result = { statusCode: 0, dropped: true, reason: 'closed' };
    }
    callOnce(callback, result, (e) => this.report(e));
    return Promise.resolve(result);
  }

  // Write-ahead: the event is on disk before dispatchEvent returns.
  journal(entry) {
    const { request } = entry;
    try {
      entry.record = this.spool.append(request.method, request.href, request.body ?? '', request.json,
        entry.acceptedAt);
      if (!entry.record) {
        this.counts.notJournaled += 1;
        if (this.counts.notJournaled === 1 || this.counts.notJournaled % 1000 === 0) {
          this.log('warn', `the spool is full (spoolMaxBytes ${this.options.spoolMaxBytes}); ${this.counts.notJournaled} event(s) kept in memory only`);
        }
      }
    } catch (err) {
      this.counts.notJournaled += 1;
      this.report(err);
    }
  }

  // Frees memory for `bytes`: without a spool the oldest waiting events are dropped (never one in
  // flight). With a spool nothing is evicted: the new event is parked instead (see accept).
  makeRoom(bytes) {
    const limit = this.options.maxQueueBytes;
    if (this.heldBytes + bytes <= limit) return true;
    if (this.spool) return false;
    for (let e = this.held.head; e && this.heldBytes + bytes > limit;) {
      const next = e.ageNext;
      if (!e.inFlight) {
        this.queue.remove(e);
        this.drop(e, 'queue-full');
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
    if (this.draining) return;
    this.draining = true;
    try {
      const now = Date.now();
      this.queue.promote(now);
      this.refill(now);
      while (this.inFlight < this.options.maxInFlight) {
        const entry = this.queue.take(now);
        if (!entry) break;
        this.sendEntry(entry);
      }
      this.arm(now);
    } finally {
      this.draining = false;
    }
  }

  sendEntry(entry) {
    entry.attempts += 1;
    entry.inFlight = true;
    this.inFlight += 1;
    try {
      transport.submit(entry.request, this.options.profile, entry);
    } catch (error) {
      this.onOutcome(entry, { error });
    }
  }

  // From the transport's completion sink: a 2xx status alone, or a record for anything else.
  onTransportResult(entry, statusCode, bytes, record) {
    this.counts.bytesSent += bytes;
    if (record === undefined) {
      this.onOutcome(entry, { statusCode });
      return;
    }
    this.onOutcome(entry, {
      statusCode: record.statusCode,
      headers: record.retryAfter === undefined ? undefined : { 'retry-after': record.retryAfter },
      error: record.error,
    });
  }

  onOutcome(entry, outcome) {
    entry.inFlight = false;
    this.inFlight -= 1;
    try {
      this.decide(entry, outcome);
    } catch (err) {
      this.report(err);
    }
    this.drain();
  }

  decide(entry, outcome) {
    const kind = classify(outcome);
    if (entry.settled) {
      // Settled while in flight (close gave up on it): only the journal still cares.
      if (kind !== 'retry' && entry.record && this.spool && !this.spool.closed) this.spool.ack(entry.record);
      return;
    }
    if (kind === 'delivered') {
      if (entry.record) this.spool.ack(entry.record);
      this.counts.delivered += 1;
      this.replayNotBefore = 0; // the endpoint answers: spooled events may come back
      if (!entry.replayed) this.latencies[this.latencyCount++ % LATENCY_SAMPLES] = Date.now() - entry.acceptedAt;
      this.settle(entry, { statusCode: outcome.statusCode, attempts: entry.attempts });
      return;
    }
    if (kind === 'failed') {
      if (entry.record) this.spool.ack(entry.record);
      this.counts.failed += 1;
      this.emitDrop({ reason: 'rejected', request: entry.request, attempts: entry.attempts, ...outcome });
      this.settle(entry, {
        statusCode: outcome.statusCode || 0, attempts: entry.attempts, failed: true,
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      return;
    }
    const now = Date.now();
    const { baseDelayMs, maxDelayMs, maxRetryAfterMs, maxAttempts } = this.options;
    let delay = backoffMs(entry.attempts, baseDelayMs, maxDelayMs);
    const after = outcome.error ? undefined : retryAfterMs(outcome.headers, now);
    if (after !== undefined) {
      const wait = Math.min(after, maxRetryAfterMs);
      delay = Math.max(delay, wait);
      if (shouldPauseOrigin(outcome)) {
        this.queue.pause(entry.origin, now + wait);
        this.emit('pause', { origin: entry.origin, untilMs: now + wait, statusCode: outcome.statusCode });
      }
    }
    delay = Math.max(delay, this.queue.pausedUntil(entry.origin) - now);
    if (entry.attempts >= maxAttempts || now + delay > entry.deadline) {
      const reason = entry.attempts >= maxAttempts ? 'retries-exhausted' : 'deadline';
      if (entry.record) {
        this.replayNotBefore = now + this.options.spoolRetryMs;
        this.park(entry, reason, outcome);
      } else {
        this.drop(entry, reason, outcome);
      }
      return;
    }
    this.counts.retried += 1;
    this.emit('retry', {
      url: entry.request.href, attempt: entry.attempts, delayMs: delay,
      statusCode: outcome.statusCode, code: outcome.error && outcome.error.code,
    });
    this.queue.defer(entry, now + delay);
  }

  // Keeps the event loop busy only while events wait on time (a retry, a pause).
  arm(now) {
    let at = this.queue.nextWake(now);
    const replayWaits = this.spool && this.spool.parked.length > 0 && this.state === 'open';
    if (replayWaits && this.replayNotBefore > now) at = Math.min(at, this.replayNotBefore);
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
    // A timer that only waits to replay the spool does not keep the process alive: the events
    // are on disk. Events in memory waiting for a retry do.
    if (this.queue.size === 0) this.timer.unref();
  }

  // Brings spooled events back into memory while there is room: oldest first.
  refill(now) {
    const { spool } = this;
    if (!spool || spool.closed || this.state !== 'open' || spool.parked.length === 0) return;
    if (now < this.replayNotBefore) return;
    const limit = this.options.maxQueueBytes / 2;
    let budget = this.options.maxInFlight;
    while (spool.parked.length > 0 && this.heldBytes < limit && budget-- > 0) {
      const record = spool.parked.shift();
      if (!spool.live.has(record.id)) continue;
      let request;
      try {
        const body = spool.read(record);
        // `endpoint` sends spooled events where events go now, like fresh ones.
        const url = this.options.endpoint || record.url;
        request = transport.prepare(record.verb, url, record.verb === 'GET' ? undefined : '');
        if (record.verb !== 'GET') request.body = body;
        request.json = record.encoding === 'json';
      } catch (err) {
        spool.ack(record);
        this.counts.dropped += 1;
        this.emitDrop({ reason: 'unreadable', request: { href: record.url, method: record.verb }, attempts: 0, error: err });
        continue;
      }
      const entry = new Delivery(this, ++this.seq, request, record.t, now + this.options.deadlineMs);
      entry.record = record;
      entry.replayed = true;
      this.counts.replayed += 1;
      this.hold(entry);
      this.queue.add(entry, true);
    }
  }

  // ---- endings ----------------------------------------------------------------------------------

  // The entry leaves memory accounting; nothing more will be done with it.
  release(entry) {
    entry.settled = true;
    this.held.remove(entry);
    this.heldBytes -= entry.bytes;
  }

  settle(entry, result) {
    this.release(entry);
    entry.request = null; // the body can go
    if (entry.resolve) entry.resolve(result);
    callOnce(entry.callback, result, (e) => this.report(e));
    entry.resolve = null;
    entry.callback = null;
    if (this.flushWaiters.length > 0 && !entry.replayed) this.settledForFlush(entry.seq);
  }

  park(entry, reason, outcome = {}) {
    this.spool.parked.push(entry.record);
    // A replayed event that fails again was counted when it was first spooled.
    if (!entry.replayed) this.counts.spooled += 1;
    this.emit('spool', {
      reason, url: entry.request.href, attempts: entry.attempts,
      statusCode: outcome.statusCode, code: outcome.error && outcome.error.code,
    });
    this.settle(entry, { spooled: true, attempts: entry.attempts });
  }

  drop(entry, reason, outcome = {}) {
    this.counts.dropped += 1;
    this.emitDrop({ reason, request: entry.request, attempts: entry.attempts, ...outcome });
    this.settle(entry, {
      statusCode: outcome.statusCode || 0, dropped: true, reason, attempts: entry.attempts,
      ...(outcome.error ? { error: outcome.error } : {}),
    });
  }

  emitDrop({ reason, request, attempts, statusCode, error }) {
    const info = {
      reason, httpVerb: request.method, url: request.href, body: request.body, attempts,
      statusCode, code: error && error.code, error,
    };
    if (reason !== 'rejected') {
      this.log('warn', `dropped an event (${reason}) for ${request.href} after ${attempts} attempt(s)`);
    }
    this.emit('drop', info);
  }

  // ---- flush and close --------------------------------------------------------------------------

  // Resolves once every event accepted before the call is delivered, failed, spooled or dropped.
  flush() {
    const pending = this.held.size - this.countReplayed();
    if (pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push({ upTo: this.seq, remaining: pending, resolve });
    });
  }

  countReplayed() {
    let n = 0;
    for (let e = this.held.head; e; e = e.ageNext) if (e.replayed) n += 1;
    return n;
  }

  settledForFlush(seq) {
    this.flushWaiters = this.flushWaiters.filter((w) => {
      if (seq > w.upTo) return true;
      w.remaining -= 1;
      if (w.remaining > 0) return true;
      w.resolve();
      return false;
    });
  }

  // Stops accepting (new events are rejected, or spooled when there is a spool), sends what is
  // queued, waits for what is in flight up to timeoutMs, then spools (or counts as lost) the rest.
  close({ timeoutMs = this.options.closeTimeoutMs } = {}) {
    if (this.closing) return this.closing;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(invalid(RangeError, 'ERR_OUT_OF_RANGE', 'timeoutMs', 'an integer >= 0', timeoutMs));
    }
    this.state = 'closing';
    this.closing = (async () => {
      let timer;
      const deadline = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); });
      // Replayed events are already on disk: they are not waited for.
      for (let e = this.held.head; e;) {
        const next = e.ageNext;
        if (e.replayed && !e.inFlight) {
          this.queue.remove(e);
          this.release(e); // still in the journal: it goes back to the spool untouched
        }
        e = next;
      }
      await Promise.race([this.flush(), deadline]);
      clearTimeout(timer);
      for (let e = this.held.head; e;) {
        const next = e.ageNext;
        this.queue.remove(e);
        if (e.replayed) this.release(e);
        else if (e.record) this.park(e, 'closed');
        else this.drop(e, 'closed');
        e = next;
      }
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      let left = 0;
      if (this.spool) {
        try {
          this.spool.close();
        } catch (err) {
          this.report(err);
        }
        left = this.spool.live.size;
      }
      this.removeExitHandlers();
      this.state = 'closed';
      const summary = {
        delivered: this.counts.delivered, spooled: left, lost: this.counts.dropped,
        failed: this.counts.failed,
      };
      this.log('info', `closed: ${JSON.stringify(summary)}`);
      return summary;
    })();
    return this.closing;
  }

  installExitHandlers() {
    const onSignal = (signal) => {
      this.log('info', `${signal}: closing`);
      this.close().finally(() => {
        process.removeListener(signal, onSignal); // close() removed it already; to be sure
        // Re-raise for the default behaviour, unless the application handles the signal itself.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    const onExit = () => {
      // Synchronous: what is still in memory is already journaled; make the journal durable.
      const inMemory = this.held.size;
      if (this.spool && !this.spool.closed) {
        try {
          this.spool.close();
        } catch (err) {
          this.log('error', `could not close the spool at exit: ${err.message}`);
        }
        if (inMemory > 0) this.log('warn', `exit with ${inMemory} event(s) not yet delivered; they are in the spool`);
      } else if (inMemory > 0 && this.state !== 'closed') {
        this.log('error', `exit with ${inMemory} event(s) not delivered and no spoolDir: they are lost`);
      }
    };
    this.exitHandlers = { SIGTERM: onSignal, SIGINT: onSignal, exit: onExit };
    for (const [name, handler] of Object.entries(this.exitHandlers)) process.on(name, handler);
  }

  removeExitHandlers() {
    if (!this.exitHandlers) return;
    for (const [name, handler] of Object.entries(this.exitHandlers)) process.removeListener(name, handler);
    this.exitHandlers = null;
  }

  // ---- observability ----------------------------------------------------------------------------

  stats() {
    const n = Math.min(this.latencyCount, LATENCY_SAMPLES);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    return {
      state: this.state,
      queued: this.queue.size,
      inFlight: this.inFlight,
      queuedBytes: this.heldBytes,
      ...this.counts,
      parked: this.spool ? this.spool.parked.length : 0,
      spoolBytes: this.spool && !this.spool.closed ? this.spool.bytes : 0,
      latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    };
  }
}

function createDispatcher(options) {
  return new Dispatcher(options);
}

module.exports = { createDispatcher, Dispatcher, closeOptimizely };
