// Idle easy handles kept for reuse, by the profile they are configured for, and the TLS session
// cache they share. Creating an easy handle costs more than a whole loopback request; one kept for
// its profile takes only the next transfer's own options (no reset, no profile options again).
// Owner of the multi handle only (see pump.h): no locks.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "request.h"

namespace ned {

class EasyPool {
 public:
  EasyPool() = default;
  EasyPool(const EasyPool&) = delete;
  EasyPool& operator=(const EasyPool&) = delete;
  ~EasyPool();

  bool Init(std::string* error);

  // A handle configured for `profile`: a kept one of that profile, another profile's reset, or a
  // new one. Null when libcurl cannot make one or refuses the profile's options.
  CURL* Acquire(const Profile& profile);
  // Kept for the next transfer of that profile (up to a bound), else cleaned up.
  void Release(CURL* easy, uint64_t profile_serial);

 private:
  CURLSH* share_ = nullptr;  // TLS session cache shared by the pooled easy handles
  std::unordered_map<uint64_t, std::vector<CURL*>> idle_;
  size_t idle_count_ = 0;
};

}  // namespace ned
