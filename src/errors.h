// Failures without an HTTP response: a stable string code per libcurl error and a readable message.
// lib/ builds the DispatchError from them.
#pragma once

#include <string>

#include "request.h"

namespace ned {

// Stable code for a failed transfer: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ECONNRESET, ECERT, ...
const char* ErrorCode(const Transfer& t);

// curl_easy_strerror's words for `result`, reworded where they name what the package never does
// (60: "SSL peer certificate was not OK", not "... or SSH remote key ...").
const char* Description(CURLcode result);

// "<Description> (<libcurl's detail>)" for `t`.
std::string ErrorMessage(const Transfer& t);

}  // namespace ned
