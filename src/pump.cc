#include "pump.h"

#include <time.h>

#include <algorithm>

#include "memory.h"
#include "timing.h"

namespace ned {

namespace {

std::mutex g_create_mu;
Pump* g_pump = nullptr;  // never destroyed: it may be halted from atexit

// A steady-clock time as one number, for an atomic.
int64_t SinceEpochNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct WorkItem {
  uv_work_t req;
  Pump* pump;
  Channel* host;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Process-wide; these run on environment threads, under mu_ where they touch shared state

Pump* Pump::Get(std::string* error) {
  std::lock_guard<std::mutex> lock(g_create_mu);
  if (g_pump != nullptr) return g_pump;
  auto* pump = new Pump();
  if (!pump->Init(error)) {
    delete pump;
    return nullptr;
  }
  g_pump = pump;
  return pump;
}

void Pump::HaltProcess() {
  Pump* pump;
  {
    std::lock_guard<std::mutex> lock(g_create_mu);
    pump = g_pump;
  }
  if (pump != nullptr) pump->Halt();
}

bool Pump::Init(std::string* error) { return poller_.Init(error) && multi_.Init(&poller_, error); }

void Pump::Attach(Channel* ch) {
  std::lock_guard<std::mutex> lock(mu_);
  channels_.push_back(ch);
}

WorkOrder Pump::Submit(Channel* ch, std::unique_ptr<Transfer> t, bool* ring) {
  std::lock_guard<std::mutex> lock(mu_);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  incoming_.push_back(std::move(t));
  *ring = false;
  if (stop_) return {};  // the process is exiting; nothing will run
  if (state_ == State::kIdle) return OrderRunLocked(ch);
  *ring = true;
  return {};
}

// New transfers: no ring if the pump wakes by itself soon (kRingSlack), as it does for an
// environment that sends on its loop's turns.
void Pump::RingForTransfers() {
  if (!sleeping_.load()) return;
  if (wakes_by_ns_.load() <= SinceEpochNs(Clock::now() + timing::kRingSlack)) return;
  Ring();
}

void Pump::Ring() {
  // Callers change what the pump looks at under mu_ first. A pump that is not asleep looks at it
  // before it next waits (a ring costs a system call and, here, a thread switch); one asleep needs
  // one write, whoever rings first (the pump clears the flag before it takes the queues).
  if (!sleeping_.load()) return;
  if (wake_pending_.exchange(true)) return;
  rings_.fetch_add(1, std::memory_order_relaxed);
  poller_.Ring();
}

void Pump::Abort(Channel* ch, double id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    // Not yet seen by the pump: it ends here, without a trip through libcurl.
    for (auto it = incoming_.begin(); it != incoming_.end(); ++it) {
      if ((*it)->channel != ch || (*it)->id != id) continue;
      TransferBatch aborted;
      aborted.push_back(std::move(*it));
      incoming_.erase(it);
      FailTransfer(aborted.back().get(), CURLE_ABORTED_BY_CALLBACK, "aborted by the caller");
      CountHandedBack(aborted.size());
      ch->AddCompleted(&aborted, timing::kPiggyback);
      ch->Wake();  // answered at once, whether or not the loop sleeps
      return;
    }
    if (state_ == State::kIdle && !has_work_) return;  // nothing in flight
    aborts_.emplace_back(ch, id);
  }
  Ring();
}

void Pump::SetMaxInFlight(Channel* ch, long n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The last one asked for counts; the owner applies it at its next look (TakeIntake).
    auto asked = std::find_if(max_in_flight_.begin(), max_in_flight_.end(),
                              [ch](const std::pair<Channel*, long>& m) { return m.first == ch; });
    if (asked != max_in_flight_.end()) {
      asked->second = n;
    } else {
      max_in_flight_.emplace_back(ch, n);
    }
  }
  Ring();
}

void Pump::SetConnectionLimits(const ConnectionLimits& limits, bool initial) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (initial && limits_set_) return;
    limits_set_ = true;
    limits_ = limits;
    limits_dirty_ = true;
  }
  Ring();
}

// Counted as they are handed back, by whoever hands them back: the channel that takes them reports
// nothing up to the pump.
void Pump::CountHandedBack(size_t transfers) {
  settled_.fetch_add(transfers, std::memory_order_relaxed);
  batches_.fetch_add(1, std::memory_order_relaxed);
}

