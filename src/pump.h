// The pump: one per process. A single libuv threadpool work item drives one curl multi handle
// (curl_multi_socket_action over the Poller) for the transfers of every Node environment in the
// process — the main thread and each worker — so the addon holds at most one threadpool thread,
// and workers share connections and TLS sessions. When nothing is queued or in flight the work item
// ends and its thread goes back to the pool; the multi handle (and its connection cache) stays.
//
// Each environment talks to the pump through its Channel: it submits transfers, and gets them back
// finished, in batches, on its own loop: on the loop's next turn if it is awake or a timer wakes it
// soon, else through a uv_async (a wake-up, the costlier way). The work item is queued on the loop
// of the environment that found the pump idle (its "host"); when the host goes away, the work moves
// to another environment's loop and the transfers in flight carry on.
//
// Threads: Channel methods run on their environment's thread; Pump::Run on a threadpool thread;
// Pump::Halt on any thread. Whoever owns the multi handle (the running work item, or an
// environment thread that found the pump idle) is the only one touching "owner" state. No N-API.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "easy_pool.h"
#include "poller.h"
#include "request.h"

namespace ned {

using TransferBatch = std::vector<std::unique_ptr<Transfer>>;

// Process-wide: libcurl's connection caps apply to the one multi handle.
struct ConnectionLimits {
  long max_host_connections;
  long max_total_connections;
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

 private:
  friend class Pump;
  Channel(uv_loop_t* loop, CompletionSink* sink, Pump* pump);
  ~Channel() = default;

  static void OnAsync(uv_async_t* handle);
  static void OnTurn(uv_handle_t* handle);
  void OnPrepare();
  void Deliver();
  void Ring();
  void MaybeFinishClose();

  Pump* pump_;
  uv_loop_t* loop_;
  CompletionSink* sink_;

  // Environment thread only.
  uv_async_t async_;      // completions, "host the pump", "the pump let go of you"
  uv_prepare_t prepare_;  // each loop turn, before it waits: hands back, rings, says when it wakes
  uv_check_t check_;
  bool ring_due_ = false;
  std::chrono::steady_clock::time_point last_ring_;
  bool referenced_ = false;
  bool closing_ = false;
  bool pump_done_ = false;
  int handles_open_ = 0;
  int works_queued_ = 0;  // pump work items queued on this loop, not yet through AfterWork
  uv_work_t* current_work_ = nullptr;
  void (*close_done_)(void*) = nullptr;
  void* close_arg_ = nullptr;
  uint64_t pending_ = 0;
  uint64_t submitted_ = 0;
  TransferBatch delivering_;
  bool chained_ = false;  // the last hand-back led to new submits: someone waits on completions
  uint64_t submitted_at_turn_ = 0;  // submitted_ at the last uv_prepare

  // Shared with the pump, under mu_.
  std::mutex mu_;
  TransferBatch completed_;
  bool kick_ = false;  // asked to host the pump's work item
  // The loop waits for events (between its uv_prepare and uv_check) and wakes by itself by
  // wakes_at_ (a timer): completions due before then need no wake-up of their own, unless the
  // application waits on them to send more (`prompt_`).
  bool asleep_ = false;
  bool prompt_ = false;
  bool sends_on_turns_ = false;  // its last turn submitted transfers: its next one likely will
  std::chrono::steady_clock::time_point wakes_at_;
  bool detached_ = false;  // the pump will never touch this channel again

  // Under the pump's lock.
  long requested_max_in_flight_ = 0;
  bool max_in_flight_dirty_ = false;

  // Owner of the multi handle only.
  std::deque<Transfer*> waiting_;  // beyond max_in_flight_, in order
  // Set aside from waiting_ while their origin is at its connection cap (HTTP/1.1), in order per
  // origin: the transfers behind them, to other origins, go on meanwhile.
  std::unordered_map<std::string, std::deque<Transfer*>> blocked_;
  size_t blocked_count_ = 0;
  size_t WaitingCount() const { return waiting_.size() + blocked_count_; }
  long active_ = 0;
  long max_in_flight_ = 0;  // nothing starts before lib/ configures the environment
  bool in_lanes_ = false;
  bool holding_ = false;  // finished transfers held back for the rest of this channel's burst
  std::chrono::steady_clock::time_point holding_since_;
};

class Pump {
 public:
  static Pump* Get(std::string* error);  // the process's pump, made on first use
  static void HaltProcess();             // atexit: halts the pump if there is one

