#include "trace.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "request.h"

namespace ned {

namespace {

constexpr std::string_view kMask = "***";
constexpr size_t npos = std::string_view::npos;

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// An HTTP token (RFC 9110 section 5.6.2): a header name, an auth scheme.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool symbol = c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!std::isalnum(static_cast<unsigned char>(c)) && !symbol) return false;
  }
  return true;
}

bool Named(const std::vector<std::string>& names, std::string_view name) {
  for (const std::string& n : names) {
    if (EqualsNoCase(n, name)) return true;
  }
  return false;
}

// A URL or request target with its userinfo and every query value masked:
// "http://u:p@host/p?a=1&b" -> "http://***@host/p?a=***&***" (a fragment is never sent).
void AppendMaskedTarget(std::string* out, std::string_view target) {
  const size_t scheme = target.find("://");
  if (scheme != npos) {
    const size_t host = scheme + 3;
    const size_t end = std::min(target.find_first_of("/?#", host), target.size());
    const size_t at = end > host ? target.rfind('@', end - 1) : npos;
    if (at != npos && at >= host) {
      out->append(target.substr(0, host)).append(kMask);
      target.remove_prefix(at);  // from the '@' on
    }
  }
  const size_t query = target.find('?');
  out->append(target.substr(0, query));
  if (query == npos) return;
  const size_t fragment = target.find('#', query);
  std::string_view params =
      target.substr(query + 1, fragment == npos ? npos : fragment - query - 1);
  out->push_back('?');
  while (true) {
    const size_t end = params.find_first_of("&;");
    const std::string_view param = params.substr(0, end);
    const size_t equals = param.find('=');
    if (equals != npos) {
      out->append(param.substr(0, equals + 1)).append(kMask);
    } else if (!param.empty()) {
      out->append(kMask);  // a bare value may be a token itself
    }
    if (end == npos) break;
    out->push_back(params[end]);
    params.remove_prefix(end + 1);
  }
  if (fragment != npos) out->append(target.substr(fragment));
}

// One of libcurl's info lines: the user name of "Server auth using Basic with user 'name'" (often
// a token on its own) and any URL's userinfo and query values masked.
void AppendMaskedText(std::string* out, std::string_view text) {
  static constexpr std::string_view kUser = "with user '";
  while (!text.empty()) {
    const size_t url = text.find("://");
    const size_t user = text.find(kUser);
    if (url == npos && user == npos) break;
    if (user < url) {
      const size_t name = user + kUser.size();
      out->append(text.substr(0, name)).append(kMask);
      text.remove_prefix(std::min(text.find('\'', name), text.size()));
      continue;
    }
    const size_t before = text.find_last_of(" \t'\"(<", url);
    const size_t start = before == npos ? 0 : before + 1;
    const size_t end = std::min(text.find_first_of(" \t'\")>\r\n", url), text.size());
    out->append(text.substr(0, start));
    AppendMaskedTarget(out, text.substr(start, end - start));
    text.remove_prefix(end);
  }
  out->append(text);
}

// One line of a request's or response's head, without its line end. A request line keeps its
// method, path and version; a header its name, and its value unless the name is secret; anything
// else (a piece of a header block libcurl sent in parts, a folded line) is masked whole.
void AppendHeadLine(std::string* out, std::string_view line, const Transfer* t) {
  if (line.empty()) return;
  const size_t first_space = line.find(' ');
  const size_t last_space = line.rfind(' ');
  if (line.compare(0, 5, "HTTP/") == 0) {  // a status line
    out->append(line);
    return;
  }
  if (first_space != npos && last_space > first_space &&
      line.compare(last_space + 1, 5, "HTTP/") == 0 && IsToken(line.substr(0, first_space))) {
    out->append(line.substr(0, first_space + 1));
    AppendMaskedTarget(out, line.substr(first_space + 1, last_space - first_space - 1));
    out->append(line.substr(last_space));
    return;
  }
  const size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == npos || !IsToken(name)) {
    out->append(kMask);
    return;
  }
  const bool secret =
      t == nullptr || Named(t->profile->trace_secrets, name) || Named(t->trace_secrets, name);
  if (!secret) {
    out->append(line);
    return;
  }
  std::string_view value = line.substr(colon + 1);
  const size_t start = value.find_first_not_of(" \t");
  value.remove_prefix(start == npos ? value.size() : start);
  out->append(line.substr(0, colon + 1)).push_back(' ');
  // "Basic ***": the scheme says what kind of credential it was (RFC 9110 section 11.4).
  if (EqualsNoCase(name, "authorization") || EqualsNoCase(name, "proxy-authorization")) {
    const size_t space = value.find(' ');
    if (space != npos && IsToken(value.substr(0, space))) out->append(value.substr(0, space + 1));
  }
  out->append(kMask);
}

// Each line of `block` (CRLF- or LF-separated) after `prefix`.
void AppendHead(std::string* out, const char* prefix, std::string_view block, const Transfer* t) {
  while (!block.empty()) {
    const size_t eol = block.find('\n');
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == npos ? block.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    out->append(prefix);
    AppendHeadLine(out, line, t);
    out->push_back('\n');
  }
}

}  // namespace

int OnTrace(CURL* /*easy*/, curl_infotype type, char* data, size_t size, void* userp) noexcept {
  const auto* t = static_cast<const Transfer*>(userp);
  const std::string_view text(data, size);
  try {
    std::string out;
    switch (type) {
      case CURLINFO_TEXT:
        out.append("* ");
        AppendMaskedText(&out, text);
        if (out.back() != '\n') out.push_back('\n');
        break;
      case CURLINFO_HEADER_OUT:
        AppendHead(&out, "> ", text, t);
        break;
      case CURLINFO_HEADER_IN:
        AppendHead(&out, "< ", text, t);
        break;
      default:
        return 0;  // bodies and TLS records: never printed
    }
    std::fwrite(out.data(), 1, out.size(), stderr);
  } catch (...) {
    // Out of memory: this line of the trace is lost, the transfer goes on.
  }
  return 0;
}

}  // namespace ned
