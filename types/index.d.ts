// Type definitions for native-event-dispatcher (hand-written; checked by tsd in test/types).

/** The HTTP verbs dispatchEvent accepts (case-insensitive at run time). */
export type HttpVerb = 'GET' | 'POST' | 'PUT' | 'PATCH';

/** Request payload: objects and arrays are sent as JSON.stringify output; strings and bytes as given. */
export type EventParams = object | string | ArrayBufferView | ArrayBuffer;

export interface TransportOptions {
  /** Whole-request timeout in ms (1..2^31-1). Default 10 000. */
  timeoutMs?: number;
  /** Connect timeout in ms. Default 5 000. */
  connectTimeoutMs?: number;
  /** Extra request headers; names must be HTTP tokens, values free of CR, LF and NUL. */
  headers?: Record<string, string | number>;
  /** Proxy URL (http:, https:, socks4:, socks4a:, socks5:, socks5h:); `false` or '' for none. Default: http_proxy/https_proxy/all_proxy from the environment. */
  proxy?: string | false | null;
  /** Hosts that bypass the proxy, libcurl's NO_PROXY syntax. Default: no_proxy/NO_PROXY when the proxy comes from the environment. */
  noProxy?: string;
  /** PEM file with the CA certificates to trust instead of the system's. */
  caFile?: string;
  /** Skip TLS verification. Only when set explicitly. Default false. */
  insecure?: boolean;
  /** Offer HTTP/2 over TLS (ALPN). Default false on libcurl 7.x (see README). */
  http2?: boolean;
  /** Response body bytes kept; the rest is read and discarded. Default 65 536. */
  maxResponseBytes?: number;
  /** User-Agent header. Default `native-event-dispatcher/<version> libcurl/<version>`. */
  userAgent?: string;
  /** Pin host names to addresses, `'host:port:address'` entries as curl's --resolve. */
  resolve?: string[];
}

export interface DispatchResponse {
  statusCode: number;
  /** Response headers, names in lower case; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Response body as text, capped at maxResponseBytes. */
  body: string;
}

/** Stable codes of a request that got no HTTP response. */
export type DispatchErrorCode =
  | 'ECONNREFUSED'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'ENOTFOUND'
  | 'ETIMEDOUT'
  | 'ECONNRESET'
  | 'ECERT'
  | 'ETLS'
  | 'EPROXY'
  | 'EPROTO'
  | 'EABORTED'
  | 'ENOMEM'
  | 'EINVAL'
  | 'ECURL';

/** A request that got no (complete) HTTP response. */
export class DispatchError extends Error {
  readonly name: 'DispatchError';
  readonly code: DispatchErrorCode;
  /** libcurl's CURLcode. */
  readonly curlCode: number;
  /** The status, when response headers arrived before the failure. */
  readonly statusCode?: number;
}

/**
 * Sends one request from libcurl on the libuv threadpool. Resolves on any HTTP status; rejects with a
 * DispatchError when there is no HTTP response, or a TypeError/RangeError (with `code`) for bad input.
 */
export function dispatchEvent(
  httpVerb: HttpVerb | Lowercase<HttpVerb>,
  url: string | URL,
  params?: EventParams | null,
  options?: TransportOptions | null,
): Promise<DispatchResponse>;

export interface ConnectionLimits {
  /** Connections to one host:port. Default 64. */
  maxConnectionsPerHost?: number;
  /** Connections in all. Default 256. */
  maxConnections?: number;
  /** Requests libcurl works on at once; the rest wait in order in the addon. Default 256. */
  maxInFlight?: number;
}

/** Sets the limits for this thread's pump (main thread or worker); returns the limits applied. */
export function setConnectionLimits(limits?: ConnectionLimits): Required<ConnectionLimits>;

export interface Versions {
  addon: string;
  /** Present only when the loaded binary was built from another package version. */
  addonBinary?: string;
  libcurl: string;
  tls: string | null;
  nghttp2: string | null;
  zlib: string | null;
  http2: boolean;
  asyncDns: boolean;
}

export function versions(): Versions;

export interface PumpStats {
  submitted: number;
  settled: number;
  pending: number;
  pumpRuns: number;
  pumpRunning: boolean;
}

/** Counters of this thread's pump. */
export function pumpStats(): PumpStats;
