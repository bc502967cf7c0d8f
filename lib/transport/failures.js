'use strict';
// Requests that got no (complete) HTTP response, defined here only: the DispatchError codes (the
// typings' DispatchErrorCode is checked against this table by test/failures.test.js), whether the
// delivery policy retries each, and the words for libcurl's codes. The addon takes the codes and
// the words when it loads (setup(), lib/binding.js); the fallback and lib/retry.js import them.

// code -> whether it may succeed later (no response, or the connection broke).
const FAILURES = Object.freeze({
  ECONNREFUSED: { retry: true },
  EHOSTUNREACH: { retry: true },
  ENETUNREACH: { retry: true },
  ENOTFOUND: { retry: true },
  ETIMEDOUT: { retry: true },
  ECONNRESET: { retry: true },
  ECERT: { retry: false },
  ETLS: { retry: true },
  EPROXY: { retry: true },
  EPROTO: { retry: true },
  EABORTED: { retry: false },
  ENOMEM: { retry: false },
  EINVAL: { retry: false },
  ECURL: { retry: false },
});
const ERROR_CODES = Object.freeze(Object.keys(FAILURES));

// The error codes named, checked: a misspelt one throws when its module loads.
function errorCodes(...codes) {
  for (const code of codes) {
    if (!Object.hasOwn(FAILURES, code)) throw new Error(`${code} is not a DispatchError code`);
  }
  return codes;
}

// The words for a libcurl code, the same from both transports: curl_easy_strerror() of libcurl 7.88
// for the codes the fallback reports, reworded where libcurl names what the package never does
// (an SSH key, a file, a disk). The addon says libcurl's own words for the others.
const CURL_TEXTS = Object.freeze({
  1: 'Unsupported protocol',
  5: "Couldn't resolve proxy name",
  6: "Couldn't resolve host name",
  7: "Couldn't connect to server",
  8: 'Weird server reply',
  16: 'Error in the HTTP2 framing layer',
  18: 'Received a partial response',
  23: 'Failed writing received data to the application',
  28: 'Timeout was reached',
  35: 'SSL connect error',
  42: 'Operation was aborted by an application callback',
  43: 'A libcurl function was given a bad argument',
  52: 'Server returned nothing (no headers, no data)',
  55: 'Failed sending data to the peer',
  56: 'Failure when receiving data from the peer',
  60: 'SSL peer certificate was not OK',
  77: 'Problem with the SSL CA cert (path? access rights?)',
  92: 'Stream error in the HTTP/2 framing layer',
  97: 'proxy handshake error',
});

module.exports = { FAILURES, ERROR_CODES, errorCodes, CURL_TEXTS };
