'use strict';
// TLS on the fallback: certificates, caFile, insecure, handshake failures, HTTP/2 and connect-to.
const http2 = require('node:http2');
const { start, startRaw, makeCertificates } = require('./helpers/servers');
const { backend, profile, send, RESPONSE } = require('./helpers/fallback');

// A throw-away CA and a certificate for events.test; connect-to pins the name to 127.0.0.1, so
// nothing is looked up outside the machine.
let certs;
let server;
let pin;
beforeAll(async () => {
  certs = makeCertificates('events.test');
  server = await start((req, res) => res.end(`hello over ${req.httpVersion}`), {
    tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test',
  });
  pin = [`events.test:${server.port}:127.0.0.1:${server.port}`, `other.test:${server.port}:127.0.0.1:${server.port}`];
});
afterAll(async () => {
  await server.close();
  certs.remove();
  backend.halt();
});


test('a certificate from an unknown CA → ECERT 60; nothing reaches the server', async () => {
  const done = await send('POST', server.url, '{}', { profile: profile({ connectTo: pin }) });
  expect(done.detail).toMatchObject({ code: 'ECERT', curlCode: 60 });
  expect(done.detail.message).toMatch(/^SSL peer certificate was not OK \(/); // the native transport's words
  expect(server.requests.length).toBe(0);
});

test('caFile makes it trusted; connect-to keeps the name for SNI and the certificate check', async () => {
  const done = await send('POST', server.url, '{"over":"tls"}', { profile: profile({ connectTo: pin, caFile: certs.caFile }), flags: RESPONSE });
  expect(done.statusCode).toBe(200);
  expect(done.detail.body).toBe('hello over 1.1');
  expect(server.requests[server.requests.length - 1].body.toString()).toBe('{"over":"tls"}');
  expect(server.requests[server.requests.length - 1].headers.host).toBe(`events.test:${server.port}`);
});

test('a host name the certificate does not cover → ECERT 60, naming it', async () => {
  const done = await send('POST', server.url.replace('events.test', 'other.test'), '{}', { profile: profile({ connectTo: pin, caFile: certs.caFile }) });
  expect(done.detail).toMatchObject({ code: 'ECERT', curlCode: 60 });
  expect(done.detail.message).toMatch(/other\.test/);
});

test('an unreadable or certificate-less caFile → ECERT 77 for https:, and http: does not care', async () => {
  const missing = profile({ connectTo: pin, caFile: '/nonexistent/ca.pem' });
  const done = await send('POST', server.url, '{}', { profile: missing });
  expect(done.detail).toMatchObject({ code: 'ECERT', curlCode: 77 });
  expect(done.detail.message).toContain('/nonexistent/ca.pem');
  const notPem = await send('POST', server.url, '{}', { profile: profile({ connectTo: pin, caFile: __filename }) });
  expect(notPem.detail).toMatchObject({ code: 'ECERT', curlCode: 77 });
  const plain = await start((req, res) => res.end('plain'));
  try {
    expect((await send('POST', plain.url, '{}', { profile: missing })).statusCode).toBe(200);
  } finally {
    await plain.close();
  }
});

test('insecure: true skips verification', async () => {
  const done = await send('POST', server.url, '{}', { profile: profile({ connectTo: pin, insecure: true }) });
  expect(done.statusCode).toBe(200);
});

test('TLS to a port that speaks plain HTTP → ETLS 35', async () => {
  const plain = await start((req, res) => res.end('plain'));
  try {
    const done = await send('POST', `https://127.0.0.1:${plain.port}/`, '{}');
    expect(done.detail).toMatchObject({ code: 'ETLS', curlCode: 35 });
    expect(done.detail.message).toMatch(/^SSL connect error \(/);
  } finally {
    await plain.close();
  }
});

test('a TLS handshake that never completes → ETIMEDOUT 28 after connectTimeoutMs', async () => {
  const silent = await startRaw(() => {}); // takes the ClientHello and says nothing
  try {
    const done = await send('POST', `https://127.0.0.1:${silent.port}/`, '{}', { profile: profile({ connectTimeoutMs: 200, timeoutMs: 60000 }) });
    expect(done.detail).toMatchObject({ code: 'ETIMEDOUT', curlCode: 28 });
    expect(done.detail.message).toBe('Timeout was reached (Connection timed out after 200 milliseconds)');
  } finally {
    await silent.close();
  }
});

test('HTTP/1.1 by default; http2: true negotiates HTTP/2, and concurrent POSTs share one connection', async () => {
  const fresh = await start((req, res) => res.end(`hello over ${req.httpVersion}`), {
    tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test',
  });
  try {
    const connectTo = [`events.test:${fresh.port}:127.0.0.1:${fresh.port}`];
    const h2 = profile({ connectTo, caFile: certs.caFile, http2: true });
    const first = await send('POST', fresh.url, '{"v":2}', { profile: h2, flags: RESPONSE });
    expect(first.detail.body).toBe('hello over 2.0');
    expect(fresh.requests[0].httpVersion).toBe('2.0');
    // 90 at once over the one connection (up to 100 streams on it), all intact.
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => send('POST', fresh.url, JSON.stringify({ i, text: 'ü✓' }), { profile: h2, flags: RESPONSE })));
    expect(results.every((r) => r.statusCode === 200 && r.detail.body === 'hello over 2.0')).toBe(true);
    const seen = fresh.requests.slice(1).map((r) => JSON.parse(r.body.toString()).i).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 90 }, (_, i) => i));
    expect(fresh.connections).toBe(1);
  } finally {
    await fresh.close();
  }
});

test('an HTTP/2 server that answers early and resets the upload (RST_STREAM NO_ERROR) still gives its answer', async () => {
  const early = await start(() => {}, { tls: { key: certs.key, cert: certs.cert }, h2: true, hostname: 'events.test' });
  early.server.removeAllListeners('request');
  early.server.removeAllListeners('stream');
  early.server.on('stream', (stream) => {
    stream.respond({ ':status': 204 }, { endStream: true });
    setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR));
  });
  try {
    const h2 = profile({ connectTo: [`events.test:${early.port}:127.0.0.1:${early.port}`], caFile: certs.caFile, http2: true });
    for (let i = 0; i < 5; i++) {
      const done = await send('POST', early.url, 'x'.repeat(200000), { profile: h2 });
      expect(done.statusCode).toBe(204);
    }
  } finally {
    await early.close();
  }
});

test('timings over TLS: DNS, connect and TLS for a new connection, in order', async () => {
  const fresh = await start((req, res) => res.end('ok'), { tls: { key: certs.key, cert: certs.cert }, hostname: 'events.test' });
  try {
    const p = profile({ connectTo: [`events.test:${fresh.port}:127.0.0.1:${fresh.port}`], caFile: certs.caFile, timings: true });
    const done = await send('POST', fresh.url, '{}', { profile: p });
    const [dns, connect, tlsMs, firstByte, total] = done.detail.timings;
    expect(dns).toBeGreaterThanOrEqual(0);
    expect(connect).toBeGreaterThanOrEqual(dns);
    expect(tlsMs).toBeGreaterThan(connect);
    expect(firstByte).toBeGreaterThanOrEqual(tlsMs);
    expect(total).toBeGreaterThanOrEqual(firstByte);
  } finally {
    await fresh.close();
  }
});
