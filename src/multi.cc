#include "multi.h"

#include <algorithm>

namespace ned {

Multi::~Multi() {
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

bool Multi::Init(Poller* poller, std::string* error) {
  poller_ = poller;
  if (!easies_.Init(error)) return false;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    *error = "libcurl could not create a multi or share handle";
    return false;
  }
  Configure();
  return true;
}

// The multi handle's options but the connection caps (ApplyLimits).
void Multi::Configure() {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Multi::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Multi::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
}

void Multi::ApplyLimits(const ConnectionLimits& limits) {
  scheduler_.SetCaps(limits);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limits.max_host_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, limits.max_total_connections);
  // Room in the cache for every connection we may open, so keep-alive ones are not closed.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max(limits.max_total_connections, 16L));
}

// libcurl 7.88 has no call that closes the idle connections of a multi handle's cache, short of
// curl_multi_cleanup: with nothing in flight (no easy handle in it), a new multi handle replaces
// the old one, which closes them all. The share (TLS sessions) and the idle easy handles stay.
void Multi::CloseIdleConnections() {
  CURLM* fresh = curl_multi_init();
  if (fresh == nullptr) return;  // out of memory: the connections stay open, nothing worse
  curl_multi_cleanup(multi_);
  multi_ = fresh;
  has_deadline_ = false;
  Configure();
  const ConnectionLimits caps = scheduler_.caps();
  if (caps.max_total_connections > 0) ApplyLimits(caps);
}

void Multi::StartWaiting() {
  while (Transfer* t = scheduler_.Next()) {
    if (Start(t)) scheduler_.Started(t);
  }
}

// Into the multi handle; else `t` ends here, failed.
bool Multi::Start(Transfer* t) {
  CURL* easy = easies_.Acquire(*t->profile);
  if (easy == nullptr) {
    FailTransfer(t, CURLE_OUT_OF_MEMORY, "libcurl could not create an easy handle");
    finished_.push_back(t);
    return false;
  }
  t->easy = easy;
  const CURLcode rc = ConfigureTransfer(easy, t);
  if (rc != CURLE_OK) {
    curl_easy_cleanup(easy);  // in an unknown state: not kept
    t->easy = nullptr;
    FailTransfer(t, rc, "libcurl refused an option for this request");
    finished_.push_back(t);
    return false;
  }
  const CURLMcode mc = curl_multi_add_handle(multi_, easy);
  if (mc != CURLM_OK) {
    easies_.Release(easy, t->profile->serial);
    t->easy = nullptr;
    FailTransfer(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
                 curl_multi_strerror(mc));
    finished_.push_back(t);
    return false;
  }
  active_.insert(t);
  return true;
}

void Multi::Act(const std::vector<Poller::Ready>& ready) {
  int running = 0;
  for (const Poller::Ready& r : ready) {
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
}

int Multi::WaitMs(int at_most) const {
  if (!has_deadline_) return at_most;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, at_most));
}

void Multi::Untrack(Transfer* t) {
  active_.erase(t);
  scheduler_.Ended(t);
}

void Multi::RemoveActive(Transfer* t) {
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &t->bytes_sent);
  curl_multi_remove_handle(multi_, t->easy);
  easies_.Release(t->easy, t->profile->serial);
  t->easy = nullptr;
  Untrack(t);
}

void Multi::Abort(Channel* ch, double id) {
  if (Transfer* t = scheduler_.TakeWaiting(ch, id)) {
    FailTransfer(t, CURLE_ABORTED_BY_CALLBACK, "aborted by the caller");
    finished_.push_back(t);
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

uint64_t Multi::Drop(Channel* ch) {
  std::vector<Transfer*> mine;
  for (Transfer* t : active_) {
    if (t->channel == ch) mine.push_back(t);
  }
  for (Transfer* t : mine) {
    RemoveActive(t);
    delete t;
  }
  const uint64_t dropped = mine.size() + scheduler_.Drop(ch);  // after RemoveActive: ends the lane
  return dropped + DeleteTransfersOf(&finished_, ch);
}

void Multi::DrainFinished() {
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
      scheduler_.LearnProtocol(t, version == CURL_HTTP_VERSION_2_0);
    }
    curl_multi_remove_handle(multi_, easy);
    easies_.Release(easy, t->profile->serial);
    t->easy = nullptr;
    Untrack(t);
    finished_.push_back(t);
  }
}

void Multi::TakeFinished(std::vector<Transfer*>* out) {
  if (finished_.empty()) return;
  out->insert(out->end(), finished_.begin(), finished_.end());
  finished_.clear();
}

int Multi::OnSocket(CURL* /*easy*/, curl_socket_t s, int what, void* userp, void* /*socketp*/) {
  auto* self = static_cast<Multi*>(userp);
  if (what == CURL_POLL_REMOVE) {
    // Resting, not removed: a kept-alive connection is asked for events again by the next request.
    self->poller_->Rest(s);
  } else {
    self->poller_->Watch(s, (what & CURL_POLL_IN) != 0, (what & CURL_POLL_OUT) != 0);
  }
  return 0;
}

int Multi::OnTimer(CURLM* /*multi*/, long timeout_ms, void* userp) {
  auto* self = static_cast<Multi*>(userp);
  if (timeout_ms < 0) {
    self->has_deadline_ = false;
  } else {
    self->has_deadline_ = true;
    self->deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

}  // namespace ned
