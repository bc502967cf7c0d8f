'use strict';
// The events a dispatcher holds in memory, oldest first (by seq), and the bytes they take: what
// maxQueueBytes bounds. An event is in it from acceptance (or replay) until it is settled, whether
// it waits in the queue or is in flight. Only this list touches an event's agePrev/ageNext.
const { LinkedList } = require('../queue');

class InMemory {
  constructor() {
    this.list = new LinkedList('agePrev', 'ageNext');
    this.bytes = 0; // of every event in it
    this.flyingBytes = 0; // of those in flight (never evicted)
  }

  get size() {
    return this.list.size;
  }

  // The oldest event's seq; Infinity when it is empty.
  get oldestSeq() {
    return this.list.head ? this.list.head.seq : Infinity;
  }

  // An event whose size is not known yet (bytes −1: it goes straight out) is counted when it is
  // sent (sentUncounted).
  add(entry) {
    this.list.push(entry);
    if (entry.bytes > 0) this.bytes += entry.bytes;
  }

  remove(entry) {
    this.list.remove(entry);
    this.bytes -= entry.bytes;
    if (entry.inFlight) this.flyingBytes -= entry.bytes;
  }

  // It goes out (counted already).
  sent(entry) {
    if (!entry.settled) this.flyingBytes += entry.bytes;
  }

  // It went out before it was counted (its bytes are known now: the transport's copy).
  sentUncounted(entry) {
    this.bytes += entry.bytes;
    this.flyingBytes += entry.bytes;
  }

  // Its attempt ended.
  landed(entry) {
    if (!entry.settled) this.flyingBytes -= entry.bytes;
  }

  // Whether `bytes` more fit under `limit` if every event not in flight were evicted.
  couldFit(bytes, limit) {
    return this.flyingBytes + bytes <= limit;
  }

  // The events not in flight, oldest first, while `more()` says so; each may be removed by the
  // caller as it comes.
  *waiting(more) {
    for (let e = this.list.head; e && more();) {
      const next = e.ageNext;
      if (!e.inFlight) yield e;
      e = next;
    }
  }

  // A copy, oldest first: the caller may settle or add events as it goes.
  snapshot() {
    return [...this];
  }

  *[Symbol.iterator]() {
    for (let e = this.list.head; e; e = e.ageNext) yield e;
  }
}

module.exports = { InMemory };
