#include "request.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string_view>

#include "trace.h"

namespace ned {

bool VerbNamed(const std::string& method, Verb* verb) {
  static const char* const kNames[kVerbCount] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  for (int i = 0; i < kVerbCount; ++i) {
    if (method == kNames[i]) {
      *verb = static_cast<Verb>(i);
      return true;
    }
  }
  return false;
}

namespace {

// Response headers are bounded like the body, so a hostile server cannot grow our memory.
constexpr size_t kMaxHeaderCount = 128;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
// libcurl 8.6+ reports a line over its limit as CURLE_TOO_LARGE (not in 7.88's headers).
constexpr int kCurleTooLarge = 100;

// libcurl refuses a status line or header line over CURL_MAX_HTTP_HEADER, but reads any number of
// shorter ones: the package holds the whole head to max_head_bytes. RFC 9112 section 6.3: a
// response whose Content-Length is invalid (a list, a repeat, beyond any length) or that has both
// framings cannot be delimited safely. Set once (SetResponseRules), before any transfer: the pump
// reads them without a lock, and Transfer::unreadable points into them.
std::mutex g_rules_mu;
bool g_rules_set = false;
ResponseRules g_rules;
constexpr size_t kKeepCapacity = 1u << 20;  // bigger buffers are not kept for the next transfer

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower_prefix[i]) return false;
  }
  return true;
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * nmemb;
  if (!(t->flags & kKeepResponse)) return n;  // nobody reads it
  const size_t cap = t->profile->max_response_bytes;
  const size_t room = cap > t->response_body.size() ? cap - t->response_body.size() : 0;
  const size_t keep = std::min(n, room);
  if (keep < n) t->truncated = true;  // the rest is read and discarded, never buffered
  try {
    t->response_body.append(data, keep);
  } catch (const std::bad_alloc&) {
    return 0;  // aborts this transfer with CURLE_WRITE_ERROR
  }
  return n;
}

// A Content-Length value libcurl can hold: digits only, at most CURL_OFF_T's maximum.
bool IsLength(std::string_view value) {
  if (value.empty()) return false;
  constexpr curl_off_t kMax = std::numeric_limits<curl_off_t>::max();
  curl_off_t length = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (length > (kMax - digit) / 10) return false;
    length = length * 10 + digit;
  }
  return true;
}

// Ends the transfer (returning 0 makes libcurl stop with CURLE_WRITE_ERROR), saying why.
size_t Refuse(Transfer* t, const char* why) {
  t->unreadable = why;
  return 0;
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
    // A new response starts (after 100 Continue or a proxy's CONNECT answer): keep only the last.
    t->retry_after.clear();
    t->response_headers.clear();
    t->header_count = 0;
    t->headers_ended = false;
    t->head_bytes = n;  // libcurl refuses a status line over the limit itself
    t->has_content_length = false;
    t->has_transfer_encoding = false;
    return n;
  }
  t->head_bytes += n;
  if (t->head_bytes > g_rules.max_head_bytes) return Refuse(t, g_rules.head_too_large.c_str());
  if (line == "\r\n" || line == "\n") {
    t->headers_ended = true;
    // libcurl would frame the body by the Transfer-Encoding; a response with both may be an
    // attempt at response splitting.
    if (t->has_content_length && t->has_transfer_encoding)
      return Refuse(t, g_rules.both_framings.c_str());
    return n;
  }
  const bool folded = n > 0 && (data[0] == ' ' || data[0] == '\t');
  line = Trim(line);
  if (line.empty()) return n;
  try {
    switch (folded ? '\0' : line[0] | 0x20) {  // | 0x20: the first letter in lower case
      case 'c':
        if (StartsWithNoCase(line, "content-length:")) {
          // libcurl itself refuses a value that does not start with a number, takes "2, 3" as 2
          // and a second header's value over the first.
          if (t->has_content_length || !IsLength(Trim(line.substr(15)))) {
            return Refuse(t, g_rules.bad_content_length.c_str());
          }
          t->has_content_length = true;
        }
        break;
      case 'r':
        if (StartsWithNoCase(line, "retry-after:")) t->retry_after.assign(Trim(line.substr(12)));
        break;
      case 't':
        if (StartsWithNoCase(line, "transfer-encoding:")) t->has_transfer_encoding = true;
        break;
      default:
        break;
    }
    if (!(t->flags & kKeepResponse)) return n;
    if (folded) {
      // Obsolete line folding: the line continues the previous value.
      if (t->header_count == 0 || t->response_headers.size() + line.size() > kMaxHeaderBytes) {
        return n;
      }
      t->response_headers.resize(t->response_headers.size() - 2);  // drop its CRLF
      t->response_headers.append(" ").append(line).append("\r\n");
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;
    if (t->header_count >= kMaxHeaderCount ||
        t->response_headers.size() + line.size() + 2 > kMaxHeaderBytes) {
      return n;
    }
    const std::string_view name = Trim(line.substr(0, colon));
    const size_t start = t->response_headers.size();
    t->response_headers.append(name).append(": ").append(Trim(line.substr(colon + 1)));
    t->response_headers.append("\r\n");
    for (size_t i = start; i < start + name.size(); ++i) {
      char& c = t->response_headers[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    }
    ++t->header_count;
  } catch (const std::bad_alloc&) {
    return 0;
  }
  return n;
}

// Whether all of the response arrived: the whole header block of a status without a body, or
// every byte of the announced Content-Length.
bool ResponseComplete(CURL* easy, const Transfer* t) {
  if (t->status == 204 || t->status == 304) return t->headers_ended;
  curl_off_t expected = -1;
  curl_off_t received = 0;
  curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
  curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &received);
  return expected >= 0 && received == expected;
}

