#include "pump.h"

#include <time.h>

#include <algorithm>
#include <cstring>

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
// Channel: one environment's side, on its own thread

Channel::Channel(uv_loop_t* loop, CompletionSink* sink, Pump* pump)
    : pump_(pump), loop_(loop), sink_(sink) {}

Channel* Channel::Open(uv_loop_t* loop, CompletionSink* sink, std::string* error) {
  Pump* pump = Pump::Get(error);
  if (pump == nullptr) return nullptr;
  auto* ch = new Channel(loop, sink, pump);
  if (uv_async_init(loop, &ch->async_, &Channel::OnAsync) != 0) {
    *error = "cannot create the completion handle";
    delete ch;
    return nullptr;
  }
  ch->async_.data = ch;
  uv_prepare_init(loop, &ch->prepare_);
  uv_check_init(loop, &ch->check_);
  ch->prepare_.data = ch;
  ch->check_.data = ch;
  uv_prepare_start(&ch->prepare_,
                   [](uv_prepare_t* h) { static_cast<Channel*>(h->data)->OnPrepare(); });
  uv_check_start(&ch->check_, [](uv_check_t* h) {
    auto* self = static_cast<Channel*>(h->data);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->asleep_ = false;
    }
    self->Ring();
  });
  ch->handles_open_ = 3;
  // None of them keeps the loop alive by itself; the async is referenced while transfers of this
  // environment are pending.
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->async_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->prepare_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->check_));
  pump->Attach(ch);
  return ch;
}

void Channel::Submit(std::unique_ptr<Transfer> t) {
  t->channel = this;
  ++submitted_;
  if (pending_++ == 0 && !referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = true;
  }
  pump_->Submit(this, std::move(t));
}

// Transfers queued during one turn of this loop reach the pump with one ring, not one each.
void Channel::Ring() {
  if (!ring_due_) return;
  ring_due_ = false;
  pump_->RingForTransfers();
}

// The loop's last step before it waits: completions that came while it was busy go out now (no
// wake-up needed for them), transfers queued this turn reach the pump, and the pump learns when
// this loop wakes by itself.
void Channel::OnPrepare() {
  for (int round = 0;; ++round) {
    Deliver();
    Ring();
    // After the callbacks: what they scheduled (timers, immediates) counts.
    const int timeout = uv_backend_timeout(loop_);
    std::lock_guard<std::mutex> lock(mu_);
    if (!completed_.empty()) {
      if (round < 2) continue;
      uv_async_send(&async_);  // still more: a wake-up of our own, then
    }
    asleep_ = true;
    prompt_ = chained_;
    if (timeout != 0) {  // it will wait: did it send since it last woke?
      sends_on_turns_ = submitted_ != submitted_at_turn_;
      submitted_at_turn_ = submitted_;
    }
    wakes_at_ = timeout < 0 ? std::chrono::steady_clock::time_point::max()
                            : std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    return;
  }
}

void Channel::Abort(double id) {
  {
    std::lock_guard<std::mutex> lock(pump_->mu_);
    if (pump_->stop_) return;
    // Not yet seen by the pump: it ends here, without a trip through libcurl.
    for (auto it = pump_->incoming_.begin(); it != pump_->incoming_.end(); ++it) {
      if ((*it)->channel == this && (*it)->id == id) {
        std::unique_ptr<Transfer> t = std::move(*it);
        pump_->incoming_.erase(it);
        FailTransfer(t.get(), CURLE_ABORTED_BY_CALLBACK, "aborted by the caller");
        std::lock_guard<std::mutex> own(mu_);
        completed_.push_back(std::move(t));
        uv_async_send(&async_);
        return;
      }
    }
    if (pump_->state_ == Pump::State::kIdle && !pump_->has_work_) return;  // nothing in flight
    pump_->aborts_.emplace_back(this, id);
  }
  pump_->Ring();
}

