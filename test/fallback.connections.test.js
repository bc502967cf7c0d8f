'use strict';
// Connections and lifetime on the fallback: keep-alive, configure() limits as the server sees
// them, and a process that exits when idle, stays while a request is in flight, and exits at once
// with process.exit().
const path = require('node:path');
const { start } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');
const { backend, send } = require('./helpers/fallback');

const DEFAULT_LIMITS = { maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 };
const FALLBACK = JSON.stringify(path.join(__dirname, '..', 'lib', 'backend', 'fallback.js'));

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
  // at the moment undici retires the old connection (see OriginPool in fallback-agents.js).
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
