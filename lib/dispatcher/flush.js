'use strict';
// flush() promises. Each waits for the events in memory at its call — the in-memory list is in
// acceptance order (seq), so it is done once the oldest event in memory is younger than its `seq` —
// and, when replay was due at the call, for the records then parked: replay takes them oldest
// first, so it is done once replay has taken `takeTarget` records and those are settled too. Asked
// with options (flush({ timeoutMs }), flush(ms)), it answers { settled: true, pending: 0 }, or at
// the deadline, if that comes first, { settled: false, pending } (the events go on); a plain
// flush() answers nothing, as it always has.
const SETTLED = Object.freeze({ settled: true, pending: 0 });

class FlushWaiters {
  constructor() {
    this.waiting = [];
  }

  get size() {
    return this.waiting.length;
  }

  // deadline: null (a plain flush()), or { timeoutMs (Infinity: none), pendingOf(waiter) → what
  // it still waits for, asked at the deadline }.
  add(seq, takeTarget, deadline) {
    return new Promise((resolve) => {
      const waiter = {
        seq,
        takeTarget,
        resolve,
        answer: deadline ? SETTLED : undefined,
        timer: null,
      };
      this.waiting.push(waiter);
      if (!deadline || deadline.timeoutMs === Infinity) return;
      const { timeoutMs, pendingOf } = deadline;
      waiter.timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        resolve({ settled: false, pending: pendingOf(waiter) });
      }, timeoutMs);
      // A deadline is a bound, not work: what keeps the process alive is the events themselves.
      waiter.timer.unref();
    });
  }

  // Replay took its `taken`-th record as the event numbered `seq`.
  took(taken, seq) {
    for (const w of this.waiting) if (taken <= w.takeTarget) w.seq = Math.max(w.seq, seq);
  }

  // oldestSeq: the oldest event in memory's seq (Infinity when none); taken: records replay has
  // taken; replayDue: false once replay stopped or rests — what it did not take stays spooled.
  resolveDone(oldestSeq, taken, replayDue) {
    this.waiting = this.waiting.filter((w) => {
      if (taken < w.takeTarget && !replayDue) w.takeTarget = taken;
      if (taken < w.takeTarget || oldestSeq <= w.seq) return true;
      clearTimeout(w.timer);
      w.resolve(w.answer);
      return false;
    });
  }
}

module.exports = { FlushWaiters };
