'use strict';
const { Queued } = require('../queue');

// One event a dispatcher has in memory, from acceptance (or replay) until it is settled. It is
// Queued: the queue's fields (lib/queue.js) are the queue's; agePrev/ageNext are the dispatcher's
// in-memory list. One class keeps every event the same shape for V8. The transport hands its
// result to the dispatcher with the event as the token (lib/transport/completions.js).
class Delivery extends Queued {
  // acceptedAt: wall time (ms since the epoch; the spool keeps it); since and deadline: the
  // dispatcher's monotonic clock.
  constructor(seq, request, acceptedAt, since, deadline, events, uncounted = false) {
    super();
    this.seq = seq;
    this.request = request;
    this.origin = request.origin;
    // The event's bytes (what goes out: UTF-8), which is also about what it has in memory
    // (V8 keeps ASCII text one byte per character, other text two, which UTF-8 never undercounts).
    // -1 until counted: an event that goes straight out is counted by the pump's copy of it
    // (Dispatcher#sendEntry).
    this.bytes = uncounted ? -1 : bytesOf(request.body);
    this.events = events; // visitors in an Optimizely batch; 1 for other payloads
    this.attempts = 0;
    this.acceptedAt = acceptedAt;
    this.since = since;
    this.deadline = deadline;
    this.last = undefined; // { statusCode, failure } of its last failed attempt
    this.resolve = null;
    this.callback = null;
    this.record = null; // its journal record, when it has one
    this.lateFile = false; // spooled at a deadline into a file of its own (the journal was full)
    this.replayed = false;
    this.settled = false;
    this.inFlight = false;
    this.transferId = 0;
    this.agePrev = null;
    this.ageNext = null;
  }
}

function bytesOf(body) {
  if (typeof body === 'string') return Buffer.byteLength(body);
  return body ? body.byteLength : 0;
}

module.exports = { Delivery };
