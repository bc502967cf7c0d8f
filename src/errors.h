// Failures without an HTTP response: a stable string code per libcurl error, a readable message,
// and the JS DispatchError built from them (the class is handed to C++ once, at load).
#pragma once

#include <napi.h>

#include <string>

#include "request.h"

namespace ned {

// Stable code for a failed transfer: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ECONNRESET, ECERT, ...
const char* ErrorCode(const Transfer& t);

// "<curl_easy_strerror> (<libcurl's detail>)" for `t`.
std::string ErrorMessage(const Transfer& t);

// new DispatchError(message, code, curlCode, site, statusCode) with the stack of the call site.
Napi::Value MakeDispatchError(Napi::Env env, const Napi::FunctionReference& error_class,
                              const Transfer& t, Napi::Value site);

}  // namespace ned