// libcurl refuses a status line or header line over its limit (CURL_MAX_HTTP_HEADER) as
// CURLE_OUT_OF_MEMORY without a word (7.88; CURLE_TOO_LARGE from 8.6). Told from a real allocation
// failure by when it came: after the whole request went out and the server's answer had begun.
bool LineOverLimit(CURL* easy, const Transfer* t, CURLcode result) {
  if (result != CURLE_OUT_OF_MEMORY && static_cast<int>(result) != kCurleTooLarge) return false;
  long request_bytes = 0;
  curl_off_t first_byte_us = 0;
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us);
  return request_bytes > 0 && first_byte_us > 0 &&
         t->bytes_sent == static_cast<curl_off_t>(t->body.size());
}

void ShrinkIfBig(std::string* s) {
  if (s->capacity() > kKeepCapacity) std::string().swap(*s);
}

}  // namespace

bool SetResponseRules(const ResponseRules& rules, std::string* error) {
  std::lock_guard<std::mutex> lock(g_rules_mu);
  if (!g_rules_set) {
    g_rules = rules;
    g_rules_set = true;
    return true;
  }
  if (rules.max_head_bytes == g_rules.max_head_bytes &&
      rules.head_too_large == g_rules.head_too_large &&
      rules.bad_content_length == g_rules.bad_content_length &&
      rules.both_framings == g_rules.both_framings) {
    return true;
  }
  *error = "another copy of lib/ set other response rules in this process";
  return false;
}

std::string OriginOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t start = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?#", start), url.size());
  // Without userinfo (user:pass@ reaches the same server, over the same connections).
  const size_t at = url.rfind('@', end - 1);
  const size_t host = at != std::string::npos && at >= start ? at + 1 : start;
  std::string origin;
  origin.reserve(start + end - host);
  origin.append(url, 0, start).append(url, host, end - host);
  for (char& c : origin) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  // The default port, written or not, is one origin.
  const auto drop = [&origin](const char* scheme_prefix, const char* port) {
    const std::string_view o(origin);
    const std::string_view p(port);
    if (o.substr(0, std::strlen(scheme_prefix)) == scheme_prefix && o.size() > p.size() &&
        o.substr(o.size() - p.size()) == p) {
      origin.resize(origin.size() - p.size());
    }
  };
  drop("http://", ":80");
  drop("https://", ":443");
  return origin;
}

bool RuntimeCurlAtLeast(unsigned version) {
  static const unsigned runtime = curl_version_info(CURLVERSION_NOW)->version_num;
  return runtime >= version;
}

