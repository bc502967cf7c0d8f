// The curl multi handle and the transfers in it: it starts what the Scheduler picks, on easy
// handles from the EasyPool, drives libcurl with the sockets the Poller reports, and collects the
// transfers that end (finished, failed to start, aborted) for the pump to hand back. Owner of the
// multi handle only (see pump.h): no locks.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "easy_pool.h"
#include "poller.h"
#include "request.h"
#include "scheduler.h"

namespace ned {

class Channel;

class Multi {
 public:
  Multi() = default;
  Multi(const Multi&) = delete;
  Multi& operator=(const Multi&) = delete;
  ~Multi();

  // libcurl's sockets are watched on `poller`.
  bool Init(Poller* poller, std::string* error);

  void Enqueue(Transfer* t) { scheduler_.Enqueue(t); }
  void SetMaxInFlight(Channel* ch, long n) { scheduler_.SetMaxInFlight(ch, n); }
  void ApplyLimits(const ConnectionLimits& limits);
  // The transfer of `ch` with this id, waiting or in flight, ends with CURLE_ABORTED_BY_CALLBACK.
  void Abort(Channel* ch, double id);
  // Deletes every transfer of `ch`, waiting, in flight or ended here; how many.
  uint64_t Drop(Channel* ch);
  // Closes the idle connections; only with nothing in flight (!Busy()).
  void CloseIdleConnections();

  void StartWaiting();
  // Lets libcurl act on the ready sockets, and on its timer if due.
  void Act(const std::vector<Poller::Ready>& ready);
  // Collects the transfers libcurl has finished.
  void DrainFinished();
  // Moves the transfers that ended to the end of `out`.
  void TakeFinished(std::vector<Transfer*>* out);

  bool Busy() const { return !active_.empty() || scheduler_.waiting() > 0; }
  long Outstanding(Channel* ch) const { return scheduler_.Outstanding(ch); }
  // `at_most`, or less if libcurl's timer is due sooner (ms, 0 when due).
  int WaitMs(int at_most) const;

 private:
  using Clock = std::chrono::steady_clock;

  void Configure();
  bool Start(Transfer* t);
  void RemoveActive(Transfer* t);
  void Untrack(Transfer* t);
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);

  CURLM* multi_ = nullptr;
  Poller* poller_ = nullptr;
  EasyPool easies_;
  Scheduler scheduler_;
  std::unordered_set<Transfer*> active_;  // in the multi handle
  std::vector<Transfer*> finished_;       // ended, not yet taken
  bool has_deadline_ = false;             // libcurl's timer
  Clock::time_point deadline_;
};

}  // namespace ned
