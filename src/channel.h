// One Node environment's end of the pump (see pump.h): it submits transfers, and gets them back
// finished, in batches, on its own loop: on the loop's next turn if it is awake or a timer wakes it
// soon, else through a uv_async (a wake-up, the costlier way). It also hosts the pump's work item
// on its loop when asked, and on Close() waits for the pump to let go of it before it goes.
//
// Threads: every method runs on the environment's thread but the ones marked "pump", which run
// where the pump does. mu_ guards what the two share (marked below); the pump may hold its own
// lock when it takes mu_, never the other way round (see pump.h).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "request.h"
#include "scheduler.h"

namespace ned {

using TransferBatch = std::vector<std::unique_ptr<Transfer>>;

// A run of the pump's work item for a channel to queue on its loop (Channel::QueueWork): what the
// pump hands back to the channel that found it idle. Empty (req null) when there is none to queue.
struct WorkOrder {
  uv_work_t* req = nullptr;
  uv_work_cb work = nullptr;
  uv_after_work_cb after = nullptr;
};

struct PumpStats {
  uint64_t submitted = 0;   // transfers ever queued, all environments
  uint64_t settled = 0;     // transfers handed back to their environment
  uint64_t pending = 0;     // queued or in flight
  uint64_t runs = 0;        // times the work item was queued on the threadpool
  uint64_t batches = 0;     // completion batches handed to environments
  uint64_t wakeups = 0;     // times the pump woke an environment's loop to hand back completions
  uint64_t rings = 0;       // times an environment woke the pump (its doorbell written)
  bool running = false;     // the work item is queued or holds a threadpool thread
  int threads = 0;          // threadpool threads the addon holds now (0 or 1)
  int max_threads = 0;      // the most it ever held at once
  uint64_t cpu_ns = 0;      // CPU time the pump's thread spent, all runs
  size_t environments = 0;  // environments attached
};

// Receives finished transfers on its environment's thread; takes them out of the batch.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void OnCompleted(TransferBatch* batch) = 0;
};

class Pump;

class Channel {
 public:
  using Clock = std::chrono::steady_clock;

  // nullptr (and `error` set) when the pump cannot start or the loop refuses a handle.
  static Channel* Open(uv_loop_t* loop, CompletionSink* sink, std::string* error);

  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void Submit(std::unique_ptr<Transfer> t);
  // The transfer with this id, queued or in flight, ends with CURLE_ABORTED_BY_CALLBACK.
  void Abort(double id);
  void SetMaxInFlight(long n);
  // Process-wide. `initial`: only if no environment has set them yet (lib/'s defaults at load).
  void SetConnectionLimits(const ConnectionLimits& limits, bool initial);
  // Process-wide: the idle connections close once nothing is in flight (at once if nothing is).
  void CloseIdle();
  PumpStats Stats() const;                // process-wide
  void ForgetSink() { sink_ = nullptr; }  // its binding is gone; the channel may outlive it
  uint64_t pending() const { return pending_; }
  uint64_t submitted() const { return submitted_; }

  // The environment is going away: its transfers are dropped unsettled (aborted in libcurl), then
  // done(arg) runs on this thread and the channel deletes itself.
  void Close(void (*done)(void*), void* arg);

  // For the pump.

  // Hosting: the pump's work item goes on this loop (nothing if `order` is empty); the channel
  // stays until WorkEnded(req).
  void QueueWork(const WorkOrder& order);
  void WorkEnded(uv_work_t* req);
  void CancelWork();  // the work item queued here, if it has not started
  bool closing() const { return closing_; }
  // Deletes the channel once it is closing and the pump is done with it (so: last, if at all).
  void MaybeFinishClose();
  // Pump: asks this environment to host the pump's work item.
  void AskToHost();

  // Pump: finished transfers (taken out of `batch`) join the ones the loop takes next. Returns
  // whether the loop must be woken for them: it is asleep, and either the application waits on
  // them to send more, or the loop does not wake by itself within `piggyback`.
  bool AddCompleted(TransferBatch* batch, Clock::duration piggyback);
  // Pump: wakes the loop (uv_async) to take its completions, or to hear it was detached.
  void Wake() { uv_async_send(&async_); }
  // Pump: the pump will never touch this channel again; its completions not yet taken are
  // dropped (the pump counted them settled when it handed them back). Wake() then tells the loop.
  void Detach();
  // Pump: when the loop, asleep, wakes by itself, if it sends on its turns (a timer's tick).
  bool NextSendingTurn(Clock::time_point* wakes_at) const;

 private:
  Channel(uv_loop_t* loop, CompletionSink* sink, Pump* pump);
  ~Channel() = default;

  static void OnAsync(uv_async_t* handle);
  void OnPrepare();
  void OnCheck();
  void Deliver();
  void Ring();

  Pump* pump_;
  uv_loop_t* loop_;
  CompletionSink* sink_;

  // Environment thread only.
  uv_async_t async_;      // completions, "host the pump", "the pump let go of you"
  uv_prepare_t prepare_;  // each loop turn, before it waits: hands back, rings, says when it wakes
  uv_check_t check_;
  bool ring_due_ = false;
  Clock::time_point last_ring_;
  bool referenced_ = false;
  bool closing_ = false;
  bool pump_done_ = false;
  int handles_open_ = 0;
  int works_queued_ = 0;  // pump work items queued on this loop, not yet through WorkEnded
  uv_work_t* current_work_ = nullptr;
  void (*close_done_)(void*) = nullptr;
  void* close_arg_ = nullptr;
  uint64_t pending_ = 0;
  uint64_t submitted_ = 0;
  TransferBatch delivering_;
  bool chained_ = false;  // the last hand-back led to new submits: someone waits on completions
  uint64_t submitted_at_turn_ = 0;  // submitted_ at the last uv_prepare

  // Shared with the pump, under mu_.
  mutable std::mutex mu_;
  TransferBatch completed_;
  bool kick_ = false;  // asked to host the pump's work item
  // The loop waits for events (between its uv_prepare and uv_check) and wakes by itself by
  // wakes_at_ (a timer): completions due before then need no wake-up of their own, unless the
  // application waits on them to send more (`prompt_`).
  bool asleep_ = false;
  bool prompt_ = false;
  bool sends_on_turns_ = false;  // its last turn submitted transfers: its next one likely will
  Clock::time_point wakes_at_;
  bool detached_ = false;  // the pump will never touch this channel again
};

}  // namespace ned
