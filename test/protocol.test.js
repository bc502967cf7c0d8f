'use strict';
// The completion batches: the addon's encoder (src/completions.h) and the fallback's
// (lib/transport/protocol.js) read back by the one decoder, for every kind of completion.
const { VERBS, FLAGS, STRIDE, BatchEncoder, decodeBatch } = require('../lib/transport/protocol');
const { start } = require('./helpers/servers');
const { backend: fallback, PROFILE_DEFAULTS } = require('./helpers/fallback');

const decoded = (args) => {
  const out = [];
  decodeBatch(...args, (id, statusCode, bytesSent, outcome) =>
    out.push({ id, statusCode, bytesSent, outcome }),
  );
  return out;
};

test('the JS encoder round-trips plain, detailed and response completions, spans after the rows', () => {
  const batch = new BatchEncoder();
  batch.plain(1, 200, 10);
  batch.response(2, 404, 0, 'a: 1\r\n', 'not found');
  batch.detailed(3, 0, 0, { code: 'ECONNREFUSED', curlCode: 7, message: 'no', retryAfter: '2' });
  batch.response(4, 204, 5, 'b: 2\r\nc: 3\r\n', undefined);
  batch.response(5, 200, 5, '', Buffer.from([1, 2]));
  const args = batch.take();
  expect(args[3]).toBe(5);
  expect(args[0].length).toBe(5 * STRIDE + 3 * 3);
  expect(batch.count).toBe(0);
  const out = decoded(args);
  expect(out.map((r) => [r.id, r.statusCode, r.bytesSent])).toEqual([
    [1, 200, 10],
    [2, 404, 0],
    [3, 0, 0],
    [4, 204, 5],
    [5, 200, 5],
  ]);
  expect(out[0].outcome).toBeUndefined();
  expect(out[1].outcome).toEqual({
    statusCode: 404,
    retryAfterMs: undefined,
    failure: undefined,
    headers: 'a: 1\r\n',
    body: 'not found',
    truncated: false,
    timings: undefined,
  });
  expect(out[2].outcome).toMatchObject({
    retryAfterMs: 2000,
    failure: { code: 'ECONNREFUSED', curlCode: 7, message: 'no', statusCode: undefined },
  });
  expect(out[3].outcome).toMatchObject({ headers: 'b: 2\r\nc: 3\r\n', body: '' });
  expect(out[4].outcome.body).toEqual(Buffer.from([1, 2]));
});

