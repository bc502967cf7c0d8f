// Type definitions for native-event-dispatcher (hand-written; checked by tsd in test/types and by
// tsc --strict against the real Optimizely SDK types).
import { EventEmitter } from 'node:events';

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
  /** Add `timings` to the response (and to a DispatchError). Default false. */
  timings?: boolean;
  /**
   * Capture the caller's stack at each call (about 2.5 µs per request), so a DispatchError names
   * even a caller that returns the promise without awaiting it. Without it, the error's stack shows
   * the callers that awaited the request (V8's async stack traces). Default false.
   */
  captureStack?: boolean;
}

/** Milliseconds from the start of a request; null where it did not get that far. */
export interface Timings {
  dnsMs: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  firstByteMs: number | null;
  totalMs: number | null;
}

export interface DispatchResponse {
  statusCode: number;
  /** Response headers, names in lower case; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Response body as text, capped at maxResponseBytes. */
  body: string;
  /** With the `timings` option. */
  timings?: Timings;
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
  /** The status, when response headers arrived before the failure (it is not an answer). */
  readonly statusCode?: number;
  /** The transport's own words, without the method and URL the message starts with. */
  readonly detail: string;
  /** With the `timings` option. */
  readonly timings?: Timings;
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
  /** Connections to one host:port, process-wide (all environments share one pump). Default 64. */
  maxConnectionsPerHost?: number;
  /** Connections in all, process-wide. Default 256. */
  maxConnections?: number;
  /** Requests in flight for this environment (main thread or worker); the rest wait in order. Default 256. */
  maxInFlight?: number;
}

/**
 * Sets the limits: the connection caps for the whole process (the last call wins, from any thread),
 * maxInFlight for this thread's environment. Returns the limits applied.
 */
export function setConnectionLimits(limits?: ConnectionLimits): Required<ConnectionLimits>;

export interface Versions {
  addon: string;
  /** 'native' (libcurl on the pump) or 'fallback' (undici, where the native binary cannot load). */
  transport: 'native' | 'fallback';
  /** Why the fallback is in use. */
  reason?: string;
  /** The native binary loaded (a prebuild or a local build); null on the fallback. */
  binary: string | null;
  /** Present only when the loaded binary was built from another package version. */
  addonBinary?: string;
  /** null on the fallback. */
  libcurl: string | null;
  /** The TLS library in use, as libcurl reports it at run time (in a Node process, often Node's own OpenSSL). */
  tls: string | null;
  nghttp2: string | null;
  zlib: string | null;
  http2: boolean;
  asyncDns: boolean;
  /** libcurl's default CA bundle and directory (libcurl 7.84+ reports them). */
  caFile: string | null;
  caPath: string | null;
  /** The OpenSSL Node itself was built with (process.versions.openssl). */
  nodeOpenssl: string;
  /** The fallback's undici version. */
  undici?: string;
}

export function versions(): Versions;

/** The process's pump: one for every environment (main thread and workers). */
export interface PumpStats {
  submitted: number;
  settled: number;
  pending: number;
  pumpRuns: number;
  /** Completion batches handed back to environments. */
  batches: number;
  /**
   * Times the pump woke an event loop to hand completions back. A loop that is busy, or that a
   * timer wakes within 5 ms, takes them on its own turn instead (unless the application sends
   * again as soon as it hears back: then they go at once).
   */
  wakeups: number;
  /**
   * Times an environment woke the pump (a system call; a thread switch). None is needed while the
   * pump wakes by itself within 3 ms, as it does for an environment that sends on timer ticks.
   */
  rings: number;
  pumpRunning: boolean;
  /** Threadpool threads the addon holds now (0 or 1). */
  threads: number;
  /** The most it ever held at once (1). */
  maxThreads: number;
  /** CPU time of the pump's thread, all runs (updated every 100 ms while a run lasts). */
  cpuMs: number;
  /** libcurl's big per-request buffers served from ones kept after an earlier request. */
  buffersReused: number;
  /** Bytes of such buffers kept now (all given back when the pump goes idle). */
  bufferBytesKept: number;
  /** Environments attached. */
  environments: number;
  /** This environment's share. */
  environment: { submitted: number; pending: number };
}

