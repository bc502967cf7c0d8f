'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { createDispatcher } = require('..');
const { startCollector } = require('./helpers/collector');
const { spawnNode } = require('./helpers/processes');

const badOptions = [
  ['not an object', 'fast', TypeError, 'ERR_INVALID_ARG_TYPE'],
  ['an unknown name', { retries: 3 }, TypeError, 'ERR_UNKNOWN_OPTION'],
  ['maxAttempts 0', { maxAttempts: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
  ['maxAttempts a string', { maxAttempts: '3' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ['baseDelayMs negative', { baseDelayMs: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
  [
    'maxDelayMs below baseDelayMs',
    { baseDelayMs: 500, maxDelayMs: 100 },
    RangeError,
    'ERR_OUT_OF_RANGE',
  ],
  ['deadlineMs fractional', { deadlineMs: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
  ['maxInFlight 0', { maxInFlight: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
  ['maxQueueBytes tiny', { maxQueueBytes: 10 }, RangeError, 'ERR_OUT_OF_RANGE'],
  ['spoolDir a number', { spoolDir: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ['spoolDir empty', { spoolDir: '' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ['handleProcessExit a string', { handleProcessExit: 'yes' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  [
    'logger without error()',
    { logger: { debug() {}, info() {}, warn() {} } },
    TypeError,
    'ERR_INVALID_ARG_TYPE',
  ],
  ['endpoint not a URL', { endpoint: 'logx' }, TypeError, 'ERR_INVALID_URL'],
  ['endpoint ftp:', { endpoint: 'ftp://x/' }, RangeError, 'ERR_UNSUPPORTED_PROTOCOL'],
  ['a bad transport option', { timeoutMs: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
  ['a bad header', { headers: { 'x-a': 'a\r\nb' } }, TypeError, 'ERR_INVALID_CHAR'],
];

test.each(badOptions)(
  'createDispatcher with %s throws a clear error',
  (title, options, ErrorClass, code) => {
    let err;
    try {
      createDispatcher(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(/^Expected .+ for .+ but received .+/s);
  },
);

test('createDispatcher() with no options works, and console is a valid logger', async () => {
  const d = createDispatcher();
  expect(d.stats().state).toBe('open');
  const e = createDispatcher({ logger: console, timeoutMs: 100, headers: { 'x-app': 'demo' } });
  await Promise.all([d.close(), e.close()]);
});

describe('bad events never throw into the SDK', () => {
  let c;
  let d;
  beforeAll(async () => {
    c = await startCollector();
    d = createDispatcher();
  });
  afterAll(async () => {
    await d.close();
    await c.close();
  });

  const badEvents = [
    ['undefined', () => undefined],
    ['a string', () => 'event'],
    ['no url', () => ({ httpVerb: 'POST', params: {} })],
    ['no params', () => ({ url: c.url, httpVerb: 'POST' })],
    ['a DELETE', () => ({ url: c.url, httpVerb: 'DELETE', params: {} })],
    ['an ftp url', () => ({ url: 'ftp://127.0.0.1/', httpVerb: 'POST', params: {} })],
    [
      'circular params',
      () => {
        const p = {};
        p.p = p;
        return { url: c.url, httpVerb: 'POST', params: p };
      },
    ],
    ['BigInt params', () => ({ url: c.url, httpVerb: 'POST', params: { n: 1n } })],
  ];

  test.each(badEvents)(
    '%s: a rejected promise with a code, the callback called once, no request',
    async (title, make) => {
      const before = c.requests.length;
      const calls = [];
      let promise;
      expect(() => {
        promise = d.dispatchEvent(make(), (r) => calls.push(r));
      }).not.toThrow();
      const err = await promise.then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(typeof err.code).toBe('string');
      expect(calls).toHaveLength(1);
      expect(calls[0].statusCode).toBe(0);
      expect(c.requests.length).toBe(before);
    },
  );

  test('with a callback, a rejection is never left unhandled', async () => {
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      d.dispatchEvent(undefined, () => {}); // the SDK ignores the returned promise
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('handleProcessExit', () => {
  const ROOT = JSON.stringify(path.join(__dirname, '..'));

  test('SIGTERM: close() delivers what is queued, then the signal is raised again', async () => {
    const c = await startCollector((n) => (n < 3 ? { status: 503 } : 'ok'));
    try {
      const { child, exited, output } = spawnNode(`
        const { createDispatcher } = require(${ROOT});
        const d = createDispatcher({ handleProcessExit: true, baseDelayMs: 50, maxDelayMs: 100 });
        for (let i = 0; i < 5; i++) d.send('POST', ${JSON.stringify(c.url)}, { visitors: [{ snapshots: [{ events: [{ uuid: 'u' + i }] }] }] });
        console.log('ready');
        setInterval(() => {}, 1000); // an app that would run forever
      `);
      while (!output().includes('ready')) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGTERM');
      const result = await exited;
      expect(result.signal).toBe('SIGTERM');
      expect([...c.received.keys()].sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    } finally {
      await c.close();
    }
  });

  test("'exit' with events still in memory: they are in the spool for the next run", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-exit-'));
    const hang = await startCollector(() => 'hang');
    const c = await startCollector();
    try {
      const { exited } = spawnNode(`
        const { createDispatcher } = require(${ROOT});
        const d = createDispatcher({ handleProcessExit: true, spoolDir: ${JSON.stringify(dir)} });
        for (let i = 0; i < 5; i++) d.send('POST', ${JSON.stringify(hang.url)}, { visitors: [{ snapshots: [{ events: [{ uuid: 'e' + i }] }] }] });
        setTimeout(() => process.exit(0), 50);
      `);
      const result = await exited;
      expect(result.code).toBe(0);
      expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false); // released at exit
      const next = createDispatcher({ spoolDir: dir, endpoint: c.url });
      for (let i = 0; i < 500 && next.stats().delivered < 5; i++)
        await new Promise((r) => setTimeout(r, 10));
      await next.close();
      expect([...c.received.keys()].sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    } finally {
      await hang.close();
      await c.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Found by the fault suite: an exception from the caller's own objects (a getter that throws, a
// revoked Proxy) came back as is, without a code; a throwing `visitors` getter even threw out of
// send() synchronously.
describe('events and payloads that cannot be read: a TypeError with a code, the original as its cause', () => {
  const { dispatchEvent } = require('..');
  const boom = () => {
    throw new Error('boom');
  };
  const revoked = () => {
    const p = Proxy.revocable({}, {});
    p.revoke();
    return p.proxy;
  };
  let d;
  beforeAll(() => {
    d = createDispatcher();
  });
  afterAll(() => d.close());

  test.each([
    [
      'event.params is a getter that throws',
      () =>
        Object.defineProperty({ url: 'http://127.0.0.1:9/x', httpVerb: 'POST' }, 'params', {
          get: boom,
        }),
    ],
    [
      'params.visitors is a getter that throws',
      () => ({
        url: 'http://127.0.0.1:9/x',
        httpVerb: 'POST',
        params: Object.defineProperty({}, 'visitors', { get: boom, enumerable: true }),
      }),
    ],
    [
      'params is a revoked Proxy',
      () => ({ url: 'http://127.0.0.1:9/x', httpVerb: 'POST', params: revoked() }),
    ],
    ['the event is a revoked Proxy', revoked],
  ])('dispatcher.dispatchEvent: %s', async (_, make) => {
    const calls = [];
    const p = d.dispatchEvent(make(), (r) => calls.push(r));
    const err = await p.then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toMatch(/^ERR_INVALID_/);
    expect(calls).toHaveLength(1);
    expect(calls[0].error).toBe(err);
  });

  test.each([
    [
      'a getter that throws',
      () => Object.defineProperty({}, 'visitors', { get: boom, enumerable: true }),
    ],
    ['a revoked Proxy', revoked],
  ])('send() and dispatchEvent() with params that are %s', async (_, make) => {
    let sent;
    expect(() => {
      sent = d.send('POST', 'http://127.0.0.1:9/x', make());
    }).not.toThrow(); // 0.1: threw
    await expect(sent).rejects.toMatchObject({
      name: 'TypeError',
      code: expect.stringMatching(/^ERR_INVALID_/),
    });
    await expect(dispatchEvent('POST', 'http://127.0.0.1:9/x', make())).rejects.toMatchObject({
      name: 'TypeError',
      code: expect.stringMatching(/^ERR_INVALID_/),
    });
  });
});
