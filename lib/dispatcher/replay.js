'use strict';
// What comes back from the spool: whether replay is due (never before `notBefore`, which a failed
// replay moves forward; never after a deadline stopped it), and the next parked record, read back
// and held to the rules of a new event — or the reason it cannot be sent.
const { prepareReplay } = require('../transport/request');

class Replay {
  // countEvents(params): the dispatcher's eventCount.
  constructor(spool, endpoint, countEvents) {
    this.spool = spool;
    this.endpoint = endpoint; // replaces the journaled URL, as it does for fresh events
    this.notBefore = 0;
    this.stopped = false;
    this.taken = 0; // records taken out of the spool so far
    this.countEvents = countEvents;
    this.events = new WeakMap(); // record -> the events (visitors) it carries, once known
  }

  due(now) {
    return !this.stopped && this.spool.parkedCount > 0 && now >= this.notBefore;
  }

  // When replay would next be due, for a timer: Infinity when it is due now, stopped or has
  // nothing to take.
  wakeAt(now) {
    return this.spool.parkedCount > 0 && !this.stopped && this.notBefore > now
      ? this.notBefore
      : Infinity;
  }

  // The endpoint answers: what is spooled may come back at once.
  resume() {
    this.notBefore = 0;
  }

  // A replayed event failed again: the spool rests until `until`.
  rest(until) {
    this.notBefore = until;
  }

  // Nothing more comes back (a deadline came).
  stop() {
    this.stopped = true;
  }

  // The events a journaled record carries (known when it was journaled, or once read back).
  remember(record, events) {
    this.events.set(record, events);
  }

  eventsOf(record) {
    return this.events.get(record) ?? 0;
  }

  // → undefined when nothing is parked; otherwise { record, request, events, counted } — `counted`
  // false the first time an inherited record's events are known — or { record, error, events }.
  next() {
    const record = this.spool.takeParked();
    if (!record) return undefined;
    this.taken += 1;
    let events = this.events.get(record);
    const counted = events !== undefined;
    try {
      const r = this.spool.read(record);
      const request = prepareReplay(r.method, this.endpoint || r.href, r.body, r.json);
      if (!counted) {
        events = eventsIn(request, this.countEvents);
        this.events.set(record, events);
      }
      return { record, request, events, counted };
    } catch (error) {
      return { record, error, events: events ?? 0, counted: true };
    }
  }
}

// The events in a journaled body, counted once: JSON is parsed for the count (an Optimizely
// batch's visitors); 1 for other payloads, or when the count fails.
function eventsIn(request, countEvents) {
  if (!request.json) return 1;
  try {
    const n = countEvents(JSON.parse(request.body));
    return Number.isInteger(n) && n >= 0 ? n : 1;
  } catch {
    return 1;
  }
}

module.exports = { Replay };
