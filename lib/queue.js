'use strict';
// The waiting room of the dispatcher: events accepted but not in flight. Per origin, retries and
// spooled events go before fresh ones; retries in backoff wait in a heap by due time; a paused
// origin (Retry-After) sends nothing until its pause ends. Every operation is O(1) or O(log n).

// An intrusive doubly-linked list; `prev`/`next` name the link fields it uses on its items, so an
// item can be on two lists at once (its lane and the age list).
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
    if (this.tail) this.tail[this.next] = item; else this.head = item;
    this.tail = item;
    this.size += 1;
  }

  unshift(item) {
    item[this.next] = this.head;
    item[this.prev] = null;
    if (this.head) this.head[this.prev] = item; else this.tail = item;
    this.head = item;
    this.size += 1;
  }

  remove(item) {
    const before = item[this.prev];
    const after = item[this.next];
    if (before) before[this.next] = after; else this.head = after;
    if (after) after[this.prev] = before; else this.tail = before;
    item[this.prev] = null;
    item[this.next] = null;
    this.size -= 1;
  }
}

// A binary min-heap of items by `dueAt`, keeping each item's index for O(log n) removal.
class DueHeap {
  constructor() {
    this.items = [];
  }

  get size() { return this.items.length; }

  peek() { return this.items[0]; }

  push(item) {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  remove(item) {
    const i = item.heapIndex;
    const last = this.items.pop();
    item.heapIndex = -1;
    if (last === item) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  up(i) {
    const { items } = this;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].dueAt <= items[i].dueAt) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  down(i) {
    const { items } = this;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && items[l].dueAt < items[least].dueAt) least = l;
      if (r < items.length && items[r].dueAt < items[least].dueAt) least = r;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  swap(a, b) {
    const { items } = this;
    [items[a], items[b]] = [items[b], items[a]];
    items[a].heapIndex = a;
    items[b].heapIndex = b;
  }
}

const LANE = ['lanePrev', 'laneNext'];

class Origin {
  constructor(name) {
    this.name = name;
    this.early = new LinkedList(...LANE);
    this.fresh = new LinkedList(...LANE);
    this.pausedUntil = 0;
  }
}

// Entries need `origin` (a string); the queue keeps `where` ('early' | 'fresh' | 'due') on them.
class DeliveryQueue {
  constructor() {
    this.origins = new Map();
    this.due = new DueHeap();
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

  // Ready now. `early` (retries come back this way, and spooled events) goes before fresh events.
  add(entry, early = false) {
    const origin = this.originOf(entry.origin);
    entry.where = early ? 'early' : 'fresh';
    (early ? origin.early : origin.fresh).push(entry);
    this.size += 1;
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
    } else {
      return false;
    }
    entry.where = null;
    this.size -= 1;
    return true;
  }

  pause(name, until) {
    const origin = this.originOf(name);
    origin.pausedUntil = Math.max(origin.pausedUntil, until);
  }

  pausedUntil(name) {
    const origin = this.origins.get(name);
    return origin ? origin.pausedUntil : 0;
  }

  // Moves retries that are due into their origin's early lane.
  promote(now) {
    while (this.due.size > 0 && this.due.peek().dueAt <= now) {
      const entry = this.due.peek();
      this.remove(entry);
      this.add(entry, true);
    }
  }

  // The next event to send now, or undefined. Origins take turns.
  take(now) {
    for (const origin of this.origins.values()) {
      if (origin.pausedUntil > now) continue;
      const entry = origin.early.head || origin.fresh.head;
      if (entry) {
        this.remove(entry);
        // Round robin: the origin that just sent goes to the back.
        this.origins.delete(origin.name);
        this.origins.set(origin.name, origin);
        return entry;
      }
    }
    return undefined;
  }

  // When something next becomes sendable: the earliest retry, or the end of a pause that holds
  // events back. Infinity when nothing waits on time.
  nextWake(now) {
    let at = this.due.size > 0 ? this.due.peek().dueAt : Infinity;
    for (const origin of this.origins.values()) {
      if (origin.pausedUntil > now && (origin.early.size > 0 || origin.fresh.size > 0)) {
        at = Math.min(at, origin.pausedUntil);
      }
    }
    return at;
  }
}

module.exports = { DeliveryQueue, LinkedList, DueHeap };
