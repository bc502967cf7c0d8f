'use strict';
// One request of the fallback transport: the undici dispatch options made from the backend's
// arguments, the handler undici reports to, the whole-request timer, and the result in the shape
// of the completion sink (status, bytes sent, and the detail object when there is one).
const diagnostics = require('node:diagnostics_channel');
const { performance } = require('node:perf_hooks');
const errors = require('./errors');
const { redactUrl, redactText, redactHeader } = require('../redact');
const { kTimes, bytesRead, headEnd } = require('./agents');
const { METHODS, FLAGS, MAX_HEAD_BYTES } = require('../transport/protocol');

const NON_ASCII = /[\u0080-\uffff]/; // any UTF-16 unit past ASCII
// A whole-request timer this late (ms) says the event loop was busy elsewhere (see timeOut()).
const LATE_MS = 10;

// undici does not tell a handler which connection carries its request; its diagnostics channel
// does, synchronously right after onRequestStart, before anything of the answer is read. A request
// needs it for its head's size and for timings.
let awaitingSocket = null;
diagnostics.subscribe('undici:client:sendHeaders', ({ socket }) => {
  if (awaitingSocket !== null) {
    awaitingSocket.socket = socket;
    awaitingSocket.headStart = bytesRead(socket);
  }
  awaitingSocket = null;
});

// undici hands header values over as latin1 strings; libcurl's bytes are read as UTF-8.
const utf8 = (value) =>
  NON_ASCII.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
const valuesOf = (value) => (Array.isArray(value) ? value : [value]);

class Transfer {
  // target: { origin, path, https, host }; body: a Buffer or null; headers: an undici headers
  // object.
  constructor(id, verb, target, body, profile, headers, flags, onSettled) {
    this.id = id;
    this.target = target;
    this.profile = profile;
    this.flags = flags;
    this.onSettled = onSettled;
    this.options = {
      origin: target.origin,
      path: target.path,
      method: METHODS[verb],
      headers,
      body,
      // Lets undici run several of these on one HTTP/2 connection (see agents.js). It
      // never retries a request either way, and HTTP/1.1 connections carry one request at a time.
      idempotent: true,
    };
    this.settled = false;
    this.running = false; // counted against the in-flight cap (the backend's bookkeeping)
    this.viaProxy = false;
    this.controller = null;
    this.started = false;
    this.socket = null;
    // Where its answer's head begins, in bytes read from the socket (-1: not counted).
    this.headStart = -1;
    this.timer = null;
    this.status = 0;
    this.headers = null;
    this.chunks = [];
    this.kept = 0;
    this.truncated = false; // bytes past maxResponseBytes were dropped (the native `truncated`)
    this.received = 0;
    this.t0 = 0;
    this.dueAt = 0; // when the whole-request timer is due (performance.now())
    this.startedAt = -1;
    this.firstByteAt = -1;
  }

  // Hands the request to undici; from here on the whole-request timeout runs, as libcurl's does.
  start(agent, viaProxy) {
    this.viaProxy = viaProxy;
    this.t0 = performance.now();
    if (this.profile.verbose) {
      this.trace(
        `> ${this.options.method} ${redactUrl(`${this.target.origin}${this.target.path}`)}${viaProxy ? ' (via proxy)' : ''}`,
      );
      this.traceHeaders('>', this.options.headers);
    }
    if (this.target.https && this.profile.caError !== undefined) {
      this.finish(errors.caFileUnusable(this.profile.connection.caFile, this.profile.caError));
      return;
    }
    this.timer = setTimeout(() => this.timeOut(), this.profile.timeoutMs);
    this.dueAt = this.t0 + this.profile.timeoutMs;
    try {
      agent.dispatch(this.options, this);
    } catch (err) {
      this.onResponseError(null, err);
    }
  }

  // ---- undici's handler interface ----

  onRequestStart(controller) {
    if (this.settled) {
      controller.abort(new Error('settled before it started'));
      return;
    }
    this.controller = controller;
    this.started = true;
    this.startedAt = performance.now();
    awaitingSocket = this;
  }