describe('the addon and the fallback encode the same completions the same way', () => {
  let server;
  beforeAll(async () => {
    server = await start((req, res) => {
      const u = new URL(req.url, 'http://x');
      const code = Number(u.searchParams.get('code') || 200);
      const headers = [['x-case', u.searchParams.get('case') || '']];
      if (u.searchParams.has('retry')) headers.push(['retry-after', u.searchParams.get('retry')]);
      res.writeHead(code, headers);
      res.end(code === 204 ? undefined : u.searchParams.get('body') || '');
    });
  });
  afterAll(() => server.close());

  // [verb, query, flags]: every branch of both encoders (plain, detail, span with and without a
  // body, binary, Retry-After, a failure).
  const CASES = [
    ['POST', 'case=plain', 0],
    ['POST', 'case=plain204&code=204', 0],
    ['POST', 'case=notfound&code=404', 0],
    ['POST', 'case=retry&code=503&retry=7', 0],
    ['POST', 'case=retry2xx&retry=1', 0],
    ['GET', 'case=response&body=hello', FLAGS.RESPONSE],
    ['PUT', 'case=empty', FLAGS.RESPONSE],
    ['PATCH', 'case=nocontent&code=204', FLAGS.RESPONSE],
    ['DELETE', 'case=binary&body=bytes', FLAGS.RESPONSE | FLAGS.BINARY],
    ['HEAD', 'case=head', FLAGS.RESPONSE],
    ['POST', 'case=response-retry&code=429&retry=3&body=slow', FLAGS.RESPONSE],
    ['POST', 'refused', 0],
  ];

  // Sends every case through `backend` at once; resolves with what the decoder read, by case, and
  // the `d` of each row as the encoder wrote it.
  function run(backend) {
    const profile = backend.compileProfile({ ...PROFILE_DEFAULTS });
    return new Promise((resolve) => {
      const results = new Map();
      const kinds = new Set();
      backend.setCompletionSink((numbers, details, headerText, count) => {
        for (let i = 0; i < count * STRIDE; i += STRIDE)
          kinds.add(numbers[i + 3] === -1 ? 0 : Math.sign(numbers[i + 3] + 0.5));
        for (const r of decoded([numbers, details, headerText, count])) results.set(r.id, r);
        if (results.size === CASES.length)
          resolve({ results: CASES.map((_, i) => results.get(i + 1)), kinds });
      });
      CASES.forEach(([verb, query, flags], i) => {
        const url = query === 'refused' ? 'http://127.0.0.1:9/' : `${server.origin}/?${query}`;
        backend.submit(
          i + 1,
          VERBS[verb],
          url,
          verb === 'GET' || verb === 'HEAD' ? undefined : '{"n":1}',
          profile,
          undefined,
          flags,
        );
      });
    });
  }

  // What both must agree on; the header block without the lines the server varies.
  const comparable = ({ statusCode, bytesSent, outcome }) => ({
    statusCode,
    bytesSent,
    outcome: outcome && {
      ...outcome,
      headers:
        outcome.headers &&
        outcome.headers
          .split('\r\n')
          .filter((line) => /^(x-case|retry-after|content-length):/.test(line))
          .sort(),
      failure: outcome.failure && {
        ...outcome.failure,
        message: outcome.failure.message.replace(/ \(.*$/, ''),
      },
    },
  });

  test('every kind of completion decodes to the same result from both encoders', async () => {
    const binding = require('../lib/binding');
    const native =
      binding.kind === 'native'
        ? binding
        : (() => {
            const addon = require('./helpers/transports').nativeAddon();
            addon.setup(require('../lib/transport/protocol').addonSetup());
            return addon;
          })();
    native.configure({
      maxHostConnections: 8,
      maxTotalConnections: 8,
      maxInFlight: 64,
      initial: false,
    });
    const fromNative = await run(native);
    const fromFallback = await run(fallback);
    // All three encodings were used by both: span (d ≤ -2), plain (d = -1) and detail (d ≥ 0).
    expect([...fromNative.kinds].sort()).toEqual([-1, 0, 1]);
    expect([...fromFallback.kinds].sort()).toEqual([-1, 0, 1]);
    expect(fromFallback.results.map(comparable)).toEqual(fromNative.results.map(comparable));
    const byCase = Object.fromEntries(
      CASES.map(([, query], i) => [query.replace(/^case=|&.*$/g, ''), fromNative.results[i]]),
    );
    expect(byCase.plain.outcome).toBeUndefined();
    expect(byCase.retry.outcome).toMatchObject({ statusCode: 503, retryAfterMs: 7000 });
    expect(byCase.response.outcome).toMatchObject({
      statusCode: 200,
      body: 'hello',
      truncated: false,
    });
    expect(byCase.binary.outcome.body).toEqual(Buffer.from('bytes'));
    expect(byCase.refused).toMatchObject({
      statusCode: 0,
      outcome: { failure: { code: 'ECONNREFUSED', curlCode: 7 } },
    });
  });
});

// What the addon is handed at load (lib/transport/protocol.js's addonSetup()), checked by it.
const native = require('./helpers/transports').nativeAddon();
const withNative = native && typeof native.setup === 'function' ? test : test.skip;

withNative('the addon refuses a batch shape other than the one its encoder writes', () => {
  const { addonSetup } = require('../lib/transport/protocol');
  const setup = addonSetup();
  expect(() => native.setup({ ...setup, batch: { stride: 5, span: 3 } })).toThrow(
    'batch: this addon packs 4 numbers a completion and 3 a span',
  );
  // (The addon's RangeError is of the process's realm, not the test's: matched by name.)
  expect(() => native.setup({ ...setup, batch: { stride: 4, span: 2 } })).toThrow(
    expect.objectContaining({ name: 'RangeError' }),
  );
  native.setup(setup);
});

withNative(
  "the unreadable responses' words and the head's limit: set once a process, then only the same",
  () => {
    const { addonSetup, UNREADABLE, MAX_HEAD_BYTES } = require('../lib/transport/protocol');
    const setup = addonSetup();
    expect(setup.unreadable).toBe(UNREADABLE);
    expect(setup.maxHeadBytes).toBe(MAX_HEAD_BYTES);
    // lib's own first (a no-op if lib set the addon up already in this process): whatever else
    // comes after it is refused, never taken as the process's rules.
    native.setup(setup);
    expect(() =>
      native.setup({ ...setup, unreadable: { ...UNREADABLE, bothFramings: 'other words' } }),
    ).toThrow('another copy of lib/ set other response rules in this process');
    expect(() => native.setup({ ...setup, maxHeadBytes: MAX_HEAD_BYTES + 1 })).toThrow(
      'another copy of lib/ set other response rules in this process',
    );
    native.setup(setup); // the same: accepted
  },
);
