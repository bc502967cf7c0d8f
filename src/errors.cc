#include "errors.h"

#include <algorithm>
#include <cerrno>

namespace ned {

const char* ErrorCode(const Transfer& t) {
  switch (t.result) {
    case CURLE_COULDNT_CONNECT:
      // Through an HTTP proxy we only ever connect to the proxy.
      if (t.via_proxy) return "EPROXY";
      if (t.os_errno == EHOSTUNREACH) return "EHOSTUNREACH";
      if (t.os_errno == ENETUNREACH) return "ENETUNREACH";
      return "ECONNREFUSED";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "ENOTFOUND";
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY:
      return "EPROXY";
    case CURLE_OPERATION_TIMEDOUT:
      return "ETIMEDOUT";
    case CURLE_RECV_ERROR:
      // A proxy that refuses the CONNECT tunnel is reported as a receive error.
      if (t.connect_code != 0 && (t.connect_code < 200 || t.connect_code > 299)) return "EPROXY";
      // So is a body whose chunked encoding libcurl cannot read: the server's bytes are wrong, not
      // the connection ("... in chunked-encoding" in 7.88, "chunk hex-length ..." in 8.x).
      if (t.error_detail.find("chunk") != std::string::npos) return "EPROTO";
      return "ECONNRESET";
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return "ECONNRESET";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
      return "ECERT";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
      return "ETLS";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "EPROTO";
    case CURLE_ABORTED_BY_CALLBACK:
      return "EABORTED";
    case CURLE_OUT_OF_MEMORY:
      return "ENOMEM";
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FAILED_INIT:
      return "EINVAL";
    default:
      return "ECURL";
  }
}

const char* ErrorCodeMissingFrom(const std::vector<std::string>& codes) {
  // Every case of ErrorCode(): each CURLcode, with and without a proxy, an errno it tells apart,
  // a CONNECT refused and a chunked-encoding detail.
  Transfer t;
  for (int result = 0; result <= CURL_LAST; ++result) {
    t.result = static_cast<CURLcode>(result);
    for (int variant = 0; variant < 16; ++variant) {
      t.via_proxy = (variant & 1) != 0;
      t.os_errno = (variant & 2) != 0 ? EHOSTUNREACH : (variant & 4) != 0 ? ENETUNREACH : 0;
      t.connect_code = (variant & 8) != 0 ? 407 : 0;
      t.error_detail = (variant & 8) != 0 ? "" : "chunk";
      const char* code = ErrorCode(t);
      if (std::find(codes.begin(), codes.end(), code) == codes.end()) return code;
    }
  }
  return nullptr;
}

std::string ErrorMessage(const Transfer& t, const CurlTexts& texts) {
  const size_t i = static_cast<size_t>(t.result);
  std::string message =
      i < texts.size() && !texts[i].empty() ? texts[i] : curl_easy_strerror(t.result);
  if (!t.error_detail.empty() && t.error_detail != message) {
    message.append(" (").append(t.error_detail).append(")");
  }
  return message;
}

}  // namespace ned
