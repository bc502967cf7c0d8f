'use strict';
// The dispatcher's waiting room (lib/queue.js) through its exports: order within an origin (early
// before fresh), origins taking turns, retries waiting by due time, paused origins, removal, and
// the intrusive list it is built on. Byte bounds and eviction are the dispatcher's
// (dispatcher.bounds.test.js): the queue holds entries, not bytes.
const { DeliveryQueue, LinkedList } = require('../lib/queue');
const { random: seeded } = require('./helpers/random');

const entry = (origin, name) => ({ origin, name });
const drain = (q) => {
  const out = [];
  for (let e = q.take(); e !== undefined; e = q.take()) {
    out.push(e.name);
    if (out.length > 100000) throw new Error('take() never ran dry');
  }
  return out;
};

describe('DeliveryQueue', () => {
  test('an empty queue has nothing to take and nothing to wake for', () => {
    const q = new DeliveryQueue();
    expect(q.size).toBe(0);
    expect(q.take()).toBeUndefined();
    expect(q.nextWake()).toBe(Infinity);
    expect([...q.entries()]).toEqual([]);
  });

  test('one origin: fresh events go out in the order they came', () => {
    const q = new DeliveryQueue();
    for (let i = 0; i < 5; i++) q.add(entry('a', `a${i}`));
    expect(q.size).toBe(5);
    expect(drain(q)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(q.size).toBe(0);
  });

  test('early entries (retries that came due, replayed events) go before fresh ones, in their own order', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'f1'));
    q.add(entry('a', 'e1'), true);
    q.add(entry('a', 'f2'));
    q.add(entry('a', 'e2'), true);
    expect(drain(q)).toEqual(['e1', 'e2', 'f1', 'f2']);
  });

  test('origins take turns: one from each in the order they became ready', () => {
    const q = new DeliveryQueue();
    for (let i = 1; i <= 3; i++) q.add(entry('a', `a${i}`));
    for (let i = 1; i <= 2; i++) q.add(entry('b', `b${i}`));
    q.add(entry('c', 'c1'));
    expect(drain(q)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  test('an origin that runs dry and comes back joins the end of the turns', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'a1'));
    q.add(entry('b', 'b1'));
    q.add(entry('b', 'b2'));
    expect(q.take().name).toBe('a1'); // a is empty now
    q.add(entry('a', 'a2'));
    expect(drain(q)).toEqual(['b1', 'a2', 'b2']);
  });

  test('remove() takes an entry out from anywhere, once', () => {
    const q = new DeliveryQueue();
    const all = ['a1', 'a2', 'a3'].map((n) => entry('a', n));
    all.forEach((e) => q.add(e));
    const early = entry('a', 'e1');
    q.add(early, true);
    const later = entry('a', 'd1');
    q.defer(later, 1000);
    expect(q.size).toBe(5);
    expect(q.remove(all[1])).toBe(true);
    expect(q.remove(all[1])).toBe(false);
    expect(q.remove(early)).toBe(true);
    expect(q.remove(later)).toBe(true);
    expect(q.remove(later)).toBe(false);
    expect(q.remove(entry('a', 'never added'))).toBe(false);
    expect(q.size).toBe(2);
    expect(q.nextWake()).toBe(Infinity);
    expect(drain(q)).toEqual(['a1', 'a3']);
  });

  test('removing the last entry of an origin takes it out of the turns', () => {
    const q = new DeliveryQueue();
    const a = entry('a', 'a1');
    q.add(a);
    q.add(entry('b', 'b1'));
    q.add(entry('b', 'b2'));
    q.remove(a);
    expect(drain(q)).toEqual(['b1', 'b2']);
  });

  test('a deferred retry is not taken before it is due; promote() brings it back early, by due time', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'fresh'));
    q.defer(entry('a', 'late'), 300);
    q.defer(entry('a', 'soon'), 100);
    q.defer(entry('a', 'mid'), 200);
    expect(q.size).toBe(4);
    expect(q.nextWake()).toBe(100);
    expect(drain(q)).toEqual(['fresh']);
    expect(q.size).toBe(3);

    q.add(entry('a', 'fresh2'));
    q.promote(99);
    expect(q.nextWake()).toBe(100);
    q.promote(200); // soon and mid are due, late is not
    expect(q.nextWake()).toBe(300);
    expect(drain(q)).toEqual(['soon', 'mid', 'fresh2']);
    q.promote(1e12);
    expect(q.nextWake()).toBe(Infinity);
    expect(drain(q)).toEqual(['late']);
    expect(q.size).toBe(0);
  });

  test('a paused origin sends nothing until the pause ends; the others go on', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'a1'));
    q.add(entry('a', 'a2'));
    q.add(entry('b', 'b1'));
    q.pause('a', 1000);
    expect(q.isPaused('a', 999)).toBe(true);
    expect(q.isPaused('a', 1000)).toBe(false);
    expect(q.isPaused('b', 0)).toBe(false);
    expect(q.isPaused('unknown', 0)).toBe(false);
    expect(q.pausedUntil('a')).toBe(1000);
    expect(q.pausedUntil('b')).toBe(0);
    expect(q.nextWake()).toBe(1000);
    expect(drain(q)).toEqual(['b1']);
    q.add(entry('a', 'a3')); // added while paused: waits too
    expect(q.take()).toBeUndefined();
    q.promote(999);
    expect(q.take()).toBeUndefined();
    q.promote(1000);
    expect(q.nextWake()).toBe(Infinity);
    expect(drain(q)).toEqual(['a1', 'a2', 'a3']);
  });

  test('a pause only ever grows: an earlier end does not shorten it', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'a1'));
    q.pause('a', 500);
    q.pause('a', 200);
    expect(q.pausedUntil('a')).toBe(500);
    q.pause('a', 800);
    expect(q.pausedUntil('a')).toBe(800);
    expect(q.nextWake()).toBe(800);
    q.promote(500);
    expect(q.take()).toBeUndefined();
    q.promote(800);
    expect(drain(q)).toEqual(['a1']);
  });

  test('a pause applies to an origin with nothing queued, and is forgotten when it ends empty', () => {
    const q = new DeliveryQueue();
    q.pause('a', 100);
    expect(q.pausedUntil('a')).toBe(100);
    q.add(entry('a', 'a1'));
    expect(q.take()).toBeUndefined();
    expect(q.remove([...q.entries()][0])).toBe(true);
    q.promote(100);
    expect(q.pausedUntil('a')).toBe(0);
    expect(q.nextWake()).toBe(Infinity);
  });

  test('an idle origin is forgotten once empty, unless a pause still holds it', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'a1'));
    q.add(entry('b', 'b1'));
    q.pause('b', 50);
    drain(q);
    expect(q.pausedUntil('a')).toBe(0);
    expect(q.pausedUntil('b')).toBe(50);
  });

  test('a retry that comes due for a paused origin waits for the pause', () => {
    const q = new DeliveryQueue();
    q.defer(entry('a', 'retry'), 10);
    q.pause('a', 100);
    expect(q.nextWake()).toBe(10);
    q.promote(10);
    expect(q.take()).toBeUndefined();
    expect(q.nextWake()).toBe(100);
    q.promote(100);
    expect(drain(q)).toEqual(['retry']);
  });

  test('entries() lists every entry: ready, early and waiting on time', () => {
    const q = new DeliveryQueue();
    q.add(entry('a', 'f'));
    q.add(entry('a', 'e'), true);
    q.add(entry('b', 'g'));
    q.defer(entry('c', 'd'), 5);
    q.pause('b', 10);
    expect([...q.entries()].map((e) => e.name).sort()).toEqual(['d', 'e', 'f', 'g']);
    expect(q.size).toBe(4);
  });

  test('many entries over many origins, deferred, paused and removed at random: each is taken exactly once', () => {
    const random = seeded(23);
    const q = new DeliveryQueue();
    const origins = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const taken = new Map();
    const removed = new Set();
    const live = [];
    let now = 0;
    let added = 0;
    const wrong = []; // checked every step, asserted once at the end
    for (let step = 0; step < 20000; step++) {
      const r = random();
      if (r < 0.45) {
        const e = entry(origins[Math.floor(random() * origins.length)], `n${added++}`);
        if (random() < 0.3) q.defer(e, now + Math.floor(random() * 50));
        else q.add(e, random() < 0.2);
        live.push(e);
      } else if (r < 0.8) {
        const e = q.take();
        if (e !== undefined) {
          if (q.isPaused(e.origin, now))
            wrong.push(`step ${step}: ${e.name} taken from a paused origin`);
          taken.set(e.name, (taken.get(e.name) || 0) + 1);
        }
      } else if (r < 0.85) {
        q.pause(origins[Math.floor(random() * origins.length)], now + Math.floor(random() * 40));
      } else if (r < 0.9 && live.length > 0) {
        const e = live[Math.floor(random() * live.length)];
        if (q.remove(e)) removed.add(e.name);
      } else {
        now += Math.floor(random() * 10);
        q.promote(now);
      }
      if (q.size !== added - taken.size - removed.size) wrong.push(`step ${step}: size ${q.size}`);
      if (!(q.nextWake() >= 0)) wrong.push(`step ${step}: nextWake ${q.nextWake()}`);
    }
    expect(wrong).toEqual([]);
    expect(removed.size).toBeGreaterThan(0);
    q.promote(Infinity);
    for (const name of drain(q)) taken.set(name, (taken.get(name) || 0) + 1);
    expect(q.size).toBe(0);
    expect([...taken.values()].every((n) => n === 1)).toBe(true);
    expect(taken.size + removed.size).toBe(added);
    expect(added).toBeGreaterThan(5000);
    for (const name of removed) expect(taken.has(name)).toBe(false);
  });
});

