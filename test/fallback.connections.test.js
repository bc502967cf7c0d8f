'use strict';
// Connections and lifetime on the fallback: keep-alive, configure() limits as the server sees
// them, and a process that exits when idle, stays while a request is in flight, and exits at once
// with process.exit().
const path = require('node:path');
const { start, startProxy, makeCertificates } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');
const { counts, countSockets, forwarder, settle } = require('./helpers/sockets');
const { backend, profile, send } = require('./helpers/fallback');

const DEFAULT_LIMITS = { maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 };
const FALLBACK = JSON.stringify(path.join(__dirname, '..', 'lib', 'fallback', 'index.js'));

afterEach(() => backend.configure(DEFAULT_LIMITS));
afterAll(() => backend.halt());

// A server that counts requests open at once, answering each on the next turn of its loop.
async function countingServer() {
  const seen = { open: 0, maxOpen: 0 };
  const server = await start((req, res) => {
    seen.open += 1;
    seen.maxOpen = Math.max(seen.maxOpen, seen.open);
    setImmediate(() => {
      seen.open -= 1;
      res.end();
    });
  });
  server.seen = seen;
  return server;
}

test('keep-alive: 50 sequential requests reach the server over 1 connection', async () => {
  const server = await start((req, res) => res.end());
  try {
    for (let i = 0; i < 50; i++) expect((await send('POST', server.url, `{"i":${i}}`)).statusCode).toBe(200);
    expect(server.requests.length).toBe(50);
    expect(server.connections).toBe(1);
  } finally {
    await server.close();
  }
});

test('after a connection closes, the next requests share one new connection again (not one each)', async () => {
  // The first answer closes its connection; every request after it is submitted from the sink,
  // at the moment undici retires the old connection (see OriginPool in lib/fallback/agents.js).
  let first = true;
  const server = await start((req, res) => {
    if (first) res.setHeader('connection', 'close');
    first = false;
    res.end();
  });
  try {
    for (let i = 0; i < 12; i++) expect((await send('POST', server.url, `{"i":${i}}`)).statusCode).toBe(200);
    expect(server.requests.length).toBe(12);
    expect(server.connections).toBeLessThanOrEqual(3);
  } finally {
    await server.close();
  }
});

test('maxHostConnections caps the connections to one origin; the rest wait and all complete', async () => {
  backend.configure({ ...DEFAULT_LIMITS, maxHostConnections: 4 });
  const server = await countingServer();
  try {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send('POST', server.url, `{"i":${i}}`)));
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    expect(server.requests.length).toBe(200);
    expect(server.connections).toBeLessThanOrEqual(4);
    expect(server.seen.maxOpen).toBeLessThanOrEqual(4);
    expect(server.seen.maxOpen).toBeGreaterThan(1);
  } finally {
    await server.close();
  }
});

