'use strict';
// flush() promises. Each waits for the events held at its call — the held list is in acceptance
// order (seq), so it is done once the oldest held event is younger than its `seq` — and, when
// replay was due at the call, for the records then parked: replay takes them oldest first, so it
// is done once replay has taken `takeTarget` records and those are settled too.
class FlushWaiters {
  constructor() {
    this.waiting = [];
  }

  get size() {
    return this.waiting.length;
  }

  add(seq, takeTarget) {
    return new Promise((resolve) => this.waiting.push({ seq, takeTarget, resolve }));
  }

  // Replay took its `taken`-th record as the event numbered `seq`.
  took(taken, seq) {
    for (const w of this.waiting) if (taken <= w.takeTarget) w.seq = Math.max(w.seq, seq);
  }

  // oldestSeq: the oldest held event's seq (Infinity when none); taken: records replay has taken;
  // replayDue: false once replay stopped or rests — what it did not take stays spooled.
  settle(oldestSeq, taken, replayDue) {
    this.waiting = this.waiting.filter((w) => {
      if (taken < w.takeTarget && !replayDue) w.takeTarget = taken;
      if (taken < w.takeTarget || oldestSeq <= w.seq) return true;
      w.resolve();
      return false;
    });
  }
}

module.exports = { FlushWaiters };
