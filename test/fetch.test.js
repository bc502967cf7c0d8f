'use strict';
// createFetch: what a local server receives (bytes, headers) and what the Response gives back.
// Runs on whichever transport loads (NATIVE_EVENT_DISPATCHER_TRANSPORT=fallback for the other).
const zlib = require('node:zlib');
const { createFetch, DispatchError } = require('../lib');
const { startSdkCollector } = require('./helpers/sdk-collector');
const { closedPort } = require('./helpers/servers');

let collectors = [];
afterEach(async () => {
  await Promise.all(collectors.map((c) => c.close()));
  collectors = [];
});

async function collector(plan) {
  const c = await startSdkCollector(plan);
  collectors.push(c);
  return c;
}

// The header pairs a request carried, names in lower case, without the ones every request has.
function sentHeaders(record) {
  const pairs = [];
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    const name = record.rawHeaders[i].toLowerCase();
    if (!['host', 'connection', 'user-agent', 'accept'].includes(name))
      pairs.push([name, record.rawHeaders[i + 1]]);
  }
  return pairs;
}

describe('request bodies arrive byte for byte, with the content type fetch gives them', () => {
  const bytes = Buffer.from([0, 1, 2, 0xff, 0x1f, 0x8b, 10, 13]);
  const cases = [
    [
      'a string (UTF-8, text/plain)',
      () => 'héllo ✓',
      Buffer.from('héllo ✓'),
      'text/plain;charset=UTF-8',
    ],
    ['a Buffer (no content type)', () => bytes, bytes, undefined],
    [
      'a Uint8Array view into a larger buffer',
      () => {
        const larger = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]);
        return new Uint8Array(larger.buffer, larger.byteOffset + 2, bytes.length);
      },
      bytes,
      undefined,
    ],
    [
      'a DataView',
      () => new DataView(Uint8Array.from(bytes).buffer, 1, 3),
      bytes.subarray(1, 4),
      undefined,
    ],
    ['an ArrayBuffer', () => Uint8Array.from(bytes).buffer, bytes, undefined],
    [
      'a typed Blob (its type)',
      () => new Blob([bytes], { type: 'application/octet-stream' }),
      bytes,
      'application/octet-stream',
    ],
    ['an untyped Blob (no content type)', () => new Blob([bytes]), bytes, undefined],
    [
      'URLSearchParams (form)',
      () => new URLSearchParams({ a: '1 2', b: 'é' }),
      Buffer.from('a=1+2&b=%C3%A9'),
      'application/x-www-form-urlencoded;charset=UTF-8',
    ],
  ];
  test.each(cases)('%s', async (_, make, expected, type) => {
    const c = await collector();
    const fetch = createFetch();
    const res = await fetch(`${c.origin}/in`, { method: 'POST', body: make() });
    expect(res.status).toBe(200);
    expect(c.requests).toHaveLength(1);
    expect(c.requests[0].body.equals(expected)).toBe(true);
    expect(c.requests[0].headers['content-type']).toBe(type);
    expect(c.requests[0].headers['content-length']).toBe(String(expected.length));
    // Neither libcurl's form type nor its 100-continue leaks in.
    expect(c.requests[0].headers.expect).toBeUndefined();
  });

  test('a large body goes without Expect: 100-continue, in one request', async () => {
    const c = await collector();
    const body = Buffer.alloc(200 * 1024, 7);
    const res = await createFetch()(`${c.origin}/big`, { method: 'PUT', body });
    expect(res.status).toBe(200);
    expect(c.requests[0].method).toBe('PUT');
    expect(c.requests[0].body.equals(body)).toBe(true);
    expect(c.requests[0].headers.expect).toBeUndefined();
  });

  test('a stream, FormData or a number is refused with a code, before any I/O', async () => {
    const c = await collector();
    const fetch = createFetch();
    for (const body of [new ReadableStream(), new FormData(), 42]) {
      const err = await fetch(`${c.origin}/x`, { method: 'POST', body }).catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err.message).toMatch(/^Expected a string, a Buffer .* for init\.body but received /);
    }
    const get = await fetch(`${c.origin}/x`, { body: 'x' }).catch((e) => e);
    expect(get).toBeInstanceOf(TypeError);
    expect(get.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(c.requests).toHaveLength(0);
  });
});

