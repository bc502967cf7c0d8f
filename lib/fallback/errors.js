'use strict';
// Failures of the fallback transport as the native transport reports them: the same stable code,
// libcurl's number for the same situation, and libcurl's wording with Node's or undici's detail in
// parentheses ("Couldn't connect to server (connect ECONNREFUSED 127.0.0.1:9)"), from the one
// table of words (lib/transport/failures.js).
const { CURL_TEXTS } = require('../transport/failures');
// A response the package cannot read: the words and the head's limit are the native transport's
// too (lib/transport/protocol.js).
const { UNREADABLE } = require('../transport/protocol');

// OpenSSL's X.509 verification results as Node names them (tls docs, "X509 certificate error
// codes"), plus Node's own host name check.
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UND_ERR_PRX_TLS',
]);
const RESOLVE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
// Refusals of the request itself by undici or Node (a header undici will not send, and the like).
const ARGUMENT_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
]);

// llhttp's reasons (undici gives no code with them) for a status line that is not HTTP's, and for a
// body whose chunked encoding cannot be read: libcurl's CURLE_UNSUPPORTED_PROTOCOL and RECV_ERROR.
const NOT_A_STATUS_LINE =
  /Expected HTTP\/|HTTP version|major version|minor version|Expected dot|after version|response status|status code|response line|after start line/;
const BOTH_FRAMINGS_REASON =
  /Content-Length can't be present with Transfer-Encoding|Transfer-Encoding can't be present with Content-Length/;

function failure(code, curlCode, detail) {
  const text = CURL_TEXTS[curlCode] || 'Unexpected failure in the fallback transport';
  const message = detail && detail !== text ? `${text} (${detail})` : text;
  return { code, curlCode, message };
}

// Node's messages for OpenSSL errors end with the source position; the reason is what reads well.
function detailOf(err) {
  if (err.library === 'SSL routines' && err.reason) return err.reason;
  return String(err.message || err.code || err).trim();
}

// err: what undici reported. how: { https, viaProxy, started, statusCode, connectTimeoutMs }, where
// `started` means the request was handed to a connected socket (so the connection and any TLS
// handshake or proxy tunnel had succeeded) and `statusCode` is a status line already received.
function classify(err, how) {
  const code = err && err.code;
  const detail = detailOf(err);

  // The proxy refused the CONNECT tunnel; libcurl 7.88 reports it as a receive error.
  const tunnel = /^Proxy response \((\d{3})\)/.exec(err && err.message);
  if (tunnel) return failure('EPROXY', 56, `CONNECT tunnel failed, response ${tunnel[1]}`);
  if (code === 'UND_ERR_INVALID_ARG' && /Proxy Authentication Required/.test(detail)) {
    return failure('EPROXY', 97, detail);
  }
  if (TIMEOUT_CODES.has(code)) {
    const what =
      code === 'UND_ERR_CONNECT_TIMEOUT'
        ? `Connection timed out after ${how.connectTimeoutMs} milliseconds`
        : detail;
    return failure('ETIMEDOUT', 28, what);
  }
  if (CERTIFICATE_CODES.has(code)) return failure('ECERT', 60, detail);
  if (
    (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) ||
    err.library === 'SSL routines'
  ) {
    return failure('ETLS', 35, detail);
  }
  if (RESOLVE_CODES.has(code) || err.syscall === 'getaddrinfo') {
    return how.viaProxy ? failure('EPROXY', 5, detail) : failure('ENOTFOUND', 6, detail);
  }
  if (err.syscall === 'connect' && !how.started) {
    // Through an HTTP proxy the only connection this side makes is to the proxy.
    if (how.viaProxy) return failure('EPROXY', 7, detail);
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return failure(code, 7, detail);
    return failure('ECONNREFUSED', 7, detail);
  }
  // A connection that ends before the TLS handshake completes is a handshake failure for libcurl.
  if (
    how.https &&
    !how.started &&
    (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')
  ) {
    return failure('ETLS', 35, detail);
  }
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return headTooLarge();
  // undici joins every Content-Length value and finds the body's length is not that "number".
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
    return failure('EPROTO', 8, UNREADABLE.badContentLength);
  if (code === 'UND_ERR_SOCKET') {
    // An interim answer (1xx) is no response: the connection closed before one, as libcurl says.
    return how.statusCode >= 200
      ? failure('ECONNRESET', 18, `transfer closed with outstanding read data remaining: ${detail}`)
      : failure('ECONNRESET', 52, detail);
  }
  if (code === 'EPIPE' || err.syscall === 'write') return failure('ECONNRESET', 55, detail);
  if (
    code === 'ECONNRESET' ||
    code === 'ECONNABORTED' ||
    err.syscall === 'read' ||
    code === 'UND_ERR_INFO'
  ) {
    return failure('ECONNRESET', 56, detail);
  }
  if (
    (err && err.name === 'HTTPParserError') ||
    (typeof code === 'string' && code.startsWith('HPE_'))
  ) {
    if (/chunk/i.test(detail)) return failure('EPROTO', 56, detail);
    if (NOT_A_STATUS_LINE.test(detail)) return failure('EPROTO', 1, detail);
    if (BOTH_FRAMINGS_REASON.test(detail)) return failure('EPROTO', 8, UNREADABLE.bothFramings);
    if (/Duplicate Content-Length|Content-Length overflow/.test(detail))
      return failure('EPROTO', 8, UNREADABLE.badContentLength);
    return failure('EPROTO', 8, detail);
  }
  if (code === 'ERR_HTTP2_STREAM_ERROR' || code === 'ERR_HTTP2_STREAM_CANCEL')
    return failure('EPROTO', 92, detail);
  if (typeof code === 'string' && code.startsWith('ERR_HTTP2_'))
    return failure('EPROTO', 16, detail);
  if (ARGUMENT_CODES.has(code)) return failure('EINVAL', 43, detail);
  // No libcurl situation matches: no libcurl number either (0), and the whole story in the message.
  return failure('ECURL', 0, `${err && err.name ? `${err.name}: ` : ''}${detail}`);
}

const headTooLarge = () => failure('EPROTO', 8, UNREADABLE.headTooLarge);
// libcurl reads a status from 100 to 999 only (undici trips over an assertion below 100).
const unsupportedStatus = () => failure('EPROTO', 1, 'Unsupported response code in HTTP response');
const timedOut = (ms, bytes) =>
  failure(
    'ETIMEDOUT',
    28,
    `Operation timed out after ${ms} milliseconds with ${bytes} bytes received`,
  );
const aborted = () => failure('EABORTED', 42, 'abort() was called');
const caFileUnusable = (file, reason) =>
  failure('ECERT', 77, `cannot use caFile ${file}: ${reason}`);

module.exports = {
  classify,
  timedOut,
  aborted,
  caFileUnusable,
  headTooLarge,
  unsupportedStatus,
};
