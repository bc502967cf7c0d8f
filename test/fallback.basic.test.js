'use strict';
// The fallback backend called directly: what reaches the server, and the completions it reports.
const { start } = require('./helpers/servers');
const { backend, profile, submit, send, sinkCalls, completedInsideSubmit, RESPONSE, BINARY } = require('./helpers/fallback');

let server;
const last = () => server.requests[server.requests.length - 1];
beforeAll(async () => {
  server = await start((req, res, record) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/status') {
      const code = Number(u.searchParams.get('code'));
      res.writeHead(code, { location: '/elsewhere', ...(u.searchParams.has('retry') ? { 'retry-after': u.searchParams.get('retry') } : {}) });
      res.end(`status ${code}`);
      return;
    }
    if (u.pathname === '/big') {
      res.end('x'.repeat(Number(u.searchParams.get('n'))));
      return;
    }
    if (u.pathname === '/bytes') {
      res.end(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a]));
      return;
    }
    res.setHeader('x-request-id', 'abc-123');
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ seen: record.body.length, text: 'Grüße 🚀' }));
  });
});
afterAll(async () => {
  await server.close();
  backend.halt();
});

test('POST sends the string as UTF-8, byte for byte, and a 2xx without RESPONSE has no detail', async () => {
  const text = JSON.stringify({ visitor: 'ünïcödé-用户-🚀', quote: '“Grüße, 世界”' });
  const bytes = Buffer.from(text, 'utf8');
  const done = await send('POST', server.url, text);
  expect(done).toEqual({ id: expect.any(Number), statusCode: 200, bytesSent: bytes.length, detail: undefined });
  expect(last().method).toBe('POST');
  expect(last().body.equals(bytes)).toBe(true);
  expect(Number(last().headers['content-length'])).toBe(bytes.length);
  expect(bytes.length).toBeGreaterThan(text.length); // multi-byte characters really sent
});

test('binary bodies (Buffer, views, other typed arrays) are sent as given, and copied at submit', async () => {
  const buffer = Buffer.from([0x7b, 0x00, 0xff, 0x7d, 0x0a]);
  const pending = submit('POST', server.url, buffer).result;
  buffer.fill(0); // the caller reuses its buffer at once
  await pending;
  expect([...last().body]).toEqual([0x7b, 0x00, 0xff, 0x7d, 0x0a]);

  await send('PUT', server.url, new Uint8Array([1, 2, 3, 4, 5, 6]).subarray(2, 5));
  expect(last().method).toBe('PUT');
  expect([...last().body]).toEqual([3, 4, 5]);

  await send('PATCH', server.url, new Uint16Array([0x4142, 0x4344]));
  expect(last().method).toBe('PATCH');
  expect(last().body.length).toBe(4);

  const done = await send('POST', server.url, '');
  expect(last().body.length).toBe(0);
  expect(last().headers['content-length']).toBe('0');
  expect(done.bytesSent).toBe(0);
});

test('GET and HEAD send no body; DELETE sends one only when given', async () => {
  await send('GET', `${server.url}?a=1&b=x+y`, 'ignored');
  expect(last().method).toBe('GET');
  expect(last().url).toBe('/v1/events?a=1&b=x+y');
  expect(last().body.length).toBe(0);
  expect(last().headers['content-type']).toBeUndefined();

  const head = await send('HEAD', server.url, undefined, { flags: RESPONSE });
  expect(last().method).toBe('HEAD');
  expect(head.statusCode).toBe(200);
  expect(head.detail.body).toBe('');

  // Without a Content-Type line, libcurl adds its form type to a body, and nothing without one.
  const plain = profile({ bodyHeaders: [] });
  await send('DELETE', server.url, undefined, { profile: plain });
  expect(last().method).toBe('DELETE');
  expect(last().body.length).toBe(0);
  expect(last().headers['content-type']).toBeUndefined();
  await send('DELETE', server.url, '{"gone":true}', { profile: plain });
  expect(last().body.toString()).toBe('{"gone":true}');
  expect(last().headers['content-type']).toBe('application/x-www-form-urlencoded');
});

