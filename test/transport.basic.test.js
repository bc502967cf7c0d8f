'use strict';
const { dispatchEvent, createFetch, versions } = require('..');
const { start, headerValues } = require('./helpers/servers');

let server;
beforeAll(async () => {
  server = await start((req, res, record) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/status') {
      res.writeHead(Number(u.searchParams.get('code')), { location: '/elsewhere' });
      res.end();
      return;
    }
    if (u.pathname === '/each') {
      // Its own header and body for each request: n decides the body (none, ASCII, UTF-8) and a
      // Latin-1 header byte (obs-text), so responses handed back together cannot be mixed up.
      const n = Number(u.searchParams.get('n'));
      res.writeHead(n % 4 === 0 ? 204 : 200, [['x-n', String(n)], ['x-latin', Buffer.from(`caf\xe9 ${n}`, 'latin1').toString('latin1')]]);
      res.end(n % 4 === 0 ? undefined : n % 4 === 1 ? '' : n % 4 === 2 ? `body ${n}` : `bödy ${'€'.repeat(n)}`);
      return;
    }
    if (u.pathname === '/big') {
      res.end('x'.repeat(Number(u.searchParams.get('n'))));
      return;
    }
    res.setHeader('x-request-id', 'abc-123');
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ seen: record.body.length }));
  });
});
afterAll(() => server.close());

const last = () => server.requests[server.requests.length - 1];

test('POST sends exactly the JSON.stringify bytes, with multi-byte UTF-8 intact', async () => {
  const params = {
    visitors: [{ visitor_id: 'ünïcödé-用户-🚀', attributes: [{ value: 'Grüße, 世界 — “quotes”' }] }],
    n: 1.5, nested: { empty: [], nil: null, t: true },
  };
  const res = await dispatchEvent('POST', server.url, params);
  const expected = Buffer.from(JSON.stringify(params), 'utf8');
  expect(res.statusCode).toBe(200);
  expect(last().body.equals(expected)).toBe(true);
  expect(Number(last().headers['content-length'])).toBe(expected.length);
  expect(expected.length).toBeGreaterThan(JSON.stringify(params).length); // multi-byte really sent
  expect(last().headers['content-type']).toBe('application/json');
  expect(last().headers.expect).toBeUndefined();
  expect(last().method).toBe('POST');
});

test('resolves with status, lower-case headers and the body', async () => {
  const res = await dispatchEvent('POST', server.url, { a: 1 });
  expect(res).toEqual({
    statusCode: 200,
    headers: expect.objectContaining({
      'x-request-id': 'abc-123',
      'content-type': 'application/json',
      'set-cookie': 'a=1, b=2',
    }),
    body: JSON.stringify({ seen: 7 }),
  });
  for (const name of Object.keys(res.headers)) expect(name).toBe(name.toLowerCase());
});

test.each([120, 700])('%i responses handed back together each keep their own headers and body (empty, ASCII, UTF-8)', async (n) => {
  const all = await Promise.all(Array.from({ length: n }, (_, i) => dispatchEvent('POST', new URL(`/each?n=${i}`, server.url).href, { i })));
  all.forEach((res, i) => {
    expect(res.statusCode).toBe(i % 4 === 0 ? 204 : 200);
    expect(res.headers['x-n']).toBe(String(i));
    expect(res.headers['x-latin']).toBe(`caf\u00e9 ${i}`);
    expect(res.body).toBe(i % 4 < 2 ? '' : i % 4 === 2 ? `body ${i}` : `bödy ${'€'.repeat(i)}`);
  });
});

test.each([200, 201, 204, 301, 302, 400, 404, 429, 500, 503])('resolves on HTTP %i (no redirect is followed)', async (code) => {
  const before = server.requests.length;
  const res = await dispatchEvent('POST', `${server.origin}/status?code=${code}`, {});
  expect(res.statusCode).toBe(code);
  expect(server.requests.length).toBe(before + 1);
});

test('strings, Buffers, Uint8Arrays and ArrayBuffers are sent byte for byte', async () => {
  const text = '{"already":"json","ü":"✓"}';
  await dispatchEvent('POST', server.url, text);
  expect(last().body.toString('utf8')).toBe(text);

  const bytes = Buffer.from([0x7b, 0x00, 0xff, 0x7d, 0x0a]);
  await dispatchEvent('POST', server.url, bytes);
  expect(last().body.equals(bytes)).toBe(true);

  const view = new Uint8Array([1, 2, 3, 4, 5, 6]).subarray(2, 5);
  await dispatchEvent('POST', server.url, view);
  expect([...last().body]).toEqual([3, 4, 5]);

  await dispatchEvent('POST', server.url, new Uint16Array([0x4142]).buffer);
  expect(last().body.length).toBe(2);

  await dispatchEvent('POST', server.url, '');
  expect(last().body.length).toBe(0);
  expect(last().headers['content-length']).toBe('0');
});

