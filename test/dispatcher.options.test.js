'use strict';
// No option is silently ignored: close() and closeOptimizely take { timeoutMs } or a number of ms
// and refuse any other name (with the closest known one), and the loggers people already have —
// the Optimizely SDKs' own among them — are taken as they come.
const optimizely = require('@optimizely/optimizely-sdk');
const optimizelyV5 = require('optimizely-sdk-v5');
const { createDispatcher, closeOptimizely } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { closedPort } = require('./helpers/servers');

const { collector } = useCleanup();

// Whether `promise` settles before `ms` (a generous bound against a default of 10 s, not a timing).
function within(promise, ms) {
  let timer;
  const cap = new Promise((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([promise, cap]).finally(() => clearTimeout(timer));
}

async function hungDispatcher(n = 2) {
  const hung = await collector(() => 'hang');
  const d = createDispatcher({ timeoutMs: 600000 }); // closeTimeoutMs: the default 10 s
  for (let i = 0; i < n; i++) d.send('POST', hung.url, { i });
  while (hung.requests.length < n) await new Promise((r) => setTimeout(r, 5));
  return d;
}

describe('close()', () => {
  test('{ timeout: 500 } is refused with the name it meant (0.1: accepted, and close took 10 s)', async () => {
    const d = await hungDispatcher();
    await expect(d.close({ timeout: 500 })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "timeoutMs"'),
    });
    expect(d.stats().state).toBe('open'); // nothing started
    await expect(within(d.close({ timeoutMs: 200 }), 5000)).resolves.toMatchObject({ lost: 2 });
  });

  test('a number is the timeout in ms', async () => {
    const d = await hungDispatcher();
    await expect(within(d.close(200), 5000)).resolves.toMatchObject({ lost: 2, delivered: 0 });
  });

  test.each([
    ['a string', '500', 'ERR_INVALID_ARG_TYPE'],
    ['null', null, 'ERR_INVALID_ARG_TYPE'],
    ['a negative number', -1, 'ERR_OUT_OF_RANGE'],
    ['a fraction', 1.5, 'ERR_OUT_OF_RANGE'],
    ['NaN', NaN, 'ERR_OUT_OF_RANGE'],
    ['timeoutMs as a string', { timeoutMs: '500' }, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown name beside timeoutMs', { timeoutMs: 5, force: true }, 'ERR_UNKNOWN_OPTION'],
  ])('%s is refused with a code', async (_, options, code) => {
    const d = createDispatcher();
    await expect(d.close(options)).rejects.toMatchObject({ code });
    await d.close(0);
  });

  test('settleBy() refuses a deadline that is not a time', () => {
    const d = createDispatcher();
    for (const bad of ['soon', undefined, NaN, {}]) {
      expect(() => d.settleBy(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
    }
    return d.close(0);
  });
});

describe('closeOptimizely()', () => {
  const client = () => ({ close: () => Promise.resolve({ success: true }) });

  test("a number is the timeout in ms (0.1: ignored, the dispatcher's 10 s instead)", async () => {
    const d = await hungDispatcher();
    await expect(within(closeOptimizely(client(), d, 300), 5000)).resolves.toMatchObject({
      lost: 2,
    });
  });

  test('an unknown option name is refused, before anything closes', async () => {
    const d = await hungDispatcher(1);
    const c = { close: jest.fn(() => Promise.resolve()) };
    await expect(closeOptimizely(c, d, { timeout: 300 })).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "timeoutMs"'),
    });
    expect(c.close).not.toHaveBeenCalled();
    expect(d.stats().state).toBe('open');
    await d.close(0);
  });
});

describe('logger', () => {
  async function loseOne(logger) {
    const port = await closedPort();
    const d = createDispatcher({ logger, maxAttempts: 1 });
    await d.send('POST', `http://127.0.0.1:${port}/x`, {});
    await d.close();
  }

  test("the v6 SDK's createLogger() (0.1: refused, though the README promised the SDK's logger shape)", async () => {
    const lines = [];
    const logger = optimizely.createLogger({
      level: optimizely.INFO,
      logHandler: { log: (level, message) => lines.push([level, message]) },
    });
    await loseOne(logger);
    // v6's levels: 0 debug, 1 info, 2 warn, 3 error.
    expect(lines).toContainEqual([
      2,
      expect.stringMatching(/dropped an event \(retries-exhausted: ECONNREFUSED\)/),
    ]);
    expect(lines).toContainEqual([1, expect.stringMatching(/closed: /)]);
  });

  test("the v4/v5 SDK's logger: log(level, message) with its own levels", async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const info = jest.spyOn(console, 'info').mockImplementation(() => {});
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await loseOne(
        optimizelyV5.logging.createLogger({ logLevel: optimizelyV5.enums.LOG_LEVEL.WARNING }),
      );
      const printed = [...warn.mock.calls, ...info.mock.calls, ...log.mock.calls].map((args) =>
        args.join(' '),
      );
      expect(
        printed.some((line) =>
          /WARN.*dropped an event \(retries-exhausted: ECONNREFUSED\)/.test(line),
        ),
      ).toBe(true);
      expect(printed.some((line) => /closed: /.test(line))).toBe(false); // info, below its level
    } finally {
      warn.mockRestore();
      info.mockRestore();
      log.mockRestore();
    }
    const lines = [];
    await loseOne({ log: (level, message) => lines.push([level, message]) });
    expect(lines).toContainEqual([
      optimizelyV5.enums.LOG_LEVEL.WARNING,
      expect.stringMatching(/dropped an event/),
    ]);
    expect(lines).toContainEqual([
      optimizelyV5.enums.LOG_LEVEL.INFO,
      expect.stringMatching(/closed: /),
    ]);
  });

  test('console and objects with the four methods still work; anything else is refused with what fits', async () => {
    const lines = [];
    const logger = { debug() {}, info() {}, warn: (m) => lines.push(m), error() {} };
    await loseOne(logger);
    expect(lines).toEqual([expect.stringMatching(/dropped an event/)]);
    for (const bad of [{}, { warn() {} }, 'console', 42]) {
      expect(() => createDispatcher({ logger: bad })).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_ARG_TYPE',
          message: expect.stringContaining('Optimizely SDK logger'),
        }),
      );
    }
  });
});