  // Stops the pump for good (transfers in flight are abandoned) and waits, bounded, until it is
  // out of libcurl: libuv joins its threadpool before exit(), and TLS exit handlers must not run
  // under a live transfer. Any thread.
  void Halt();

 private:
  friend class Channel;
  using Clock = std::chrono::steady_clock;
  enum class State { kIdle, kQueued, kInline };

  Pump() = default;
  bool Init(std::string* error);
  void ConfigureMulti();

  // Environment threads (through their Channel).
  void Attach(Channel* ch);
  void Submit(Channel* ch, std::unique_ptr<Transfer> t);
  void Leave(Channel* ch);
  void Host(Channel* ch);  // a kicked channel offers its loop
  void CloseIdle(Channel* ch);
  void QueueWorkLocked(Channel* ch);
  void Ring();
  void RingForTransfers();
  static void Work(uv_work_t* req);
  static void AfterWork(uv_work_t* req, int status);
  void KickLocked(Channel* except);
  void InlineLocked(std::unique_lock<std::mutex>* lock);

  // Owner of the multi handle.
  void Run();
  void TakeIntake();
  void DropChannel(Channel* ch);
  void AbortTransfer(Channel* ch, double id);
  void StartWaiting();
  void Start(Transfer* t);
  void Finish(Transfer* t);
  void DrainFinished();
  void Flush(bool all = true);
  void ApplyLimits(const ConnectionLimits& limits);
  void ResetMulti();
  void RemoveActive(Transfer* t);
  bool Busy() const { return !active_.empty() || waiting_total_ > 0; }
  bool HasRoom(Transfer* t);
  bool SharesConnections(Transfer* t);
  Transfer* NextStartable(Channel* ch);
  void Untrack(Transfer* t);
  int LookAfterTurnsMs(Clock::time_point now);
  void HandOverLocked(bool busy);
  void EndRunLocked();
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);

  CURLM* multi_ = nullptr;
  Poller poller_;

  // Shared, under mu_.
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Transfer>> incoming_;
  std::vector<std::pair<Channel*, double>> aborts_;
  std::vector<Channel*> leaving_;
  std::vector<Channel*> channels_;  // attached
  State state_ = State::kIdle;
  Channel* host_ = nullptr;  // kQueued: whose loop the work item is on
  bool yield_ = false;       // the host is leaving: give its loop back now
  bool stop_ = false;
  bool has_work_ = false;  // kIdle with transfers still in the multi or waiting
  bool in_run_ = false;
  ConnectionLimits limits_{0, 0};
  // HTTP/1.1 transfers need a connection each: libcurl caps only the connections it opens, and
  // reuses idle ones past a lowered cap, so the pump holds transfers to the caps itself.
  ConnectionLimits applied_{0, 0};                       // owner's copy of the caps in force
  std::unordered_map<std::string, long> origin_active_;  // HTTP/1.1 transfers per origin
  // Origins seen answering over HTTP/2: only there do http2 transfers share connections (until
  // then, or where ALPN chose HTTP/1.1, they are held to the caps like any other).
  std::unordered_map<std::string, bool> origin_h2_;
  long h1_active_ = 0;
  bool limits_set_ = false;  // lib/ applies its defaults once per process, then whatever is asked
  bool limits_dirty_ = false;
  bool channel_limits_dirty_ = false;
  bool close_idle_ = false;  // asked to close the idle connections, not yet seen by the owner
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> sleeping_{false};    // set with mu_ held, just before the pump waits
  std::atomic<int64_t> wakes_by_ns_{0};  // while sleeping_: when its wait ends by itself
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

  // Owner only.
  std::unordered_set<Transfer*> active_;
  std::vector<Transfer*> held_;  // Flush's scratch: completions held back
  std::vector<Channel*> lanes_;  // channels with waiting transfers, taking turns
  size_t next_lane_ = 0;
  size_t waiting_total_ = 0;
  std::vector<Transfer*> finished_;
  EasyPool easies_;
  std::vector<Poller::Ready> ready_;
  bool has_deadline_ = false;
  bool close_idle_due_ = false;  // the idle connections close once nothing is in flight
  Clock::time_point deadline_;
};

}  // namespace ned