test('RESPONSE keeps the status, the raw header block (lower case, repeats kept) and the body as UTF-8', async () => {
  const done = await send('POST', server.url, '{"a":1}', { flags: RESPONSE });
  expect(done.statusCode).toBe(200);
  const { headers, body } = done.detail;
  expect(body).toBe(JSON.stringify({ seen: 7, text: 'Grüße 🚀' }));
  expect(headers).toContain('x-request-id: abc-123\r\n');
  expect(headers).toContain('set-cookie: a=1\r\nset-cookie: b=2\r\n');
  expect(headers).toContain('content-type: application/json\r\n');
  for (const line of headers.split('\r\n').filter(Boolean)) {
    const name = line.slice(0, line.indexOf(':'));
    expect(name).toBe(name.toLowerCase());
  }
  expect(headers.endsWith('\r\n')).toBe(true);
});

test('BINARY gives the body as a Buffer, byte for byte', async () => {
  const done = await send('GET', `${server.origin}/bytes`, undefined, { flags: RESPONSE | BINARY });
  expect(Buffer.isBuffer(done.detail.body)).toBe(true);
  expect([...done.detail.body]).toEqual([0x00, 0xff, 0xfe, 0x80, 0x0a]);
  const text = await send('GET', `${server.origin}/bytes`, undefined, { flags: RESPONSE });
  expect(typeof text.detail.body).toBe('string');
});

test.each([201, 204, 301, 302, 307, 400, 404, 500, 503])('HTTP %i is an answer: no redirect is followed', async (code) => {
  const before = server.requests.length;
  const done = await send('POST', `${server.origin}/status?code=${code}`, '{}');
  expect(done.statusCode).toBe(code);
  expect(server.requests.length).toBe(before + 1);
  if (code >= 300) expect(done.detail).toEqual({}); // not 2xx: always a detail, even an empty one
  else expect(done.detail).toBeUndefined();
});

test('Retry-After comes with the result, also on a 2xx without RESPONSE', async () => {
  const limited = await send('POST', `${server.origin}/status?code=429&retry=7`, '{}');
  expect(limited).toMatchObject({ statusCode: 429, detail: { retryAfterMs: 7000 } });
  const date = 'Wed, 21 Oct 2037 07:28:00 GMT';
  const unavailable = await send('POST', `${server.origin}/status?code=503&retry=${encodeURIComponent(date)}`, '{}');
  expect(Math.abs(unavailable.detail.retryAfterMs - (Date.parse(date) - Date.now()))).toBeLessThan(60000);
  const ok = await send('POST', `${server.origin}/status?code=202&retry=1`, '{}');
  expect(ok).toMatchObject({ statusCode: 202, detail: { retryAfterMs: 1000 } });
  expect(ok.detail.headers).toBeUndefined();
});

test('response bodies stop at maxResponseBytes; the rest is read and dropped', async () => {
  const big = await send('GET', `${server.origin}/big?n=200000`, undefined, { flags: RESPONSE });
  expect(big.statusCode).toBe(200);
  expect(big.detail.body.length).toBe(64 * 1024);
  const capped = profile({ maxResponseBytes: 100 });
  const small = await send('GET', `${server.origin}/big?n=5000`, undefined, { profile: capped, flags: RESPONSE });
  expect(small.detail.body).toBe('x'.repeat(100));
  const none = await send('GET', `${server.origin}/big?n=10`, undefined, { profile: profile({ maxResponseBytes: 0 }), flags: RESPONSE });
  expect(none.detail.body).toBe('');
  // The connection was drained, so the next request reuses it and is answered normally.
  expect((await send('GET', `${server.origin}/big?n=3`, undefined, { profile: capped, flags: RESPONSE })).detail.body).toBe('xxx');
});