void Channel::SetMaxInFlight(long n) {
  {
    std::lock_guard<std::mutex> lock(pump_->mu_);
    requested_max_in_flight_ = n;
    max_in_flight_dirty_ = true;
    pump_->channel_limits_dirty_ = true;
  }
  pump_->Ring();
}

void Channel::SetConnectionLimits(const ConnectionLimits& limits, bool initial) {
  {
    std::lock_guard<std::mutex> lock(pump_->mu_);
    if (initial && pump_->limits_set_) return;
    pump_->limits_set_ = true;
    pump_->limits_ = limits;
    pump_->limits_dirty_ = true;
  }
  pump_->Ring();
}

void Channel::CloseIdle() { pump_->CloseIdle(this); }

PumpStats Channel::Stats() const {
  Pump* p = pump_;
  PumpStats s;
  std::lock_guard<std::mutex> lock(p->mu_);
  s.submitted = p->submitted_.load();
  s.settled = p->settled_.load();
  const uint64_t ended = s.settled + p->dropped_.load();
  s.pending = s.submitted > ended ? s.submitted - ended : 0;
  s.runs = p->runs_.load();
  s.batches = p->batches_.load();
  s.wakeups = p->wakeups_.load();
  s.rings = p->rings_.load();
  s.running = p->state_ != Pump::State::kIdle;
  s.threads = p->threads_.load();
  s.max_threads = p->max_threads_.load();
  s.cpu_ns = p->cpu_ns_.load();
  s.environments = p->channels_.size();
  return s;
}

void Channel::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<Channel*>(handle->data);
  bool kick;
  bool detached;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    kick = self->kick_;
    self->kick_ = false;
    detached = self->detached_;
  }
  if (detached) {
    self->pump_done_ = true;
  } else {
    self->Deliver();
  }
  if (kick && !self->closing_) self->pump_->Host(self);
  self->MaybeFinishClose();  // may delete self
}

void Channel::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(completed_);
  }
  if (delivering_.empty()) return;
  const uint64_t n = delivering_.size();
  pending_ = pending_ > n ? pending_ - n : 0;
  pump_->settled_.fetch_add(n, std::memory_order_relaxed);
  pump_->batches_.fetch_add(1, std::memory_order_relaxed);
  if (pending_ == 0 && referenced_) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = false;
  }
  const uint64_t submitted_before = submitted_;
  if (!closing_ && sink_ != nullptr) {
    try {
      sink_->OnCompleted(&delivering_);
    } catch (...) {
      // Nothing may escape into libuv: during an environment's teardown any N-API call can fail.
    }
  }
  delivering_.clear();
  // Submits from the callbacks (or their promise reactions): the application sends again as soon
  // as it hears back, so its next completions should not wait for the loop's own wake-up.
  chained_ = submitted_ != submitted_before;
}

void Channel::Close(void (*done)(void*), void* arg) {
  closing_ = true;
  close_done_ = done;
  close_arg_ = arg;
  // Node's teardown turns the loop only while something keeps it alive: the word that the pump let
  // go of this channel arrives through async_, so async_ must hold the loop until then.
  if (!referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = true;
  }
  pump_->Leave(this);
  MaybeFinishClose();
}

void Channel::MaybeFinishClose() {
  if (!closing_ || !pump_done_ || works_queued_ > 0 || handles_open_ != 3) return;
  handles_open_ = 2;  // closing: counts down to -1 below
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<Channel*>(h->data);
    if (--self->handles_open_ > -1) return;
    void (*done)(void*) = self->close_done_;
    void* arg = self->close_arg_;
    delete self;
    if (done != nullptr) done(arg);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), closed);
}

// ---------------------------------------------------------------------------------------------
// Pump: process-wide; these run on environment threads, under mu_ where they touch shared state

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

bool Pump::Init(std::string* error) {
  if (!poller_.Init(error)) return false;
  if (!easies_.Init(error)) return false;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    *error = "libcurl could not create a multi or share handle";
    return false;
  }
  ConfigureMulti();
  return true;
}

