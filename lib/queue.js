'use strict';
// The waiting room of the dispatcher: events accepted but not in flight. Per origin, retries and
// replayed events go before fresh ones; retries in backoff wait in a heap by due time; a paused
// origin (Retry-After) sends nothing until its pause ends, and origins with something to send take
// turns. take(), add(), remove() and nextWake() are O(1); defer(), pause() and promote() O(log n).

// An intrusive doubly-linked list; `prev`/`next` name the link fields it uses on its items, so an
// item can be on two lists at once.
class LinkedList {
  constructor(prev, next) {
    this.prev = prev;
    this.next = next;
    this.head = null;
    this.tail = null;
    this.size = 0;
  }

  push(item) {
    item[this.prev] = this.tail;
    item[this.next] = null;
    if (this.tail) this.tail[this.next] = item;
    else this.head = item;
    this.tail = item;
    this.size += 1;
  }

  shift() {
    const item = this.head;
    if (item) this.remove(item);
    return item;
  }

  remove(item) {
    const before = item[this.prev];
    const after = item[this.next];
    if (before) before[this.next] = after;
    else this.head = after;
    if (after) after[this.prev] = before;
    else this.tail = before;
    item[this.prev] = null;
    item[this.next] = null;
    this.size -= 1;
  }
}

// A binary min-heap by `key(item)`, keeping each item's index (in `indexField`) for O(log n)
// removal.
class Heap {
  constructor(key, indexField) {
    this.key = key;
    this.indexField = indexField;
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  peek() {
    return this.items[0];
  }

  push(item) {
    item[this.indexField] = this.items.length;
    this.items.push(item);
    this.up(item[this.indexField]);
  }

  remove(item) {
    const i = item[this.indexField];
    const last = this.items.pop();
    item[this.indexField] = -1;
    if (last === item) return;
    this.items[i] = last;
    last[this.indexField] = i;
    this.down(i);
    this.up(last[this.indexField]);
  }

  up(i) {
    const { items, key } = this;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (key(items[parent]) <= key(items[i])) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  down(i) {
    const { items, key } = this;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && key(items[l]) < key(items[least])) least = l;
      if (r < items.length && key(items[r]) < key(items[least])) least = r;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  swap(a, b) {
    const { items, indexField } = this;
    [items[a], items[b]] = [items[b], items[a]];
    items[a][indexField] = a;
    items[b][indexField] = b;
  }
}

const LANE = ['lanePrev', 'laneNext'];

class Origin {
  constructor(name) {
    this.name = name;
    this.early = new LinkedList(...LANE); // retries that came due, and replayed events
    this.fresh = new LinkedList(...LANE);
    this.pausedUntil = 0;
    this.heapIndex = -1; // in the pause heap
    this.turnPrev = null; // in the turn list (ready and not paused)
    this.turnNext = null;
    this.inTurn = false;
  }

  get size() {
    return this.early.size + this.fresh.size;
  }
}

// What the queue keeps on each of its entries: entries are Queued (a subclass), and only the
// queue reads or writes these fields. Kept on the entry, not in a node of the queue's own, so that
// queueing an event allocates nothing.
class Queued {
  constructor() {
    this.where = null; // 'early' | 'fresh' | 'due' | null (not queued)
    this.lanePrev = null;
    this.laneNext = null;
    this.heapIndex = -1; // in the due heap
    this.dueAt = 0;
  }
}

// Entries are Queued and have `origin` (a string).
class DeliveryQueue {
  constructor() {
    this.origins = new Map();
    this.turns = new LinkedList('turnPrev', 'turnNext');
    this.due = new Heap((e) => e.dueAt, 'heapIndex');
    this.pauses = new Heap((o) => o.pausedUntil, 'heapIndex');
    this.size = 0;
  }

  originOf(name) {
    let origin = this.origins.get(name);
    if (!origin) {
      origin = new Origin(name);
      this.origins.set(name, origin);
    }
    return origin;
  }

  isPaused(name, now) {
    const origin = this.origins.get(name);
    return origin !== undefined && origin.pausedUntil > now;
  }

  // When `name`'s pause ends; 0 (or a time past) when it is not paused.
  pausedUntil(name) {
    if (this.pauses.size === 0) return 0; // the common case: no origin paused, no lookup
    const origin = this.origins.get(name);
    return origin ? origin.pausedUntil : 0;
  }

  // Ready now. `early` (retries come back this way, and replayed events) goes before fresh events.
  add(entry, early = false) {
    const origin = this.originOf(entry.origin);
    entry.where = early ? 'early' : 'fresh';
    (early ? origin.early : origin.fresh).push(entry);
    this.size += 1;
    if (!origin.inTurn && origin.heapIndex < 0) this.enterTurns(origin);
  }

  // A retry: waits until dueAt.
  defer(entry, dueAt) {
    entry.dueAt = dueAt;
    entry.where = 'due';
    this.due.push(entry);
    this.size += 1;
  }

  remove(entry) {
    if (entry.where === 'due') {
      this.due.remove(entry);
    } else if (entry.where) {
      const origin = this.origins.get(entry.origin);
      (entry.where === 'early' ? origin.early : origin.fresh).remove(entry);
      if (origin.size === 0) this.leave(origin);
    } else {
      return false;
    }
    entry.where = null;
    this.size -= 1;
    return true;
  }

  // Nothing goes to `name` before `until` (a Retry-After on a 429 or 503).
  pause(name, until) {
    const origin = this.originOf(name);
    if (until <= origin.pausedUntil) return;
    if (origin.heapIndex >= 0) this.pauses.remove(origin);
    if (origin.inTurn) this.leaveTurns(origin);
    origin.pausedUntil = until;
    this.pauses.push(origin);
  }

  // Moves retries that are due into their origin's early lane, and ends pauses that are over.
  promote(now) {
    while (this.pauses.size > 0 && this.pauses.peek().pausedUntil <= now) {
      const origin = this.pauses.peek();
      this.pauses.remove(origin);
      if (origin.size > 0) this.enterTurns(origin);
      else this.origins.delete(origin.name);
    }
    while (this.due.size > 0 && this.due.peek().dueAt <= now) {
      const entry = this.due.peek();
      this.due.remove(entry);
      entry.where = null;
      this.size -= 1;
      this.add(entry, true);
    }
  }

  // The next event to send, or undefined. Origins take turns.
  take() {
    const origin = this.turns.head;
    if (!origin) return undefined;
    const entry = origin.early.head || origin.fresh.head;
    this.remove(entry);
    // The origin that just sent goes to the back of the turns.
    if (origin.inTurn && this.turns.size > 1) {
      this.turns.remove(origin);
      this.turns.push(origin);
    }
    return entry;
  }

  // When something may next become sendable: the earliest retry, or the end of the first pause.
  // Infinity when nothing waits on time.
  nextWake() {
    const due = this.due.size > 0 ? this.due.peek().dueAt : Infinity;
    const pause = this.pauses.size > 0 ? this.pauses.peek().pausedUntil : Infinity;
    return Math.min(due, pause);
  }

  // Every entry, for close(): the ones waiting on time too.
  *entries() {
    for (const origin of this.origins.values()) {
      for (let e = origin.early.head; e; e = e.laneNext) yield e;
      for (let e = origin.fresh.head; e; e = e.laneNext) yield e;
    }
    yield* this.due.items;
  }

  enterTurns(origin) {
    origin.inTurn = true;
    this.turns.push(origin);
  }

  leaveTurns(origin) {
    origin.inTurn = false;
    this.turns.remove(origin);
  }

  leave(origin) {
    if (origin.inTurn) this.leaveTurns(origin);
    // Idle origins are forgotten unless a pause still applies to them.
    if (origin.heapIndex < 0) this.origins.delete(origin.name);
  }
}

module.exports = { DeliveryQueue, LinkedList, Queued };
