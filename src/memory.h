// libcurl's memory. libcurl allocates its big per-transfer buffers (64 KB for the upload, 16 KB
// for the download) for every request and frees them when it ends; freed together, they make
// glibc hand the pump thread's heap back to the kernel and fault it in again on the next burst —
// a third of the pump's CPU per HTTPS request. So libcurl gets its memory through these
// functions, which keep freed big buffers for the next transfer (bounded), and give them all back
// when the pump goes idle. Any thread.
#pragma once

#include <curl/curl.h>

namespace ned {
namespace memory {

// curl_global_init through curl_global_init_mem with the functions below. If libcurl was already
// initialised in this process (another module), it keeps its allocator, and so do we.
CURLcode GlobalInit(long flags);

// Frees the kept buffers (the pump is idle).
void Release();

struct Counts {
  unsigned long long reused = 0;  // big allocations served from kept buffers
  unsigned long long kept = 0;    // bytes kept now
};
Counts Stats();

}  // namespace memory
}  // namespace ned
