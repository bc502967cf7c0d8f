'use strict';
// What reaches the server and what comes back, on both transports: bodies byte for byte, verbs,
// headers, the user agent, statuses, the response cap, timings and versions. Below the contract,
// what only the fallback's backend shows when driven directly (as lib/transport drives it).
const { start, headerValues } = require('./helpers/servers');
const { TRANSPORTS, load, per } = require('./helpers/transports');

let server;
beforeAll(async () => {
  server = await start((req, res, record) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/status') {
      const code = Number(u.searchParams.get('code'));
      res.writeHead(code, {
        location: '/elsewhere',
        ...(u.searchParams.has('retry') ? { 'retry-after': u.searchParams.get('retry') } : {}),
      });
      res.end(`status ${code}`);
      return;
    }
    if (u.pathname === '/each') {
      // Its own header and body for each request: n decides the body (none, ASCII, UTF-8) and a
      // Latin-1 header byte (obs-text), so responses handed back together cannot be mixed up.
      const n = Number(u.searchParams.get('n'));
      res.writeHead(n % 4 === 0 ? 204 : 200, [
        ['x-n', String(n)],
        ['x-latin', Buffer.from(`caf\xe9 ${n}`, 'latin1').toString('latin1')],
      ]);
      res.end(
        n % 4 === 0
          ? undefined
          : n % 4 === 1
            ? ''
            : n % 4 === 2
              ? `body ${n}`
              : `bödy ${'€'.repeat(n)}`,
      );
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
afterAll(() => server.close());

const last = () => server.requests[server.requests.length - 1];

describe.each(TRANSPORTS)('%s transport', (kind) => {
  const { dispatchEvent, createFetch, versions } = load(kind);

  test('POST sends exactly the JSON.stringify bytes, with multi-byte UTF-8 intact', async () => {
    const params = {
      visitors: [
        { visitor_id: 'ünïcödé-用户-🚀', attributes: [{ value: 'Grüße, 世界 — “quotes”' }] },
      ],
      n: 1.5,
      nested: { empty: [], nil: null, t: true },
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
      body: JSON.stringify({ seen: 7, text: 'Grüße 🚀' }),
    });
    for (const name of Object.keys(res.headers)) expect(name).toBe(name.toLowerCase());
  });

  test.each([120, 700])(
    '%i responses handed back together each keep their own headers and body (empty, ASCII, UTF-8)',
    async (n) => {
      const all = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          dispatchEvent('POST', new URL(`/each?n=${i}`, server.url).href, { i }),
        ),
      );
      all.forEach((res, i) => {
        expect(res.statusCode).toBe(i % 4 === 0 ? 204 : 200);
        expect(res.headers['x-n']).toBe(String(i));
        // A Latin-1 byte (obs-text) in a header value: libcurl hands the byte over, undici decodes the
        // value as UTF-8 and gets U+FFFD — a difference the README's list does not name yet.
        expect(res.headers['x-latin']).toBe(
          per(kind, { native: `caf\u00e9 ${i}`, fallback: `caf\ufffd ${i}` }),
        );
        expect(res.body).toBe(i % 4 < 2 ? '' : i % 4 === 2 ? `body ${i}` : `bödy ${'€'.repeat(i)}`);
      });
    },
  );

  test.each([200, 201, 204, 301, 302, 307, 400, 404, 429, 500, 503])(
    'resolves on HTTP %i (no redirect is followed)',
    async (code) => {
      const before = server.requests.length;
      const res = await dispatchEvent('POST', `${server.origin}/status?code=${code}`, {});
      expect(res.statusCode).toBe(code);
      expect(server.requests.length).toBe(before + 1);
    },
  );

  test('strings, Buffers, Uint8Arrays and ArrayBuffers are sent byte for byte', async () => {
    const text = '{"already":"json","ü":"✓"}';
    await dispatchEvent('POST', server.url, text);
    expect(last().body.toString('utf8')).toBe(text);

    const bytes = Buffer.from([0x7b, 0x00, 0xff, 0x7d, 0x0a]);
    const pending = dispatchEvent('POST', server.url, bytes);
    bytes.fill(0); // the caller reuses its buffer at once: what was given is what goes
    await pending;
    expect([...last().body]).toEqual([0x7b, 0x00, 0xff, 0x7d, 0x0a]);

    const view = new Uint8Array([1, 2, 3, 4, 5, 6]).subarray(2, 5);
    await dispatchEvent('POST', server.url, view);
    expect([...last().body]).toEqual([3, 4, 5]);

    await dispatchEvent('POST', server.url, new Uint16Array([0x4142]).buffer);
    expect(last().body.length).toBe(2);

    await dispatchEvent('PUT', server.url, new Uint8Array([1, 2, 3, 4, 5, 6]).subarray(2, 5));
    expect(last().method).toBe('PUT');
    expect([...last().body]).toEqual([3, 4, 5]);

    await dispatchEvent('PATCH', server.url, new Uint16Array([0x4142, 0x4344]));
    expect(last().method).toBe('PATCH');
    expect(last().body.length).toBe(4);

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
    await dispatchEvent('GET', `${server.url}?fixed=1`, {
      a: 'x y',
      b: 2,
      c: true,
      d: ['1', '2'],
      e: null,
      f: undefined,
    });
    expect(last().method).toBe('GET');
    expect(last().url).toBe('/v1/events?fixed=1&a=x+y&b=2&c=true&d=1&d=2&e=');
    expect(last().body.length).toBe(0);
    expect(last().headers['content-type']).toBeUndefined();
    await dispatchEvent('GET', server.url);
    expect(last().url).toBe('/v1/events');
  });

  test('custom headers are sent; they can replace content-type and the user agent', async () => {
    await dispatchEvent(
      'POST',
      server.url,
      {},
      {
        headers: {
          'X-Api-Key': 'secret',
          'x-count': 3,
          'X-Empty': '',
          'Content-Type': 'application/vnd.custom+json',
        },
      },
    );
    expect(last().headers['x-api-key']).toBe('secret');
    expect(last().headers['x-count']).toBe('3');
    expect(last().headers['x-empty']).toBe('');
    expect(last().headers['content-type']).toBe('application/vnd.custom+json');
    expect(last().headers.accept).toBe('*/*'); // libcurl's default, on both

    await dispatchEvent('POST', server.url, {}, { headers: { 'User-Agent': 'mine/1.0' } });
    expect(last().headers['user-agent']).toBe('mine/1.0');
  });

  // The fallback has no libcurl to name.
  const defaultAgent = () =>
    per(kind, {
      native: `native-event-dispatcher/${require('../package.json').version} libcurl/${versions().libcurl}`,
      fallback: `native-event-dispatcher/${require('../package.json').version}`,
    });

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
    await dispatchEvent(
      'POST',
      server.url,
      {},
      { userAgent: 'option/1', headers: { 'X-Other': 'y' } },
    );
    expect(sent(last())).toEqual(['option/1']);
    await dispatchEvent(
      'POST',
      server.url,
      {},
      { userAgent: 'option/1', headers: { 'User-Agent': 'header/1' } },
    );
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
      for (const [name, value] of Object.entries(headers))
        expect(last().headers[name]).toBe(String(value));
      expect(Object.keys(last().headers).filter((n) => n.startsWith('x-'))).toEqual(
        Object.keys(headers),
      );
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
        await expect(dispatchEvent('POST', server.url, {}, bad)).rejects.toMatchObject({
          name: 'TypeError',
        });
      }
    }
  });

  test('response bodies are capped at maxResponseBytes (default 64 KiB); the rest is discarded', async () => {
    const big = await dispatchEvent('GET', `${server.origin}/big`, { n: 200000 });
    expect(big.statusCode).toBe(200);
    expect(big.body.length).toBe(64 * 1024);
    const small = await dispatchEvent(
      'GET',
      `${server.origin}/big`,
      { n: 5000 },
      { maxResponseBytes: 100 },
    );
    expect(small.body).toBe('x'.repeat(100));
    const none = await dispatchEvent(
      'GET',
      `${server.origin}/big`,
      { n: 10 },
      { maxResponseBytes: 0 },
    );
    expect(none.body).toBe('');
    // The connection was drained, so the next request reuses it and is answered normally.
    expect(
      (await dispatchEvent('GET', `${server.origin}/big`, { n: 3 }, { maxResponseBytes: 100 }))
        .body,
    ).toBe('xxx');
  });

  test('a binary response body comes back byte for byte (fetch().arrayBuffer())', async () => {
    const res = await createFetch()(`${server.origin}/bytes`);
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0x00, 0xff, 0xfe, 0x80, 0x0a]);
  });

  test('versions() names the transport, libcurl (native) or undici (fallback), TLS, nghttp2 and the addon', () => {
    const v = versions();
    expect(v.addon).toBe(require('../package.json').version);
    expect(v.transport).toBe(kind);
    expect(v.tls).toMatch(/OpenSSL|GnuTLS|wolfSSL|BoringSSL|LibreSSL|mbedTLS/);
    expect(v.nghttp2 === null || /^\d+\.\d+/.test(v.nghttp2)).toBe(true);
    expect(typeof v.http2).toBe('boolean');
    if (kind === 'native') {
      expect(v.libcurl).toMatch(/^\d+\.\d+\.\d+/);
    } else {
      expect(v).toMatchObject({
        undici: require('undici/package.json').version,
        libcurl: null,
        tls: `OpenSSL/${process.versions.openssl}`,
        http2: true,
        asyncDns: true,
        caFile: null,
        caPath: null,
      });
    }
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
    const again = (await dispatchEvent('POST', server.url, {}, { timings: true })).timings;
    if (kind === 'fallback') expect([again.dnsMs, again.connectMs]).toEqual([0, 0]);
    else for (const key of ['dnsMs', 'connectMs']) expect(again[key]).toBeGreaterThanOrEqual(0);
    expect(again.tlsMs).toBeNull();
    for (const key of ['firstByteMs', 'totalMs']) expect(t[key]).toBeGreaterThan(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.firstByteMs);
    expect((await dispatchEvent('POST', server.url, {})).timings).toBeUndefined();
  });
});

