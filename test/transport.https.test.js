'use strict';
const http2 = require('node:http2');
const { dispatchEvent, pumpStats } = require('..');
const { start, makeCertificates } = require('./helpers/servers');

// A CA and a certificate for events.test, made with openssl for this run; the host name is pinned
// to 127.0.0.1 with `resolve`, so nothing is looked up outside the machine.
let certs;
let server;
let resolve;
let url;
beforeAll(async () => {
  certs = makeCertificates('events.test');
  server = await start((req, res) => res.end(`hello over ${req.httpVersion}`), {
    tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test',
  });
  resolve = [`events.test:${server.port}:127.0.0.1`, `other.test:${server.port}:127.0.0.1`];
  url = server.url;
});
afterAll(async () => {
  await server.close();
  certs.remove();
});

test('a certificate from an unknown CA → ECERT', async () => {
  const err = await dispatchEvent('POST', url, {}, { resolve }).catch((e) => e);
  expect(err.code).toBe('ECERT');
  expect(err.curlCode).toBe(60);
  // libcurl's own words add "or SSH remote key": the package never does SSH.
  expect(err.detail).toMatch(/^SSL peer certificate was not OK \(/);
  expect(err.message).not.toContain('SSH');
  expect(server.requests.length).toBe(0);
});

test('caFile makes it trusted → 2xx', async () => {
  const res = await dispatchEvent('POST', url, { over: 'tls' }, { resolve, caFile: certs.caFile });
  expect(res.statusCode).toBe(200);
  expect(server.requests[server.requests.length - 1].body.toString()).toBe('{"over":"tls"}');
});

test('a host name the certificate does not cover → ECERT', async () => {
  const wrong = url.replace('events.test', 'other.test');
  const err = await dispatchEvent('POST', wrong, {}, { resolve, caFile: certs.caFile }).catch((e) => e);
  expect(err.code).toBe('ECERT');
  expect(err.message).toMatch(/other\.test|subject alt|certificate/i);
});

test('an unreadable caFile → ECERT with the reason', async () => {
  const err = await dispatchEvent('POST', url, {}, { resolve, caFile: '/nonexistent/ca.pem' }).catch((e) => e);
  expect(err.code).toBe('ECERT');
  expect(err.curlCode).toBe(77);
});

test('insecure: true skips verification (only when set explicitly)', async () => {
  const res = await dispatchEvent('POST', url, {}, { resolve, insecure: true });
  expect(res.statusCode).toBe(200);
});

test('HTTP/1.1 by default; http2: true negotiates HTTP/2 through ALPN', async () => {
  const h1 = await dispatchEvent('POST', url, { v: 1 }, { resolve, caFile: certs.caFile });
  expect(h1.body).toBe('hello over 1.1');
  // A fresh server: libcurl would reuse the HTTP/1.1 connection above for the same host.
  const fresh = await start((req, res) => res.end(`hello over ${req.httpVersion}`), {
    tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test',
  });
  try {
    const options = { resolve: [`events.test:${fresh.port}:127.0.0.1`], caFile: certs.caFile, http2: true };
    const h2 = await dispatchEvent('POST', fresh.url, { v: 2 }, options);
    expect(h2.body).toBe('hello over 2.0');
    expect(fresh.requests[0].httpVersion).toBe('2.0');
    expect(fresh.requests[0].body.toString()).toBe('{"v":2}');

    // 90 requests at once (libcurl runs up to 100 streams per connection) multiplex over the one
    // connection and all arrive intact.
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => dispatchEvent('POST', fresh.url, { i, text: 'ü✓' }, options)));
    expect(results.every((r) => r.statusCode === 200 && r.body === 'hello over 2.0')).toBe(true);
    const seen = fresh.requests.slice(1).map((r) => JSON.parse(r.body.toString()).i).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 90 }, (_, i) => i));
    expect(fresh.connections).toBe(1);
  } finally {
    await fresh.close();
  }
});

test('an HTTP/2 server that answers early and resets the upload (RST_STREAM NO_ERROR) still gives its answer', async () => {
  // What nginx's "return 204" does: the complete response, then RST_STREAM(NO_ERROR) to stop the
  // body it will not read. RFC 9113 section 8.1: the client must not discard that response.
  const early = await start(() => {}, { tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test' });
  early.server.removeAllListeners('request');
  early.server.removeAllListeners('stream');
  early.server.on('stream', (stream) => {
    stream.respond({ ':status': 204 }, { endStream: true });
    setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR));
  });
  try {
    const options = { resolve: [`events.test:${early.port}:127.0.0.1`], caFile: certs.caFile, http2: true };
    for (let i = 0; i < 5; i++) {
      const res = await dispatchEvent('POST', early.url, { blob: 'x'.repeat(200000) }, options);
      expect(res.statusCode).toBe(204);
    }
  } finally {
    await early.close();
  }
});

test('libcurl\'s big per-request buffers are reused from one request to the next, and given back when the pump goes idle', async () => {
  const before = pumpStats();
  for (let round = 0; round < 5; round++) {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => dispatchEvent('POST', url, { round, i }, { resolve, caFile: certs.caFile })));
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
  }
  // Each request takes an upload and a download buffer; after the first round, kept ones.
  expect(pumpStats().buffersReused - before.buffersReused).toBeGreaterThanOrEqual(80);
  for (let i = 0; i < 300 && pumpStats().pumpRunning; i++) await new Promise((r) => setTimeout(r, 10));
  const idle = pumpStats();
  expect(idle.pumpRunning).toBe(false);
  expect(idle.bufferBytesKept).toBe(0);
});
