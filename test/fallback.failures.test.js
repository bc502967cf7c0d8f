'use strict';
// Every failure the fallback reports, against real failing servers on this machine, with the code
// and libcurl number the native transport reports for the same situation.
const { start, startRaw, closedPort } = require('./helpers/servers');
const { backend, profile, submit, send, RESPONSE } = require('./helpers/fallback');

afterAll(() => backend.halt());

// Asserts a failed completion with `code` and one of `curlCodes`; returns its detail.
async function failure(result, code, curlCodes) {
  const done = await result;
  expect(done.statusCode).toBe(0);
  expect(done.detail).toMatchObject({ code, curlCode: expect.any(Number), message: expect.any(String) });
  expect(curlCodes).toContain(done.detail.curlCode);
  return done;
}

test('connection refused → ECONNREFUSED, libcurl 7, with libcurl\'s words and Node\'s detail; no body was sent', async () => {
  const port = await closedPort();
  const done = await failure(send('POST', `http://127.0.0.1:${port}/v1/events`, '{"a":1}'), 'ECONNREFUSED', [7]);
  expect(done.detail.message).toBe(`Couldn't connect to server (connect ECONNREFUSED 127.0.0.1:${port})`);
  expect(done.bytesSent).toBe(0);
});

test('no route to the network → ENETUNREACH, libcurl 7 (TCP to a multicast address: refused locally)', async () => {
  await failure(send('POST', 'http://224.0.0.1:9/v1/events', '{}'), 'ENETUNREACH', [7]);
});

test('a name that cannot resolve → ENOTFOUND, libcurl 6 (no query leaves the machine)', async () => {
  // A label over 63 characters is refused by the resolver before any packet is sent.
  const done = await failure(send('POST', `http://${'x'.repeat(70)}.invalid/v1/events`, '{}'), 'ENOTFOUND', [6]);
  expect(done.detail.message).toMatch(/^Couldn't resolve host name \(getaddrinfo/);
});

test('a reset before any response → ECONNRESET (52, 55 or 56)', async () => {
  const raw = await startRaw((socket) => socket.resetAndDestroy());
  try {
    await failure(send('POST', raw.url, '{"a":1}'), 'ECONNRESET', [52, 55, 56]);
  } finally {
    await raw.close();
  }
});

test('a close without any response → ECONNRESET 52 (empty reply), no statusCode', async () => {
  const raw = await startRaw((socket) => socket.end());
  try {
    const done = await failure(send('POST', raw.url, '{"a":1}'), 'ECONNRESET', [52]);
    expect(done.detail.statusCode).toBeUndefined();
    expect(done.bytesSent).toBe(7); // the request and its body went out before the close
  } finally {
    await raw.close();
  }
});

test('a reset in the middle of the body → ECONNRESET (18 or 56) with the status seen', async () => {
  const raw = await startRaw((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nRetry-After: 3\r\n\r\npartial');
    setImmediate(() => socket.resetAndDestroy());
  });
  try {
    const done = await failure(send('POST', raw.url, '{}'), 'ECONNRESET', [18, 56]);
    expect(done.detail.statusCode).toBe(200);
    expect(done.detail.retryAfterMs).toBe(3000);
  } finally {
    await raw.close();
  }
});

test('a response that ends before its Content-Length → ECONNRESET 18, in the native transport\'s words', async () => {
  const raw = await startRaw((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial'));
  try {
    const done = await failure(send('POST', raw.url, '{}'), 'ECONNRESET', [18]);
    expect(done.detail.message).toMatch(/^Received a partial response \(transfer closed with outstanding read data remaining/);
  } finally {
    await raw.close();
  }
});

test('garbage instead of HTTP → EPROTO (1 or 8)', async () => {
  const raw = await startRaw((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
  try {
    await failure(send('POST', raw.url, '{}'), 'EPROTO', [1, 8]);
  } finally {
    await raw.close();
  }
});

test('no complete answer within timeoutMs → ETIMEDOUT 28; the server did get the request', async () => {
  const held = [];
  const server = await start((req, res) => held.push(res));
  try {
    const done = await failure(send('POST', server.url, '{}', { profile: profile({ timeoutMs: 200 }) }), 'ETIMEDOUT', [28]);
    expect(done.detail.message).toMatch(/^Timeout was reached \(Operation timed out after 200 milliseconds with 0 bytes received\)$/);
    expect(held.length).toBe(1);
  } finally {
    for (const res of held) res.destroy();
    await server.close();
  }
});

test('a body that stalls halfway also times out, counting the bytes received', async () => {
  const server = await start((req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('x'.repeat(10));
  });
  try {
    const done = await failure(send('GET', server.url, undefined, { profile: profile({ timeoutMs: 300 }) }), 'ETIMEDOUT', [28]);
    expect(done.detail.message).toContain('with 10 bytes received');
    expect(done.detail.statusCode).toBe(200);
  } finally {
    await server.close();
  }
});

test('an HTTP/1.1 server that answers early (413) and closes without reading the body: its answer wins', async () => {
  const raw = await startRaw((socket) => {
    socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large');
    setImmediate(() => socket.destroy());
  });
  try {
    for (let i = 0; i < 3; i++) {
      const done = await send('POST', raw.url, 'x'.repeat(4 << 20), { flags: RESPONSE });
      expect(done.statusCode).toBe(413);
      expect(done.detail.body).toBe('too large');
    }
  } finally {
    await raw.close();
  }
});

test('abort() of a request in flight → EABORTED 42, and the server sees the connection go', async () => {
  let closed;
  const gone = new Promise((resolve) => { closed = resolve; });
  const arrived = [];
  const server = await start((req, res) => {
    arrived.push(res);
    res.on('close', closed);
  });
  try {
    const { id, result } = submit('POST', server.url, '{}');
    while (arrived.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(backend.abort(id)).toBe(true);
    const done = await failure(result, 'EABORTED', [42]);
    expect(done.detail.message).toMatch(/^Operation was aborted by an application callback/);
    await gone;
    expect(backend.abort(id)).toBe(false); // no longer pending
    expect(backend.abort(987654321)).toBe(false);
  } finally {
    await server.close();
  }
});

test('abort() of a request still waiting for its turn → EABORTED; it never reaches the server', async () => {
  backend.configure({ maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 1 });
  const held = [];
  const server = await start((req, res) => held.push(res));
  try {
    const first = submit('POST', server.url, '{"n":1}');
    const second = submit('POST', server.url, '{"n":2}');
    const third = submit('POST', server.url, '{"n":3}');
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(backend.abort(second.id)).toBe(true);
    const aborted = await failure(second.result, 'EABORTED', [42]);
    expect(aborted.bytesSent).toBe(0);
    held[0].end();
    expect((await first.result).statusCode).toBe(200);
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    held[1].end();
    expect((await third.result).statusCode).toBe(200);
    expect(server.requests.map((r) => JSON.parse(r.body).n)).toEqual([1, 3]);
  } finally {
    backend.configure({ maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 });
    await server.close();
  }
});

test('failures do not disturb other requests in flight', async () => {
  const port = await closedPort();
  const server = await start((req, res) => res.end('ok'));
  try {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 3 === 0
      ? send('POST', `http://127.0.0.1:${port}/`, `{"i":${i}}`)
      : send('POST', server.url, `{"i":${i}}`))));
    expect(results.filter((r) => r.statusCode === 200).length).toBe(40);
    expect(results.filter((r) => r.detail && r.detail.code === 'ECONNREFUSED').length).toBe(20);
    expect(server.requests.length).toBe(40);
  } finally {
    await server.close();
  }
});
