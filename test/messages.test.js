'use strict';
// The words of bad input, as a user reads them: an option name from another SDK or client mapped to
// ours (only to names that call takes), a typo's closest name, the names listed by topic when
// nothing is close, and a URL written without its scheme. Every message keeps one shape:
// "Expected X for Y but received Z", then the help.
const {
  createDispatcher,
  dispatchEvent,
  createFetch,
  setConnectionLimits,
  closeOptimizely,
  createOtlpTransport,
} = require('..');

const thrown = (fn) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('nothing was thrown');
};

const unknown = (name, hint) => ({
  name: 'TypeError',
  code: 'ERR_UNKNOWN_OPTION',
  message: `Expected a known option name for options but received ${JSON.stringify(name)}${hint}`,
});

const MAX_ATTEMPTS =
  ': did you mean "maxAttempts"? (maxAttempts counts the first attempt too: retries: 3 is maxAttempts: 4)';
const NO_BATCHING =
  ": this package does not batch, it sends each batch it is handed: batching is the SDK's (its batchSize and flushInterval)";

describe('createDispatcher: names from other SDKs map to ours', () => {
  test.each([
    ['retries', MAX_ATTEMPTS],
    ['maxRetries', MAX_ATTEMPTS],
    ['retry', MAX_ATTEMPTS],
    ['max_retries', MAX_ATTEMPTS],
    ['timeout', ': did you mean "timeoutMs"?'],
    ['requestTimeout', ': did you mean "timeoutMs"?'],
    ['connectTimeout', ': did you mean "connectTimeoutMs"?'],
    ['shutdownTimeout', ': did you mean "closeTimeoutMs"?'],
    ['flushInterval', NO_BATCHING],
    ['flushAt', NO_BATCHING],
    ['batchSize', NO_BATCHING],
    ['url', ': did you mean "endpoint"?'],
    ['concurrency', ': did you mean "maxInFlight"?'],
    ['maxQueueSize', ': did you mean "maxQueueBytes"? (maxQueueBytes bounds bytes, not events)'],
    [
      'maxSockets',
      ': connection limits are process-wide: setConnectionLimits({ maxConnections, maxConnectionsPerHost })',
    ],
    [
      'rejectUnauthorized',
      ': did you mean "insecure"? (insecure: true turns certificate verification off)',
    ],
    ['ca', ': did you mean "caFile"? (caFile is the path of a PEM file)'],
    ['verbose', ': set NATIVE_EVENT_DISPATCHER_TRACE=1 for a trace of every request on stderr'],
    ['timeOutMs', ': did you mean "timeoutMs"?'], // a typo: the closest name
  ])('%s', (name, hint) => {
    expect(thrown(() => createDispatcher({ [name]: 3 }))).toMatchObject(unknown(name, hint));
  });

  test('nothing close: the names, by topic', () => {
    expect(thrown(() => createDispatcher({ colour: 'blue' })).message).toBe(
      'Expected a known option name for options ' +
        'but received "colour" (known options — sending: endpoint, headers, userAgent; retries: maxAttempts, ' +
        'baseDelayMs, maxDelayMs, deadlineMs, maxRetryAfterMs; queue: maxInFlight, maxQueueBytes; spool: spoolDir, ' +
        'spoolMaxBytes, spoolRetryMs; closing: handleProcessExit, closeTimeoutMs; logs: logger; counts: eventCount; timeouts: timeoutMs, ' +
        'connectTimeoutMs; network: proxy, noProxy, http2, resolve; TLS: caFile, insecure; response: maxResponseBytes)',
    );
  });
});

