'use strict';
// Connections as the servers see them, on both transports: the bound on all of them
// (setConnectionLimits' maxConnections), and none left open once a dispatcher has closed. Each
// client runs in a child process with NATIVE_EVENT_DISPATCHER_TRANSPORT set; the servers run here.
const path = require('node:path');
const net = require('node:net');
const { start } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');
const { useCleanup } = require('./helpers/cleanup');
const { counts: newCounts, countSockets } = require('./helpers/sockets');

const { later } = useCleanup();
const ROOT = JSON.stringify(path.join(__dirname, '..'));

// `n` servers answering 200, their sockets counted together.
async function origins(n, counts = newCounts()) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const server = await start((req, res) => res.end('ok'));
    later(() => server.close());
    countSockets(server.server, counts);
    servers.push(server);
  }
  return {
    counts,
    urls: servers.map((s) => s.url),
    requests: () => servers.reduce((sum, s) => sum + s.requests.length, 0),
  };
}

// Runs `code` in a child on `transport` with the package as `ned`; `urls` and `args` as given. The
// child prints one JSON line; it stays alive until told to exit on stdin (its connections with it),
// so that the servers can look at them first. Resolves { result, exit() }.
async function client(transport, code, urls, args = {}) {
  const { child, exited, output } = spawnNode(`
    const ned = require(${ROOT});
    const urls = ${JSON.stringify(urls)};
    const args = ${JSON.stringify(args)};
    process.stdin.once('data', () => process.exit(0));
    (async () => { ${code} })().then((result) => console.log(JSON.stringify(result)), (err) => {
      console.error(err);
      process.exit(1);
    });
  `, { NATIVE_EVENT_DISPATCHER_TRANSPORT: transport });
  const exit = () => {
    child.stdin.end('exit\n');
    return exited;
  };
  later(exit);
  let done = false;
  exited.then(() => { done = true; });
  while (!output().includes('\n') && !done) await new Promise((r) => setTimeout(r, 10));
  if (!output().includes('\n')) throw new Error(`the child failed: ${(await exited).stderr}`);
  return { result: JSON.parse(output()), exit };
}

// Each round sends `perOrigin` events to every origin at once; the statuses, counted.
const BURSTS = `
  const statuses = {};
  for (let round = 0; round < args.rounds; round++) {
    const sends = urls.flatMap((url) => Array.from({ length: args.perOrigin }, (_, i) =>
      ned.dispatchEvent('POST', url, { round, i }).then((r) => r.statusCode, (e) => e.code)));
    for (const status of await Promise.all(sends)) statuses[status] = (statuses[status] || 0) + 1;
  }
  return statuses;
`;

describe.each(['native', 'fallback'])('%s transport', (transport) => {
  test('maxConnections 8: 40 origins in bursts never have more than 8 connections open; every event is delivered', async () => {
    const o = await origins(40);
    const { result } = await client(transport, `ned.setConnectionLimits({ maxConnections: 8 }); ${BURSTS}`, o.urls,
      { rounds: 3, perOrigin: 2 });
    expect(result).toEqual({ 200: 240 });
    expect(o.requests()).toBe(240);
    expect(o.counts.peak).toBeLessThanOrEqual(8); // 0.1 fallback: 40 (idle keep-alive ones stayed open)
    expect(o.counts.peak).toBeGreaterThan(1);
  });

  test('the defaults: 300 origins never have more than 256 connections open', async () => {
    const o = await origins(300);
    const { result } = await client(transport, BURSTS, o.urls, { rounds: 2, perOrigin: 1 });
    expect(result).toEqual({ 200: 600 });
    expect(o.requests()).toBe(600);
    expect(o.counts.peak).toBeLessThanOrEqual(256); // 0.1 fallback: 300
    expect(o.counts.peak).toBeGreaterThan(200);
  });

  test('maxConnections 1, its connection stuck in a TLS handshake: a request to another origin waits for it, then is delivered', async () => {
    // The stuck origin accepts and never answers the TLS hello. Its request times out first; on
    // the fallback its connect goes on until connectTimeoutMs, and only then may the other
    // origin's connect begin (natively libcurl drops the connect with the request).
    const o = await origins(1);
    const accepted = [];
    const mute = net.createServer((socket) => accepted.push(socket.resume().on('error', () => {})));
    countSockets(mute, o.counts);
    await new Promise((resolve) => mute.listen(0, '127.0.0.1', resolve));
    later(() => new Promise((resolve) => {
      for (const socket of accepted) socket.destroy();
      mute.close(resolve);
    }));
    const stuckUrl = `https://127.0.0.1:${mute.address().port}/v1/events`;
    const { result } = await client(transport, `
      ned.setConnectionLimits({ maxConnections: 1 });
      const outcome = (p) => p.then((r) => r.statusCode, (e) => e.code);
      const stuck = outcome(ned.dispatchEvent('POST', args.stuckUrl, {}, { timeoutMs: 300, connectTimeoutMs: 1500 }));
      const ok = outcome(ned.dispatchEvent('POST', urls[0], {}));
      return { stuck: await stuck, ok: await ok };
    `, o.urls, { stuckUrl });
    expect(result).toEqual({ stuck: 'ETIMEDOUT', ok: 200 });
    expect(o.requests()).toBe(1);
    expect(o.counts.peak).toBe(1); // 0.1 fallback: 2 (the other origin connected at once)
  });
});