char* Bytes::Reserve(size_t n) {
  if (n > capacity_) {
    data_.reset(new char[n]);
    capacity_ = n;
  }
  size_ = 0;
  return data_.get();
}

void Bytes::Assign(const char* data, size_t n) {
  if (n > 0) std::memcpy(Reserve(n), data, n);
  size_ = n;
}

void Bytes::Clear() {
  size_ = 0;
  if (capacity_ > kKeepCapacity) {
    data_.reset();
    capacity_ = 0;
  }
}

Profile::Profile()
    : serial([] {
        static std::atomic<uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
      }()) {}

Profile::~Profile() {
  curl_slist_free_all(body_headers);
  curl_slist_free_all(get_headers);
  curl_slist_free_all(connect_to);
}

Transfer::~Transfer() { curl_slist_free_all(headers); }

void Transfer::Clear() {
  id = 0;
  flags = 0;
  url.clear();
  body.Clear();
  profile.reset();
  curl_slist_free_all(headers);
  headers = nullptr;
  trace_secrets.clear();
  channel = nullptr;
  result = CURLE_OK;
  status = 0;
  os_errno = 0;
  connect_code = 0;
  via_proxy = false;
  truncated = false;
  bytes_sent = 0;
  error_detail.clear();
  for (double& ms : timing_ms) ms = -1;
  retry_after.clear();
  response_headers.clear();
  header_count = 0;
  headers_ended = false;
  head_bytes = 0;
  has_content_length = false;
  has_transfer_encoding = false;
  unreadable = nullptr;
  origin.clear();
  origin_count = nullptr;
  response_body.clear();
  ShrinkIfBig(&response_body);
  ShrinkIfBig(&response_headers);
  easy = nullptr;
  errbuf[0] = '\0';
}

#define NED_SET(option, value)                                               \
  do {                                                                       \
    if ((rc = curl_easy_setopt(easy, option, value)) != CURLE_OK) return rc; \
  } while (0)

namespace {

// libcurl asks OpenSSL to free a connection's two TLS buffers (about 16 KB each) whenever it goes
// idle, so every request on a kept-alive connection allocates them again — with libcurl's own
// buffers (see memory.h), the churn that made glibc trim and fault in the pump's heap at every
// burst. Kept, they cost that much memory per open TLS connection. OpenSSL is reached through the
// symbol libcurl itself uses (no link-time dependency on libssl); with another TLS library, or no
// such symbol, libcurl's default stays.
using SslCtxCtrl = long (*)(void*, int, long, void*);
constexpr int kSslCtrlClearMode = 78;           // SSL_CTRL_CLEAR_MODE
constexpr long kSslModeReleaseBuffers = 0x10L;  // SSL_MODE_RELEASE_BUFFERS

SslCtxCtrl OpenSslCtxCtrl() {
  static const SslCtxCtrl ctrl = []() -> SslCtxCtrl {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (info == nullptr || info->ssl_version == nullptr ||
        std::strncmp(info->ssl_version, "OpenSSL/", 8) != 0) {
      return nullptr;
    }
    return reinterpret_cast<SslCtxCtrl>(dlsym(RTLD_DEFAULT, "SSL_CTX_ctrl"));
  }();
  return ctrl;
}

CURLcode KeepTlsBuffers(CURL* /*easy*/, void* ssl_ctx, void* /*userp*/) {
  OpenSslCtxCtrl()(ssl_ctx, kSslCtrlClearMode, kSslModeReleaseBuffers, nullptr);
  return CURLE_OK;
}

}  // namespace

curl_slist* WithUserAgent(curl_slist* lines, const std::string& user_agent) {
  if (user_agent.empty()) return lines;
  static const char kName[] = "user-agent";
  constexpr size_t kNameLength = sizeof(kName) - 1;
  for (const curl_slist* l = lines; l != nullptr; l = l->next) {
    // A line "User-Agent: value" sets it, "User-Agent:" removes it, "User-Agent;" sends it empty.
    if (curl_strnequal(l->data, kName, kNameLength) &&
        (l->data[kNameLength] == ':' || l->data[kNameLength] == ';')) {
      return lines;
    }
  }
  const std::string line = "User-Agent: " + user_agent;
  curl_slist* next = curl_slist_append(lines, line.c_str());
  return next != nullptr ? next : lines;  // out of memory: the lines as they were
}