PumpStats Pump::Stats() const {
  PumpStats s;
  std::lock_guard<std::mutex> lock(mu_);
  s.submitted = submitted_.load();
  s.settled = settled_.load();
  const uint64_t ended = s.settled + dropped_.load();
  s.pending = s.submitted > ended ? s.submitted - ended : 0;
  s.runs = runs_.load();
  s.batches = batches_.load();
  s.wakeups = wakeups_.load();
  s.rings = rings_.load();
  s.running = state_ != State::kIdle;
  s.threads = threads_.load();
  s.max_threads = max_threads_.load();
  s.cpu_ns = cpu_ns_.load();
  s.environments = channels_.size();
  return s;
}

// On `ch`'s thread, with mu_ held: the pump is queued on ch's loop from now on, and ch queues the
// work item (the order returned) before it does anything else. Nobody else touches ch's loop, so
// that may happen after mu_ is let go.
WorkOrder Pump::OrderRunLocked(Channel* ch) {
  state_ = State::kQueued;
  host_ = ch;
  yield_ = false;
  runs_.fetch_add(1, std::memory_order_relaxed);
  auto* item = new WorkItem{uv_work_t{}, this, ch};
  item->req.data = item;
  return WorkOrder{&item->req, &Pump::Work, &Pump::AfterWork};
}

// Asks another environment to host the work item (its loop queues it on the threadpool).
void Pump::KickLocked(Channel* except) {
  for (Channel* ch : channels_) {
    if (ch == except) continue;
    ch->AskToHost();
    return;
  }
}

WorkOrder Pump::Host(Channel* ch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kIdle || stop_) return {};
  if (has_work_ || !incoming_.empty() || !aborts_.empty() || !leaving_.empty()) {
    return OrderRunLocked(ch);
  }
  return {};
}

// On `ch`'s thread. The owner acts on it (TakeIntake); an idle pump gets a run for it on ch's
// loop.
WorkOrder Pump::CloseIdle(Channel* ch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return {};
    close_idle_ = true;
    if (state_ == State::kIdle) return OrderRunLocked(ch);
  }
  Ring();
  return {};
}

bool Pump::Leave(Channel* ch) {
  std::unique_lock<std::mutex> lock(mu_);
  channels_.erase(std::remove(channels_.begin(), channels_.end(), ch), channels_.end());
  // What the pump has not seen yet is simply dropped.
  auto mine = [ch](const std::unique_ptr<Transfer>& t) { return t->channel == ch; };
  const auto first = std::remove_if(incoming_.begin(), incoming_.end(), mine);
  dropped_.fetch_add(static_cast<uint64_t>(incoming_.end() - first), std::memory_order_relaxed);
  incoming_.erase(first, incoming_.end());
  auto about_ch = [ch](const auto& request) { return request.first == ch; };
  aborts_.erase(std::remove_if(aborts_.begin(), aborts_.end(), about_ch), aborts_.end());
  max_in_flight_.erase(std::remove_if(max_in_flight_.begin(), max_in_flight_.end(), about_ch),
                       max_in_flight_.end());
  if (stop_) {
    // Halted for good: once the last run has stopped, nobody looks at this channel again.
    idle_cv_.wait_for(lock, timing::kHaltWait, [this] { return !in_run_; });
    return true;
  }
  leaving_.push_back(ch);
  if (state_ == State::kIdle) {
    // Nobody drives the multi: this thread takes it for the moment it needs.
    state_ = State::kInline;
    InlineLocked(&lock);
    if (has_work_ || !incoming_.empty()) KickLocked(ch);
    return false;
  }
  if (host_ == ch) {
    yield_ = true;
    // Not started yet: cancelled, and AfterWork (UV_ECANCELED) hands the work on.
    ch->CancelWork();
  }
  lock.unlock();
  Ring();
  return false;
}

void Pump::Work(uv_work_t* req) { static_cast<WorkItem*>(req->data)->pump->Run(); }

void Pump::AfterWork(uv_work_t* req, int status) {
  auto* item = static_cast<WorkItem*>(req->data);
  Pump* self = item->pump;
  Channel* host = item->host;
  delete item;
  host->WorkEnded(req);
  if (status == UV_ECANCELED) {
    // Run never ran: take the multi here for what must happen now (environments leaving, aborts),
    // then find a loop for the rest.
    std::unique_lock<std::mutex> lock(self->mu_);
    if (self->state_ == State::kQueued && self->host_ == host) {
      self->state_ = State::kInline;
      self->host_ = nullptr;
      self->yield_ = false;
      self->InlineLocked(&lock);
      if (!self->stop_ && (self->has_work_ || !self->incoming_.empty())) {
        if (!host->closing()) {
          host->QueueWork(self->OrderRunLocked(host));
        } else {
          self->KickLocked(host);
        }
      }
    }
  }
  host->MaybeFinishClose();  // may delete host
}

