'use strict';
// Connections as the servers see them, on both transports: the bound on all of them
// (setConnectionLimits' maxConnections), and none left open once a dispatcher has closed. Each
// client runs in a child process with NATIVE_EVENT_DISPATCHER_TRANSPORT set; the servers run here.
const path = require('node:path');
const net = require('node:net');
const { start } = require('./helpers/servers');
const { lineProcess } = require('./helpers/processes');
const { useCleanup } = require('./helpers/cleanup');
const { counts: newCounts, countSockets, settle } = require('./helpers/sockets');

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

// Runs `code` in a child process on `transport`, with the package as `ned`, `urls` and `args` as
// given, say(value) to print a JSON line and told(word) to wait for that line on its stdin. What
// `code` returns is said last. The child stays alive until told 'exit' (or killed after the test),
// its connections with it, so that the servers can look at them first. Returns the lineProcess,
// with next(n): the n-th JSON line (from 0), once it came.
function client(transport, code, urls, args = {}) {
  const proc = lineProcess(later, process.execPath, [
    '-e',
    `
    process.env.NATIVE_EVENT_DISPATCHER_TRANSPORT = ${JSON.stringify(transport)};
    const ned = require(${ROOT});
    const urls = ${JSON.stringify(urls)};
    const args = ${JSON.stringify(args)};
    const say = (value) => console.log(JSON.stringify(value));
    const heard = [];
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      if (line === 'exit') process.exit(0);
      heard.push(line);
    });
    const told = async (word) => {
      while (!heard.includes(word)) await new Promise((r) => setTimeout(r, 5));
    };
    (async () => { ${code} })().then(say, (err) => {
      console.error(err);
      process.exit(1);
    });
  `,
  ]);
  proc.next = async (n) => JSON.parse((await proc.until((lines) => lines.length > n))[n]);
  return proc;
}

// Each round sends `perOrigin` events to every origin at once; the statuses, counted, and the
// transport that sent them.
const BURSTS = `
  const statuses = {};
  for (let round = 0; round < args.rounds; round++) {
    const sends = urls.flatMap((url) => Array.from({ length: args.perOrigin }, (_, i) =>
      ned.dispatchEvent('POST', url, { round, i }).then((r) => r.statusCode, (e) => e.code)));
    for (const status of await Promise.all(sends)) statuses[status] = (statuses[status] || 0) + 1;
  }
  return { transport: ned.versions().transport, statuses };
`;

describe.each(['native', 'fallback'])('%s transport', (transport) => {
  test('maxConnections 8: 40 origins in bursts never have more than 8 connections open; every event is delivered', async () => {
    const o = await origins(40);
    const result = await client(
      transport,
      `ned.setConnectionLimits({ maxConnections: 8 }); ${BURSTS}`,
      o.urls,
      { rounds: 3, perOrigin: 2 },
    ).next(0);
    expect(result).toEqual({ transport, statuses: { 200: 240 } });
    expect(o.requests()).toBe(240);
    expect(o.counts.peak).toBeLessThanOrEqual(8); // 0.1 fallback: 40 (idle keep-alive ones stayed open)
    expect(o.counts.peak).toBeGreaterThan(1);
  });

  test('the defaults: 300 origins never have more than 256 connections open', async () => {
    const o = await origins(300);
    const result = await client(transport, BURSTS, o.urls, { rounds: 2, perOrigin: 1 }).next(0);
    expect(result).toEqual({ transport, statuses: { 200: 600 } });
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
    later(
      () =>
        new Promise((resolve) => {
          for (const socket of accepted) socket.destroy();
          mute.close(resolve);
        }),
    );
    const stuckUrl = `https://127.0.0.1:${mute.address().port}/v1/events`;
    const result = await client(
      transport,
      `
      ned.setConnectionLimits({ maxConnections: 1 });
      const outcome = (p) => p.then((r) => r.statusCode, (e) => e.code);
      const stuck = outcome(ned.dispatchEvent('POST', args.stuckUrl, {}, { timeoutMs: 300, connectTimeoutMs: 1500 }));
      const ok = outcome(ned.dispatchEvent('POST', urls[0], {}));
      return { stuck: await stuck, ok: await ok };
    `,
      o.urls,
      { stuckUrl },
    ).next(0);
    expect(result).toEqual({ stuck: 'ETIMEDOUT', ok: 200 });
    expect(o.requests()).toBe(1);
    expect(o.counts.peak).toBe(1); // 0.1 fallback: 2 (the other origin connected at once)
  });

  test('close() leaves no connection open: 20 origins, one event each; a dispatcher made afterwards connects again', async () => {
    const o = await origins(20);
    const child = client(
      transport,
      `
      const send = async () => {
        const d = ned.createDispatcher();
        for (const url of urls) d.dispatchEvent({ url, httpVerb: 'POST', params: {} });
        return (await d.close()).delivered;
      };
      say(await send());
      await told('again');
      return send();
    `,
      o.urls,
    );
    expect(await child.next(0)).toBe(20);
    expect(o.counts.accepted).toBe(20);
    await settle(() => o.counts.open === 0);
    expect(o.counts.open).toBe(0); // 0.1: 20, until their keep-alive timeout
    child.send('again');
    expect(await child.next(1)).toBe(20);
    expect(o.requests()).toBe(40);
    expect(o.counts.accepted).toBe(40);
    await settle(() => o.counts.open === 0);
    expect(o.counts.open).toBe(0);
  });

  test('close() while another sender has a request in flight: every connection is closed once that one has ended', async () => {
    const o = await origins(20);
    const held = [];
    const slow = await start((req, res) => held.push(res));
    later(() => slow.close());
    countSockets(slow.server, o.counts);
    const child = client(
      transport,
      `
      const elsewhere = ned.dispatchEvent('POST', args.slowUrl, {}).then((r) => r.statusCode);
      const d = ned.createDispatcher();
      for (const url of urls) d.dispatchEvent({ url, httpVerb: 'POST', params: {} });
      say((await d.close()).delivered);
      return elsewhere;
    `,
      o.urls,
      { slowUrl: slow.url },
    );
    expect(await child.next(0)).toBe(20);
    await settle(() => held.length === 1);
    if (transport === 'fallback') {
      // The fallback closes the idle ones at once; natively they go once nothing is in flight.
      await settle(() => o.counts.open === 1);
      expect(o.counts.open).toBe(1);
    }
    held[0].end('late');
    expect(await child.next(1)).toBe(200);
    await settle(() => o.counts.open === 0);
    expect(o.counts.open).toBe(0); // 0.1: 21
    expect(o.counts.accepted).toBe(21);
  });

  test('the bound holds after close() closed the connections: maxConnections 4, 20 origins, before and after', async () => {
    const o = await origins(20);
    const child = client(
      transport,
      `
      ned.setConnectionLimits({ maxConnections: 4 });
      const d = ned.createDispatcher();
      for (const url of urls) d.dispatchEvent({ url, httpVerb: 'POST', params: {} });
      say((await d.close()).delivered);
      await told('again');
      ${BURSTS}
    `,
      o.urls,
      { rounds: 3, perOrigin: 1 },
    );
    expect(await child.next(0)).toBe(20);
    await settle(() => o.counts.open === 0);
    expect(o.counts.open).toBe(0);
    child.send('again');
    expect(await child.next(1)).toEqual({ transport, statuses: { 200: 60 } });
    expect(o.counts.peak).toBeLessThanOrEqual(4);
    expect(o.requests()).toBe(80);
  });
});
