#include "pump.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace ned {

namespace {

constexpr int kMaxEvents = 256;
// Idle easy handles kept for reuse: creating one costs more than a whole loopback request.
constexpr size_t kMaxIdleEasies = 1024;
// With transfers in flight libcurl always has a timer; this only bounds a lost one.
constexpr int kMaxWaitMs = 1000;
constexpr auto kHaltWait = std::chrono::seconds(2);
// How long an idle pump waits for more work before giving its thread back.
constexpr auto kLinger = std::chrono::milliseconds(2);

std::mutex& RegistryMutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used from atexit
  return *mu;
}

std::set<Pump*>& Registry() {
  static auto* pumps = new std::set<Pump*>();
  return *pumps;
}

}  // namespace

Pump* Pump::Create(uv_loop_t* loop, CompletionSink* sink, const Limits& limits,
                   std::string* error) {
  auto* pump = new Pump(loop, sink);
  if (!pump->Init(limits, error)) {
    delete pump;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().insert(pump);
  return pump;
}

Pump::Pump(uv_loop_t* loop, CompletionSink* sink) : loop_(loop), sink_(sink) {
  work_.data = this;
  async_.data = this;
}

Pump::~Pump() {
  for (CURL* easy : idle_easies_) curl_easy_cleanup(easy);
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
  if (share_ != nullptr) curl_share_cleanup(share_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool Pump::Init(const Limits& limits, std::string* error) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    *error = std::string("cannot create the pump's poller: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    *error = std::string("cannot watch the pump's doorbell: ") + std::strerror(errno);
    return false;
  }
  multi_ = curl_multi_init();
  share_ = curl_share_init();
  if (multi_ == nullptr || share_ == nullptr) {
    *error = "libcurl could not create a multi or share handle";
    return false;
  }
  // Only the pump thread uses the share, one thread at a time, so it needs no lock callbacks.
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Pump::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Pump::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  ApplyLimits(limits);
  limits_ = limits;
  if (uv_async_init(loop_, &async_, &Pump::OnAsync) != 0) {
    *error = "cannot create the pump's completion handle";
    return false;
  }
  // Never keeps the process alive by itself: the queued work item does that while busy.
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Main thread

void Pump::Submit(std::unique_ptr<Transfer> t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    submitted_.push_back(std::move(t));
  }
  ++stats_.submitted;
  ++stats_.pending;
  if (!work_scheduled_) {
    work_scheduled_ = true;
    ++stats_.runs;
    uv_queue_work(loop_, &work_, &Pump::Work, &Pump::AfterWork);
  } else {
    Wake();
  }
}

void Pump::SetLimits(const Limits& limits) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    limits_ = limits;
    limits_dirty_ = true;
  }
  if (work_scheduled_) Wake();
}

PumpStats Pump::Stats() const {
  PumpStats s = stats_;
  s.running = work_scheduled_;
  return s;
}

void Pump::Wake() {
  // One write per wait is enough; the pump clears the flag before it takes the queue.
  if (wake_pending_.exchange(true)) return;
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(wake_fd_, &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
}

void Pump::OnAsync(uv_async_t* handle) { static_cast<Pump*>(handle->data)->Deliver(); }

void Pump::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(completed_);
  }
  if (delivering_.empty()) return;
  stats_.settled += delivering_.size();
  stats_.pending -= delivering_.size();
  if (!shutting_down_) sink_->OnCompleted(&delivering_);
  delivering_.clear();
}

void Pump::AfterWork(uv_work_t* req, int /*status*/) {
  auto* self = static_cast<Pump*>(req->data);
  self->work_scheduled_ = false;
  if (self->shutting_down_) {
    self->Deliver();
    self->FinishShutdown();
    return;
  }
  bool more;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    more = !self->submitted_.empty();
  }
  // Transfers queued while the run was ending start a new run. This comes before delivering,
  // because settling promises runs JS that may submit (and so schedule) again.
  if (more) {
    self->work_scheduled_ = true;
    ++self->stats_.runs;
    uv_queue_work(self->loop_, &self->work_, &Pump::Work, &Pump::AfterWork);
  }
  self->Deliver();
}

void Pump::Shutdown(void (*done)(void*), void* arg) {
  shutting_down_ = true;
  shutdown_done_ = done;
  shutdown_arg_ = arg;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (!work_scheduled_) {
    FinishShutdown();
    return;
  }
  // Not started yet: cancel it (AfterWork then runs with UV_ECANCELED); otherwise wake it.
  if (uv_cancel(reinterpret_cast<uv_req_t*>(&work_)) != 0) Wake();
}

void Pump::FinishShutdown() {
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry().erase(this);
  }
  for (Transfer* t : active_) {
    curl_multi_remove_handle(multi_, t->easy);
    curl_easy_cleanup(t->easy);
    delete t;
  }
  active_.clear();
  submitted_.clear();
  waiting_.clear();
  completed_.clear();
  finished_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* handle) {
    auto* self = static_cast<Pump*>(handle->data);
    void (*done)(void*) = self->shutdown_done_;
    void* arg = self->shutdown_arg_;
    delete self;
    if (done != nullptr) done(arg);
  });
}

void Pump::HaltAll() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (Pump* pump : Registry()) pump->Halt();
}

void Pump::Halt() {
  std::unique_lock<std::mutex> lock(mu_);
  stop_ = true;
  lock.unlock();
  const uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;
  lock.lock();
  idle_cv_.wait_for(lock, kHaltWait, [this] { return !in_run_; });
}

// ---------------------------------------------------------------------------------------------
// Threadpool thread