// With the multi taken by this environment thread (kInline): what cannot wait for a host —
// environments leaving, aborts — is done here, until none is left; then the multi is let go.
void Pump::InlineLocked(std::unique_lock<std::mutex>* lock) {
  do {
    lock->unlock();
    TakeIntake();
    HandBack();
    lock->lock();
  } while (!leaving_.empty() || !aborts_.empty());
  state_ = State::kIdle;
  has_work_ = multi_.Busy();
}

void Pump::Halt() {
  std::unique_lock<std::mutex> lock(mu_);
  stop_ = true;
  if (!in_run_) return;
  lock.unlock();
  poller_.Ring();
  lock.lock();
  idle_cv_.wait_for(lock, timing::kHaltWait, [this] { return !in_run_; });
}

// ---------------------------------------------------------------------------------------------
// Owner of the multi handle: the threadpool thread running the work item (or, briefly, an
// environment thread that found the pump idle)

void Pump::TakeIntake() {
  std::vector<std::unique_ptr<Transfer>> incoming;
  std::vector<std::pair<Channel*, double>> aborts;
  std::vector<std::pair<Channel*, long>> max_in_flight;
  std::vector<Channel*> leaving;
  bool limits_dirty;
  ConnectionLimits limits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (close_idle_) close_idle_due_ = true;
    close_idle_ = false;
    wake_pending_.store(false);
    incoming.swap(incoming_);
    aborts.swap(aborts_);
    max_in_flight.swap(max_in_flight_);
    leaving.swap(leaving_);
    limits_dirty = limits_dirty_;
    limits = limits_;
    limits_dirty_ = false;
  }
  if (limits_dirty) multi_.ApplyLimits(limits);
  for (const auto& m : max_in_flight) multi_.SetMaxInFlight(m.first, m.second);
  for (const auto& a : aborts) multi_.Abort(a.first, a.second);
  for (Channel* ch : leaving) DropChannel(ch);
  if (close_idle_due_ && !multi_.Busy()) {
    multi_.CloseIdleConnections();
    close_idle_due_ = false;
  }
  for (auto& owned : incoming) multi_.Enqueue(owned.release());
}

void Pump::Run() {
  // The thread's CPU time, added to cpu_ns_ every so often (a busy run may last for hours) and at
  // the end. Reading the thread clock is a system call, so not on every turn.
  uint64_t cpu_mark = ThreadCpuNs();
  Clock::time_point cpu_sampled = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_run_ = true;
  }
  const int threads = threads_.fetch_add(1) + 1;
  int seen = max_threads_.load();
  while (threads > seen && !max_threads_.compare_exchange_weak(seen, threads)) {
  }
  bool lingering = false;
  bool handed_over = false;
  Clock::time_point linger_until;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    TakeIntake();
    multi_.StartWaiting();
    multi_.DrainFinished();
    HandBack(false);

    int wait_ms = timing::kMaxWaitMs;
    if (!finished_.empty()) wait_ms = timing::kHeldRecheckMs;  // completions held back (HandBack)
    wait_ms = multi_.WaitMs(wait_ms);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      if (!incoming_.empty() || !aborts_.empty() || !leaving_.empty() || limits_dirty_ ||
          !max_in_flight_.empty() || close_idle_ || (close_idle_due_ && !multi_.Busy())) {
        continue;
      }
      const bool busy = multi_.Busy();
      if (yield_) {
        // The host environment is leaving: let go of its loop; another environment takes over
        // what is still in flight.
        HandOverLocked(busy);
        if (busy) KickLocked(nullptr);
        handed_over = true;
        break;
      }
      if (!busy) {
        const auto now = Clock::now();
        if (!lingering) {
          lingering = true;
          linger_until = now + timing::kLinger;
        }
        if (now >= linger_until) {
          HandOverLocked(false);
          handed_over = true;
          memory::Release();  // nothing in flight: libcurl's kept buffers go back to the system
          break;
        }
        wait_ms = std::min(
            wait_ms,
            static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(linger_until - now).count()) +
                1);
      } else {
        lingering = false;
      }
      const auto now = Clock::now();
      wait_ms = std::min(wait_ms, LookAfterTurnsMs(now));
      wakes_by_ns_.store(SinceEpochNs(now + std::chrono::milliseconds(wait_ms)));
      // Set with the checks above under mu_: whoever queues work after them sees the pump asleep.
      sleeping_.store(true);
    }
    bool rung = false;
    poller_.Wait(wait_ms, &ready_, &rung);
    sleeping_.store(false);
    if (Clock::now() - cpu_sampled >= timing::kCpuSample) {
      const uint64_t now_cpu = ThreadCpuNs();
      cpu_ns_.fetch_add(now_cpu - cpu_mark, std::memory_order_relaxed);
      cpu_mark = now_cpu;
      cpu_sampled = Clock::now();
    }
    multi_.Act(ready_);
    multi_.DrainFinished();
    HandBack(false);
  }
  // Handed over, another run (or an environment thread) may own the multi already: this thread
  // touches nothing of the pump's any more but its own counters.
  if (!handed_over) HandBack();
  cpu_ns_.fetch_add(ThreadCpuNs() - cpu_mark, std::memory_order_relaxed);
  if (handed_over) return;
  std::lock_guard<std::mutex> lock(mu_);
  EndRunLocked();
}

