'use strict';
// TLS on both transports: certificates, caFile, insecure, handshake failures, HTTP/2 and
// `resolve` (the name pinned to 127.0.0.1, so nothing is looked up outside the machine).
const http2 = require('node:http2');
const { start, startRaw, makeCertificates } = require('./helpers/servers');
const { TRANSPORTS, load, per } = require('./helpers/transports');

// A CA and a certificate for events.test, made with openssl for this run.
let certs;
beforeAll(() => {
  certs = makeCertificates('events.test');
});
afterAll(() => certs.remove());

const startTls = (handler, more = {}) =>
  start(handler, {
    tls: { key: certs.key, cert: certs.cert },
    hostname: 'events.test',
    ...more,
  });

describe.each(TRANSPORTS)('%s transport', (kind) => {
  const { dispatchEvent, pumpStats } = load(kind);

  let server;
  let resolve;
  let url;
  beforeAll(async () => {
    server = await startTls((req, res) => res.end(`hello over ${req.httpVersion}`), { h2: true });
    resolve = [`events.test:${server.port}:127.0.0.1`, `other.test:${server.port}:127.0.0.1`];
    url = server.url;
  });
  afterAll(() => server.close());

  test('a certificate from an unknown CA → ECERT 60; nothing reaches the server', async () => {
    const err = await dispatchEvent('POST', url, {}, { resolve }).catch((e) => e);
    expect(err.code).toBe('ECERT');
    expect(err.curlCode).toBe(60);
    // libcurl's own words add "or SSH remote key": the package never does SSH.
    expect(err.detail).toMatch(/^SSL peer certificate was not OK \(/);
    expect(err.message).not.toContain('SSH');
    expect(server.requests.length).toBe(0);
  });

  test('caFile makes it trusted → 2xx; resolve keeps the name for SNI, the certificate check and Host', async () => {
    const res = await dispatchEvent(
      'POST',
      url,
      { over: 'tls' },
      { resolve, caFile: certs.caFile },
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('hello over 1.1');
    const last = server.requests[server.requests.length - 1];
    expect(last.body.toString()).toBe('{"over":"tls"}');
    expect(last.headers.host).toBe(`events.test:${server.port}`);
  });

  test('a host name the certificate does not cover → ECERT 60, naming it', async () => {
    const wrong = url.replace('events.test', 'other.test');
    const err = await dispatchEvent('POST', wrong, {}, { resolve, caFile: certs.caFile }).catch(
      (e) => e,
    );
    expect(err.code).toBe('ECERT');
    expect(err.curlCode).toBe(60);
    expect(err.message).toMatch(/other\.test|subject alt|certificate/i);
    expect(err.detail).toMatch(
      per(kind, { native: /other\.test|subject alt|certificate/i, fallback: /other\.test/ }),
    );
  });

  test('an unreadable or certificate-less caFile → ECERT 77 for https:, and http: does not care', async () => {
    const missing = { resolve, caFile: '/nonexistent/ca.pem' };
    const err = await dispatchEvent('POST', url, {}, missing).catch((e) => e);
    expect(err.code).toBe('ECERT');
    expect(err.curlCode).toBe(77);
    expect(err.detail).toContain('/nonexistent/ca.pem');
    const notPem = await dispatchEvent('POST', url, {}, { resolve, caFile: __filename }).catch(
      (e) => e,
    );
    expect([notPem.code, notPem.curlCode]).toEqual(['ECERT', 77]);
    const plain = await start((req, res) => res.end('plain'));
    try {
      expect((await dispatchEvent('POST', plain.url, {}, missing)).statusCode).toBe(200);
    } finally {
      await plain.close();
    }
  });

  test('insecure: true skips verification (only when set explicitly)', async () => {
    const res = await dispatchEvent('POST', url, {}, { resolve, insecure: true });
    expect(res.statusCode).toBe(200);
  });

  test('TLS to a port that speaks plain HTTP → ETLS 35', async () => {
    const plain = await start((req, res) => res.end('plain'));
    try {
      const err = await dispatchEvent('POST', `https://127.0.0.1:${plain.port}/`, {}).catch(
        (e) => e,
      );
      expect([err.code, err.curlCode]).toEqual(['ETLS', 35]);
      expect(err.detail).toMatch(/^SSL connect error \(/);
    } finally {
      await plain.close();
    }
  });

  test('a TLS handshake that never completes → ETIMEDOUT 28 after connectTimeoutMs', async () => {
    const silent = await startRaw(() => {}); // takes the ClientHello and says nothing
    try {
      const options = { connectTimeoutMs: 200, timeoutMs: 60000 };
      const err = await dispatchEvent(
        'POST',
        `https://127.0.0.1:${silent.port}/`,
        {},
        options,
      ).catch((e) => e);
      expect([err.code, err.curlCode]).toEqual(['ETIMEDOUT', 28]);
      expect(err.detail).toMatch(
        per(kind, {
          native: /^Timeout was reached \(/,
          fallback: /^Timeout was reached \(Connection timed out after 200 milliseconds\)$/,
        }),
      );
    } finally {
      await silent.close();
    }
  });

  test('HTTP/1.1 by default; http2: true negotiates HTTP/2 through ALPN, and concurrent POSTs share one connection', async () => {
    const h1 = await dispatchEvent('POST', url, { v: 1 }, { resolve, caFile: certs.caFile });
    expect(h1.body).toBe('hello over 1.1');
    // A fresh server: libcurl would reuse the HTTP/1.1 connection above for the same host.
    const fresh = await startTls((req, res) => res.end(`hello over ${req.httpVersion}`), {
      h2: true,
    });
    try {
      const options = {
        resolve: [`events.test:${fresh.port}:127.0.0.1`],
        caFile: certs.caFile,
        http2: true,
      };
      const h2 = await dispatchEvent('POST', fresh.url, { v: 2 }, options);
      expect(h2.body).toBe('hello over 2.0');
      expect(fresh.requests[0].httpVersion).toBe('2.0');
      expect(fresh.requests[0].body.toString()).toBe('{"v":2}');

      // 90 requests at once (up to 100 streams per connection) multiplex over the one connection
      // and all arrive intact.
      const results = await Promise.all(
        Array.from({ length: 90 }, (_, i) =>
          dispatchEvent('POST', fresh.url, { i, text: 'ü✓' }, options),
        ),
      );
      expect(results.every((r) => r.statusCode === 200 && r.body === 'hello over 2.0')).toBe(true);
      const seen = fresh.requests
        .slice(1)
        .map((r) => JSON.parse(r.body.toString()).i)
        .sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 90 }, (_, i) => i));
      expect(fresh.connections).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  test('an HTTP/2 server that answers early and resets the upload (RST_STREAM NO_ERROR) still gives its answer', async () => {
    // What nginx's "return 204" does: the complete response, then RST_STREAM(NO_ERROR) to stop the
    // body it will not read. RFC 9113 section 8.1: the client must not discard that response.
    const early = await startTls(() => {}, { h2: true });
    early.server.removeAllListeners('request');
    early.server.removeAllListeners('stream');
    early.server.on('stream', (stream) => {
      stream.respond({ ':status': 204 }, { endStream: true });
      setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    });
    try {
      const options = {
        resolve: [`events.test:${early.port}:127.0.0.1`],
        caFile: certs.caFile,
        http2: true,
      };
      for (let i = 0; i < 5; i++) {
        const res = await dispatchEvent('POST', early.url, { blob: 'x'.repeat(200000) }, options);
        expect(res.statusCode).toBe(204);
      }
    } finally {
      await early.close();
    }
  });

  test('timings over TLS: DNS, connect and TLS for a new connection, in order', async () => {
    const fresh = await startTls((req, res) => res.end('ok'));
    try {
      const options = {
        resolve: [`events.test:${fresh.port}:127.0.0.1`],
        caFile: certs.caFile,
        timings: true,
      };
      const { timings } = await dispatchEvent('POST', fresh.url, {}, options);
      expect(timings.dnsMs).toBeGreaterThanOrEqual(0);
      expect(timings.connectMs).toBeGreaterThanOrEqual(timings.dnsMs);
      expect(timings.tlsMs).toBeGreaterThan(timings.connectMs);
      expect(timings.firstByteMs).toBeGreaterThanOrEqual(timings.tlsMs);
      expect(timings.totalMs).toBeGreaterThanOrEqual(timings.firstByteMs);
    } finally {
      await fresh.close();
    }
  });

  test("libcurl's big per-request buffers are reused from one request to the next, and given back when the pump goes idle (the fallback has no pump)", async () => {
    const before = pumpStats();
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          dispatchEvent('POST', url, { round, i }, { resolve, caFile: certs.caFile }),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    }
    // Each request takes an upload and a download buffer; after the first round, kept ones.
    const reused = pumpStats().buffersReused - before.buffersReused;
    if (kind === 'native') expect(reused).toBeGreaterThanOrEqual(80);
    else expect(reused).toBe(0);
    for (let i = 0; i < 300 && pumpStats().pumpRunning; i++)
      await new Promise((r) => setTimeout(r, 10));
    const idle = pumpStats();
    expect(idle.pumpRunning).toBe(false);
    expect(idle.bufferBytesKept).toBe(0);
  });
});
