// The pump: one per Node environment. A single libuv threadpool work item drives one curl multi
// handle (curl_multi_socket_action over an epoll set) for every transfer in flight. The main thread
// queues transfers under a mutex and wakes the pump; the pump hands finished transfers back in
// batches through a uv_async. When nothing is queued or in flight the work item ends and its
// thread returns to the pool; the multi handle, and with it libcurl's connection cache, stays.
//
// Threads: Submit/SetLimits/Stats/Shutdown run on the environment's main thread; Run runs on a
// threadpool thread; Halt may run on any thread (process exit). No N-API here.
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
#include <unordered_set>
#include <vector>

#include "request.h"

namespace ned {

struct Limits {
  long max_host_connections = 64;
  long max_total_connections = 256;
  long max_in_flight = 256;  // transfers handed to libcurl at once; the rest wait in order
};

struct PumpStats {
  uint64_t submitted = 0;  // transfers ever queued
  uint64_t settled = 0;    // transfers handed back to the main thread
  uint64_t runs = 0;       // times the work item was queued on the threadpool
  uint64_t pending = 0;    // queued or in flight, not yet handed back
  bool running = false;    // the work item is queued or holds a threadpool thread
};

using TransferBatch = std::vector<std::unique_ptr<Transfer>>;

// Receives finished transfers on the main thread; takes them out of the batch.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void OnCompleted(TransferBatch* batch) = 0;
};

class Pump {
 public:
  // nullptr (and `error` set) when libcurl or the OS refuses a resource.
  static Pump* Create(uv_loop_t* loop, CompletionSink* sink, const Limits& limits,
                      std::string* error);

  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  void Submit(std::unique_ptr<Transfer> t);
  void SetLimits(const Limits& limits);
  PumpStats Stats() const;

  // Stops the pump, frees everything (transfers still queued or in flight are dropped unsettled:
  // their environment is going away), then calls done(arg) and deletes itself.
  void Shutdown(void (*done)(void*), void* arg);

  // Stops the pump for good (transfers in flight are abandoned) and waits, bounded, until it is
  // out of libcurl. For process exit: libuv joins its threadpool before exit(), and OpenSSL's exit
  // handlers must not run under a live transfer. Any thread.
  void Halt();
  static void HaltAll();

 private:
  using Clock = std::chrono::steady_clock;

  explicit Pump(uv_loop_t* loop, CompletionSink* sink);
  ~Pump();
  bool Init(const Limits& limits, std::string* error);

  // Threadpool side.
  static void Work(uv_work_t* req);
  void Run();
  void Start(std::unique_ptr<Transfer> t);
  void Fail(Transfer* t, CURLcode code, const char* detail);
  void DrainFinished();
  void Flush();
  void ApplyLimits(const Limits& limits);
  CURL* AcquireEasy();
  void ReleaseEasy(CURL* easy);
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);

  // Main-thread side.
  static void AfterWork(uv_work_t* req, int status);
  static void OnAsync(uv_async_t* handle);
  void Deliver();
  void Wake();
  void FinishShutdown();

  uv_loop_t* loop_;
  CompletionSink* sink_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;  // TLS session cache shared by the pooled easy handles
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the main thread's doorbell while the pump waits in epoll

  // Shared between threads, under mu_.
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Transfer>> submitted_;
  TransferBatch completed_;
  Limits limits_;
  bool limits_dirty_ = false;
  bool stop_ = false;
  bool in_run_ = false;
  std::atomic<bool> wake_pending_{false};

  // Main thread only.
  uv_work_t work_;
  uv_async_t async_;
  bool work_scheduled_ = false;
  bool shutting_down_ = false;
  void (*shutdown_done_)(void*) = nullptr;
  void* shutdown_arg_ = nullptr;
  TransferBatch delivering_;
  PumpStats stats_;

  // Pump thread only (and the main thread once the pump has stopped for good).
  std::unordered_set<Transfer*> active_;
  std::deque<std::unique_ptr<Transfer>> waiting_;
  long max_in_flight_ = 256;
  TransferBatch finished_;
  std::vector<CURL*> idle_easies_;
  std::vector<uint8_t> parked_;  // by fd: watched for nothing, between two transfers
  bool has_deadline_ = false;
  Clock::time_point deadline_;
};

}  // namespace ned