test("the profile's headers: defaults like libcurl's, 'Name: value' adds, 'Name:' removes, 'Name;' sends it empty", async () => {
  await send('POST', server.url, '{}');
  expect(last().headers['user-agent']).toBe('native-event-dispatcher/test');
  expect(last().headers.accept).toBe('*/*');
  expect(last().headers['content-type']).toBe('application/json');
  expect(last().headers.expect).toBeUndefined();

  const custom = profile({
    userAgent: 'my-app/2.0',
    bodyHeaders: ['X-Api-Key: secret', 'X-Empty;', 'Accept:', 'X-Twice: 1', 'X-Twice: 2', 'not a header line'],
    getHeaders: ['User-Agent: mine/1.0', 'X-Get: yes'],
  });
  await send('POST', server.url, '{}', { profile: custom });
  const seen = last().headers;
  expect(seen['x-api-key']).toBe('secret');
  expect(seen['x-empty']).toBe('');
  expect(seen.accept).toBeUndefined();
  expect(seen['x-twice']).toBe('1, 2');
  expect(seen['user-agent']).toBe('my-app/2.0');
  // No Content-Type line: libcurl's own for a POST body.
  expect(seen['content-type']).toBe('application/x-www-form-urlencoded');
  expect(seen['x-get']).toBeUndefined();

  await send('GET', server.url, undefined, { profile: custom });
  expect(last().headers['user-agent']).toBe('mine/1.0');
  expect(last().headers['x-get']).toBe('yes');
  expect(last().headers['x-api-key']).toBeUndefined();
});

test("headers given to one request replace the profile's, in the same syntax", async () => {
  const p = profile({ bodyHeaders: ['X-Profile: 1', 'Content-Type: application/json'] });
  await send('POST', server.url, '{}', { profile: p, headers: ['X-Request: 2', 'Content-Type: text/plain', 'User-Agent:'] });
  expect(last().headers['x-request']).toBe('2');
  expect(last().headers['x-profile']).toBeUndefined();
  expect(last().headers['content-type']).toBe('text/plain');
  expect(last().headers['user-agent']).toBeUndefined();
  await send('POST', server.url, '{}', { profile: p });
  expect(last().headers['x-profile']).toBe('1');
});