// The multi handle's options but the connection caps (ApplyLimits).
void Pump::ConfigureMulti() {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Pump::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Pump::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
}

void Pump::Attach(Channel* ch) {
  std::lock_guard<std::mutex> lock(mu_);
  channels_.push_back(ch);
}

void Pump::Submit(Channel* ch, std::unique_ptr<Transfer> t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    submitted_.fetch_add(1, std::memory_order_relaxed);
    incoming_.push_back(std::move(t));
    if (stop_) return;  // the process is exiting; nothing will run
    if (state_ == State::kIdle) {
      QueueWorkLocked(ch);
      return;
    }
  }
  // A ring wakes the pump (a system call, and a thread switch): the first transfer of a burst rings
  // at once, the rest at most every timing::kRingInterval, and the loop's next turn
  // (uv_prepare/uv_check) catches what is left. So a burst costs a ring or two, yet an application
  // that does real work between submits (building the next batch) never holds its first transfer
  // back.
  const auto now = Clock::now();
  if (now - ch->last_ring_ >= timing::kRingInterval) {
    ch->last_ring_ = now;
    ch->ring_due_ = false;
    RingForTransfers();
  } else {
    ch->ring_due_ = true;
  }
}

// New transfers: no ring if the pump wakes by itself soon (timing::kRingSlack), as it does for an
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

// On `ch`'s thread, with mu_ held: the work item goes on ch's loop.
void Pump::QueueWorkLocked(Channel* ch) {
  state_ = State::kQueued;
  host_ = ch;
  yield_ = false;
  runs_.fetch_add(1, std::memory_order_relaxed);
  auto* item = new WorkItem{uv_work_t{}, this, ch};
  item->req.data = item;
  ++ch->works_queued_;
  ch->current_work_ = &item->req;
  uv_queue_work(ch->loop_, &item->req, &Pump::Work, &Pump::AfterWork);
}

// Asks another environment to host the work item (its loop queues it on the threadpool).
void Pump::KickLocked(Channel* except) {
  for (Channel* ch : channels_) {
    if (ch == except) continue;
    {
      std::lock_guard<std::mutex> lock(ch->mu_);
      ch->kick_ = true;
    }
    uv_async_send(&ch->async_);
    return;
  }
}

void Pump::Host(Channel* ch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kIdle || stop_) return;
  if (has_work_ || !incoming_.empty() || !aborts_.empty() || !leaving_.empty()) QueueWorkLocked(ch);
}

// On `ch`'s thread. The owner acts on it (TakeIntake); an idle pump gets a run for it on ch's
// loop.
void Pump::CloseIdle(Channel* ch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    close_idle_ = true;
    if (state_ == State::kIdle) {
      QueueWorkLocked(ch);
      return;
    }
  }
  Ring();
}

void Pump::Leave(Channel* ch) {
  std::unique_lock<std::mutex> lock(mu_);
  channels_.erase(std::remove(channels_.begin(), channels_.end(), ch), channels_.end());
  // What the pump has not seen yet is simply dropped.
  auto mine = [ch](const std::unique_ptr<Transfer>& t) { return t->channel == ch; };
  const auto first = std::remove_if(incoming_.begin(), incoming_.end(), mine);
  dropped_.fetch_add(static_cast<uint64_t>(incoming_.end() - first), std::memory_order_relaxed);
  incoming_.erase(first, incoming_.end());
  aborts_.erase(
      std::remove_if(aborts_.begin(), aborts_.end(),
                     [ch](const std::pair<Channel*, double>& a) { return a.first == ch; }),
      aborts_.end());
  if (stop_) {
    // Halted for good: once the last run has stopped, nobody looks at this channel again.
    idle_cv_.wait_for(lock, timing::kHaltWait, [this] { return !in_run_; });
    ch->pump_done_ = true;
    return;
  }
  leaving_.push_back(ch);
  if (state_ == State::kIdle) {
    // Nobody drives the multi: this thread takes it for the moment it needs.
    state_ = State::kInline;
    InlineLocked(&lock);
    if (has_work_ || !incoming_.empty()) KickLocked(ch);
    return;
  }
  if (host_ == ch) {
    yield_ = true;
    // Not started yet: cancelled, and AfterWork (UV_ECANCELED) hands the work on.
    if (ch->current_work_ != nullptr) uv_cancel(reinterpret_cast<uv_req_t*>(ch->current_work_));
  }
  lock.unlock();
  Ring();
}