describe('LinkedList', () => {
  test('push, shift and remove keep order and size', () => {
    const list = new LinkedList('p', 'n');
    const items = [1, 2, 3, 4].map((id) => ({ id }));
    items.forEach((i) => list.push(i));
    expect(list.size).toBe(4);
    list.remove(items[2]);
    expect(list.shift().id).toBe(1);
    expect(list.head.id).toBe(2);
    expect(list.tail.id).toBe(4);
    list.remove(items[3]);
    expect(list.tail.id).toBe(2);
    expect(list.shift().id).toBe(2);
    expect(list.size).toBe(0);
    expect(list.head).toBeNull();
    expect(list.tail).toBeNull();
    expect(list.shift()).toBeNull();
  });

  test('an item can be on two lists at once through different link fields', () => {
    const byAge = new LinkedList('agePrev', 'ageNext');
    const byLane = new LinkedList('lanePrev', 'laneNext');
    const items = ['x', 'y', 'z'].map((id) => ({ id }));
    items.forEach((i) => byAge.push(i));
    [...items].reverse().forEach((i) => byLane.push(i));
    byAge.remove(items[1]);
    const walk = (list, next) => {
      const out = [];
      for (let i = list.head; i; i = i[next]) out.push(i.id);
      return out;
    };
    expect(walk(byAge, 'ageNext')).toEqual(['x', 'z']);
    expect(walk(byLane, 'laneNext')).toEqual(['z', 'y', 'x']);
    expect(items[1].ageNext).toBeNull();
    expect(items[1].agePrev).toBeNull();
  });
});
