// Failures without an HTTP response: a stable string code per libcurl error and a readable message.
// lib/ builds the DispatchError from them, and owns the table of codes and the words
// (lib/transport/failures.js), handed over at setup().
#pragma once

#include <string>
#include <vector>

#include "request.h"

namespace ned {

// The words for each CURLcode, by number, as lib/ gives them; an empty one: libcurl's own.
using CurlTexts = std::vector<std::string>;

// Stable code for a failed transfer: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ECONNRESET, ECERT, ...
const char* ErrorCode(const Transfer& t);

// A code ErrorCode() can give that is not among `codes` (lib/'s table), or null when none is: the
// addon refuses to start with a table that lacks one.
const char* ErrorCodeMissingFrom(const std::vector<std::string>& codes);

// "<the words for t.result> (<libcurl's detail>)" for `t`.
std::string ErrorMessage(const Transfer& t, const CurlTexts& texts);

}  // namespace ned
