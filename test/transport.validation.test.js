'use strict';
// Bad input never crashes, hangs or throws synchronously: every call returns a promise that
// rejects with a TypeError or RangeError carrying a code, before any I/O.
const { dispatchEvent } = require('..');
const { start } = require('./helpers/servers');

let server;
let url;
beforeAll(async () => {
  server = await start((req, res) => res.end('ok'));
  url = server.url;
});
afterAll(() => server.close());

const circular = { a: 1 };
circular.self = circular;

const cases = [
  // [title, () => args, ErrorClass, code, message fragment]
  ['verb not a string', () => [42, url, {}], TypeError, 'ERR_INVALID_ARG_TYPE', 'httpVerb'],
  ['verb DELETE', () => ['DELETE', url, {}], RangeError, 'ERR_UNSUPPORTED_METHOD', '"DELETE"'],
  [
    'verb with CRLF',
    () => ['POST\r\nX: y', url, {}],
    RangeError,
    'ERR_UNSUPPORTED_METHOD',
    'httpVerb',
  ],
  ['verb empty', () => ['', url, {}], RangeError, 'ERR_UNSUPPORTED_METHOD', 'httpVerb'],
  ['url missing', () => ['POST', undefined, {}], TypeError, 'ERR_INVALID_ARG_TYPE', 'url'],
  [
    'url not absolute',
    () => ['POST', '/v1/events', {}],
    TypeError,
    'ERR_INVALID_URL',
    '/v1/events',
  ],
  ['url garbage', () => ['POST', 'http://', {}], TypeError, 'ERR_INVALID_URL', 'url'],
  [
    'url ftp:',
    () => ['POST', 'ftp://127.0.0.1/x', {}],
    RangeError,
    'ERR_UNSUPPORTED_PROTOCOL',
    'ftp:',
  ],
  [
    'url file:',
    () => ['POST', 'file:///etc/passwd', {}],
    RangeError,
    'ERR_UNSUPPORTED_PROTOCOL',
    'file:',
  ],
  [
    'url javascript:',
    () => ['POST', 'javascript:alert(1)', {}],
    RangeError,
    'ERR_UNSUPPORTED_PROTOCOL',
    'url',
  ],
  ['params circular', () => ['POST', url, circular], TypeError, 'ERR_INVALID_PARAMS', 'circular'],
  [
    'params BigInt inside',
    () => ['POST', url, { n: 10n }],
    TypeError,
    'ERR_INVALID_PARAMS',
    'BigInt',
  ],
  ['params BigInt', () => ['POST', url, 10n], TypeError, 'ERR_INVALID_PARAMS', 'params'],
  ['params number', () => ['POST', url, 42], TypeError, 'ERR_INVALID_PARAMS', 'params'],
  [
    'params undefined for POST',
    () => ['POST', url, undefined],
    TypeError,
    'ERR_INVALID_PARAMS',
    'params',
  ],
  ['params null for POST', () => ['POST', url, null], TypeError, 'ERR_INVALID_PARAMS', 'params'],
  ['params a function', () => ['POST', url, () => 1], TypeError, 'ERR_INVALID_PARAMS', 'params'],
  [
    'params toJSON throws',
    () => [
      'POST',
      url,
      {
        toJSON() {
          throw new Error('nope');
        },
      },
    ],
    TypeError,
    'ERR_INVALID_PARAMS',
    'nope',
  ],
  [
    'params toJSON returns undefined',
    () => [
      'POST',
      url,
      {
        toJSON() {
          return undefined;
        },
      },
    ],
    TypeError,
    'ERR_INVALID_PARAMS',
    'params',
  ],
  [
    'GET params nested',
    () => ['GET', url, { a: { b: 1 } }],
    TypeError,
    'ERR_INVALID_PARAMS',
    'params.a',
  ],
  ['GET params string', () => ['GET', url, 'a=1'], TypeError, 'ERR_INVALID_PARAMS', 'GET'],
  ['GET params BigInt', () => ['GET', url, { a: 1n }], TypeError, 'ERR_INVALID_PARAMS', 'params.a'],
  [
    'options not an object',
    () => ['POST', url, {}, 'fast'],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options',
  ],
  ['options an array', () => ['POST', url, {}, []], TypeError, 'ERR_INVALID_ARG_TYPE', 'options'],
  [
    'unknown option',
    () => ['POST', url, {}, { timeout: 5 }],
    TypeError,
    'ERR_UNKNOWN_OPTION',
    '"timeout"',
  ],
  [
    'timeoutMs string',
    () => ['POST', url, {}, { timeoutMs: '100' }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs 0',
    () => ['POST', url, {}, { timeoutMs: 0 }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs negative',
    () => ['POST', url, {}, { timeoutMs: -1 }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs fractional',
    () => ['POST', url, {}, { timeoutMs: 1.5 }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs NaN',
    () => ['POST', url, {}, { timeoutMs: NaN }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs Infinity',
    () => ['POST', url, {}, { timeoutMs: Infinity }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'timeoutMs too big',
    () => ['POST', url, {}, { timeoutMs: 2 ** 31 }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.timeoutMs',
  ],
  [
    'connectTimeoutMs bool',
    () => ['POST', url, {}, { connectTimeoutMs: true }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.connectTimeoutMs',
  ],
  [
    'maxResponseBytes negative',
    () => ['POST', url, {}, { maxResponseBytes: -5 }],
    RangeError,
    'ERR_OUT_OF_RANGE',
    'options.maxResponseBytes',
  ],
  [
    'headers not an object',
    () => ['POST', url, {}, { headers: 'x: y' }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.headers',
  ],
  [
    'headers a Map',
    () => ['POST', url, {}, { headers: new Map() }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.headers',
  ],
  [
    'header name with space',
    () => ['POST', url, {}, { headers: { 'bad name': 'x' } }],
    TypeError,
    'ERR_INVALID_HTTP_TOKEN',
    '"bad name"',
  ],
  [
    'header name with CRLF',
    () => ['POST', url, {}, { headers: { 'a\r\nb': 'x' } }],
    TypeError,
    'ERR_INVALID_HTTP_TOKEN',
    'header name',
  ],
  [
    'header value with CRLF',
    () => ['POST', url, {}, { headers: { 'x-a': 'ok\r\nInjected: 1' } }],
    TypeError,
    'ERR_INVALID_CHAR',
    'x-a',
  ],
  [
    'header value with LF',
    () => ['POST', url, {}, { headers: { 'x-a': 'ok\nInjected: 1' } }],
    TypeError,
    'ERR_INVALID_CHAR',
    'x-a',
  ],
  [
    'header value with NUL',
    () => ['POST', url, {}, { headers: { 'x-a': 'a\0b' } }],
    TypeError,
    'ERR_INVALID_CHAR',
    'x-a',
  ],
  [
    'header value an object',
    () => ['POST', url, {}, { headers: { 'x-a': {} } }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'x-a',
  ],
  [
    'header Content-Length',
    () => ['POST', url, {}, { headers: { 'Content-Length': '5' } }],
    RangeError,
    'ERR_INVALID_ARG_VALUE',
    'Content-Length',
  ],
  [
    'header Transfer-Encoding',
    () => ['POST', url, {}, { headers: { 'transfer-encoding': 'chunked' } }],
    RangeError,
    'ERR_INVALID_ARG_VALUE',
    'transfer-encoding',
  ],
  [
    'userAgent with CRLF',
    () => ['POST', url, {}, { userAgent: 'a\r\nb' }],
    TypeError,
    'ERR_INVALID_CHAR',
    'options.userAgent',
  ],
  [
    'userAgent empty',
    () => ['POST', url, {}, { userAgent: '' }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.userAgent',
  ],
  [
    'proxy a number',
    () => ['POST', url, {}, { proxy: 3128 }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.proxy',
  ],
  [
    'proxy not a URL',
    () => ['POST', url, {}, { proxy: 'not a url' }],
    TypeError,
    'ERR_INVALID_URL',
    'options.proxy',
  ],
  [
    'proxy ftp:',
    () => ['POST', url, {}, { proxy: 'ftp://127.0.0.1:21' }],
    RangeError,
    'ERR_UNSUPPORTED_PROTOCOL',
    'options.proxy',
  ],
  [
    'proxy with CRLF',
    () => ['POST', url, {}, { proxy: 'http://a\r\n:1' }],
    TypeError,
    'ERR_INVALID_CHAR',
    'options.proxy',
  ],
  [
    'noProxy a list',
    () => ['POST', url, {}, { noProxy: ['a'] }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.noProxy',
  ],
  [
    'caFile a number',
    () => ['POST', url, {}, { caFile: 1 }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.caFile',
  ],
  [
    'insecure a string',
    () => ['POST', url, {}, { insecure: 'yes' }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.insecure',
  ],
  [
    'http2 a number',
    () => ['POST', url, {}, { http2: 1 }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.http2',
  ],
  [
    'resolve a string',
    () => ['POST', url, {}, { resolve: 'a:1:127.0.0.1' }],
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'options.resolve',
  ],
  [
    'resolve entry without address',
    () => ['POST', url, {}, { resolve: ['events.test:443'] }],
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    'options.resolve[0]',
  ],
  [
    'resolve entry with a host name',
    () => ['POST', url, {}, { resolve: ['a.test:443:b.test'] }],
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    'options.resolve[0]',
  ],
  [
    'resolve entry with a bad port',
    () => ['POST', url, {}, { resolve: ['a.test:70000:127.0.0.1'] }],
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    'options.resolve[0]',
  ],
  [
    'resolve entry with CRLF',
    () => ['POST', url, {}, { resolve: ['a.test:1:127.0.0.1\r\n'] }],
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    'options.resolve[0]',
  ],
];

test.each(cases)(
  '%s → rejects, before any I/O',
  async (title, args, ErrorClass, code, fragment) => {
    const before = server.requests.length;
    let promise;
    expect(() => {
      promise = dispatchEvent(...args());
    }).not.toThrow();
    expect(promise).toBeInstanceOf(Promise);
    const err = await promise.then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err.code).toBe(code);
    expect(err.message).toContain(fragment);
    expect(err.message).toMatch(/^Expected .+ for .+ but received .+/s);
    expect(server.requests.length).toBe(before);
  },
);

test('messages follow one shape and name what was received', async () => {
  const err = await dispatchEvent('POST', url, {}, { timeoutMs: -1 }).catch((e) => e);
  expect(err.message).toBe(
    'Expected an integer from 1 to 2147483647 for options.timeoutMs but received number -1',
  );
  const verb = await dispatchEvent('TRACE', url, {}).catch((e) => e);
  expect(verb.message).toBe(
    'Expected one of GET, POST, PUT, PATCH for httpVerb but received "TRACE"',
  );
});

test('the service still works after a battery of bad input', async () => {
  await Promise.all(cases.map(([, args]) => dispatchEvent(...args()).catch(() => {})));
  const res = await dispatchEvent('POST', url, { ok: true });
  expect(res.statusCode).toBe(200);
});

describe('the backend guards itself when called directly with junk', () => {
  const binding = require('../lib/binding');
  const junk = [
    undefined,
    null,
    0,
    -1,
    99,
    'x',
    {},
    [],
    () => {},
    Symbol('s'),
    10n,
    new Uint8Array(4),
  ];

  test('submit() and abort() with junk throw a TypeError or RangeError, never crash', () => {
    for (const a of junk) {
      for (const b of junk) {
        expect(() => binding.submit(a, b, b, a, b, a, b)).toThrow();
      }
      if (typeof a !== 'number') expect(() => binding.abort(a)).toThrow();
    }
    // Right shapes, but a profile that did not come from compileProfile().
    expect(() => binding.submit(1, 1, 'http://127.0.0.1:1/', '{}', {}, undefined, 0)).toThrow(
      /compileProfile/,
    );
    const profile = binding.compileProfile({
      timeoutMs: 1,
      connectTimeoutMs: 1,
      maxResponseBytes: 1,
      insecure: false,
      http2: false,
      verbose: false,
      timings: false,
      userAgent: '',
      caFile: '',
      httpProxy: '',
      httpsProxy: '',
      noProxy: '',
      bodyHeaders: [],
      getHeaders: [],
      connectTo: [],
    });
    // (Errors made in C++ belong to the addon's realm, so they are matched by name.)
    expect(() => binding.submit(1, 9, 'http://127.0.0.1:1/', '{}', profile, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => binding.submit(0, 1, 'http://127.0.0.1:1/', '{}', profile, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'TypeError' }),
    );
    expect(() =>
      binding.submit(1, 1, 'http://127.0.0.1:1/', '{}', profile, ['X: a\r\nY: b'], 0),
    ).toThrow(/CR, LF or NUL/);
    expect(() => binding.submit(1, 1, 'http://127.0.0.1:1/', {}, profile, undefined, 0)).toThrow(
      /body/,
    );
  });

  test('compileProfile() and configure() with junk throw', () => {
    for (const a of junk) {
      expect(() => binding.compileProfile(a)).toThrow();
      expect(() => binding.configure(a)).toThrow();
    }
    const complete = {
      timeoutMs: 1,
      connectTimeoutMs: 1,
      maxResponseBytes: 1,
      insecure: false,
      http2: false,
      verbose: false,
      timings: false,
      userAgent: '',
      caFile: '',
      httpProxy: '',
      httpsProxy: '',
      noProxy: '',
      bodyHeaders: [],
      getHeaders: [],
      connectTo: [],
    };
    expect(() => binding.compileProfile({ ...complete, bodyHeaders: ['X: a\r\nY: b'] })).toThrow(
      /CR, LF or NUL/,
    );
    // lib/ hands over a complete profile: a missing field is junk too, not a default.
    expect(() => binding.compileProfile({ ...complete, userAgent: undefined })).toThrow(
      /userAgent/,
    );
  });

  // The trace's list of headers to mask (the fallback masks with lib/redact.js and takes none).
  (binding.kind === 'native' ? test : test.skip)(
    'the addon refuses a list of trace secrets that is not header names',
    () => {
      const complete = {
        timeoutMs: 1,
        connectTimeoutMs: 1,
        maxResponseBytes: 1,
        insecure: false,
        http2: false,
        verbose: true,
        timings: false,
        userAgent: '',
        caFile: '',
        httpProxy: '',
        httpsProxy: '',
        noProxy: '',
        bodyHeaders: [],
        getHeaders: [],
        connectTo: [],
      };
      for (const traceSecrets of [null, 'authorization', [1], ['a\nb'], {}]) {
        expect(() => binding.compileProfile({ ...complete, traceSecrets })).toThrow(/traceSecrets/);
      }
      const profile = binding.compileProfile({ ...complete, traceSecrets: ['authorization'] });
      expect(() =>
        binding.submit(1, 1, 'http://127.0.0.1:1/', '{}', profile, ['X-Key: a'], 0, 'x-key'),
      ).toThrow(/traceSecrets/);
      expect(() =>
        binding.submit(1, 1, 'http://127.0.0.1:1/', '{}', profile, ['X-Key: a'], 0, [null]),
      ).toThrow(/traceSecrets/);
    },
  );
});

test('option values JSON cannot show are still validated (the profile cache is not fooled)', async () => {
  const fn = await dispatchEvent('POST', url, {}, { timeoutMs: () => 5 }).catch((e) => e);
  expect(fn.code).toBe('ERR_INVALID_ARG_TYPE');
  const unknownUndefined = await dispatchEvent('POST', url, {}, { timeout: undefined }).catch(
    (e) => e,
  );
  expect(unknownUndefined.code).toBe('ERR_UNKNOWN_OPTION');
  const loop = { headers: {} };
  loop.headers.self = loop;
  const cyclic = await dispatchEvent('POST', url, {}, loop).catch((e) => e);
  expect(cyclic.code).toBe('ERR_INVALID_ARG_TYPE');
  // And a valid equal object still works after all that.
  expect((await dispatchEvent('POST', url, {}, { timeoutMs: 5000 })).statusCode).toBe(200);
});

test('equal options, even fresh object literals, share one compiled profile; other options get their own', () => {
  const { profileFor } = require('../lib/transport/options');
  const a = () => ({ timeoutMs: 5000, headers: { 'x-a': '1' }, resolve: ['x.test:80:127.0.0.1'] });
  const b = () => ({ timeoutMs: 5000, headers: { 'x-a': '2' }, resolve: ['x.test:80:127.0.0.1'] });
  const first = profileFor(a());
  expect(profileFor(a())).toBe(first); // the most recent one
  const other = profileFor(b());
  expect(other).not.toBe(first);
  expect(profileFor(a())).toBe(first); // from the cache, after another
  expect(profileFor(b())).toBe(other);
  expect(profileFor({ timeoutMs: 5000 })).not.toBe(profileFor({ timeoutMs: 6000 }));
  expect(profileFor(undefined)).toBe(profileFor(null));
});