  onResponseStart(controller, statusCode, headers) {
    if (this.settled) return;
    // What libcurl cannot read is never an answer.
    if (statusCode < 100 || statusCode > 999) {
      this.refuse(errors.unsupportedStatus());
      return;
    }
    if (this.headTooLarge(statusCode)) {
      this.refuse(errors.headTooLarge());
      return;
    }
    if (this.profile.verbose) {
      this.trace(`< ${statusCode}`);
      this.traceHeaders('<', headers);
    }
    // Only the last response counts (after 1xx, the final one).
    this.status = statusCode;
    this.headers = headers;
    this.chunks = [];
    this.kept = 0;
    this.truncated = false;
    if (this.firstByteAt < 0) this.firstByteAt = performance.now();
  }

  onResponseData(controller, chunk) {
    if (this.settled) return;
    this.received += chunk.length;
    if ((this.flags & FLAGS.RESPONSE) === 0) return;
    // Bytes beyond maxResponseBytes are read and dropped, never kept.
    const room = this.profile.maxResponseBytes - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const keep = chunk.length <= room ? chunk : Buffer.from(chunk.subarray(0, room));
    this.chunks.push(keep);
    this.kept += keep.length;
  }

  onResponseEnd() {
    if (this.settled) return;
    this.finish(null);
  }

  onResponseError(controller, err) {
    if (this.settled) return;
    this.finish(
      errors.classify(err, {
        https: this.target.https,
        viaProxy: this.viaProxy,
        started: this.started,
        statusCode: this.status,
        connectTimeoutMs: this.profile.connection.connectTimeoutMs,
      }),
    );
  }

  // ---- ways to end early ----

  // The timer fired, but an answer may have arrived unread: timers run before the poll phase that
  // reads the sockets, so after a stall of the main thread (a long callback) answers that came in
  // meanwhile are read only after the timers. The verdict waits for a poll phase (a setImmediate
  // runs after it); a late timer (the loop was stalled) waits for one more, for what the first did
  // not get to. A request that is really hung times out a turn or two later.
  timeOut() {
    this.timer = null;
    if (this.settled) return;
    this.timeOutAfterPolls(performance.now() - this.dueAt > LATE_MS ? 2 : 1);
  }

  timeOutAfterPolls(polls) {
    setImmediate(() => {
      if (this.settled) return;
      if (polls > 1) {
        this.timeOutAfterPolls(polls - 1);
        return;
      }
      this.finish(errors.timedOut(this.profile.timeoutMs, this.received));
      this.stop();
    });
  }

  abort() {
    if (this.settled) return false;
    this.finish(errors.aborted());
    this.stop();
    return true;
  }

  // An answer the package cannot read: it ends here, and undici drops the connection.
  refuse(failure) {
    this.status = 0;
    this.finish(failure);
    this.stop();
  }

  // Process exit: no completion, nothing left running.
  halt() {
    this.settled = true;
    this.stop();
  }

