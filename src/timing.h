// The pump's timing, in one place: each value and why it is what it is. Measurements behind them:
// docs/benchmarks.md and bench/cost-log.md; what they mean for an application: docs/design.md.
#pragma once

#include <chrono>

namespace ned {
namespace timing {

// Submits: the first transfer of a burst rings the pump at once, the rest at most this often (a
// ring costs the sender a system call and a thread switch); the loop's next turn rings for the
// rest.
constexpr auto kRingInterval = std::chrono::microseconds(100);
// A pump asleep that wakes by itself within this long needs no ring for new transfers: they start
// then, a little later than with a ring, for far less of the sender's CPU.
constexpr auto kRingSlack = std::chrono::milliseconds(3);
// An environment that sends on its loop's turns (a timer's tick) is looked at this long after its
// loop wakes, so that a steady sender needs no ring at all.
constexpr auto kLookAfterTurn = std::chrono::milliseconds(1);

// A channel with a small burst in flight has its completions held back, this long at most, for
// the rest of it: each hand-back may wake the environment's thread.
constexpr auto kHold = std::chrono::milliseconds(1);
// ...unless this many of its transfers are in flight or waiting: under load completions are
// frequent anyway, and a busy loop takes them together.
constexpr long kHoldBelow = 16;
// While completions are held back the pump looks again this soon: they are due within kHold.
constexpr int kHeldRecheckMs = 1;
// Completions wait this long at most for the environment's loop to wake by itself (a timer due),
// rather than wake it: a wake-up costs that thread more than handing back the batch.
constexpr auto kPiggyback = std::chrono::milliseconds(5);

// How long an idle pump waits for more work before giving its thread back: a busy server sends
// again within milliseconds, and each new run costs a threadpool round trip.
constexpr auto kLinger = std::chrono::milliseconds(20);
// The longest the pump waits at once. With transfers in flight libcurl always has a timer; this
// only bounds a lost one.
constexpr int kMaxWaitMs = 1000;
// How often a running pump adds its thread's CPU time to the stats: reading the thread clock is a
// system call, so not on every turn, yet a busy run may last for hours.
constexpr auto kCpuSample = std::chrono::milliseconds(100);
// Halt() (at exit) waits this long at most for the pump to get out of libcurl: long enough for a
// turn to end, short enough that a wedged transfer never holds the process's exit for long.
constexpr auto kHaltWait = std::chrono::seconds(2);

}  // namespace timing
}  // namespace ned