/** Counters of the process's pump (or of the fallback transport). */
export function pumpStats(): PumpStats;

// ---- the dispatcher -----------------------------------------------------------------------------

/** Four methods: `console`, pino, winston, and the Optimizely v6 SDK's logger inside createLogger() fit. */
export interface LevelLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The Optimizely v4/v5 SDK's logger: `log(level, message)` with its LOG_LEVEL numbers (1 debug … 4 error). */
export interface LevelNumberLogger {
  log(level: number, message: string): void;
}

/**
 * What `logger` takes: an object with debug/info/warn/error, the Optimizely v6 SDK's
 * `createLogger()` (an opaque object holding such a logger), or the v4/v5 SDK's logger.
 */
export type Logger = LevelLogger | LevelNumberLogger | OpaqueSdkLogger;

/** The Optimizely v6 SDK's `createLogger()` result: opaque, its logger under a symbol. */
export interface OpaqueSdkLogger {
  readonly [key: symbol]: unknown;
}

export interface DispatcherOptions extends Omit<TransportOptions, 'timings'> {
  /** Send every event here instead of event.url (a relay, a regional endpoint, a test collector). */
  endpoint?: string;
  /** Attempts per event, the first included. Default 6. */
  maxAttempts?: number;
  /** Backoff base: the n-th retry waits a uniform random time below min(maxDelayMs, baseDelayMs·2^(n-1)). Default 250. */
  baseDelayMs?: number;
  /** Backoff cap. Default 30 000. */
  maxDelayMs?: number;
  /** No retry is scheduled after this long since the event was accepted. Default 120 000. */
  deadlineMs?: number;
  /** Cap on a server's Retry-After. Default 60 000. */
  maxRetryAfterMs?: number;
  /** Requests in flight. Default 256. */
  maxInFlight?: number;
  /** Bytes of events held in memory (queued, in backoff or in flight). Default 32 MiB. */
  maxQueueBytes?: number;
  /** Directory of the durable spool (a write-ahead journal). Default: none. */
  spoolDir?: string;
  /** Bound of the spool on disk. Default 256 MiB. */
  spoolMaxBytes?: number;
  /** How long spooled events rest after failing before they are tried again. Default 30 000. */
  spoolRetryMs?: number;
  /** On SIGTERM/SIGINT close() and re-raise; on 'exit' make the spool durable. Default false. */
  handleProcessExit?: boolean;
  /** close() deadline used by handleProcessExit and close() without arguments. Default 10 000. */
  closeTimeoutMs?: number;
  logger?: Logger;
  /**
   * The user events a request carries (what stats().events and each info's `events` count): an
   * integer ≥ 0 for its params (a spooled event read back: its JSON parsed). Default: the visitors
   * of an Optimizely EventBatch, 1 for any other payload.
   */
  eventCount?: (params: unknown) => number;
}

/** An event as the Optimizely SDKs hand it over (v6's LogEvent, v4/v5's Event). */
export interface DispatcherEvent {
  url: string;
  httpVerb: 'POST' | 'PUT' | 'GET' | 'PATCH';
  params: unknown;
}

/** close()'s and closeOptimizely's deadline; a bare number is `timeoutMs`. Other names are refused. */
export interface CloseOptions {
  /** Default: the dispatcher's closeTimeoutMs. */
  timeoutMs?: number;
}

/** flush()'s deadline; a bare number is `timeoutMs`. Other names are refused. */
export interface FlushOptions {
  /** Stop waiting after this many ms (0..2^31-1); the events go on. Default: no deadline. */
  timeoutMs?: number;
}

/**
 * flush()'s answer: everything it waited for was settled, or its deadline came first with
 * `pending` requests (batches) still on their way — in memory, or spooled and due for replay.
 */
export type FlushResult = { settled: true; pending: 0 } | { settled: false; pending: number };

export type DropReason =
  | 'queue-full'
  | 'retries-exhausted'
  | 'deadline'
  | 'closed'
  | 'unreadable'
  | 'invalid'
  /** A spooled event whose journal files were deleted while the dispatcher ran, and could not be written back. */
  | 'spool-lost';

