#include "request.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <new>
#include <string_view>

namespace ned {

namespace {

// Response headers are bounded like the body, so a hostile server cannot grow our memory.
constexpr size_t kMaxHeaderCount = 128;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

size_t HeaderBytes(const Transfer* t) {
  size_t total = 0;
  for (const Header& h : t->headers) total += h.name.size() + h.value.size();
  return total;
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * nmemb;
  if (t->sink_id != 0) return n;  // nobody reads it
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

size_t OnHeader(char* data, size_t size, size_t nitems, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
    // A new response starts (after 100 Continue or a proxy's CONNECT answer): keep only the last.
    t->headers.clear();
    return n;
  }
  line = Trim(line);
  if (line.empty()) return n;
  if (t->sink_id != 0 && !StartsWithNoCase(line, "retry-after:")) return n;
  try {
    if ((data[0] == ' ' || data[0] == '\t') && !t->headers.empty()) {
      // Obsolete line folding: the line continues the previous value.
      t->headers.back().value.append(" ").append(line);
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;
    if (t->headers.size() >= kMaxHeaderCount || HeaderBytes(t) + line.size() > kMaxHeaderBytes) {
      return n;
    }
    std::string name(Trim(line.substr(0, colon)));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; });
    std::string_view value = Trim(line.substr(colon + 1));
    for (Header& h : t->headers) {
      if (h.name == name) {  // repeated header: joined the way Node's http joins them
        h.value.append(", ").append(value);
        return n;
      }
    }
    t->headers.push_back(Header{std::move(name), std::string(value)});
  } catch (const std::bad_alloc&) {
    return 0;
  }
  return n;
}

// Mirrors libcurl's no_proxy rules closely enough to tell whether a failed connect went to a
// proxy: "*" matches all; otherwise a comma list of host names (suffix match on a dot boundary,
// a leading dot ignored) or literal addresses.
bool NoProxyMatches(const std::string& list, const std::string& host) {
  if (list.empty()) return false;
  std::string_view h(host);
  if (h.size() > 1 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string_view entry = Trim(std::string_view(list).substr(start, end - start));
    start = end + 1;
    if (entry == "*") return true;
    if (!entry.empty() && entry.front() == '.') entry.remove_prefix(1);
    if (entry.empty() || entry.size() > h.size()) continue;
    const std::string_view tail = h.substr(h.size() - entry.size());
    const bool same = std::equal(tail.begin(), tail.end(), entry.begin(), entry.end(),
                                 [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    if (same && (tail.size() == h.size() || h[h.size() - entry.size() - 1] == '.')) return true;
  }
  return false;
}

// Whether all of the response arrived: a status without a body, or every byte of the announced
// Content-Length.
bool ResponseComplete(CURL* easy, long status) {
  if (status == 204 || status == 304) return true;
  curl_off_t expected = -1;
  curl_off_t received = 0;
  curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
  curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &received);
  return expected >= 0 && received == expected;
}

}  // namespace

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
  std::memcpy(Reserve(n), data, n);
  size_ = n;
}

void Bytes::Clear() {
  size_ = 0;
  if (capacity_ > (1u << 20)) {  // big buffers are not worth keeping for the next event
    data_.reset();
    capacity_ = 0;
  }
}

Profile::~Profile() {
  curl_slist_free_all(body_headers);
  curl_slist_free_all(get_headers);
  curl_slist_free_all(connect_to);
}

void Transfer::Clear() {
  url.clear();
  host.clear();
  body.Clear();
  profile.reset();
  result = CURLE_OK;
  status = 0;
  os_errno = 0;
  connect_code = 0;
  via_proxy = false;
  truncated = false;
  error_detail.clear();
  response_body.clear();
  headers.clear();
  settle_handle = nullptr;
  site_handle = nullptr;
  sink_id = 0;
  easy = nullptr;
  errbuf[0] = '\0';
  for (double& ms : timing_ms) ms = -1;
  if (response_body.capacity() > (1u << 20)) std::string().swap(response_body);
}