void Pump::Work(uv_work_t* req) { static_cast<WorkItem*>(req->data)->pump->Run(); }

void Pump::AfterWork(uv_work_t* req, int status) {
  auto* item = static_cast<WorkItem*>(req->data);
  Pump* self = item->pump;
  Channel* host = item->host;
  delete item;
  --host->works_queued_;
  if (host->current_work_ == req) host->current_work_ = nullptr;
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
        if (!host->closing_) {
          self->QueueWorkLocked(host);
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
    Flush();
    lock->lock();
  } while (!leaving_.empty() || !aborts_.empty());
  state_ = State::kIdle;
  has_work_ = Busy();
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
    leaving.swap(leaving_);
    limits_dirty = limits_dirty_;
    limits = limits_;
    limits_dirty_ = false;
    if (channel_limits_dirty_) {
      for (Channel* ch : channels_) {
        if (!ch->max_in_flight_dirty_) continue;
        ch->max_in_flight_ = ch->requested_max_in_flight_;
        ch->max_in_flight_dirty_ = false;
      }
      channel_limits_dirty_ = false;
    }
  }
  if (limits_dirty) ApplyLimits(limits);
  for (const auto& a : aborts) AbortTransfer(a.first, a.second);
  for (Channel* ch : leaving) DropChannel(ch);
  if (close_idle_due_ && !Busy()) {
    ResetMulti();
    close_idle_due_ = false;
  }
  for (auto& owned : incoming) {
    Transfer* t = owned.release();
    Channel* ch = t->channel;
    ch->waiting_.push_back(t);
    ++waiting_total_;
    if (!ch->in_lanes_) {
      ch->in_lanes_ = true;
      lanes_.push_back(ch);
    }
  }
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
    StartWaiting();
    DrainFinished();
    Flush(false);

    int wait_ms = timing::kMaxWaitMs;
    // Completions held back (see Flush) are due within kHold.
    if (!finished_.empty()) wait_ms = timing::kHeldRecheckMs;
    if (has_deadline_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      wait_ms =
          std::min(wait_ms, static_cast<int>(std::clamp<long long>(left, 0, timing::kMaxWaitMs)));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      if (!incoming_.empty() || !aborts_.empty() || !leaving_.empty() || limits_dirty_ ||
          channel_limits_dirty_ || close_idle_ || (close_idle_due_ && !Busy())) {
        continue;
      }
      const bool busy = Busy();
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
    int running = 0;
    for (const Poller::Ready& r : ready_) {
      int flags = 0;
      if (r.in) flags |= CURL_CSELECT_IN;
      if (r.out) flags |= CURL_CSELECT_OUT;
      if (r.error) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, r.fd, flags, &running);
    }
    if (has_deadline_ && Clock::now() >= deadline_) {
      has_deadline_ = false;  // cleared first: the call below may set a new timer
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    DrainFinished();
    Flush(false);
  }
  // Handed over, another run (or an environment thread) may own the multi already: this thread
  // touches nothing of the pump's any more but its own counters.
  if (!handed_over) Flush();
  cpu_ns_.fetch_add(ThreadCpuNs() - cpu_mark, std::memory_order_relaxed);
  if (handed_over) return;
  std::lock_guard<std::mutex> lock(mu_);
  EndRunLocked();
}

