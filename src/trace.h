// The opt-in trace (NATIVE_EVENT_DISPATCHER_TRACE=1, a profile's `verbose`): what libcurl's
// CURLOPT_VERBOSE prints on stderr — its info lines ("* ..."), the request's header block ("> ...")
// and the response's header lines ("< ...") — written here, so that no credential is printed:
//   - the values of the headers named secret by lib/ (the profile's list and the transfer's own,
//     from lib/redact.js's rule; C++ has no rule of its own) become "***", an Authorization or
//     Proxy-Authorization keeping its scheme word ("Basic ***");
//   - every query value of a request line becomes "***" ("POST /v1/events?a=***&b=*** HTTP/1.1"),
//     and so does the userinfo of a URL in any line;
//   - the user name libcurl names in "Server auth using Basic with user '...'" becomes "***".
// Bodies (libcurl's data lines) are never printed, as libcurl's own verbose output does not.
// Runs on the pump thread: no N-API, only stderr.
#pragma once

#include <curl/curl.h>

#include <cstddef>

namespace ned {

// CURLOPT_DEBUGFUNCTION; its CURLOPT_DEBUGDATA is the Transfer.
int OnTrace(CURL* easy, curl_infotype type, char* data, size_t size, void* userp) noexcept;

}  // namespace ned
