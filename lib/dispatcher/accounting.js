'use strict';
// Where every event a dispatcher took on stands. Each one is in exactly one state:
//   pending (in memory: queued, in backoff or in flight) · spooled (on disk, waiting to be
//   replayed) · delivered · failed (a final answer such as 400) · lost (dropped, and reported)
// so at any moment  accepted = pending + spooled + delivered + failed + lost,  and after close()
// pending is 0. `accepted` counts the requests taken in by dispatchEvent()/send() and the spooled
// ones adopted from earlier runs (`inherited`). The same is kept for events: the visitors inside
// Optimizely batches (one per request for other payloads).
const LATENCY_SAMPLES = 1024;
const STATES = /** @type {const} */ (['pending', 'spooled', 'delivered', 'failed', 'lost']);
/** @typedef {Record<'accepted' | (typeof STATES)[number], number>} Counts a Tally's fields */

class Tally {
  constructor() {
    this.accepted = 0;
    for (const s of STATES) this[s] = 0;
  }

  move(from, to, n = 1) {
    if (from) this[from] -= n;
    this[to] += n;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

class Accounting {
  constructor() {
    this.requests = new Tally();
    this.events = new Tally();
    this.inherited = 0;
    this.retried = 0;
    this.replayed = 0;
    this.bytesSent = 0;
    this.notJournaled = 0;
    this.latencies = new Float64Array(LATENCY_SAMPLES);
    this.latencyCount = 0;
  }

  // A new request (with `events` events inside) enters in state `state`.
  enter(state, events, inherited = false) {
    this.requests.accepted += 1;
    this.events.accepted += events;
    this.requests[state] += 1;
    this.events[state] += events;
    if (inherited) this.inherited += 1;
  }

  // Events of a request already counted (an inherited one, once its body is read).
  addEvents(state, events) {
    this.events.accepted += events;
    this.events[state] += events;
  }

  move(from, to, events) {
    this.requests.move(from, to);
    this.events.move(from, to, events);
  }

  // The two moves every event makes on the common path, spelled out (no keyed property access).
  accepted(events) {
    const r = this.requests;
    const e = this.events;
    r.accepted += 1;
    r.pending += 1;
    e.accepted += events;
    e.pending += events;
  }

  delivered(events) {
    const r = this.requests;
    const e = this.events;
    r.pending -= 1;
    r.delivered += 1;
    e.pending -= events;
    e.delivered += events;
  }

  sent(bytes) {
    this.bytesSent += bytes;
  }

  retry() {
    this.retried += 1;
  }

  replay() {
    this.replayed += 1;
  }

  // An event kept in memory only (the spool had no room, or could not be written) → how many so
  // far.
  notJournaledOne() {
    this.notJournaled += 1;
    return this.notJournaled;
  }

  latency(ms) {
    this.latencies[this.latencyCount++ % LATENCY_SAMPLES] = ms;
  }

  latencyMs() {
    const n = Math.min(this.latencyCount, LATENCY_SAMPLES);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
    };
  }

  // close()'s answer: requests at the top level, events inside.
  summary() {
    const { delivered, spooled, lost, failed } = this.requests;
    const e = this.events;
    return {
      delivered,
      spooled,
      lost,
      failed,
      events: { delivered: e.delivered, spooled: e.spooled, lost: e.lost, failed: e.failed },
    };
  }

  counts() {
    const r = this.requests;
    return {
      accepted: r.accepted,
      inherited: this.inherited,
      pending: r.pending,
      delivered: r.delivered,
      failed: r.failed,
      spooled: r.spooled,
      lost: r.lost,
      dropped: r.lost, // the name of `lost` before 0.2
      retried: this.retried,
      replayed: this.replayed,
      bytesSent: this.bytesSent,
      notJournaled: this.notJournaled,
      events: /** @type {Counts} */ ({ ...this.events }),
    };
  }
}

module.exports = { Accounting };