/**
 * How an event ended. Delivered: `statusCode` 2xx (only a delivery carries one). Failed for good:
 * `failed`, the final `statusCode` (0 without a response, then `error`). Spooled for later
 * delivery: `spooled`, no `statusCode` (the v6 SDK counts that as success). Lost: `dropped`, with
 * the `reason`, the last `statusCode` (0 without an answer) and `error`.
 */
export interface DispatchResult {
  statusCode?: number;
  attempts?: number;
  spooled?: true;
  failed?: true;
  dropped?: true;
  reason?: DropReason;
  error?: Error;
}

/** The v4/v5 callback: called exactly once per event; `statusCode` is 0 when there was none. */
export type DispatchCallback = (response: DispatchResult & { statusCode: number }) => void;

export interface Outcomes {
  delivered: number;
  /** On disk, for this dispatcher later or the next one on the same spoolDir. */
  spooled: number;
  /** Lost, and reported (every one was a 'drop'). */
  lost: number;
  /** Rejected for good by the server (a 400, say); every one was a 'failed'. */
  failed: number;
}

/**
 * close()'s answer. The top level counts requests — for the Optimizely SDKs, batches — and
 * `events` the user events inside them (the visitors of an EventBatch; 1 per request otherwise).
 * accepted = delivered + spooled + lost + failed.
 */
export interface CloseSummary extends Outcomes {
  events: Outcomes;
}

export interface Tally extends Outcomes {
  accepted: number;
  /** In memory: queued, in backoff or in flight. 0 after close(). */
  pending: number;
}