// With mu_ held: how long to wait at most so as to look at the environments that send on their
// loop's turns (timer ticks) just after their loops next wake, in ms (timing::kMaxWaitMs: none).
int Pump::LookAfterTurnsMs(Clock::time_point now) {
  int wait_ms = timing::kMaxWaitMs;
  for (Channel* ch : channels_) {
    std::lock_guard<std::mutex> own(ch->mu_);
    if (!ch->asleep_ || !ch->sends_on_turns_ || ch->wakes_at_ <= now ||
        ch->wakes_at_ - now > std::chrono::milliseconds(timing::kMaxWaitMs)) {
      continue;
    }
    const auto look = ch->wakes_at_ + timing::kLookAfterTurn - now;
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
  Flush();
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

void Pump::StartWaiting() {
  while (waiting_total_ > 0 && !lanes_.empty()) {
    bool started = false;
    const size_t n = lanes_.size();
    for (size_t i = 0; i < n; ++i) {
      Channel* ch = lanes_[(next_lane_ + i) % n];
      if (ch->WaitingCount() == 0 || ch->active_ >= ch->max_in_flight_) continue;
      Transfer* t = NextStartable(ch);
      if (t == nullptr) continue;
      --waiting_total_;
      Start(t);
      started = true;
    }
    ++next_lane_;
    if (!started) break;
  }
  // Channels with nothing waiting leave the rotation.
  lanes_.erase(std::remove_if(lanes_.begin(), lanes_.end(),
                              [](Channel* ch) {
                                if (ch->WaitingCount() > 0) return false;
                                ch->in_lanes_ = false;
                                return true;
                              }),
               lanes_.end());
}

void Pump::Start(Transfer* t) {
  Channel* ch = t->channel;
  CURL* easy = easies_.Acquire(*t->profile);
  if (easy == nullptr) {
    FailTransfer(t, CURLE_OUT_OF_MEMORY, "libcurl could not create an easy handle");
    finished_.push_back(t);
    return;
  }
  t->easy = easy;
  const CURLcode rc = ConfigureTransfer(easy, t);
  if (rc != CURLE_OK) {
    curl_easy_cleanup(easy);  // in an unknown state: not kept
    t->easy = nullptr;
    FailTransfer(t, rc, "libcurl refused an option for this request");
    finished_.push_back(t);
    return;
  }
  const CURLMcode mc = curl_multi_add_handle(multi_, easy);
  if (mc != CURLM_OK) {
    easies_.Release(easy, t->profile->serial);
    t->easy = nullptr;
    FailTransfer(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
                 curl_multi_strerror(mc));
    finished_.push_back(t);
    return;
  }
  ++ch->active_;
  active_.insert(t);
  if (!SharesConnections(t)) {
    t->origin_count = &origin_active_[t->Origin()];  // map nodes stay put: the pointer stays valid
    ++*t->origin_count;
    ++h1_active_;
  }
}

// An http2 transfer to an origin that answered over HTTP/2 before: multiplexed, so libcurl's own
// connection caps hold for it.
bool Pump::SharesConnections(Transfer* t) {
  if (!t->profile->http2) return false;
  auto found = origin_h2_.find(t->Origin());
  return found != origin_h2_.end() && found->second;
}

// The transfer of `ch` to start next, taken out of its queues, or null. Those set aside for an
// origin at its cap come first once it has room (they were ahead); a transfer found at its
// origin's cap is set aside, so that one hung origin never holds up the others.
Transfer* Pump::NextStartable(Channel* ch) {
  for (auto it = ch->blocked_.begin(); ch->blocked_count_ > 0 && it != ch->blocked_.end(); ++it) {
    if (it->second.empty()) continue;  // never left so (see AbortTransfer); a guard all the same
    Transfer* t = it->second.front();
    if (!HasRoom(t)) continue;
    it->second.pop_front();
    if (it->second.empty()) ch->blocked_.erase(it);
    --ch->blocked_count_;
    return t;
  }
  while (!ch->waiting_.empty()) {
    Transfer* t = ch->waiting_.front();
    if (HasRoom(t)) {
      ch->waiting_.pop_front();
      return t;
    }
    // All connections in use: nothing over HTTP/1.1 starts before one ends.
    if (applied_.max_total_connections > 0 && h1_active_ >= applied_.max_total_connections) {
      return nullptr;
    }
    ch->waiting_.pop_front();
    ch->blocked_[t->origin].push_back(t);
    ++ch->blocked_count_;
  }
  return nullptr;
}

// Whether the connection caps leave room for `t` (HTTP/2 transfers share connections: libcurl's
// own caps hold for them).
bool Pump::HasRoom(Transfer* t) {
  if (SharesConnections(t)) return true;
  if (applied_.max_total_connections > 0 && h1_active_ >= applied_.max_total_connections) {
    return false;
  }
  if (applied_.max_host_connections <= 0) return true;
  auto found = origin_active_.find(t->Origin());
  return found == origin_active_.end() || found->second < applied_.max_host_connections;
}

void Pump::Untrack(Transfer* t) {
  active_.erase(t);
  --t->channel->active_;
  if (t->origin_count == nullptr) return;
  --h1_active_;
  if (--*t->origin_count <= 0) origin_active_.erase(t->origin);
  t->origin_count = nullptr;
}

void Pump::RemoveActive(Transfer* t) {
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &t->bytes_sent);
  curl_multi_remove_handle(multi_, t->easy);
  easies_.Release(t->easy, t->profile->serial);
  t->easy = nullptr;
  Untrack(t);
}

void Pump::AbortTransfer(Channel* ch, double id) {
  auto take = [&](std::deque<Transfer*>* queue) {
    for (auto it = queue->begin(); it != queue->end(); ++it) {
      if ((*it)->id != id) continue;
      Transfer* t = *it;
      queue->erase(it);
      --waiting_total_;
      FailTransfer(t, CURLE_ABORTED_BY_CALLBACK, "aborted by the caller");
      finished_.push_back(t);
      return true;
    }
    return false;
  };
  if (take(&ch->waiting_)) return;
  for (auto it = ch->blocked_.begin(); it != ch->blocked_.end(); ++it) {
    if (!take(&it->second)) continue;
    --ch->blocked_count_;
    if (it->second.empty()) ch->blocked_.erase(it);  // an origin with an empty list is never left
    return;
  }
  for (Transfer* t : active_) {
    if (t->channel != ch || t->id != id) continue;
    RemoveActive(t);
    FailTransfer(t, CURLE_ABORTED_BY_CALLBACK, "aborted by the caller");
    finished_.push_back(t);
    return;
  }
}

// The environment is gone: its transfers end here, unsettled, and the pump forgets it.
void Pump::DropChannel(Channel* ch) {
  uint64_t dropped = ch->WaitingCount();
  for (Transfer* t : ch->waiting_) delete t;
  for (auto& entry : ch->blocked_) {
    for (Transfer* t : entry.second) delete t;
  }
  waiting_total_ -= ch->WaitingCount();
  ch->waiting_.clear();
  ch->blocked_.clear();
  ch->blocked_count_ = 0;
  if (ch->in_lanes_) {
    lanes_.erase(std::remove(lanes_.begin(), lanes_.end(), ch), lanes_.end());
    ch->in_lanes_ = false;
  }
  std::vector<Transfer*> mine;
  for (Transfer* t : active_) {
    if (t->channel == ch) mine.push_back(t);
  }
  for (Transfer* t : mine) {
    RemoveActive(t);
    delete t;
  }
  dropped += mine.size();
  auto first = std::remove_if(finished_.begin(), finished_.end(), [ch, &dropped](Transfer* t) {
    if (t->channel != ch) return false;
    delete t;
    ++dropped;
    return true;
  });
  finished_.erase(first, finished_.end());
  {
    std::lock_guard<std::mutex> lock(ch->mu_);
    dropped += ch->completed_.size();
    ch->completed_.clear();
    ch->detached_ = true;
  }
  dropped_.fetch_add(dropped, std::memory_order_relaxed);
  uv_async_send(&ch->async_);
}

void Pump::DrainFinished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode result = msg->data.result;  // read before the handle is removed
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    CollectResult(easy, t, result);
    if (t->profile->http2 && t->status > 0) {
      long version = 0;
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
      origin_h2_[t->Origin()] = version == CURL_HTTP_VERSION_2_0;
    }
    curl_multi_remove_handle(multi_, easy);
    easies_.Release(easy, t->profile->serial);
    t->easy = nullptr;
    Untrack(t);
    finished_.push_back(t);
  }
}

