#include "easy_pool.h"

namespace ned {

namespace {
// Idle easy handles kept at most, all profiles: enough for every connection a busy pump keeps.
constexpr size_t kMaxIdleEasies = 1024;
}  // namespace

EasyPool::~EasyPool() {
  for (auto& entry : idle_) {
    for (CURL* easy : entry.second) curl_easy_cleanup(easy);
  }
  if (share_ != nullptr) curl_share_cleanup(share_);
}

bool EasyPool::Init(std::string* error) {
  share_ = curl_share_init();
  if (share_ == nullptr) {
    *error = "libcurl could not create a multi or share handle";
    return false;
  }
  // Only the owner of the multi uses the share, one thread at a time: no lock callbacks needed.
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return true;
}

CURL* EasyPool::Acquire(const Profile& profile) {
  auto same = idle_.find(profile.serial);
  if (same != idle_.end() && !same->second.empty()) {
    CURL* easy = same->second.back();
    same->second.pop_back();
    --idle_count_;
    return easy;
  }
  // A handle of another profile (there are only ever a few), reset; or a new one.
  CURL* easy = nullptr;
  for (auto it = idle_.begin(); it != idle_.end() && easy == nullptr;) {
    if (!it->second.empty()) {
      easy = it->second.back();
      it->second.pop_back();
      --idle_count_;
      curl_easy_reset(easy);
    }
    if (it->second.empty()) {
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  if (easy == nullptr) easy = curl_easy_init();
  if (easy != nullptr && ConfigureProfile(easy, profile, share_) != CURLE_OK) {
    curl_easy_cleanup(easy);
    return nullptr;
  }
  return easy;
}

void EasyPool::Release(CURL* easy, uint64_t profile_serial) {
  if (idle_count_ >= kMaxIdleEasies) {
    curl_easy_cleanup(easy);
    return;
  }
  idle_[profile_serial].push_back(easy);
  ++idle_count_;
}

}  // namespace ned