describe('request headers', () => {
  test('a Headers instance, a plain object and pairs are sent as given (Content-Encoding too)', async () => {
    const c = await collector();
    const fetch = createFetch();
    const gz = zlib.gzipSync('{"a":1}');
    const headers = new Headers({
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
      'X-Trace': ' a b ',
    });
    await fetch(`${c.origin}/1`, { method: 'POST', headers, body: new Blob([gz]) });
    await fetch(`${c.origin}/2`, {
      method: 'POST',
      headers: { 'X-Empty': '', 'X-Num': 5 },
      body: 'x',
    });
    await fetch(`${c.origin}/3`, {
      method: 'POST',
      headers: [
        ['X-Dup', '1'],
        ['X-Dup', '2'],
        ['content-type', 'text/csv'],
      ],
      body: 'x',
    });
    expect(c.requests[0].body.equals(gz)).toBe(true);
    // Headers lower-cases names; values are trimmed as fetch trims them.
    expect(sentHeaders(c.requests[0])).toEqual([
      ['content-encoding', 'gzip'],
      ['content-type', 'application/json'],
      ['x-trace', 'a b'],
      ['content-length', String(gz.length)],
    ]);
    expect(sentHeaders(c.requests[1])).toEqual([
      ['x-empty', ''],
      ['x-num', '5'],
      ['content-type', 'text/plain;charset=UTF-8'],
      ['content-length', '1'],
    ]);
    expect(sentHeaders(c.requests[2])).toEqual([
      ['x-dup', '1'],
      ['x-dup', '2'],
      ['content-type', 'text/csv'],
      ['content-length', '1'],
    ]);
  });

  test('Content-Length and Transfer-Encoding from the caller are dropped (libcurl frames the body)', async () => {
    const c = await collector();
    await createFetch()(`${c.origin}/x`, {
      method: 'POST',
      headers: { 'Content-Length': '999', 'Transfer-Encoding': 'chunked' },
      body: 'abc',
    });
    expect(c.requests[0].headers['content-length']).toBe('3');
    expect(c.requests[0].headers['transfer-encoding']).toBeUndefined();
    expect(c.requests[0].body.toString()).toBe('abc');
  });

  test('CR, LF or NUL in a value, or a bad name, is refused with the package error shape', async () => {
    const c = await collector();
    const fetch = createFetch();
    const bad = await fetch(`${c.origin}/x`, { headers: { 'X-A': 'a\r\nX-Injected: 1' } }).catch(
      (e) => e,
    );
    expect(bad).toBeInstanceOf(TypeError);
    expect(bad.code).toBe('ERR_INVALID_CHAR');
    expect(bad.message).toMatch(
      /^Expected a value without CR, LF or NUL for init\.headers\["X-A"\] but received/,
    );
    const name = await fetch(`${c.origin}/x`, { headers: [['Bad Name', 'v']] }).catch((e) => e);
    expect(name.code).toBe('ERR_INVALID_HTTP_TOKEN');
    const pair = await fetch(`${c.origin}/x`, { headers: [['only-a-name']] }).catch((e) => e);
    expect(pair.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(c.requests).toHaveLength(0);
  });

  test("createFetch's headers are defaults the request's own replace, by name in any case", async () => {
    const c = await collector();
    const fetch = createFetch({
      headers: { Authorization: 'Bearer default', 'X-Env': 'test' },
      userAgent: 'sdk-test/1',
    });
    await fetch(`${c.origin}/x`, {
      method: 'POST',
      headers: { authorization: 'Bearer mine' },
      body: 'x',
    });
    await fetch(`${c.origin}/y`);
    expect(c.requests[0].headers.authorization).toBe('Bearer mine');
    expect(c.requests[0].headers['x-env']).toBe('test');
    expect(c.requests[0].headers['user-agent']).toBe('sdk-test/1');
    expect(c.requests[1].headers.authorization).toBe('Bearer default');
    expect(c.requests[1].headers['content-type']).toBeUndefined();
  });
});

describe('the Response', () => {
  test('status, ok, statusText, url, headers (case-insensitive, Set-Cookie kept apart), one request only', async () => {
    const c = await collector(() => ({
      status: 503,
      headers: {
        'Retry-After': '7',
        'Set-Cookie': ['a=1', 'b=2'],
        'X-Multi': ['p', 'q'],
        'Content-Type': 'application/json',
      },
      body: '{"error":"busy"}',
    }));
    const res = await createFetch()(`${c.origin}/status?q=1`, { method: 'POST', body: '{}' });
    expect(c.requests).toHaveLength(1); // single shot: a 503 is the answer, not retried
    expect(res.status).toBe(503);
    expect(res.ok).toBe(false);
    expect(res.statusText).toBe('Service Unavailable');
    expect(res.url).toBe(`${c.origin}/status?q=1`);
    expect(res.redirected).toBe(false);
    expect(res.body).toBeNull();
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('RETRY-AFTER')).toBe('7');
    expect(res.headers.has('x-multi')).toBe(true);
    expect(res.headers.get('x-multi')).toBe('p, q');
    expect(res.headers.get('missing')).toBeNull();
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const entries = [...res.headers].filter(
      ([name]) => name !== 'date' && name !== 'connection' && name !== 'keep-alive',
    );
    expect(entries).toEqual([
      ['content-length', '16'],
      ['content-type', 'application/json'],
      ['retry-after', '7'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['x-multi', 'p, q'],
    ]);
    const seen = [];
    res.headers.forEach((value, name) => seen.push(name));
    expect(seen).toEqual([...res.headers.keys()]);
    expect([...res.headers.values()]).toEqual([...res.headers.entries()].map(([, v]) => v));
    expect(await res.json()).toEqual({ error: 'busy' });
    expect(res.bodyUsed).toBe(true);
    const again = await res.text().catch((e) => e);
    expect(again).toBeInstanceOf(TypeError);
    expect(again.code).toBe('ERR_BODY_ALREADY_USED');
  });

  test('text, arrayBuffer, bytes, blob and clone read the same bytes', async () => {
    const body = Buffer.from('{"flags":{"a":true},"é":1}');
    const c = await collector(() => ({ headers: { 'Content-Type': 'application/json' }, body }));
    const res = await createFetch()(`${c.origin}/flags`);
    const copy = res.clone();
    const copy2 = res.clone();
    const copy3 = res.clone();
    expect(await res.text()).toBe(body.toString());
    expect(Buffer.from(await copy.arrayBuffer()).equals(body)).toBe(true);
    expect(Buffer.from(await copy2.bytes()).equals(body)).toBe(true);
    const blob = await copy3.blob();
    expect(blob.type).toBe('application/json');
    expect(Buffer.from(await blob.arrayBuffer()).equals(body)).toBe(true);
    expect(() => res.clone()).toThrow(TypeError);
  });

  test("a GET keeps a body far over the dispatcher's 64 KiB", async () => {
    const big = JSON.stringify({
      flags: Array.from({ length: 20000 }, (_, i) => ({ key: `flag-${i}`, on: i % 2 === 0 })),
    });
    expect(big.length).toBeGreaterThan(512 * 1024);
    const c = await collector(() => ({ body: big }));
    const res = await createFetch()(`${c.origin}/flags`);
    expect((await res.json()).flags).toHaveLength(20000);
  });

  test('a body past maxResponseBytes rejects text() and json() instead of handing over half', async () => {
    const c = await collector(() => ({ body: JSON.stringify({ pad: 'x'.repeat(5000) }) }));
    const fetch = createFetch({ maxResponseBytes: 1024 });
    const res = await fetch(`${c.origin}/flags`);
    expect(res.status).toBe(200);
    const err = await res.json().catch((e) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_RESPONSE_TOO_LARGE');
    expect(err.message).toBe(
      `Expected a response body of at most 1024 bytes (createFetch's maxResponseBytes) for GET ${c.origin}/flags but received more`,
    );
    const res2 = await fetch(`${c.origin}/flags`);
    expect((await res2.text().catch((e) => e)).code).toBe('ERR_RESPONSE_TOO_LARGE');
  });

  test('a body exactly at maxResponseBytes is whole', async () => {
    const c = await collector(() => ({ body: 'y'.repeat(1024) }));
    const res = await createFetch({ maxResponseBytes: 1024 })(`${c.origin}/x`);
    expect(await res.text()).toBe('y'.repeat(1024));
  });

  test('an encoded answer (the caller asked with Accept-Encoding) is decoded as fetch decodes it', async () => {
    const json = JSON.stringify({ featureFlags: { beta: true } });
    const c = await collector((r) => {
      const enc = r.path.slice(1);
      const encode = {
        gzip: zlib.gzipSync,
        deflate: zlib.deflateSync,
        br: zlib.brotliCompressSync,
      }[enc];
      return { headers: { 'Content-Encoding': enc }, body: encode(json) };
    });
    const fetch = createFetch();
    for (const enc of ['gzip', 'deflate', 'br']) {
      const res = await fetch(`${c.origin}/${enc}`, { headers: { 'Accept-Encoding': enc } });
      expect(await res.json()).toEqual({ featureFlags: { beta: true } });
    }
    expect(c.requests.map((r) => r.headers['accept-encoding'])).toEqual(['gzip', 'deflate', 'br']);
  });

  test('HEAD and DELETE, and a 204 with no body', async () => {
    const c = await collector((r) => (r.method === 'DELETE' ? { status: 204 } : { body: 'abc' }));
    const fetch = createFetch();
    const head = await fetch(`${c.origin}/h`, { method: 'head' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const del = await fetch(`${c.origin}/d`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.statusText).toBe('No Content');
    expect(await del.text()).toBe('');
    expect(c.requests.map((r) => r.method)).toEqual(['HEAD', 'DELETE']);
    const bad = await fetch(`${c.origin}/o`, { method: 'OPTIONS' }).catch((e) => e);
    expect(bad.code).toBe('ERR_UNSUPPORTED_METHOD');
  });
});

describe('failures and aborts', () => {
  test('no HTTP response: TypeError("fetch failed") with the DispatchError as its cause', async () => {
    const port = await closedPort();
    const err = await createFetch()(`http://127.0.0.1:${port}/x`, {
      method: 'POST',
      body: '{}',
    }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('fetch failed');
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.cause).toBeInstanceOf(DispatchError);
    expect(err.cause.code).toBe('ECONNREFUSED');
    expect(err.cause.message).toContain(`POST http://127.0.0.1:${port}/x`);
  });

  test('an already aborted signal rejects at once, nothing is sent', async () => {
    const c = await collector();
    const fetch = createFetch();
    const err = await fetch(`${c.origin}/x`, { signal: AbortSignal.abort() }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    const reason = new Error('Flush timeout');
    expect(
      await fetch(`${c.origin}/x`, { signal: AbortSignal.abort(reason) }).catch((e) => e),
    ).toBe(reason);
    // Any reason, as Node's fetch does (found by the fault suite: a string became an AbortError).
    expect(
      await fetch(`${c.origin}/x`, { signal: AbortSignal.abort('shutting down') }).catch((e) => e),
    ).toBe('shutting down');
    expect(c.requests).toHaveLength(0);
  });

  test('a Symbol as a header value is a TypeError, as with Node\'s fetch (not the text "Symbol(…)")', async () => {
    const c = await collector();
    const fetch = createFetch();
    await expect(
      fetch(`${c.origin}/x`, { method: 'POST', body: 'x', headers: { 'x-a': Symbol('s') } }),
    ).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(c.requests).toHaveLength(0);
  });

  test("aborting in flight ends the transfer and rejects with AbortError, or the signal's own error", async () => {
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    const c = await collector(async () => {
      await held;
      return { body: 'late' };
    });
    const fetch = createFetch();
    const plain = new AbortController();
    const first = fetch(`${c.origin}/slow`, {
      method: 'POST',
      body: 'a',
      signal: plain.signal,
    }).catch((e) => e);
    const custom = new AbortController();
    const second = fetch(`${c.origin}/slow`, {
      method: 'POST',
      body: 'b',
      signal: custom.signal,
    }).catch((e) => e);
    const { until } = require('./helpers/sdk-collector');
    await until(() => c.requests.length === 2, 'both requests at the server');
    plain.abort();
    const reason = new Error('Request timed out after 10ms');
    reason.name = 'AbortError';
    custom.abort(reason);
    const err = await first;
    expect(err).toBeInstanceOf(DOMException);
    expect(err.name).toBe('AbortError');
    expect(await second).toBe(reason);
    release();
  });

  test('a signal that never fires leaves no listener behind', async () => {
    const c = await collector();
    const controller = new AbortController();
    const res = await createFetch()(`${c.origin}/x`, { signal: controller.signal });
    expect(res.status).toBe(200);
    controller.abort(); // after the answer: nothing happens
    expect(await res.text()).toBe('');
  });

  test('invalid options and arguments reject with codes', async () => {
    expect(() => createFetch({ timeoutMS: 5 })).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_OPTION' }),
    );
    expect(() => createFetch({ timings: true })).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_OPTION' }),
    );
    expect(() => createFetch({ maxResponseBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => createFetch('x')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const fetch = createFetch();
    expect((await fetch('ftp://127.0.0.1/x').catch((e) => e)).code).toBe(
      'ERR_UNSUPPORTED_PROTOCOL',
    );
    expect((await fetch('not a url').catch((e) => e)).code).toBe('ERR_INVALID_URL');
    expect((await fetch('http://127.0.0.1/x', { signal: {} }).catch((e) => e)).code).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
  });
});