CURLcode ConfigureEasy(CURL* easy, Transfer* t, CURLSH* share) {
  const Profile& p = *t->profile;
  CURLcode rc = CURLE_OK;
#define NED_SET(option, value)                                               \
  do {                                                                       \
    if ((rc = curl_easy_setopt(easy, option, value)) != CURLE_OK) return rc; \
  } while (0)

  t->errbuf[0] = '\0';
  NED_SET(CURLOPT_PRIVATE, static_cast<void*>(t));
  NED_SET(CURLOPT_URL, t->url.c_str());
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
  NED_SET(CURLOPT_ERRORBUFFER, t->errbuf);
  NED_SET(CURLOPT_WRITEFUNCTION, OnBody);
  NED_SET(CURLOPT_WRITEDATA, static_cast<void*>(t));
  NED_SET(CURLOPT_HEADERFUNCTION, OnHeader);
  NED_SET(CURLOPT_HEADERDATA, static_cast<void*>(t));
  NED_SET(CURLOPT_USERAGENT, p.user_agent.c_str());
  if (share != nullptr) NED_SET(CURLOPT_SHARE, share);
  if (p.verbose) NED_SET(CURLOPT_VERBOSE, 1L);

  // An empty proxy string means "direct" and also stops libcurl from reading the environment.
  const std::string& proxy = t->https ? p.https_proxy : p.http_proxy;
  NED_SET(CURLOPT_PROXY, proxy.c_str());
  // Always set, even to "": otherwise libcurl reads no_proxy from the environment itself.
  NED_SET(CURLOPT_NOPROXY, p.no_proxy.c_str());

  if (!p.ca_file.empty()) {
    NED_SET(CURLOPT_CAINFO, p.ca_file.c_str());
    NED_SET(CURLOPT_PROXY_CAINFO, p.ca_file.c_str());
  }
  if (p.insecure) {
    NED_SET(CURLOPT_SSL_VERIFYPEER, 0L);
    NED_SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  NED_SET(CURLOPT_HTTP_VERSION, p.http2 ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
                                        : static_cast<long>(CURL_HTTP_VERSION_1_1));
  // Over h2, wait for a connection that can multiplex instead of opening one per request.
  if (p.http2 && t->https) NED_SET(CURLOPT_PIPEWAIT, 1L);
  if (p.connect_to != nullptr) NED_SET(CURLOPT_CONNECT_TO, p.connect_to);

  switch (t->verb) {
    case Verb::kGet:
      NED_SET(CURLOPT_HTTPGET, 1L);
      NED_SET(CURLOPT_HTTPHEADER, p.get_headers);
      break;
    case Verb::kPut:
    case Verb::kPatch:
      NED_SET(CURLOPT_CUSTOMREQUEST, t->verb == Verb::kPut ? "PUT" : "PATCH");
      [[fallthrough]];
    case Verb::kPost:
      // The size first: with it set, libcurl sends the bytes as they are (no strlen, NULs kept).
      NED_SET(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
      NED_SET(CURLOPT_POSTFIELDS, t->body.data());
      NED_SET(CURLOPT_HTTPHEADER, p.body_headers);
      break;
  }
#undef NED_SET
  return CURLE_OK;
}

void CollectResult(CURL* easy, Transfer* t, CURLcode result) {
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status);
  // A server may send its complete response before it has read the whole request and then stop
  // the upload: over HTTP/2 with RST_STREAM(NO_ERROR) (RFC 9113 section 8.1: clients must not
  // discard that response), over HTTP/1.1 by closing. nginx's "return 204" does this. libcurl 7.88
  // reports a stream, send, receive or timeout error then; a complete final response is the
  // server's answer all the same, so it wins over such an error.
  const bool after_answer = result == CURLE_HTTP2_STREAM || result == CURLE_HTTP2 ||
                            result == CURLE_SEND_ERROR || result == CURLE_RECV_ERROR ||
                            result == CURLE_OPERATION_TIMEDOUT;
  if (after_answer && t->status >= 200 && ResponseComplete(easy, t->status)) result = CURLE_OK;
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
      const bool happened = us > 0 || (result == CURLE_OK && (i != 2 || t->https));
      if (happened) t->timing_ms[i] = static_cast<double>(us) / 1000.0;
    }
  }
  if (result == CURLE_OK) return;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &t->os_errno);
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &t->connect_code);
  const std::string& proxy = t->https ? t->profile->https_proxy : t->profile->http_proxy;
  t->via_proxy = !proxy.empty() && !NoProxyMatches(t->profile->no_proxy, t->host);
  t->error_detail.assign(t->errbuf, strnlen(t->errbuf, sizeof(t->errbuf)));
}

}  // namespace ned
