// The pump: one per process. A single libuv threadpool work item drives one curl multi handle
// (curl_multi_socket_action over the Poller) for the transfers of every Node environment in the
// process — the main thread and each worker — so the addon holds at most one threadpool thread,
// and workers share connections and TLS sessions. When nothing is queued or in flight the work item
// ends and its thread goes back to the pool; the multi handle (and its connection cache) stays.
//
// Each environment talks to the pump through its Channel (channel.h). The work item is queued on
// the loop of the environment that found the pump idle (its "host"); when the host goes away, the
// work moves to another environment's loop and the transfers in flight carry on. The pump owns the
// hosting, the lifecycle and the hand-back policy (which completions go back when, and whether
// that wakes a loop); the Multi (multi.h) owns the transfers in libcurl, with the Scheduler
// (scheduler.h) deciding what starts and the EasyPool (easy_pool.h) lending the handles.
//
// Threads and locks:
// - The pump's public methods run on environment threads (through their Channel), Halt on any
//   thread; Run on a threadpool thread. No N-API anywhere here.
// - Pump::mu_ guards the fields marked "shared" below: what environments hand in (transfers,
//   aborts, leavers, limits), the attached channels and the run state (state_, host_, ...).
// - Channel::mu_ guards what a channel and the pump share: its completed batch, its loop's sleep.
// - Lock order: Pump::mu_, then a Channel::mu_; never the other way round, never two channels'.
//   (pump.cc's g_create_mu guards only the making of the pump, and is held alone.)
// - "Owner" state — the Multi and everything in it, the hand-back state below — is touched only by
//   whoever owns the multi handle: the running work item, or an environment thread that found the
//   pump idle (State::kInline), one at a time; the state machine under mu_ hands the ownership on.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "channel.h"  // the environments' side of the pump (binding.h reaches it through here)
#include "multi.h"
#include "poller.h"
#include "request.h"

namespace ned {

class Pump {
 public:
  using Clock = std::chrono::steady_clock;

  static Pump* Get(std::string* error);  // the process's pump, made on first use
  static void HaltProcess();             // atexit: halts the pump if there is one

  // Stops the pump for good (transfers in flight are abandoned) and waits, bounded, until it is
  // out of libcurl: libuv joins its threadpool before exit(), and TLS exit handlers must not run
  // under a live transfer. Any thread.
  void Halt();

  // On `ch`'s thread, through the channel.
  void Attach(Channel* ch);
  // Queues `t`. An idle pump now runs for it: the channel queues the returned order on its loop.
  // `*ring`: a running pump should hear of it (the channel paces the rings).
  WorkOrder Submit(Channel* ch, std::unique_ptr<Transfer> t, bool* ring);
  // Wakes the pump for new transfers, unless it wakes by itself soon.
  void RingForTransfers();
  void Abort(Channel* ch, double id);
  void SetMaxInFlight(Channel* ch, long n);
  void SetConnectionLimits(const ConnectionLimits& limits, bool initial);
  WorkOrder CloseIdle(Channel* ch);  // an order when the pump was idle (a run to close them)
  WorkOrder Host(Channel* ch);       // a channel asked to host (AskToHost) offers its loop
  // The channel is closing; the pump lets go of it (Channel::Detach) later, or at once if this
  // returns true (halted: nobody looks at it again).
  bool Leave(Channel* ch);
  PumpStats Stats() const;

 private:
  enum class State { kIdle, kQueued, kInline };

  Pump() = default;
  bool Init(std::string* error);

  // Hosting; the Locked ones with mu_ held.
  WorkOrder OrderRunLocked(Channel* ch);  // on ch's thread: a run hosted by ch, to queue there
  void KickLocked(Channel* except);
  void InlineLocked(std::unique_lock<std::mutex>* lock);  // an environment thread takes the multi
  void Ring();                                            // any thread, without mu_
  static void Work(uv_work_t* req);                       // the threadpool thread: Run
  static void AfterWork(uv_work_t* req, int status);      // the host's thread

  // Owner of the multi handle.
  void Run();
  void TakeIntake();
  void DropChannel(Channel* ch);
  void HandBack(bool all = true);
  void CountHandedBack(size_t transfers);  // one batch handed back (settled_, batches_)
  int LookAfterTurnsMs(Clock::time_point now);
  void HandOverLocked(bool busy);
  void EndRunLocked();

  Poller poller_;  // Wait: the owner; Ring: any thread; Watch/Rest: the Multi
  Multi multi_;    // owner

  // Shared, under mu_.
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Transfer>> incoming_;
  std::vector<std::pair<Channel*, double>> aborts_;
  std::vector<std::pair<Channel*, long>> max_in_flight_;  // asked for, not yet applied
  std::vector<Channel*> leaving_;
  std::vector<Channel*> channels_;  // attached
  State state_ = State::kIdle;
  Channel* host_ = nullptr;  // kQueued: whose loop the work item is on
  bool yield_ = false;       // the host is leaving: give its loop back now
  bool stop_ = false;
  bool has_work_ = false;  // kIdle with transfers still in the multi or waiting
  bool in_run_ = false;
  ConnectionLimits limits_{0, 0};
  bool limits_set_ = false;  // lib/ applies its defaults once per process, then whatever is asked
  bool limits_dirty_ = false;
  bool close_idle_ = false;  // asked to close the idle connections, not yet seen by the owner
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> sleeping_{false};    // set with mu_ held, just before the pump waits
  std::atomic<int64_t> wakes_by_ns_{0};  // while sleeping_: when its wait ends by itself
  // Stats: atomics, read under mu_ for one consistent view.
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> settled_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<uint64_t> rings_{0};
  std::atomic<int> threads_{0};
  std::atomic<int> max_threads_{0};
  std::atomic<uint64_t> cpu_ns_{0};

  // Owner only: the hand-back (HandBack).
  std::vector<Transfer*> finished_;  // ended, not yet handed back (held, or this turn's)
  std::vector<Transfer*> held_;      // HandBack's scratch: completions held back
  TransferBatch batch_;              // HandBack's scratch: one channel's completions
  struct Hold {
    bool on = false;  // finished transfers held back for the rest of this channel's burst
    Clock::time_point since;
  };
  std::unordered_map<Channel*, Hold> holds_;  // by attached channel, until it is dropped
  std::vector<Poller::Ready> ready_;
  bool close_idle_due_ = false;  // the idle connections close once nothing is in flight
};

}  // namespace ned
