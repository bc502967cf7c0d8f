// One HTTP transfer: the options it runs with (Profile), the plain C++ copy of the caller's request
// and the result the pump fills in (Transfer), and the code that turns both into an easy handle.
// Nothing here knows N-API: the pump thread only ever sees these structs.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ned {

class Channel;

// The methods the addon can send. Not submit()'s verb codes: lib/ owns those and names the method
// of each at setup() (VerbNamed).
enum class Verb : uint8_t { kGet, kPost, kPut, kPatch, kDelete, kHead };
constexpr int kVerbCount = 6;

// The verb of an HTTP method name ("GET", ...); false for one the addon cannot send.
bool VerbNamed(const std::string& method, Verb* verb);

// What the caller wants back besides the status. Not submit()'s flag bits: Submit() translates
// lib/'s (lib/transport/protocol.js) into these.
enum TransferFlags : uint32_t {
  kKeepResponse = 1,  // response headers and body
  kBinaryBody = 2,    // the body as bytes rather than UTF-8 text
  kDirect = 4,        // no proxy: lib/ matched the URL's host against no_proxy
};

// Options shared by every transfer made with the same JS options object. Compiled once on the main
// thread from a complete profile (lib/ owns defaults and validation), immutable afterwards, so the
// pump reads it without locks.
struct Profile {
  Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;
  ~Profile();

  // Unique for the process's lifetime: easy handles configured for a profile are kept by it.
  const uint64_t serial;

  long timeout_ms = 0;
  long connect_timeout_ms = 0;
  size_t max_response_bytes = 0;
  bool insecure = false;
  bool http2 = false;
  bool verbose = false;  // the trace on stderr (NATIVE_EVENT_DISPATCHER_TRACE=1, trace.h)
  // With `verbose`: the headers whose values the trace masks (lower-case names, lib/ decides).
  std::vector<std::string> trace_secrets;
  bool timings = false;  // report DNS, connect, TLS, first byte and total times
  std::string user_agent;
  std::string ca_file;  // empty: the system's CA bundle
  // Proxies are always decided on the main thread (from the option or from the environment there),
  // so libcurl never calls getenv() on the pump thread while JS may be calling setenv().
  std::string http_proxy;              // for http: URLs; empty = direct
  std::string https_proxy;             // for https: URLs; empty = direct
  curl_slist* body_headers = nullptr;  // for requests with a body
  curl_slist* get_headers = nullptr;   // for GET and HEAD
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

// scheme://host[:port] of an http(s) URL, in lower case: the key of the per-origin cap.
std::string OriginOf(const std::string& url);

struct Transfer {
  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  // Filled on the main thread before the transfer is queued.
  double id = 0;  // the caller's id: completions and abort() name the transfer by it
  Verb verb = Verb::kPost;
  uint32_t flags = 0;
  std::string url;
  Bytes body;
  std::shared_ptr<const Profile> profile;
  curl_slist* headers = nullptr;  // this request's own header lines (owned); null: the profile's
  std::vector<std::string> trace_secrets;  // with a trace: secret names among those lines
  Channel* channel = nullptr;              // the environment it belongs to

  // Filled by the pump.
  CURLcode result = CURLE_OK;
  long status = 0;
  long os_errno = 0;
  long connect_code = 0;  // status of a proxy's answer to CONNECT
  bool via_proxy = false;
  bool truncated = false;
  curl_off_t bytes_sent = 0;  // request body bytes that went out
  std::string error_detail;   // libcurl's error buffer
  // Milliseconds from the start to: name resolved, connected, TLS done, first byte, end.
  // Only with Profile::timings; -1 where the transfer did not get that far.
  double timing_ms[5] = {-1, -1, -1, -1, -1};
  std::string retry_after;       // the Retry-After value, always kept
  std::string response_headers;  // kKeepResponse: "name: value\r\n" lines, names in lower case
  size_t header_count = 0;
  // The final response's header block ended (its empty line came).
  bool headers_ended = false;
  // The head of the response being read (OnHeader): its bytes so far (status line, header lines,
  // empty line), and which framing headers it has.
  size_t head_bytes = 0;
  bool has_content_length = false;
  bool has_transfer_encoding = false;
  // Why the response could not be read, when the package refused it (a static text): the transfer
  // ends as CURLE_WEIRD_SERVER_REPLY (EPROTO) with this as its detail.
  const char* unreadable = nullptr;
  // scheme://host[:port] of url, for the per-origin cap (HTTP/1.1): made on first use.
  std::string origin;
  const std::string& Origin() {
    if (origin.empty()) origin = OriginOf(url);
    return origin;
  }
  // While counted in the pump's HTTP/1.1 caps: its origin's count (a node of the pump's map).
  long* origin_count = nullptr;
  std::string response_body;  // kKeepResponse: up to max_response_bytes

  // Pump-thread state.
  CURL* easy = nullptr;
  char errbuf[CURL_ERROR_SIZE];

  bool https() const { return url.size() > 5 && url.compare(0, 6, "https:") == 0; }
  // Drops per-request data but keeps buffer capacity, so recycled transfers do not allocate.
  void Clear();
};

// Whether the libcurl the process runs with (not the one it was built against) is this new.
bool RuntimeCurlAtLeast(unsigned version);

// `lines` with "User-Agent: <user_agent>" appended, unless it names a User-Agent already or the
// agent is empty. The agent travels as a header line rather than CURLOPT_USERAGENT: libcurl 7.88
// formats that option into every request twice, a byte at a time (12k instructions a request,
// 18 % of libcurl's own work for a 7 KB POST); a header line once.
curl_slist* WithUserAgent(curl_slist* lines, const std::string& user_agent);

// The options every transfer of `profile` shares, on a fresh or reset easy handle.
CURLcode ConfigureProfile(CURL* easy, const Profile& profile, CURLSH* share);

// The options of one transfer, on a handle configured for its profile (possibly used before by
// another transfer of it: everything a transfer may change is set every time).
CURLcode ConfigureTransfer(CURL* easy, Transfer* t);

// Responses the package refuses to read (lib/transport/protocol.js, handed over by setup()): the
// head's limit, and why, in the words both transports use. Process-wide: the first setup() sets
// them, before any transfer exists; a later one must bring the same (the same lib/).
struct ResponseRules {
  size_t max_head_bytes = 0;
  std::string head_too_large;
  std::string bad_content_length;
  std::string both_framings;
};
// False (and `error` set) when they were set already, to something else.
bool SetResponseRules(const ResponseRules& rules, std::string* error);

// Copies status, timings and error details out of the finished easy handle into `t`.
void CollectResult(CURL* easy, Transfer* t, CURLcode result);

// Marks `t` as ended without a response (never started, aborted, or refused by libcurl).
void FailTransfer(Transfer* t, CURLcode code, const char* detail);

// Deletes the transfers of `ch` in `list` (an environment that is gone): how many.
size_t DeleteTransfersOf(std::vector<Transfer*>* list, const Channel* ch);

}  // namespace ned