test('maxInFlight: beyond it requests wait, in the order they were submitted', async () => {
  backend.configure({ ...DEFAULT_LIMITS, maxInFlight: 1 });
  const server = await start((req, res) => res.end());
  try {
    await Promise.all(Array.from({ length: 30 }, (_, i) => send('POST', server.url, `{"i":${i}}`)));
    expect(server.requests.map((r) => JSON.parse(r.body).i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(server.connections).toBe(1);
  } finally {
    await server.close();
  }
});

test('maxTotalConnections caps requests open across origins', async () => {
  backend.configure({ ...DEFAULT_LIMITS, maxTotalConnections: 3 });
  const a = await countingServer();
  const b = await countingServer();
  let open = 0;
  let maxOpen = 0;
  const track = (server) => server.server.prependListener('request', (req, res) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.on('finish', () => { open -= 1; });
  });
  track(a);
  track(b);
  try {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => send('POST', (i % 2 ? a : b).url, `{"i":${i}}`)));
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    expect(maxOpen).toBeLessThanOrEqual(3);
    expect(maxOpen).toBeGreaterThan(1);
    expect(a.requests.length + b.requests.length).toBe(60);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('configure() takes effect for waiting requests, and checks its input', async () => {
  backend.configure({ ...DEFAULT_LIMITS, maxInFlight: 1 });
  const held = [];
  const server = await start((req, res) => held.push(res));
  try {
    const results = Array.from({ length: 5 }, (_, i) => send('POST', server.url, `{"i":${i}}`));
    while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
    backend.configure({ ...DEFAULT_LIMITS, maxInFlight: 5 }); // the four waiting ones start now
    while (held.length < 5) await new Promise((r) => setTimeout(r, 5));
    for (const res of held) res.end();
    expect((await Promise.all(results)).map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
  } finally {
    await server.close();
  }
  expect(() => backend.configure({ ...DEFAULT_LIMITS, maxInFlight: 0 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
  expect(() => backend.configure({ ...DEFAULT_LIMITS, maxHostConnections: '4' })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
});

// maxTotalConnections bounds every connection, idle ones included: the least recently used idle
// one is closed to make room (lib/fallback/connections.js). These pin what that relies on in undici: a
// socket closed under an idle Client (HTTP/1.1, HTTP/2, a CONNECT tunnel) fails nothing and is
// connected again when needed.
describe('maxTotalConnections bounds the open connections', () => {
  let certs;
  beforeAll(() => { certs = makeCertificates('events.test'); });
  afterAll(() => certs.remove());

  // `n` TLS servers for events.test (HTTP/2 with `h2`), and the connect-to rules that reach them,
  // through counting forwarders unless `direct`.
  async function tlsOrigins(n, h2, direct = false) {
    const tally = counts();
    const servers = [];
    const hops = [];
    for (let i = 0; i < n; i++) {
      const server = await start((req, res) => res.end(`over ${req.httpVersion}`), { tls: { key: certs.key, cert: certs.cert }, h2, hostname: 'events.test' });
      servers.push(server);
      if (!direct) hops.push(await forwarder(server.port, tally));
    }
    const connectTo = servers.map((s, i) => `events.test:${s.port}:127.0.0.1:${direct ? s.port : hops[i].port}`);
    return { servers, tally, connectTo, close: () => Promise.all([...hops, ...servers].map((s) => s.close())) };
  }

  // Rounds of `perOrigin` requests to every server at once; the statuses (or failure codes).
  async function bursts(servers, p, rounds, perOrigin) {
    const statuses = [];
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.all(servers.flatMap((s) => Array.from({ length: perOrigin }, () => send('POST', s.url, '{}', { profile: p }))));
      statuses.push(...results.map((r) => (r.detail && r.detail.code) || r.statusCode));
    }
    return statuses;
  }

  test('lowered below the connections open and idle: the servers see the least recently used closed, the rest kept', async () => {
    const tally = counts();
    const servers = [];
    for (let i = 0; i < 10; i++) {
      servers.push(await start((req, res) => res.end()));
      countSockets(servers[i].server, tally);
    }
    try {
      for (const server of servers) expect((await send('POST', server.url, '{}')).statusCode).toBe(200);
      expect(tally.open).toBe(10);
      backend.configure({ ...DEFAULT_LIMITS, maxTotalConnections: 3 });
      await settle(() => tally.open <= 3);
      expect(tally.open).toBe(3); // 0.1: 10, until undici's keep-alive timeout
      expect(servers.map((s) => s.openSockets)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
      // The others connect again when next used, within the bound.
      expect((await Promise.all(servers.map((s) => send('POST', s.url, '{}')))).every((r) => r.statusCode === 200)).toBe(true);
      expect(tally.peak).toBeLessThanOrEqual(10);
      expect(tally.open).toBeLessThanOrEqual(3);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  test('over HTTP/2: 8 origins, at most 3 connections open, and an idle session closed to make room fails nothing', async () => {
    backend.configure({ ...DEFAULT_LIMITS, maxTotalConnections: 3 });
    const o = await tlsOrigins(8, true);
    try {
      const p = profile({ connectTo: o.connectTo, caFile: certs.caFile, http2: true });
      const statuses = await bursts(o.servers, p, 3, 2);
      expect(statuses).toEqual(Array(48).fill(200));
      expect(o.servers.every((s) => s.requests.length === 6 && s.requests.every((r) => r.httpVersion === '2.0'))).toBe(true);
      expect(o.tally.peak).toBeLessThanOrEqual(3); // 0.1: 8 or more
      expect(o.tally.accepted).toBeGreaterThan(8); // connections were closed and made again
    } finally {
      await o.close();
    }
  });

  test('through a proxy: CONNECT tunnels count, and one closed to make room fails nothing', async () => {
    backend.configure({ ...DEFAULT_LIMITS, maxTotalConnections: 3 });
    const o = await tlsOrigins(8, false, true);
    const proxy = await startProxy();
    const tally = counts();
    const hop = await forwarder(proxy.port, tally); // each tunnel is one connection to the proxy
    try {
      const p = profile({ httpsProxy: `http://127.0.0.1:${hop.port}`, connectTo: o.connectTo, caFile: certs.caFile });
      const statuses = await bursts(o.servers, p, 3, 2);
      expect(statuses).toEqual(Array(48).fill(200));
      expect(proxy.seen.filter((r) => r.method === 'CONNECT').length).toBe(tally.accepted);
      expect(tally.peak).toBeLessThanOrEqual(3); // 0.1: 8 or more
      expect(tally.accepted).toBeGreaterThan(8); // tunnels were closed and made again
    } finally {
      await hop.close();
      await proxy.close();
      await o.close();
    }
  });
});

describe('closeIdle()', () => {
  test('closes the idle connections now, and a busy one once its request has ended; later requests connect again', async () => {
    const idle = await start((req, res) => res.end());
    const held = [];
    const busy = await start((req, res) => held.push(res));
    try {
      await Promise.all([1, 2, 3].map((n) => send('POST', idle.url, `{"n":${n}}`)));
      const pending = send('POST', busy.url, '{}');
      await settle(() => held.length === 1);
      expect(idle.openSockets).toBeGreaterThan(0);
      backend.closeIdle();
      await settle(() => idle.openSockets === 0);
      expect(idle.openSockets).toBe(0); // 0.1: no closeIdle()
      expect(busy.openSockets).toBe(1);
      held[0].end();
      expect((await pending).statusCode).toBe(200);
      await settle(() => busy.openSockets === 0);
      expect(busy.openSockets).toBe(0);
      const before = idle.connections;
      expect((await send('POST', idle.url, '{}')).statusCode).toBe(200);
      expect(idle.connections).toBe(before + 1);
    } finally {
      await Promise.all([idle.close(), busy.close()]);
    }
  });

  test('a busy connection that carries a request made after the call stays open', async () => {
    backend.configure({ ...DEFAULT_LIMITS, maxHostConnections: 1 });
    const held = [];
    const server = await start((req, res) => held.push(res));
    try {
      const first = send('POST', server.url, '{"n":1}');
      await settle(() => held.length === 1);
      backend.closeIdle();
      const second = send('POST', server.url, '{"n":2}'); // waits for the origin's one connection
      held[0].end();
      await settle(() => held.length === 2);
      held[1].end();
      expect([(await first).statusCode, (await second).statusCode]).toEqual([200, 200]);
      const third = send('POST', server.url, '{"n":3}');
      await settle(() => held.length === 3);
      held[2].end();
      expect((await third).statusCode).toBe(200);
      expect(server.connections).toBe(1); // all three on the one connection: it was still wanted
    } finally {
      await server.close();
    }
  });
});

// A child process that uses the fallback backend directly and prints each completion.
const CHILD = `
  const backend = require(${FALLBACK});
  backend.setCompletionSink((numbers) => {
    for (let i = 0; i < numbers.length; i += 4) console.log('completed', numbers[i], numbers[i + 1]);
  });
  const profile = backend.compileProfile({ timeoutMs: 600000, connectTimeoutMs: 5000, maxResponseBytes: 65536,
    insecure: false, http2: false, verbose: false, timings: false, userAgent: 'child', caFile: '', httpProxy: '',
    httpsProxy: '', noProxy: '', bodyHeaders: [], getHeaders: [], connectTo: [] });
  process.on('exit', () => backend.halt());
  backend.configure({ maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 }); // what lib/transport does at load
  const send = (id, url) => backend.submit(id, 1, url, '{}', profile, undefined, 0);
`;

test('an idle process exits by itself once its requests completed (keep-alive connections do not hold it)', async () => {
  const server = await start((req, res) => res.end('ok'));
  try {
    const { exited } = spawnNode(`${CHILD} send(1, ${JSON.stringify(server.url)}); send(2, ${JSON.stringify(server.url)});`);
    const result = await exited;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(['completed 1 200', 'completed 2 200']);
  } finally {
    await server.close();
  }
});

test('loading the fallback alone does not keep a process alive', async () => {
  const { exited } = spawnNode(`${CHILD} console.log('loaded');`);
  const result = await exited;
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toBe('loaded');
});

test('a process stays alive while a request is in flight, and exits after it completed', async () => {
  const held = [];
  const server = await start((req, res) => held.push(res));
  try {
    const { exited } = spawnNode(`${CHILD} send(1, ${JSON.stringify(server.url)}); console.log('sent');`);
    let done = false;
    exited.then(() => { done = true; });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    // Only the request in flight keeps the child alive now; let its loop run dry many times over.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    held[0].end('late');
    const result = await exited;
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(['sent', 'completed 1 200']);
  } finally {
    await server.close();
  }
});

test('process.exit() with 50 requests in flight exits at once and cleanly: halt() abandons them', async () => {
  const held = [];
  const server = await start((req, res) => held.push(res));
  try {
    const { child, exited } = spawnNode(`${CHILD}
      for (let i = 1; i <= 50; i++) send(i, ${JSON.stringify(server.url)});
      process.stdin.once('data', () => process.exit(3));`);
    while (held.length < 50) await new Promise((r) => setTimeout(r, 5));
    child.stdin.write('exit now\n');
    const result = await exited;
    expect(result.signal).toBeNull();
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(''); // nothing completed after halt()
  } finally {
    for (const res of held) res.destroy();
    await server.close();
  }
});