export interface DispatcherStats extends Tally {
  state: 'open' | 'closing' | 'closed';
  queued: number;
  inFlight: number;
  queuedBytes: number;
  /** Of `accepted`: spooled events adopted from earlier runs (or gone processes) at start. */
  inherited: number;
  /** The former name of `lost`. */
  dropped: number;
  retried: number;
  replayed: number;
  /** Request body bytes that actually went out. */
  bytesSent: number;
  notJournaled: number;
  events: Tally;
  parked: number;
  /** This dispatcher's spool slot on disk, in bytes (also after close). */
  spoolBytes: number;
  /** From acceptance to delivery over the last 1,024 deliveries; null before the first. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

/** URLs in events and log lines are shown with credentials masked: `https://user:***@host/…?api_key=***`. */
export interface RetryInfo {
  url: string;
  attempt: number;
  delayMs: number;
  statusCode?: number;
  code?: DispatchErrorCode;
}

export interface DropInfo {
  reason: DropReason;
  /** undefined for a spooled event that did not read back, or whose journal files were deleted ('spool-lost'). */
  httpVerb: HttpVerb | undefined;
  /** Credentials masked (see RetryInfo). */
  url: string | undefined;
  /** The request body (the JSON text, or the bytes), for whoever wants to keep it. */
  body: string | ArrayBufferView | undefined;
  attempts: number;
  /** The user events inside (the visitors of an EventBatch; 1 per request otherwise): what stats().events counts. */
  events: number;
  statusCode?: number;
  code?: string;
  /**
   * Why, in a few words — every drop has one: the last answer (a DispatchError code such as
   * `ECONNREFUSED`, or `HTTP 503`), `maxQueueBytes` or `spoolMaxBytes` (a bound reached), the disk's
   * code when the spool could not take it (`ENOSPC`, `EACCES`, or `ERR_SPOOL_IO`), `no spoolDir`
   * (held at close() with nowhere to keep it), or a spool code for a record that did not read back.
   */
  cause: string;
  error?: Error;
}

/** An event the server rejected for good ('failed' event). */
export interface FailedInfo extends Omit<DropInfo, 'reason'> {
  reason: 'rejected';
}

export interface SpoolInfo {
  reason: 'queue-full' | 'retries-exhausted' | 'deadline' | 'closed';
  /** Credentials masked (see RetryInfo). */
  url: string;
  attempts: number;
  /** The user events inside (see DropInfo). */
  events: number;
  statusCode?: number;
  code?: string;
}

/** A delivery ('delivered' event; nothing is built for it while nobody listens). */
export interface DeliveredInfo {
  /** Credentials masked (see RetryInfo). */
  url: string;
  /** 2xx. */
  statusCode: number;
  attempts: number;
  /**
   * From acceptance to delivery, on the monotonic clock; for a replayed event (accepted by this
   * or an earlier run, then spooled), its age on the wall clock.
   */
  latencyMs: number;
  /** The user events inside (see DropInfo). */
  events: number;
  /** Read back from the spool (stats().latencyMs leaves these out). */
  replayed: boolean;
}

export interface PauseInfo {
  origin: string;
  untilMs: number;
  statusCode: number;
}

/** What settleWithin() read and kept: settling starts `timeoutMs - reserveMs` from the call. */
export interface SettleWithin {
  timeoutMs: number;
  reserveMs: number;
}

export class Dispatcher extends EventEmitter {
  /** The Optimizely interface: v6 uses the promise, v4/v5 the callback (called exactly once). */
  dispatchEvent(event: DispatcherEvent, callback?: DispatchCallback): Promise<DispatchResult>;
  /** The same delivery with a plain signature. */
  send(
    httpVerb: HttpVerb | Lowercase<HttpVerb>,
    url: string | URL,
    params: EventParams,
  ): Promise<DispatchResult>;
  /**
   * Resolves once every event accepted before the call is delivered, failed, spooled or lost, and —
   * when the spool's replay is due — once the spooled events waiting at the call have each been
   * tried (delivered, failed, or back in the spool).
   */
  flush(): Promise<void>;
  /**
   * The same, bounded: resolves `{ settled: true, pending: 0 }`, or at the latest after `timeoutMs`
   * `{ settled: false, pending }` with the events still on their way (its timer never holds the
   * process open).
   */
  flush(options: FlushOptions | number): Promise<FlushResult>;
  /**
   * Stops accepting (late events are spooled, or refused without a spool), delivers what it holds
   * and what the spool has due until `timeoutMs` (close's deadline, default closeTimeoutMs), then
   * settles the rest — spooled, or lost without a spool — aborting what is in flight.
   */
  close(options?: CloseOptions | number): Promise<CloseSummary>;
  /**
   * At `deadline` (ms since the epoch, read once: a later step of the wall clock does not move it) everything held is settled (spooled, or lost) and transfers
   * in flight are aborted; the dispatcher stays open. closeOptimizely uses it.
   */
  settleBy(deadline: number): void;
  /**
   * settleBy() for a deadline `timeoutMs` away (default closeTimeoutMs) that the settling must end
   * by: it starts early enough — the same reserve close() keeps for its end — for whoever waits on
   * the events (an SDK's close()) to hear of them in time. closeOptimizely uses it.
   */
  settleWithin(options?: CloseOptions | number): SettleWithin;
  stats(): DispatcherStats;

