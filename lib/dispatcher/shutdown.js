'use strict';
// close() and deadlines: the dispatcher's state (open → closing → closed), the deadline at which
// everything in memory is settled (settleBy, settleWithin, and close()'s own), and the part of a
// deadline kept for its end. It owns its timers and the close promise; the dispatcher (`host`)
// settles and counts the events: host.expire() settles all it has in memory, host.flush(),
// host.inFlight, host.memoryCosts() → { inMemory, late, lateBytes, spooled } for the reserve,
// host.letGo() lets go of its timers, spool and connections, host.summary().
const { performance } = require('node:perf_hooks');
const { invalid } = require('../errors');
const { MAX_MS } = require('../transport/protocol');
const { readCloseTimeout } = require('./options');

// See the dispatcher's clock: deadlines are monotonic; the epoch time settleBy takes is read once.
const clock = () => performance.now();

// The part of a deadline (close()'s, settleWithin()'s) kept for its end, so that it happens within
// the deadline, not after: transfers it aborts come back (what was delivered after all is
// acknowledged, not sent again by the next run) and whoever waits on the events hears of them (an
// SDK's close()), every event still in memory is settled (SETTLE_US each, measured ~6 here), those
// in memory only are written to a late file (LATE_US each plus LATE_BYTES_PER_MS, a slow
// disk's pace with its fsync; measured ~17 µs each), and the journal is synced (SYNC_MS). A tenth
// of timeoutMs, at most GRACE_MS, for the first; all of timeoutMs at most (then the end starts at
// once: there is no time to deliver anything). One formula, reserveMs(), for every deadline.
const GRACE_MS = 250;
const SETTLE_US = 15;
const LATE_US = 30;
const LATE_BYTES_PER_MS = 100 * 1000;
const SYNC_MS = 25;

class Shutdown {
  constructor(host, closeTimeoutMs) {
    this.host = host;
    this.closeTimeoutMs = closeTimeoutMs;
    /** @type {'open' | 'closing' | 'closed'} */
    this.state = 'open';
    this.timer = null; // settles everything in memory at `at`
    this.at = Infinity;
    this.end = Infinity; // close()'s deadline
    this.promise = null; // close()'s
  }

  // At `deadline` (ms since the epoch), everything still in memory is settled — spooled, or lost
  // without a spool — and transfers in flight are aborted; the dispatcher stays open. The
  // earliest deadline set wins: a later one never extends it.
  settleBy(deadline) {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw invalid(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        'deadline',
        'a time in ms since the epoch (Date.now() + ms)',
        deadline,
      );
    }
    // The epoch time is read once, here; from now on the clock is monotonic.
    const at = clock() + Math.max(0, deadline - Date.now());
    if (this.timer) {
      if (this.at <= at) return;
      clearTimeout(this.timer);
    }
    this.at = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.at = Infinity;
        this.host.expire();
      },
      Math.min(MAX_MS, at - clock()),
    );
    this.timer.unref();
  }

  // For a deadline `options` away (as close() reads them: ms, { timeoutMs }, or by default
  // closeTimeoutMs), settles what is in memory early enough that the settling — and whoever waits
  // on the events hearing of it — ends by the deadline: settleBy() then, less reserveMs. Returns
  // { timeoutMs, reserveMs }. closeOptimizely() uses it.
  settleWithin(options) {
    const timeoutMs = readCloseTimeout(options, this.closeTimeoutMs);
    const reserveMs = this.reserveMs(timeoutMs);
    this.settleBy(Date.now() + timeoutMs - reserveMs);
    return { timeoutMs, reserveMs };
  }

  // Milliseconds of a deadline `timeoutMs` away to keep for settling what is still in memory then.
  reserveMs(timeoutMs) {
    const { inMemory, late, lateBytes, spooled } = this.host.memoryCosts();
    const reserve =
      Math.min(GRACE_MS, Math.floor(timeoutMs / 10)) +
      (spooled ? SYNC_MS : 0) +
      Math.ceil((inMemory * SETTLE_US + late * LATE_US) / 1000) +
      Math.ceil(lateBytes / LATE_BYTES_PER_MS);
    return Math.min(reserve, timeoutMs);
  }

  // Stops accepting (new events are refused, or spooled when there is a spool), delivers what is
  // in memory and what the spool has due, until timeoutMs; then settles the rest — spooled, or lost
  // without a spool — aborting what is in flight, and closes the spool.
  // Called again while closing: the same promise, and the earlier of the two deadlines holds (a
  // SIGTERM's closeTimeoutMs cuts short an application's longer close()).
  close(options) {
    let timeoutMs;
    try {
      timeoutMs = readCloseTimeout(options, this.closeTimeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.promise) {
      const end = clock() + timeoutMs;
      if (this.state === 'closing' && end < this.end) {
        this.end = end;
        this.settleBy(Date.now() + timeoutMs - this.reserveMs(timeoutMs));
      }
      return this.promise;
    }
    this.state = 'closing';
    this.promise = this.run(timeoutMs);
    return this.promise;
  }

  async run(timeoutMs) {
    const { host } = this;
    this.end = clock() + timeoutMs;
    const grace = this.reserveMs(timeoutMs);
    let timer;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs - grace);
    });
    await Promise.race([host.flush(), deadline]);
    clearTimeout(timer);
    host.expire();
    // Aborted transfers come back within moments; what turns out delivered is acknowledged.
    while (host.inFlight > 0 && clock() < this.end) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, this.end - clock())));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    host.letGo();
    this.state = 'closed';
    return host.summary();
  }
}

module.exports = { Shutdown };