  // undici only takes an abort once the request is on a connection; onRequestStart aborts the rest.
  stop() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.controller !== null && !this.controller.aborted)
      this.controller.abort(new Error('stopped'));
  }

  // Whether the head of the answer undici reports now (status line, header lines, empty line) is
  // over libcurl's limit, as the native transport refuses it. The bytes read since the head began
  // bound it (most answers end the check there); otherwise it is found in what was read. An interim
  // answer (1xx) is measured to where it ends, for the next one to begin there.
  headTooLarge(statusCode) {
    if (this.headStart < 0) return false; // HTTP/2, or no socket seen: not counted
    const read = bytesRead(this.socket) - this.headStart;
    if (read <= MAX_HEAD_BYTES && statusCode >= 200) return false;
    const end = headEnd(this.socket, this.headStart);
    const head = end - this.headStart;
    this.headStart = end;
    return head > MAX_HEAD_BYTES;
  }

  // ---- the result ----

  finish(failure) {
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.profile.verbose)
      this.trace(
        failure ? `! ${failure.code} ${redactText(failure.message)}` : `done: HTTP ${this.status}`,
      );
    this.onSettled(this, failure);
  }

  // Request body bytes the connection carried: undici writes a body right after onRequestStart.
  get bytesSent() {
    return this.started && this.options.body ? this.options.body.length : 0;
  }

  // Writes this completion into `batch` (lib/transport/protocol.js's encoder) as the addon does:
  // a plain 2xx as numbers only, just the response the caller asked for as a span, anything else
  // with a detail object.
  encode(batch, failure) {
    const response = failure === null;
    const status = response ? this.status : 0;
    const retryAfter =
      this.headers && this.headers['retry-after'] !== undefined
        ? utf8(valuesOf(this.headers['retry-after']).at(-1))
        : undefined;
    const full = (this.flags & FLAGS.RESPONSE) !== 0 && response;
    const timings = this.profile.timings;
    if (
      response &&
      status >= 200 &&
      status < 300 &&
      !full &&
      retryAfter === undefined &&
      !timings
    ) {
      batch.plain(this.id, status, this.bytesSent);
      return;
    }
    if (full && retryAfter === undefined && !this.truncated && !timings) {
      const body = this.responseBody();
      batch.response(
        this.id,
        status,
        this.bytesSent,
        this.headerBlock(),
        body.length > 0 || (this.flags & FLAGS.BINARY) !== 0 ? body : undefined,
      );
      return;
    }
    const detail = failure ? { ...failure } : {};
    if (failure && this.status > 0) detail.statusCode = this.status;
    if (retryAfter !== undefined) detail.retryAfter = retryAfter;
    if (full) {
      detail.headers = this.headerBlock();
      detail.body = this.responseBody();
      if (this.truncated) detail.truncated = true;
    }
    if (timings) detail.timings = this.timings();
    batch.detailed(this.id, status, this.bytesSent, detail);
  }

  // The body kept, as the caller asked for it: bytes of its own, or text.
  responseBody() {
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
    return (this.flags & FLAGS.BINARY) !== 0 ? Buffer.from(body) : body.toString('utf8');
  }

  // "name: value\r\n" per header line of the last response, names in lower case, repeats kept.
  headerBlock() {
    let block = '';
    for (const name of Object.keys(this.headers || {})) {
      for (const value of valuesOf(this.headers[name])) block += `${name}: ${utf8(value)}\r\n`;
    }
    return block;
  }

  // [dnsMs, connectMs, tlsMs, firstByteMs, totalMs] from the start, -1 where not reached. A reused
  // connection took no time to resolve, connect or secure (0), as libcurl reports it.
  timings() {
    const since = (at) => (at < 0 ? -1 : Math.round((at - this.t0) * 1000) / 1000);
    const total = since(performance.now());
    const firstByte = since(this.firstByteAt);
    if (!this.started) return [-1, -1, -1, firstByte, total];
    const times = this.socket && this.socket[kTimes];
    if (times === undefined || times === null) {
      // Through a proxy undici makes the connection itself: it was ready when the request started.
      const ready = since(this.startedAt);
      return [-1, ready, this.target.https ? ready : -1, firstByte, total];
    }
    if (times.start < this.t0) return [0, 0, this.target.https ? 0 : -1, firstByte, total];
    const connect = since(times.connect);
    // An address needs no lookup: name resolution ended when the connection began.
    return [
      since(times.lookup < 0 ? times.start : times.lookup),
      connect,
      this.target.https ? since(times.secure) : -1,
      firstByte,
      total,
    ];
  }

  // The trace (NATIVE_EVENT_DISPATCHER_TRACE=1): credentials masked by lib/redact.js, bodies never.
  trace(line) {
    process.stderr.write(`* native-event-dispatcher (fallback) #${this.id} ${line}\n`);
  }

  traceHeaders(direction, headers) {
    for (const name of Object.keys(headers || {})) {
      for (const value of valuesOf(headers[name]))
        this.trace(`${direction} ${name}: ${redactHeader(name, value)}`);
    }
  }
}

module.exports = { Transfer };