// Hands finished transfers to their environments: one lock and one wake-up per environment.
// Unless `all`, a channel with a small burst still in flight or waiting keeps its completions back
// (up to timing::kHold), so the burst comes back in one batch, not one per pump turn.
void Pump::Flush(bool all) {
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
    if (!ch->holding_) {
      ch->holding_ = true;
      ch->holding_since_ = now;
    }
    const long outstanding = ch->active_ + static_cast<long>(ch->WaitingCount());
    const bool due = all || outstanding == 0 ||
                     outstanding + static_cast<long>(count) >= timing::kHoldBelow ||
                     now - ch->holding_since_ >= timing::kHold;
    if (!due) {
      // Held, in order; looked at again after the pump's next turn.
      for (size_t j = i; j < finished_.size(); ++j) {
        if (finished_[j] == nullptr || finished_[j]->channel != ch) continue;
        held_.push_back(finished_[j]);
        finished_[j] = nullptr;
      }
      continue;
    }
    ch->holding_ = false;
    bool wake;
    {
      std::lock_guard<std::mutex> lock(ch->mu_);
      for (size_t j = i; j < finished_.size(); ++j) {
        if (finished_[j] == nullptr || finished_[j]->channel != ch) continue;
        ch->completed_.emplace_back(finished_[j]);
        finished_[j] = nullptr;
      }
      // The clock read here, not Flush's `now`: the loop may have gone to sleep (and set
      // wakes_at_ from its own later clock) since, which would look like a long sleep.
      wake = ch->asleep_ && (ch->prompt_ || ch->wakes_at_ > Clock::now() + timing::kPiggyback);
    }
    if (wake) {
      wakeups_.fetch_add(1, std::memory_order_relaxed);
      uv_async_send(&ch->async_);
    }
  }
  finished_.swap(held_);
}