CURLcode ConfigureProfile(CURL* easy, const Profile& p, CURLSH* share) {
  CURLcode rc = CURLE_OK;
  NED_SET(CURLOPT_NOSIGNAL, 1L);  // required with threads; the threaded resolver needs no alarm
  if (RuntimeCurlAtLeast(0x075500)) {
    NED_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    NED_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  } else {
    // libcurl before 7.85 (Ubuntu 22.04 has 7.81) knows only the bitmask options, deprecated since.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    NED_SET(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    NED_SET(CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
  }
  NED_SET(CURLOPT_FOLLOWLOCATION, 0L);  // a 3xx is an answer, never followed
  NED_SET(CURLOPT_TIMEOUT_MS, p.timeout_ms);
  NED_SET(CURLOPT_CONNECTTIMEOUT_MS, p.connect_timeout_ms);
  NED_SET(CURLOPT_WRITEFUNCTION, OnBody);
  NED_SET(CURLOPT_HEADERFUNCTION, OnHeader);
  // The agent goes to the server as a header line (WithUserAgent); libcurl needs the option only
  // for a proxy's CONNECT, which does not get the header lines.
  if (!p.http_proxy.empty() || !p.https_proxy.empty()) {
    NED_SET(CURLOPT_USERAGENT, p.user_agent.c_str());
  }
  if (share != nullptr) NED_SET(CURLOPT_SHARE, share);
  if (p.verbose) {
    // The trace is written by OnTrace, which masks credentials (libcurl's own prints them).
    NED_SET(CURLOPT_DEBUGFUNCTION, OnTrace);
    NED_SET(CURLOPT_VERBOSE, 1L);
  }
  // Always "": lib/ matches no_proxy (kDirect), and libcurl would otherwise read it from the
  // environment itself.
  NED_SET(CURLOPT_NOPROXY, "");
  if (!p.ca_file.empty()) {
    NED_SET(CURLOPT_CAINFO, p.ca_file.c_str());
    NED_SET(CURLOPT_PROXY_CAINFO, p.ca_file.c_str());
  }
  if (OpenSslCtxCtrl() != nullptr) NED_SET(CURLOPT_SSL_CTX_FUNCTION, KeepTlsBuffers);
  if (p.insecure) {
    NED_SET(CURLOPT_SSL_VERIFYPEER, 0L);
    NED_SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  NED_SET(CURLOPT_HTTP_VERSION, p.http2 ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
                                        : static_cast<long>(CURL_HTTP_VERSION_1_1));
  if (p.connect_to != nullptr) NED_SET(CURLOPT_CONNECT_TO, p.connect_to);
  return CURLE_OK;
}

CURLcode ConfigureTransfer(CURL* easy, Transfer* t) {
  const Profile& p = *t->profile;
  CURLcode rc = CURLE_OK;
  t->errbuf[0] = '\0';
  NED_SET(CURLOPT_PRIVATE, static_cast<void*>(t));
  NED_SET(CURLOPT_URL, t->url.c_str());
  NED_SET(CURLOPT_ERRORBUFFER, t->errbuf);
  NED_SET(CURLOPT_WRITEDATA, static_cast<void*>(t));
  NED_SET(CURLOPT_HEADERDATA, static_cast<void*>(t));
  if (p.verbose) NED_SET(CURLOPT_DEBUGDATA, static_cast<void*>(t));
  // An empty proxy string means "direct" and also stops libcurl from reading the environment.
  const bool https = t->https();
  NED_SET(CURLOPT_PROXY,
          (t->flags & kDirect) ? "" : (https ? p.https_proxy : p.http_proxy).c_str());
  // Over h2, wait for a connection that can multiplex instead of opening one per request.
  NED_SET(CURLOPT_PIPEWAIT, p.http2 && https ? 1L : 0L);

  const bool bodiless = t->verb == Verb::kGet || t->verb == Verb::kHead ||
                        (t->verb == Verb::kDelete && t->body.size() == 0);
  curl_slist* lines =
      t->headers != nullptr ? t->headers : (bodiless ? p.get_headers : p.body_headers);
  NED_SET(CURLOPT_HTTPHEADER, lines);
  static const char* const kCustom[kVerbCount] = {nullptr, nullptr,  "PUT",
                                                  "PATCH", "DELETE", nullptr};
  if (bodiless) {
    NED_SET(CURLOPT_HTTPGET, 1L);  // also undoes a previous transfer's POST and NOBODY
    NED_SET(CURLOPT_NOBODY, t->verb == Verb::kHead ? 1L : 0L);
  } else {
    NED_SET(CURLOPT_NOBODY, 0L);
    // The size first: with it set, libcurl sends the bytes as they are (no strlen, NULs kept).
    NED_SET(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    NED_SET(CURLOPT_POSTFIELDS, t->body.data());
  }
  NED_SET(CURLOPT_CUSTOMREQUEST, kCustom[static_cast<int>(t->verb)]);
  return CURLE_OK;
}

#undef NED_SET

void CollectResult(CURL* easy, Transfer* t, CURLcode result) {
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status);
  curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &t->bytes_sent);
  // A server may send its complete response before it has read the whole request and then stop
  // the upload: over HTTP/2 with RST_STREAM(NO_ERROR) (RFC 9113 section 8.1: clients must not
  // discard that response), over HTTP/1.1 by closing. nginx's "return 204" does this. libcurl 7.88
  // reports a stream, send, receive or timeout error then; a complete final response is the
  // server's answer all the same, so it wins over such an error.
  const bool after_answer = result == CURLE_HTTP2_STREAM || result == CURLE_HTTP2 ||
                            result == CURLE_SEND_ERROR || result == CURLE_RECV_ERROR ||
                            result == CURLE_OPERATION_TIMEDOUT;
  if (after_answer && t->status >= 200 && ResponseComplete(easy, t)) result = CURLE_OK;
  // A head the package cannot read is the server's fault, never a delivery: EPROTO.
  if (t->unreadable == nullptr && LineOverLimit(easy, t, result)) {
    t->unreadable = g_rules.head_too_large.c_str();
  }
  if (t->unreadable != nullptr) result = CURLE_WEIRD_SERVER_REPLY;
  t->result = result;
  if (t->profile->timings) {
    const CURLINFO points[5] = {CURLINFO_NAMELOOKUP_TIME_T, CURLINFO_CONNECT_TIME_T,
                                CURLINFO_APPCONNECT_TIME_T, CURLINFO_STARTTRANSFER_TIME_T,
                                CURLINFO_TOTAL_TIME_T};
    for (int i = 0; i < 5; ++i) {
      curl_off_t us = 0;
      if (curl_easy_getinfo(easy, points[i], &us) != CURLE_OK) continue;
      // libcurl reports 0 for a phase that did not happen, and also for one that took no time (a
      // reused connection): after a success every phase happened, but TLS only for https.
      const bool happened = us > 0 || (result == CURLE_OK && (i != 2 || t->https()));
      if (happened) t->timing_ms[i] = static_cast<double>(us) / 1000.0;
    }
  }
  if (result == CURLE_OK) return;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &t->os_errno);
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &t->connect_code);
  const std::string& proxy = t->https() ? t->profile->https_proxy : t->profile->http_proxy;
  t->via_proxy = !proxy.empty() && !(t->flags & kDirect);
  if (t->unreadable != nullptr) {
    t->error_detail = t->unreadable;
  } else {
    t->error_detail.assign(t->errbuf, strnlen(t->errbuf, sizeof(t->errbuf)));
  }
}

void FailTransfer(Transfer* t, CURLcode code, const char* detail) {
  t->result = code;
  t->status = 0;
  t->error_detail = detail != nullptr ? detail : "";
}

size_t DeleteTransfersOf(std::vector<Transfer*>* list, const Channel* ch) {
  const auto first = std::remove_if(list->begin(), list->end(), [ch](Transfer* t) {
    if (t->channel != ch) return false;
    delete t;
    return true;
  });
  const auto deleted = static_cast<size_t>(list->end() - first);
  list->erase(first, list->end());
  return deleted;
}

}  // namespace ned