// With mu_ held: how long to wait at most so as to look at the environments that send on their
// loop's turns (timer ticks) just after their loops next wake, in ms (kMaxWaitMs: none).
int Pump::LookAfterTurnsMs(Clock::time_point now) {
  int wait_ms = timing::kMaxWaitMs;
  for (Channel* ch : channels_) {
    Clock::time_point wakes_at;
    if (!ch->NextSendingTurn(&wakes_at) || wakes_at <= now ||
        wakes_at - now > std::chrono::milliseconds(timing::kMaxWaitMs)) {
      continue;
    }
    const auto look = wakes_at + timing::kLookAfterTurn - now;
    // Rounded up: the poller waits in whole milliseconds.
    const int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(look + std::chrono::microseconds(999))
            .count());
    wait_ms = std::min(wait_ms, ms);
  }
  return wait_ms;
}

// With mu_ held, the run's last act as the multi's owner: completions go out, the pump is idle
// (for the next Submit, Host or Leave to take), and this run no longer counts as one.
void Pump::HandOverLocked(bool busy) {
  HandBack();
  state_ = State::kIdle;
  host_ = nullptr;
  yield_ = false;
  has_work_ = busy;
  EndRunLocked();
}

void Pump::EndRunLocked() {
  threads_.fetch_sub(1);
  in_run_ = false;
  idle_cv_.notify_all();
}

// The environment is gone: its transfers end here, unsettled, and the pump forgets it.
void Pump::DropChannel(Channel* ch) {
  const uint64_t dropped = multi_.Drop(ch) + DeleteTransfersOf(&finished_, ch);
  holds_.erase(ch);
  ch->Detach();  // completions it had not taken yet were counted settled when handed back
  dropped_.fetch_add(dropped, std::memory_order_relaxed);
  ch->Wake();
}

// Hands finished transfers to their environments: one lock and one wake-up per environment.
// Unless `all`, a channel with a small burst still in flight or waiting keeps its completions back
// (up to kHold), so the burst comes back in one batch, not one per pump turn.
void Pump::HandBack(bool all) {
  multi_.TakeFinished(&finished_);
  if (finished_.empty()) return;
  const auto now = Clock::now();
  held_.clear();
  for (size_t i = 0; i < finished_.size(); ++i) {
    if (finished_[i] == nullptr) continue;
    Channel* ch = finished_[i]->channel;
    size_t count = 0;
    for (size_t j = i; j < finished_.size(); ++j) {
      if (finished_[j] != nullptr && finished_[j]->channel == ch) ++count;
    }
    Hold& hold = holds_[ch];
    if (!hold.on) {
      hold.on = true;
      hold.since = now;
    }
    const long outstanding = multi_.Outstanding(ch);
    const bool due = all || outstanding == 0 ||
                     outstanding + static_cast<long>(count) >= timing::kHoldBelow ||
                     now - hold.since >= timing::kHold;
    if (!due) {
      // Held, in order; looked at again after the pump's next turn.
      for (size_t j = i; j < finished_.size(); ++j) {
        if (finished_[j] == nullptr || finished_[j]->channel != ch) continue;
        held_.push_back(finished_[j]);
        finished_[j] = nullptr;
      }
      continue;
    }
    hold.on = false;
    batch_.clear();
    for (size_t j = i; j < finished_.size(); ++j) {
      if (finished_[j] == nullptr || finished_[j]->channel != ch) continue;
      batch_.emplace_back(finished_[j]);
      finished_[j] = nullptr;
    }
    CountHandedBack(batch_.size());
    if (ch->AddCompleted(&batch_, timing::kPiggyback)) {
      wakeups_.fetch_add(1, std::memory_order_relaxed);
      ch->Wake();
    }
  }
  finished_.swap(held_);
}

}  // namespace ned