describe('other calls suggest only names they take', () => {
  test('dispatchEvent: one attempt per call, so retries point at the dispatcher', async () => {
    const hint =
      ": one call is one attempt; retries are a dispatcher's: createDispatcher({ maxAttempts })";
    for (const name of ['retries', 'maxAttempts']) {
      await expect(
        dispatchEvent('POST', 'http://127.0.0.1:9/', {}, { [name]: 1 }),
      ).rejects.toMatchObject(unknown(name, hint));
    }
    await expect(
      dispatchEvent('POST', 'http://127.0.0.1:9/', {}, { timeout: 1 }),
    ).rejects.toMatchObject(unknown('timeout', ': did you mean "timeoutMs"?'));
    // No endpoint option here: nothing to map `url` to, so the names are listed.
    await expect(
      dispatchEvent('POST', 'http://127.0.0.1:9/', {}, { url: 'x' }),
    ).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_OPTION',
      message: expect.stringMatching(
        /received "url" \(known options — timeouts: timeoutMs, connectTimeoutMs; sending: headers, userAgent; .*response: maxResponseBytes, timings, captureStack\)$/,
      ),
    });
  });

  test('createFetch', () => {
    expect(thrown(() => createFetch({ batchSize: 10 }))).toMatchObject(
      unknown('batchSize', NO_BATCHING),
    );
    expect(thrown(() => createFetch({ timings: true })).message).toMatch(
      /received "timings" \(known options — /,
    );
  });

  test('close() and closeOptimizely(): timeoutMs is their only option', async () => {
    const dispatcher = createDispatcher();
    const timeoutMs = ': did you mean "timeoutMs"?';
    await expect(dispatcher.close({ timeout: 5 })).rejects.toMatchObject(
      unknown('timeout', timeoutMs),
    );
    await expect(dispatcher.close({ shutdownTimeout: 5 })).rejects.toMatchObject(
      unknown('shutdownTimeout', timeoutMs),
    );
    await expect(dispatcher.close({ force: true })).rejects.toMatchObject(
      unknown('force', ' (known options — timeoutMs)'),
    );
    const client = { close: () => Promise.resolve({ success: true }) };
    await expect(closeOptimizely(client, dispatcher, { closeTimeout: 5 })).rejects.toMatchObject(
      unknown('closeTimeout', timeoutMs),
    );
    await dispatcher.close(0);
  });

  test("setConnectionLimits: Node's maxSockets is a per-host limit", () => {
    expect(thrown(() => setConnectionLimits({ maxSockets: 8 }))).toMatchObject({
      code: 'ERR_UNKNOWN_OPTION',
      message:
        'Expected a known limit name for limits but received "maxSockets": did you mean "maxConnectionsPerHost"?',
    });
    expect(thrown(() => setConnectionLimits({ perHost: 8 })).message).toBe(
      'Expected a known limit name for limits but ' +
        'received "perHost" (known limits — maxConnectionsPerHost, maxConnections, maxInFlight)',
    );
  });

  test('the OTLP adapter has url and retries of its own', () => {
    expect(thrown(() => createOtlpTransport({ endpoint: 'http://127.0.0.1:9/' }))).toMatchObject(
      unknown('endpoint', ': did you mean "url"?'),
    );
    expect(
      thrown(() => createOtlpTransport({ url: 'http://127.0.0.1:9/', maxRetries: 1 })),
    ).toMatchObject(unknown('maxRetries', ': did you mean "retries"?'));
  });
});

describe('a URL without its scheme says so', () => {
  const noScheme = (what, text, suggestion) => ({
    name: 'TypeError',
    code: 'ERR_INVALID_URL',
    message:
      `Expected an absolute http: or https: URL for ${what} but received ${JSON.stringify(text)}: ` +
      `the scheme is missing; did you mean ${JSON.stringify(suggestion)}?`,
  });

  test.each([
    ['logx.optimizely.com/v1/events', 'https://logx.optimizely.com/v1/events'],
    ['localhost:8080/x', 'https://localhost:8080/x'], // a URL to Node, with the scheme "localhost:"
    ['127.0.0.1:8080/x', 'https://127.0.0.1:8080/x'],
    ['[::1]:8080/x', 'https://[::1]:8080/x'],
    ['//logx.optimizely.com/v1/events', 'https://logx.optimizely.com/v1/events'],
  ])('dispatchEvent(%j)', async (url, suggestion) => {
    await expect(dispatchEvent('POST', url, {})).rejects.toMatchObject(
      noScheme('url', url, suggestion),
    );
  });

  test('the endpoint and the OTLP url; a query is masked in the suggestion too', () => {
    expect(thrown(() => createDispatcher({ endpoint: 'localhost:8080/x' }))).toMatchObject(
      noScheme('options.endpoint', 'localhost:8080/x', 'https://localhost:8080/x'),
    );
    expect(
      thrown(() => createOtlpTransport({ url: 'otel:4318/v1/traces?token=s3cret' })),
    ).toMatchObject(
      noScheme(
        'options.url',
        'otel:4318/v1/traces?token=***',
        'https://otel:4318/v1/traces?token=***',
      ),
    );
  });

  test('a proxy without its scheme: http:// is suggested, as curl assumes', () => {
    expect(thrown(() => createDispatcher({ proxy: '127.0.0.1:3128' }))).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_URL',
      message:
        'Expected a proxy URL such as http://host:3128 for options.proxy but received "127.0.0.1:3128": ' +
        'the scheme is missing; did you mean "http://127.0.0.1:3128"?',
    });
  });

  test.each(['mailto:events@example.com', 'javascript:alert(1)', 'ftp://127.0.0.1/x'])(
    '%j has a scheme: not ours, and said so',
    async (url) => {
      const err = await dispatchEvent('POST', url, {}).catch((e) => e);
      expect(err).toMatchObject({ name: 'RangeError', code: 'ERR_UNSUPPORTED_PROTOCOL' });
      expect(err.message).toMatch(/^Expected an http: or https: URL for url but received "[^"]+"$/);
    },
  );
});
