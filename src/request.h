// One HTTP transfer: the options it runs with (Profile), the plain C++ copy of the caller's request
// and the result the pump fills in (Transfer), and the code that turns both into an easy handle.
// Nothing here knows N-API: the pump thread only ever sees these structs.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ned {

enum class Verb : uint8_t { kGet = 0, kPost = 1, kPut = 2, kPatch = 3 };

// Options shared by every transfer made with the same JS options object. Compiled once on the main
// thread, immutable afterwards, so the pump may read it without locks.
struct Profile {
  Profile() = default;
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;
  ~Profile();

  long timeout_ms = 10000;
  long connect_timeout_ms = 5000;
  size_t max_response_bytes = 64 * 1024;
  bool insecure = false;
  bool http2 = false;
  bool verbose = false;  // libcurl's trace on stderr (NATIVE_EVENT_DISPATCHER_TRACE=1)
  bool timings = false;  // report DNS, connect, TLS, first byte and total times
  std::string user_agent;
  std::string ca_file;  // empty: the system's CA bundle
  // Proxies are always decided on the main thread (from the option or from the environment there),
  // so libcurl never calls getenv() on the pump thread while JS may be calling setenv().
  std::string http_proxy;              // for http: URLs; empty = direct
  std::string https_proxy;             // for https: URLs; empty = direct
  std::string no_proxy;                // curl's CURLOPT_NOPROXY list
  curl_slist* body_headers = nullptr;  // for POST/PUT/PATCH
  curl_slist* get_headers = nullptr;   // for GET
  curl_slist* connect_to = nullptr;    // the `resolve` option as CURLOPT_CONNECT_TO entries
};

// Grows without zero-filling: request bodies are written straight into it by V8.
class Bytes {
 public:
  char* Reserve(size_t n);              // at least n writable bytes; contents unspecified
  void Resize(size_t n) { size_ = n; }  // n <= the last Reserve()
  void Assign(const char* data, size_t n);
  void Clear();  // keeps small buffers for reuse
  const char* data() const { return data_ ? data_.get() : ""; }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct Header {
  std::string name;  // lower case
  std::string value;
};

struct Transfer {
  // Filled on the main thread before the transfer is queued.
  Verb verb = Verb::kPost;
  bool https = false;
  std::string url;
  std::string host;  // for the proxy decision when classifying a failure
  Bytes body;
  std::shared_ptr<const Profile> profile;

  // Filled by the pump.
  CURLcode result = CURLE_OK;
  long status = 0;
  long os_errno = 0;
  long connect_code = 0;  // status of a proxy's answer to CONNECT
  bool via_proxy = false;
  bool truncated = false;
  std::string error_detail;  // libcurl's error buffer
  // Milliseconds from the start to: name resolved, connected, TLS done, first byte, end.
  // Only with Profile::timings; -1 where the transfer did not get that far.
  double timing_ms[5] = {-1, -1, -1, -1, -1};
  std::string response_body;
  std::vector<Header> headers;

  // Opaque main-thread handles (a napi_deferred and a napi_ref); the pump never touches them.
  void* settle_handle = nullptr;
  void* site_handle = nullptr;
  // Non-zero: settled through the completion sink under this id instead of a promise. Such a
  // transfer is lean: only the status and a Retry-After header are kept, not headers and body.
  double sink_id = 0;

  // Pump-thread state.
  CURL* easy = nullptr;
  char errbuf[CURL_ERROR_SIZE];

  // Drops per-request data but keeps buffer capacity, so recycled transfers do not allocate.
  void Clear();
};

// Whether the libcurl the process runs with (not the one it was built against) is this new.
bool RuntimeCurlAtLeast(unsigned version);

// Applies `t` to a freshly reset easy handle. Returns the first setopt error, if any.
CURLcode ConfigureEasy(CURL* easy, Transfer* t, CURLSH* share);

// Copies status, timings and error details out of the finished easy handle into `t`.
void CollectResult(CURL* easy, Transfer* t, CURLcode result);

}  // namespace ned