test('a large body (2 MiB) arrives intact', async () => {
  const params = { blob: 'é'.repeat(1024 * 1024) };
  const res = await dispatchEvent('POST', server.url, params);
  expect(res.statusCode).toBe(200);
  expect(last().body.equals(Buffer.from(JSON.stringify(params)))).toBe(true);
});

test('PUT and PATCH carry the body; verbs are case-insensitive', async () => {
  await dispatchEvent('PUT', server.url, { v: 'put' });
  expect(last().method).toBe('PUT');
  expect(last().body.toString()).toBe('{"v":"put"}');
  await dispatchEvent('patch', server.url, { v: 'patch' });
  expect(last().method).toBe('PATCH');
  expect(last().body.toString()).toBe('{"v":"patch"}');
});

test('GET turns a flat params object into the query string and sends no body', async () => {
  await dispatchEvent('GET', `${server.url}?fixed=1`, { a: 'x y', b: 2, c: true, d: ['1', '2'], e: null, f: undefined });
  expect(last().method).toBe('GET');
  expect(last().url).toBe('/v1/events?fixed=1&a=x+y&b=2&c=true&d=1&d=2&e=');
  expect(last().body.length).toBe(0);
  expect(last().headers['content-type']).toBeUndefined();
  await dispatchEvent('GET', server.url);
  expect(last().url).toBe('/v1/events');
});

test('custom headers are sent; they can replace content-type and the user agent', async () => {
  await dispatchEvent('POST', server.url, {}, {
    headers: { 'X-Api-Key': 'secret', 'x-count': 3, 'X-Empty': '', 'Content-Type': 'application/vnd.custom+json' },
  });
  expect(last().headers['x-api-key']).toBe('secret');
  expect(last().headers['x-count']).toBe('3');
  expect(last().headers['x-empty']).toBe('');
  expect(last().headers['content-type']).toBe('application/vnd.custom+json');

  await dispatchEvent('POST', server.url, {}, { headers: { 'User-Agent': 'mine/1.0' } });
  expect(last().headers['user-agent']).toBe('mine/1.0');
});

const defaultAgent = () => `native-event-dispatcher/${require('../package.json').version} libcurl/${versions().libcurl}`;

test('the default user agent names the package, its version and libcurl', async () => {
  await dispatchEvent('POST', server.url, {});
  expect(last().headers['user-agent']).toBe(defaultAgent());
  await dispatchEvent('POST', server.url, {}, { userAgent: 'my-app/2.0' });
  expect(last().headers['user-agent']).toBe('my-app/2.0');
});

test('the user agent goes once with every method; a User-Agent header of any case replaces it, an empty one too', async () => {
  const agent = defaultAgent();
  const sent = (record) => headerValues(record, 'user-agent');
  for (const verb of ['POST', 'PUT', 'PATCH', 'GET']) {
    await dispatchEvent(verb, server.url, verb === 'GET' ? undefined : { n: 1 });
    expect([verb, sent(last())]).toEqual([verb, [agent]]);
  }
  // fetch() sends its own header lines with each request (and every method).
  const fetch = createFetch();
  for (const method of ['DELETE', 'HEAD', 'POST']) {
    await fetch(server.url, { method, headers: { 'X-Own': '1' } });
    expect([method, sent(last())]).toEqual([method, [agent]]);
  }
  await fetch(server.url, { method: 'POST', body: 'x', headers: { 'user-agent': 'fetch/1' } });
  expect(sent(last())).toEqual(['fetch/1']);
  await createFetch({ userAgent: 'fetch-option/1' })(server.url, { headers: { 'X-Own': '1' } });
  expect(sent(last())).toEqual(['fetch-option/1']);
  await dispatchEvent('POST', server.url, {}, { headers: { 'user-agent': 'lower/1' } });
  expect(sent(last())).toEqual(['lower/1']);
  await dispatchEvent('GET', server.url, undefined, { headers: { 'USER-AGENT': 'upper/1' } });
  expect(sent(last())).toEqual(['upper/1']);
  await dispatchEvent('POST', server.url, {}, { headers: { 'User-Agent': '' } });
  expect(sent(last())).toEqual(['']);
  await dispatchEvent('POST', server.url, {}, { userAgent: 'option/1', headers: { 'X-Other': 'y' } });
  expect(sent(last())).toEqual(['option/1']);
  await dispatchEvent('POST', server.url, {}, { userAgent: 'option/1', headers: { 'User-Agent': 'header/1' } });
  expect(sent(last())).toEqual(['header/1']);
});