void Pump::Work(uv_work_t* req) { static_cast<Pump*>(req->data)->Run(); }

void Pump::Run() {
  epoll_event events[kMaxEvents];
  bool lingering = false;
  Clock::time_point linger_until;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_run_ = true;
  }
  for (;;) {
    bool dirty = false;
    Limits limits;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      wake_pending_.store(false);
      for (auto& t : submitted_) waiting_.push_back(std::move(t));
      submitted_.clear();
      if (limits_dirty_) {
        limits = limits_;
        limits_dirty_ = false;
        dirty = true;
      }
    }
    if (dirty) ApplyLimits(limits);
    // Only this many go to libcurl; the rest wait here, in order. (libcurl 7.88 scans its own
    // pending list on every curl_multi_remove_handle, which is quadratic with thousands queued.)
    while (!waiting_.empty() && active_.size() < static_cast<size_t>(max_in_flight_)) {
      std::unique_ptr<Transfer> t = std::move(waiting_.front());
      waiting_.pop_front();
      Start(std::move(t));
    }
    DrainFinished();
    Flush();

    int wait_ms = kMaxWaitMs;
    if (active_.empty()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;
        if (!submitted_.empty()) continue;
      }
      // Idle. Linger briefly for the next request (a busy app sends another within
      // microseconds, and requeueing costs a threadpool round trip), then give the thread back.
      const auto now = Clock::now();
      if (!lingering) {
        lingering = true;
        linger_until = now + kLinger;
      }
      if (now >= linger_until) break;
      wait_ms =
          static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(linger_until - now).count()) +
          1;
    } else {
      lingering = false;
    }
    if (has_deadline_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      wait_ms = std::min(wait_ms, static_cast<int>(std::clamp<long long>(left, 0, kMaxWaitMs)));
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
    int running = 0;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t value;
        ssize_t r = read(wake_fd_, &value, sizeof(value));
        (void)r;
        continue;
      }
      if (static_cast<size_t>(fd) < parked_.size() && parked_[fd]) {
        // A parked socket only reports a hang-up or an error; libcurl will notice the closed
        // connection when it next looks at it. Stop watching it.
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        parked_[fd] = 0;
        continue;
      }
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, flags, &running);
    }
    if (has_deadline_ && Clock::now() >= deadline_) {
      has_deadline_ = false;  // cleared first: the call below may set a new timer
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    DrainFinished();  // frees slots for the waiting transfers at the top of the loop
  }
  // Completions made just before a stop still go out.
  DrainFinished();
  Flush();
  std::lock_guard<std::mutex> lock(mu_);
  in_run_ = false;
  idle_cv_.notify_all();
}

void Pump::Start(std::unique_ptr<Transfer> owned) {
  Transfer* t = owned.release();
  CURL* easy = AcquireEasy();
  if (easy == nullptr) {
    Fail(t, CURLE_OUT_OF_MEMORY, "libcurl could not create an easy handle");
    return;
  }
  t->easy = easy;
  const CURLcode rc = ConfigureEasy(easy, t, share_);
  if (rc != CURLE_OK) {
    Fail(t, rc, "libcurl refused an option for this request");
    return;
  }
  const CURLMcode mc = curl_multi_add_handle(multi_, easy);
  if (mc != CURLM_OK) {
    Fail(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
         curl_multi_strerror(mc));
    return;
  }
  active_.insert(t);
}

void Pump::Fail(Transfer* t, CURLcode code, const char* detail) {
  if (t->easy != nullptr) {
    ReleaseEasy(t->easy);
    t->easy = nullptr;
  }
  t->result = code;
  t->error_detail = detail;
  finished_.emplace_back(t);
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
    curl_multi_remove_handle(multi_, easy);
    ReleaseEasy(easy);
    t->easy = nullptr;
    active_.erase(t);
    finished_.emplace_back(t);
  }
}

void Pump::Flush() {
  if (finished_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed_.empty()) {
      completed_.swap(finished_);
    } else {
      for (auto& t : finished_) completed_.push_back(std::move(t));
    }
  }
  finished_.clear();
  uv_async_send(&async_);
}

void Pump::ApplyLimits(const Limits& limits) {
  max_in_flight_ = limits.max_in_flight;
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limits.max_host_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, limits.max_total_connections);
  // Room in the cache for every connection we may open, so keep-alive ones are not closed.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max(limits.max_total_connections, 16L));
}

CURL* Pump::AcquireEasy() {
  if (!idle_easies_.empty()) {
    CURL* easy = idle_easies_.back();
    idle_easies_.pop_back();
    return easy;
  }
  return curl_easy_init();
}

void Pump::ReleaseEasy(CURL* easy) {
  if (idle_easies_.size() >= kMaxIdleEasies) {
    curl_easy_cleanup(easy);
    return;
  }
  curl_easy_reset(easy);
  idle_easies_.push_back(easy);
}

int Pump::OnSocket(CURL* /*easy*/, curl_socket_t s, int what, void* userp, void* /*socketp*/) {
  auto* self = static_cast<Pump*>(userp);
  if (s < 0) return 0;
  if (static_cast<size_t>(s) >= self->parked_.size()) self->parked_.resize(s + 64, 0);
  epoll_event ev{};
  ev.data.fd = s;
  if (what == CURL_POLL_REMOVE) {
    // Parked, not removed: a kept-alive connection is asked for events again by the next
    // request, and MOD is one syscall where DEL + ADD were two (plus a failing MOD).
    ev.events = 0;
    self->parked_[s] = epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, s, &ev) == 0 ? 1 : 0;
    return 0;
  }
  self->parked_[s] = 0;
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  if (epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, s, &ev);
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
