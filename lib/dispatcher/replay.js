'use strict';
// What comes back from the spool: whether replay is due (never before `notBefore`, which a failed
// replay moves forward; never after a deadline stopped it), and the next parked record, read back
// and held to the rules of a new event — or the reason it cannot be sent.
const { prepareReplay } = require('../transport/request');
const { eventCount } = require('../optimizely');

class Replay {
  constructor(spool, endpoint) {
    this.spool = spool;
    this.endpoint = endpoint; // replaces the journaled URL, as it does for fresh events
    this.notBefore = 0;
    this.stopped = false;
    this.taken = 0; // records taken out of the spool so far
    this.events = new WeakMap(); // record -> the events (visitors) it carries, once known
  }

  due(now) {
    return !this.stopped && this.spool.parkedCount > 0 && now >= this.notBefore;
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
        events = eventsIn(request);
        this.events.set(record, events);
      }
      return { record, request, events, counted };
    } catch (error) {
      return { record, error, events: events ?? 0, counted: true };
    }
  }
}

// An Optimizely batch's visitors, read from a journaled body once; 1 for other payloads.
function eventsIn(request) {
  if (!request.json) return 1;
  try {
    return eventCount(JSON.parse(request.body));
  } catch {
    return 1;
  }
}

module.exports = { Replay };