test('credentials in the URL are sent as Basic authentication, as libcurl does', async () => {
  const u = new URL(server.url);
  u.username = 'user';
  u.password = 'p@ss';
  await send('POST', u.href, '{}');
  expect(last().headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
});

test('timings: five numbers, -1 where not reached; a reused connection took 0 to connect', async () => {
  const p = profile({ timings: true });
  await send('POST', server.url, '{}', { profile: p });
  const done = await send('POST', server.url, '{}', { profile: p });
  expect(done.statusCode).toBe(200);
  const [dns, connect, tlsMs, firstByte, total] = done.detail.timings;
  expect(dns).toBe(0);
  expect(connect).toBe(0);
  expect(tlsMs).toBe(-1); // plain http
  expect(firstByte).toBeGreaterThan(0);
  expect(total).toBeGreaterThanOrEqual(firstByte);
});

test('completions never arrive inside submit(), and arrive in batches', async () => {
  // Forty answers released in one go arrive together, and reach the sink in fewer calls than forty.
  const held = [];
  const holding = await start((req, res) => held.push(res));
  try {
    const pending = Array.from({ length: 40 }, (_, i) => send('POST', holding.url, `{"i":${i}}`));
    while (held.length < 40) await new Promise((r) => setTimeout(r, 5));
    const callsBefore = sinkCalls.length;
    for (const res of held) res.end();
    const results = await Promise.all(pending);
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    expect(sinkCalls.length - callsBefore).toBeLessThan(40);
    expect(sinkCalls.slice(callsBefore).reduce((a, b) => a + b, 0)).toBe(40);
  } finally {
    await holding.close();
  }
  expect(completedInsideSubmit()).toBe(false);
  // A failure found while submitting (an unusable CA file) is still reported later.
  const unusable = profile({ caFile: '/nonexistent/ca.pem' });
  let reported = false;
  const pending = submit('POST', 'https://127.0.0.1:1/', '{}', { profile: unusable }).result.then((r) => { reported = true; return r; });
  expect(reported).toBe(false);
  expect((await pending).detail.code).toBe('ECERT');
  expect(completedInsideSubmit()).toBe(false);
});

test('stats() and versions() describe the fallback', async () => {
  const before = backend.stats();
  await send('POST', server.url, '{}');
  const after = backend.stats();
  expect(after).toEqual({ submitted: before.submitted + 1, settled: before.settled + 1, pending: 0, pumpRuns: 0, batches: before.settled + 1, wakeups: 0, rings: 0, buffersReused: 0, bufferBytesKept: 0, pumpRunning: false, transport: 'fallback' });
  const v = backend.versions();
  expect(v).toMatchObject({
    addon: require('../package.json').version,
    transport: 'fallback',
    undici: require('undici/package.json').version,
    libcurl: null,
    tls: `OpenSSL/${process.versions.openssl}`,
    http2: true,
    asyncDns: true,
    caFile: null,
    caPath: null,
  });
});

test('junk arguments throw TypeError or RangeError with a code; nothing is sent', () => {
  const p = profile();
  const before = backend.stats().submitted;
  const call = (...args) => () => backend.submit(...args);
  expect(call(0, 1, server.url, '', p, undefined, 0)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
  expect(call(1e9, 9, server.url, '', p, undefined, 0)).toThrow(expect.objectContaining({ name: 'RangeError' }));
  expect(call(1e9, 1, 'not a url', '', p, undefined, 0)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_URL' }));
  expect(call(1e9, 1, server.url, 42, p, undefined, 0)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  expect(call(1e9, 1, server.url, '', {}, undefined, 0)).toThrow(expect.objectContaining({ message: expect.stringContaining('compileProfile') }));
  expect(call(1e9, 1, server.url, '', p, ['X: a\r\nY: b'], 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CHAR' }));
  expect(call(1e9, 1, server.url, '', p, undefined, 8)).toThrow(expect.objectContaining({ name: 'RangeError' }));
  expect(() => backend.compileProfile({ ...p, timeoutMs: 0 })).toThrow(expect.objectContaining({ name: 'TypeError' }));
  expect(backend.stats().submitted).toBe(before);
});

test('a pending id cannot be reused until it completed', async () => {
  const held = [];
  const holding = await start((req, res) => held.push(res));
  try {
    const { id, result } = submit('POST', holding.url, '{}');
    expect(() => backend.submit(id, 1, holding.url, '', profile(), undefined, 0))
      .toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }));
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    held[0].end();
    expect((await result).statusCode).toBe(200);
  } finally {
    await holding.close();
  }
});

test('options the fallback cannot honour are refused at compileProfile with ERR_OPTION_UNSUPPORTED', () => {
  for (const proxy of ['socks5://127.0.0.1:1080', 'socks5h://user:secret@127.0.0.1:1080', 'socks4://127.0.0.1:1080']) {
    let err;
    try {
      profile({ httpsProxy: proxy });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_OPTION_UNSUPPORTED');
    expect(err.message).toContain('native transport supports it');
    expect(err.message).not.toContain('secret'); // proxy credentials stay out of messages
  }
  expect(() => profile({ bodyHeaders: ['Expect: 100-continue'] })).toThrow(expect.objectContaining({ code: 'ERR_OPTION_UNSUPPORTED' }));
});

test('verbose: the request line and headers, the answer\'s status and headers, and the outcome on stderr (libcurl\'s own trace is native only)', async () => {
  const lines = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => { lines.push(String(chunk)); return true; });
  try {
    const done = await send('POST', `${server.origin}/status?code=503`, '{}', { profile: profile({ verbose: true }) });
    expect(done.statusCode).toBe(503);
  } finally {
    spy.mockRestore();
  }
  expect(lines.every((line) => /^\* native-event-dispatcher \(fallback\) #\d+ .*\n$/.test(line))).toBe(true);
  const said = lines.map((line) => line.replace(/^\* native-event-dispatcher \(fallback\) #\d+ /, '').trimEnd());
  expect(said[0]).toMatch(/^> POST http:\/\/127\.0\.0\.1:\d+\/status\?code=503$/);
  expect(said).toContain('> Content-Type: application/json');
  expect(said).toContain('< 503');
  expect(said.at(-1)).toBe('done: HTTP 503');
});
