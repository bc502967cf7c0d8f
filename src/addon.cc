// Module entry: process-wide libcurl setup, then one Binding (and pump channel) per environment.
#include <curl/curl.h>
#include <napi.h>

#include <cstdlib>
#include <mutex>

#include "binding.h"
#include "memory.h"
#include "pump.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  static CURLcode global_result = CURLE_OK;
  std::call_once(once, [] {
    global_result = ned::memory::GlobalInit(CURL_GLOBAL_DEFAULT);
    // Links the URL API (7.62), as the addon did when it read URLs with it: with -z now a libcurl
    // older than that is refused at load ("undefined symbol: curl_url"), which lib/binding.js
    // answers with the fallback and its reason, instead of loading and failing later.
    curl_url_cleanup(curl_url());
    // Registered after libcurl (and its TLS library) initialised, so it runs before their exit
    // handlers: an exit with transfers in flight must not free TLS state under them.
    if (global_result == CURLE_OK) std::atexit([] { ned::Pump::HaltProcess(); });
  });
  if (global_result != CURLE_OK) {
    throw Napi::Error::New(env, std::string("native-event-dispatcher: curl_global_init failed: ") +
                                    curl_easy_strerror(global_result));
  }
  return ned::Binding::Init(env, exports);
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