test('a changed options object is compiled again (no stale cache)', async () => {
  const options = { headers: { 'x-n': '1' } };
  await dispatchEvent('POST', server.url, {}, options);
  expect(last().headers['x-n']).toBe('1');
  options.headers['x-n'] = '2';
  await dispatchEvent('POST', server.url, {}, options);
  expect(last().headers['x-n']).toBe('2');
  options.userAgent = 'changed/1';
  await dispatchEvent('POST', server.url, {}, options);
  expect(last().headers['user-agent']).toBe('changed/1');
});

test('options that a loosely built cache key would confuse each get their own profile', async () => {
  // Names and values that run together when joined without lengths or types.
  const headerSets = [
    { 'x-a': 'b', 'x-c': 'd' },
    { 'x-a': 'bx-cd' },
    { 'x-ab': 'x-cd' },
    { 'x-a': 's1:b' },
    { 'x-a': 's1', 'x-b': 'u' },
    { 'x-a': '1' },
    { 'x-a': 1 },
    { 'x-a': 'u' },
    { 'x-a': '' },
  ];
  for (const headers of headerSets) {
    await dispatchEvent('POST', server.url, {}, { headers });
    for (const [name, value] of Object.entries(headers)) expect(last().headers[name]).toBe(String(value));
    expect(Object.keys(last().headers).filter((n) => n.startsWith('x-'))).toEqual(Object.keys(headers));
  }
  // The same value with another type is another options object: the bad one is refused every time.
  for (const [good, bad] of [
    [{ timeoutMs: 5000 }, { timeoutMs: '5000' }],
    [{ insecure: false }, { insecure: 'false' }],
    [{ userAgent: 'a/1' }, { userAgent: ['a/1'] }],
    [{ resolve: ['x.test:80:127.0.0.1'] }, { resolve: 'x.test:80:127.0.0.1' }],
    [{ headers: { 'x-a': '1' } }, { headers: [['x-a', '1']] }],
  ]) {
    for (let i = 0; i < 2; i++) {
      expect((await dispatchEvent('POST', server.url, {}, good)).statusCode).toBe(200);
      await expect(dispatchEvent('POST', server.url, {}, bad)).rejects.toMatchObject({ name: 'TypeError' });
    }
  }
});

test('response bodies are capped at maxResponseBytes (default 64 KiB); the rest is discarded', async () => {
  const big = await dispatchEvent('GET', `${server.origin}/big`, { n: 200000 });
  expect(big.statusCode).toBe(200);
  expect(big.body.length).toBe(64 * 1024);
  const small = await dispatchEvent('GET', `${server.origin}/big`, { n: 5000 }, { maxResponseBytes: 100 });
  expect(small.body).toBe('x'.repeat(100));
  const none = await dispatchEvent('GET', `${server.origin}/big`, { n: 10 }, { maxResponseBytes: 0 });
  expect(none.body).toBe('');
});

test('versions() names libcurl, TLS, nghttp2 and the addon', () => {
  const v = versions();
  expect(v.addon).toBe(require('../package.json').version);
  expect(v.libcurl).toMatch(/^\d+\.\d+\.\d+/);
  expect(v.tls).toMatch(/OpenSSL|GnuTLS|wolfSSL|BoringSSL|LibreSSL|mbedTLS/);
  expect(v.nghttp2 === null || /^\d+\.\d+/.test(v.nghttp2)).toBe(true);
  expect(typeof v.http2).toBe('boolean');
});

test('IPv6 literal URLs work ([::1])', async () => {
  const v6 = await start((req, res) => res.end('v6'), { host: '::1' });
  try {
    const res = await dispatchEvent('POST', `http://[::1]:${v6.port}/v1/events`, { ip: 6 });
    expect(res.body).toBe('v6');
    expect(v6.requests[0].body.toString()).toBe('{"ip":6}');
  } finally {
    await v6.close();
  }
});

test('timings: true reports DNS, connect, first byte and total times (null for what did not happen)', async () => {
  const res = await dispatchEvent('POST', server.url, {}, { timings: true });
  const t = res.timings;
  expect(Object.keys(t)).toEqual(['dnsMs', 'connectMs', 'tlsMs', 'firstByteMs', 'totalMs']);
  expect(t.tlsMs).toBeNull(); // plain http
  // A reused keep-alive connection took no time to resolve or connect: 0, not null.
  for (const key of ['dnsMs', 'connectMs']) expect(t[key]).toBeGreaterThanOrEqual(0);
  for (const key of ['firstByteMs', 'totalMs']) expect(t[key]).toBeGreaterThan(0);
  expect(t.totalMs).toBeGreaterThanOrEqual(t.firstByteMs);
  expect((await dispatchEvent('POST', server.url, {})).timings).toBeUndefined();
});