  on(event: 'retry', listener: (info: RetryInfo) => void): this;
  on(event: 'drop', listener: (info: DropInfo) => void): this;
  on(event: 'failed', listener: (info: FailedInfo) => void): this;
  on(event: 'spool', listener: (info: SpoolInfo) => void): this;
  on(event: 'pause', listener: (info: PauseInfo) => void): this;
  on(event: 'delivered', listener: (info: DeliveredInfo) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'retry', listener: (info: RetryInfo) => void): this;
  once(event: 'drop', listener: (info: DropInfo) => void): this;
  once(event: 'failed', listener: (info: FailedInfo) => void): this;
  once(event: 'spool', listener: (info: SpoolInfo) => void): this;
  once(event: 'pause', listener: (info: PauseInfo) => void): this;
  once(event: 'delivered', listener: (info: DeliveredInfo) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
}

export function createDispatcher(options?: DispatcherOptions): Dispatcher;

/**
 * Closes an Optimizely client, then the dispatcher, so that the SDK's last (partial) batch is
 * delivered or spooled, within one deadline (`timeoutMs`, default the dispatcher's closeTimeoutMs)
 * whatever the endpoint does. Resolves with the dispatcher's close() summary.
 */
export function closeOptimizely(
  client: { close(): unknown },
  dispatcher: Dispatcher,
  options?: CloseOptions | number,
): Promise<CloseSummary>;

// ---- metrics: OpenTelemetry ----------------------------------------------------------------------

/** Attribute values instrumentDispatcher takes: added to every data point. */
export type MetricAttributeValues = Record<string, string | number | boolean>;

/**
 * What instrumentDispatcher uses of an @opentelemetry/api (1.3 or later) Meter; a real one fits.
 * (Declared here so that these typings do not need @opentelemetry/api, an optional peer.)
 */
export interface MetricsMeter {
  createCounter(name: string, options?: object): { add(value: number, attributes?: object): void };
  createHistogram(
    name: string,
    options?: object,
  ): { record(value: number, attributes?: object): void };
  createObservableCounter(name: string, options?: object): object;
  createObservableUpDownCounter(name: string, options?: object): object;
  // `any`: the API's BatchObservableResult is generic over attribute types this file does not import.
  addBatchObservableCallback(callback: (result: any) => void, observables: object[]): void;
  removeBatchObservableCallback(callback: (result: any) => void, observables: object[]): void;
}

/** An @opentelemetry/api MeterProvider (the SDK's MeterProvider, say). */
export interface MetricsMeterProvider {
  getMeter(name: string, version?: string, options?: object): MetricsMeter;
}

interface InstrumentOptionsBase {
  /** Instrument names start with it: `<prefix>.events.delivered`. Default `ned`. */
  prefix?: string;
  /** Added to every data point: tells dispatchers on one meter apart (`{ dispatcher: 'optimizely' }`). */
  attributes?: MetricAttributeValues;
}

/**
 * Where the instruments are made: a `meterProvider`, a `meter`, or neither (the global
 * MeterProvider of @opentelemetry/api, which must then be installed: ERR_PEER_MISSING otherwise).
 */
export type InstrumentOptions = InstrumentOptionsBase &
  (
    | { meterProvider?: MetricsMeterProvider; meter?: undefined }
    | { meter?: MetricsMeter; meterProvider?: undefined }
  );

export interface DispatcherInstrumentation {
  /** Removes the listeners and the collection callback. */
  stop(): void;
}

/**
 * A dispatcher's endings and state as OpenTelemetry metrics, counted from the call: counters
 * `<prefix>.events.{accepted,delivered,failed,spooled,lost}` (unit `{event}`), the histogram
 * `<prefix>.delivery.latency` (ms), and the current values `<prefix>.queue.bytes`,
 * `<prefix>.requests.in_flight`, `<prefix>.spool.bytes`, `<prefix>.spool.parked`.
 */
export function instrumentDispatcher(
  dispatcher: Dispatcher,
  options?: InstrumentOptions,
): DispatcherInstrumentation;

// ---- fetch and the adapters for other event SDKs -------------------------------------------------

/** createFetch's options: the transport options (no `timings`), `headers` as defaults for every request. */
export interface FetchOptions extends Omit<TransportOptions, 'timings'> {
  /** Response body bytes kept. Default 8 MiB (flag and config downloads); a longer body makes text()/json() reject with ERR_RESPONSE_TOO_LARGE. */
  maxResponseBytes?: number;
}

/** Request bodies, sent byte for byte (streams and FormData are refused). */
export type FetchBody = string | ArrayBufferView | ArrayBuffer | Blob | URLSearchParams;

/** The part of RequestInit that createFetch reads; other members (mode, credentials …) are ignored. */
export interface FetchInit {
  /** GET (default), POST, PUT, PATCH, DELETE or HEAD, any case. */
  method?: string;
  headers?: Headers | Record<string, string | number> | Array<[string, string]>;
  body?: FetchBody | null;
  signal?: AbortSignal | null;
}

/** Response headers: case-insensitive, repeated values joined with ', ', Set-Cookie kept apart. */
export interface FetchHeaders extends Iterable<[string, string]> {
  get(name: string): string | null;
  has(name: string): boolean;
  getSetCookie(): string[];
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  forEach(
    callback: (value: string, name: string, headers: FetchHeaders) => void,
    thisArg?: unknown,
  ): void;
}

/** The Response-like answer: the body arrived whole (up to maxResponseBytes), so `body` is null. */
export interface FetchResponse {
  readonly status: number;
  readonly ok: boolean;
  /** The standard reason phrase for the status (libcurl does not report the server's own). */
  readonly statusText: string;
  readonly url: string;
  /** Redirects are never followed: a 3xx is the answer. */
  readonly redirected: false;
  readonly type: 'basic';
  readonly headers: FetchHeaders;
  readonly body: null;
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json(): Promise<any>;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  blob(): Promise<Blob>;
  clone(): FetchResponse;
}

/**
 * fetch(url, init) on this package's transport. Single shot (no retries). Rejects with
 * TypeError('fetch failed', { cause: DispatchError }) without an HTTP response, with the signal's
 * reason or a DOMException AbortError when aborted, and with a TypeError/RangeError with `code` for
 * bad input.
 */
export type Fetch = (url: string | URL, init?: FetchInit) => Promise<FetchResponse>;

export function createFetch(options?: FetchOptions): Fetch;

/** Durable delivery: the dispatcher owns retries and its spool; the SDK hears "accepted". */
export interface DurableOptions {
  dispatcher: Dispatcher;
}

/** What Sentry's createTransport passes to makeRequest, and what it reads back. */
export interface SentryRequest {
  body: string | Uint8Array;
}
export interface SentryResponse {
  statusCode?: number;
  headers?: {
    [key: string]: string | null;
    'x-sentry-rate-limits': string | null;
    'retry-after': string | null;
  };
}
export type SentryRequestExecutor = (request: SentryRequest) => PromiseLike<SentryResponse>;

/**
 * Sentry's `transport` option: `createSentryTransport(Sentry.createTransport, options)`. With
 * `{ dispatcher }` envelopes are handed to the dispatcher (retries, spool); otherwise sent through
 * createFetch(options), gzip over 32 KiB, status and rate-limit headers back to the SDK.
 */
export function createSentryTransport<O, T>(
  createTransport: (options: O, makeRequest: SentryRequestExecutor) => T,
  options?: FetchOptions | DurableOptions,
): (options: O & { url: string; headers?: Record<string, string> }) => T;

/** What an OTLP exporter transport answers (otlp-exporter-base's ExportResponse). */
export type OtlpExportResponse =
  | { status: 'success'; data?: Uint8Array }
  | { status: 'failure'; error: Error }
  | { status: 'retryable'; retryInMillis?: number; error?: Error };

/** otlp-exporter-base's IExporterTransport. */
export interface OtlpExporterTransport {
  send(data: Uint8Array, timeoutMillis: number): Promise<OtlpExportResponse>;
  shutdown(): void;
}

export interface OtlpTransportOptions extends Omit<FetchOptions, 'headers'> {
  /** The OTLP endpoint, e.g. http://collector:4318/v1/traces. */
  url: string;
  /** Sent with every export (a function: called per export). Content-Type defaults to application/json. */
  headers?:
    Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Retries of a retryable export, as the SDK's own RetryingTransport (0..100). Default 5. */
  retries?: number;
}

/** For createOtlpNetworkExportDelegate(options, serializer, metrics, transport). */
export function createOtlpTransport(
  options: OtlpTransportOptions | ({ url: string } & DurableOptions),
): OtlpExporterTransport;

/** Amplitude's Response, built from the body's `code` as its own Node transport builds it. */
export type AmplitudeResponse =
  | {
      status: 'success';
      statusCode: number;
      body: { eventsIngested: number; payloadSizeBytes: number; serverUploadTime: number };
    }
  | {
      status: 'invalid' | 'payload_too_large' | 'rate_limit';
      statusCode: number;
      body: Record<string, any> & { error: string };
    }
  | { status: 'Timeout' | 'failed' | 'unknown'; statusCode: number };

/**
 * Amplitude's `transportProvider`. `R` lets a TypeScript consumer name the SDK's own Response type
 * (its Status is an enum, which a string literal type cannot match): `createAmplitudeTransport<Types.Response>()`.
 */
export function createAmplitudeTransport<R = AmplitudeResponse>(
  options?: FetchOptions,
): {
  send(
    serverUrl: string,
    payload: object,
    enableRequestBodyCompression?: boolean,
  ): Promise<R | null>;
};