// The fallback's backend driven directly: the completion protocol (ids, the sink, batches, the raw
// header block, Retry-After as given), the profile's libcurl header syntax, argument checks and the
// verbose trace — what the public API above does not show.
describe('the fallback backend, driven directly', () => {
  const {
    backend,
    profile,
    submit,
    send,
    sinkCalls,
    completedInsideSubmit,
    RESPONSE,
    BINARY,
  } = require('./helpers/fallback');

  afterAll(() => backend.halt());

  test('POST sends the string as UTF-8, byte for byte, and a 2xx without RESPONSE has no detail', async () => {
    const text = JSON.stringify({ visitor: 'ünïcödé-用户-🚀', quote: '“Grüße, 世界”' });
    const bytes = Buffer.from(text, 'utf8');
    const done = await send('POST', server.url, text);
    expect(done).toEqual({
      id: expect.any(Number),
      statusCode: 200,
      bytesSent: bytes.length,
      detail: undefined,
    });
    expect(last().method).toBe('POST');
    expect(last().body.equals(bytes)).toBe(true);
    expect(Number(last().headers['content-length'])).toBe(bytes.length);
    expect(bytes.length).toBeGreaterThan(text.length); // multi-byte characters really sent
    expect((await send('POST', server.url, '')).bytesSent).toBe(0);
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
    const done = await send('GET', `${server.origin}/bytes`, undefined, {
      flags: RESPONSE | BINARY,
    });
    expect(Buffer.isBuffer(done.detail.body)).toBe(true);
    expect([...done.detail.body]).toEqual([0x00, 0xff, 0xfe, 0x80, 0x0a]);
    const text = await send('GET', `${server.origin}/bytes`, undefined, { flags: RESPONSE });
    expect(typeof text.detail.body).toBe('string');
  });

  test.each([201, 204, 301, 302, 307, 400, 404, 500, 503])(
    'HTTP %i is an answer: no redirect is followed',
    async (code) => {
      const before = server.requests.length;
      const done = await send('POST', `${server.origin}/status?code=${code}`, '{}');
      expect(done.statusCode).toBe(code);
      expect(server.requests.length).toBe(before + 1);
      if (code >= 300)
        expect(done.detail).toEqual({}); // not 2xx: always a detail, even an empty one
      else expect(done.detail).toBeUndefined();
    },
  );

  test('Retry-After comes with the result, also on a 2xx without RESPONSE', async () => {
    const limited = await send('POST', `${server.origin}/status?code=429&retry=7`, '{}');
    expect(limited).toMatchObject({ statusCode: 429, detail: { retryAfterMs: 7000 } });
    const date = 'Wed, 21 Oct 2037 07:28:00 GMT';
    const unavailable = await send(
      'POST',
      `${server.origin}/status?code=503&retry=${encodeURIComponent(date)}`,
      '{}',
    );
    expect(
      Math.abs(unavailable.detail.retryAfterMs - (Date.parse(date) - Date.now())),
    ).toBeLessThan(60000);
    const ok = await send('POST', `${server.origin}/status?code=202&retry=1`, '{}');
    expect(ok).toMatchObject({ statusCode: 202, detail: { retryAfterMs: 1000 } });
    expect(ok.detail.headers).toBeUndefined();
  });

  test("the profile's headers: defaults like libcurl's, 'Name: value' adds, 'Name:' removes, 'Name;' sends it empty", async () => {
    await send('POST', server.url, '{}');
    expect(last().headers['user-agent']).toBe('native-event-dispatcher/test');
    expect(last().headers.accept).toBe('*/*');
    expect(last().headers['content-type']).toBe('application/json');
    expect(last().headers.expect).toBeUndefined();

    const custom = profile({
      userAgent: 'my-app/2.0',
      bodyHeaders: [
        'X-Api-Key: secret',
        'X-Empty;',
        'Accept:',
        'X-Twice: 1',
        'X-Twice: 2',
        'not a header line',
      ],
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
    await send('POST', server.url, '{}', {
      profile: p,
      headers: ['X-Request: 2', 'Content-Type: text/plain', 'User-Agent:'],
    });
    expect(last().headers['x-request']).toBe('2');
    expect(last().headers['x-profile']).toBeUndefined();
    expect(last().headers['content-type']).toBe('text/plain');
    expect(last().headers['user-agent']).toBeUndefined();
    await send('POST', server.url, '{}', { profile: p });
    expect(last().headers['x-profile']).toBe('1');
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
    const pending = submit('POST', 'https://127.0.0.1:1/', '{}', { profile: unusable }).result.then(
      (r) => {
        reported = true;
        return r;
      },
    );
    expect(reported).toBe(false);
    expect((await pending).detail.code).toBe('ECERT');
    expect(completedInsideSubmit()).toBe(false);
  });

  test('stats() describes the fallback: no pump, one batch a response', async () => {
    const before = backend.stats();
    await send('POST', server.url, '{}');
    const after = backend.stats();
    expect(after).toEqual({
      submitted: before.submitted + 1,
      settled: before.settled + 1,
      pending: 0,
      pumpRuns: 0,
      batches: before.settled + 1,
      wakeups: 0,
      rings: 0,
      buffersReused: 0,
      bufferBytesKept: 0,
      pumpRunning: false,
      transport: 'fallback',
    });
    // versions(): in the contract above, through the public API.
  });

  test('junk arguments throw TypeError or RangeError with a code; nothing is sent', () => {
    const p = profile();
    const before = backend.stats().submitted;
    const call =
      (...args) =>
      () =>
        backend.submit(...args);
    expect(call(0, 1, server.url, '', p, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(call(1e9, 9, server.url, '', p, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'RangeError' }),
    );
    expect(call(1e9, 1, 'not a url', '', p, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_URL' }),
    );
    expect(call(1e9, 1, server.url, 42, p, undefined, 0)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(call(1e9, 1, server.url, '', {}, undefined, 0)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('compileProfile') }),
    );
    expect(call(1e9, 1, server.url, '', p, ['X: a\r\nY: b'], 0)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_CHAR' }),
    );
    expect(call(1e9, 1, server.url, '', p, undefined, 8)).toThrow(
      expect.objectContaining({ name: 'RangeError' }),
    );
    expect(() => backend.compileProfile({ ...p, timeoutMs: 0 })).toThrow(
      expect.objectContaining({ name: 'TypeError' }),
    );
    expect(backend.stats().submitted).toBe(before);
  });

  test('a pending id cannot be reused until it completed', async () => {
    const held = [];
    const holding = await start((req, res) => held.push(res));
    try {
      const { id, result } = submit('POST', holding.url, '{}');
      expect(() => backend.submit(id, 1, holding.url, '', profile(), undefined, 0)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }),
      );
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      held[0].end();
      expect((await result).statusCode).toBe(200);
    } finally {
      await holding.close();
    }
  });

  test('options the fallback cannot honour are refused at compileProfile with ERR_OPTION_UNSUPPORTED', () => {
    for (const proxy of [
      'socks5://127.0.0.1:1080',
      'socks5h://user:secret@127.0.0.1:1080',
      'socks4://127.0.0.1:1080',
    ]) {
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
    expect(() => profile({ bodyHeaders: ['Expect: 100-continue'] })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTION_UNSUPPORTED' }),
    );
  });

  test("verbose: the request line and headers, the answer's status and headers, and the outcome on stderr (libcurl's own trace is native only)", async () => {
    const lines = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const done = await send('POST', `${server.origin}/status?code=503`, '{}', {
        profile: profile({ verbose: true }),
      });
      expect(done.statusCode).toBe(503);
    } finally {
      spy.mockRestore();
    }
    expect(
      lines.every((line) => /^\* native-event-dispatcher \(fallback\) #\d+ .*\n$/.test(line)),
    ).toBe(true);
    const said = lines.map((line) =>
      line.replace(/^\* native-event-dispatcher \(fallback\) #\d+ /, '').trimEnd(),
    );
    expect(said[0]).toMatch(/^> POST http:\/\/127\.0\.0\.1:\d+\/status\?code=503$/);
    expect(said).toContain('> Content-Type: application/json');
    expect(said).toContain('< 503');
    expect(said.at(-1)).toBe('done: HTTP 503');
  });
});