void Pump::ApplyLimits(const ConnectionLimits& limits) {
  applied_ = limits;
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limits.max_host_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, limits.max_total_connections);
  // Room in the cache for every connection we may open, so keep-alive ones are not closed.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max(limits.max_total_connections, 16L));
}

// libcurl 7.88 has no call that closes the idle connections of a multi handle's cache, short of
// curl_multi_cleanup: with nothing in flight (no easy handle in it), a new multi handle replaces
// the old one, which closes them all. The share (TLS sessions) and the idle easy handles stay.
void Pump::ResetMulti() {
  CURLM* fresh = curl_multi_init();
  if (fresh == nullptr) return;  // out of memory: the connections stay open, nothing worse
  curl_multi_cleanup(multi_);
  multi_ = fresh;
  has_deadline_ = false;
  ConfigureMulti();
  if (applied_.max_total_connections > 0) ApplyLimits(applied_);
}

int Pump::OnSocket(CURL* /*easy*/, curl_socket_t s, int what, void* userp, void* /*socketp*/) {
  auto* self = static_cast<Pump*>(userp);
  if (what == CURL_POLL_REMOVE) {
    // Resting, not removed: a kept-alive connection is asked for events again by the next request.
    self->poller_.Rest(s);
  } else {
    self->poller_.Watch(s, (what & CURL_POLL_IN) != 0, (what & CURL_POLL_OUT) != 0);
  }
  return 0;
}

int Pump::OnTimer(CURLM* /*multi*/, long timeout_ms, void* userp) {
  auto* self = static_cast<Pump*>(userp);
  if (timeout_ms < 0) {
    self->has_deadline_ = false;
  } else {
    self->has_deadline_ = true;
    self->deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

}  // namespace ned
