'use strict';
// Connections on both transports: keep-alive, the limits of setConnectionLimits as the server sees
// them, requests waiting behind a cap; then the native pump (the fallback has none: its HTTP runs
// on the main thread, README "The fallback transport"), and what only the fallback's backend shows
// when driven directly (closeIdle, the least recently used idle connection closed to make room).
const fs = require('node:fs');
const crypto = require('node:crypto');
const { start, startProxy, makeCertificates } = require('./helpers/servers');
const { counts, countSockets, forwarder, settle } = require('./helpers/sockets');
const { TRANSPORTS, load } = require('./helpers/transports');

// A server that answers each request after `delayMs` (0: on the next turn) and counts how many it
// holds at once: `peak` since the last resetPeak(). After holdUntil(n) it holds requests until n
// are open at once, then answers them all (a warm-up that opens n connections however loaded the
// machine is).
async function startCounting(delayMs) {
  let open = 0;
  let peak = 0;
  let holding = 0;
  const held = [];
  const server = await start((req, res) => {
    open += 1;
    peak = Math.max(peak, open);
    const answer = () => {
      open -= 1;
      res.end();
    };
    if (holding > 0) {
      held.push(answer);
      if (held.length >= holding) {
        holding = 0;
        for (const release of held.splice(0)) release();
      }
    } else if (delayMs > 0) {
      setTimeout(answer, delayMs);
    } else {
      setImmediate(answer);
    }
  });
  return {
    server,
    get peak() {
      return peak;
    },
    resetPeak() {
      peak = 0;
    },
    holdUntil(n) {
      holding = n;
    },
  };
}

// The default maxConnectionsPerHost: a burst of this many, held until all are open, leaves as many
// connections open and idle (a burst answered as it came opened fewer on a loaded machine).
const WARM = 64;

describe.each(TRANSPORTS)('%s transport', (kind) => {
  const { dispatchEvent, setConnectionLimits, createFetch } = load(kind);

  afterEach(() => setConnectionLimits()); // back to the defaults

  test('keep-alive: 100 sequential requests reach the server over 1 connection', async () => {
    const server = await start((req, res) => res.end());
    try {
      for (let i = 0; i < 100; i++) {
        const res = await dispatchEvent('POST', server.url, { i });
        expect(res.statusCode).toBe(200);
      }
      expect(server.requests.length).toBe(100);
      expect(server.connections).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('after a connection closes, the next requests share one new connection again (not one each)', async () => {
    // The first answer closes its connection; the requests after it must not open one each.
    let first = true;
    const server = await start((req, res) => {
      if (first) res.setHeader('connection', 'close');
      first = false;
      res.end();
    });
    try {
      for (let i = 0; i < 12; i++)
        expect((await dispatchEvent('POST', server.url, { i })).statusCode).toBe(200);
      expect(server.requests.length).toBe(12);
      expect(server.connections).toBeLessThanOrEqual(3);
    } finally {
      await server.close();
    }
  });

  test('250 requests are open at once against a server that holds them, while the threadpool still serves fs and crypto', async () => {
    const N = 250;
    setConnectionLimits({ maxConnectionsPerHost: 300, maxConnections: 300, maxInFlight: 300 });
    const held = [];
    let open = 0;
    let maxOpen = 0;
    let allHeld;
    const everyoneHeld = new Promise((resolve) => {
      allHeld = resolve;
    });
    const server = await start((req, res) => {
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      res.on('finish', () => {
        open -= 1;
      });
      held.push(res);
      if (held.length === N) allHeld();
    });
    try {
      const pending = Array.from({ length: N }, (_, i) => dispatchEvent('POST', server.url, { i }));
      await everyoneHeld;
      // Every request is parked in the server now; the pump holds at most one threadpool thread,
      // so file system and crypto work (also threadpool) must still complete.
      const files = await Promise.all(
        Array.from({ length: 16 }, () => fs.promises.readFile(__filename, 'utf8')),
      );
      expect(files.every((f) => f.includes('everyoneHeld'))).toBe(true);
      const keys = await Promise.all(
        Array.from(
          { length: 8 },
          () =>
            new Promise((resolve, reject) => {
              crypto.pbkdf2('pw', 'salt', 1000, 32, 'sha256', (err, key) =>
                err ? reject(err) : resolve(key),
              );
            }),
        ),
      );
      expect(keys).toHaveLength(8);
      expect(open).toBe(N); // nothing was answered while we waited
      for (const res of held) res.end('done');
      const results = await Promise.all(pending);
      expect(results.every((r) => r.statusCode === 200 && r.body === 'done')).toBe(true);
      expect(maxOpen).toBeGreaterThanOrEqual(200);
      expect(server.connections).toBe(N); // HTTP/1.1: one connection per request in flight
    } finally {
      await server.close();
    }
  });

  test('maxConnectionsPerHost caps the connections; the rest wait in order and all complete', async () => {
    setConnectionLimits({ maxConnectionsPerHost: 4 });
    const counting = await startCounting(0);
    const { server } = counting;
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => dispatchEvent('POST', server.url, { i })),
      );
      expect(results.every((r) => r.statusCode === 200)).toBe(true);
      expect(server.requests.length).toBe(200);
      expect(server.connections).toBeLessThanOrEqual(4);
      expect(counting.peak).toBeLessThanOrEqual(4);
      expect(counting.peak).toBeGreaterThan(1);
    } finally {
      await server.close();
    }
  });

  // Found by the fault suite: libcurl caps only the connections it opens; with 64 idle ones in its
  // cache, a cap lowered to 2 still let 64 requests run at once (16 for maxConnections).
  const loweredCases = [
    ['maxConnectionsPerHost', { maxConnectionsPerHost: 2 }, {}],
    ['maxConnections', { maxConnections: 2 }, {}],
    // http2 asked for, HTTP/1.1 spoken (plain http; or a server whose ALPN picks http/1.1)
    [
      'maxConnectionsPerHost, requests with http2: true',
      { maxConnectionsPerHost: 2 },
      { http2: true },
    ],
  ];
  const loweredWithIdle = async (lowered, options) => {
    const counting = await startCounting(20);
    const { server } = counting;
    try {
      const burst = (n) =>
        Promise.all(
          Array.from({ length: n }, (_, i) => dispatchEvent('POST', server.url, { i }, options)),
        );
      counting.holdUntil(WARM);
      await burst(WARM);
      expect(counting.peak).toBeGreaterThan(32); // warm: many connections open, idle now
      setConnectionLimits(lowered);
      for (let round = 0; round < 2; round++) {
        counting.resetPeak();
        const results = await burst(40);
        expect(results.every((r) => r.statusCode === 200)).toBe(true);
        expect(counting.peak).toBeLessThanOrEqual(2);
      }
    } finally {
      await server.close();
    }
  };
  // The fallback once left a few requests of each such burst waiting until their timeoutMs with
  // maxConnections lowered: the idle connections it closed to come down to the cap were counted as
  // room for the connects waiting, and the idle ones left under the cap were never closed for them
  // (whether this case met it hung on which of undici's clients its requests went to; the first of
  // the neighbours below met it on every run).
  test.each(loweredCases)(
    '%s lowered with 64 connections open and idle: the server never sees more than 2 at once',
    (_, lowered, options) => loweredWithIdle(lowered, options),
  );

  // Its neighbours: maxConnections lowered to 1 under 64 idle connections to one origin, with
  // nothing running then, or while requests run and wait on a cap of 4; then a burst to the same
  // origin, or to one nobody has used yet (its connects can only wait for the first origin's idle
  // connection to be closed: with nothing running, nothing but that close lets them start).
  test.each([
    ['with none running, a burst to another origin', false, 'b'],
    ['while requests wait, a burst to another origin', true, 'b'],
    ['while requests wait, a burst to the same origin', true, 'a'],
  ])(
    'maxConnections lowered to 1 under 64 idle connections %s: all complete, never more than 1 at once',
    async (_, running, next) => {
      const a = await startCounting(20);
      const b = await startCounting(20);
      let open = 0;
      let peak = 0;
      const track = ({ server }) =>
        server.server.prependListener('request', (req, res) => {
          open += 1;
          peak = Math.max(peak, open);
          res.on('finish', () => {
            open -= 1;
          });
        });
      track(a);
      track(b);
      const burst = (url, n) =>
        Array.from({ length: n }, (_i, i) => dispatchEvent('POST', url, { i }));
      const target = (next === 'a' ? a : b).server.url;
      try {
        a.holdUntil(WARM);
        expect(
          (await Promise.all(burst(a.server.url, WARM))).every((r) => r.statusCode === 200),
        ).toBe(true);
        expect(a.peak).toBeGreaterThan(32); // warm: many connections open, idle now
        let before = [];
        if (running) {
          setConnectionLimits({ maxConnections: 4 });
          before = burst(a.server.url, 20); // 4 run on the cap of 4, the rest wait
          await settle(() => open > 0);
        }
        peak = 0;
        setConnectionLimits({ maxConnections: 1 }); // those running finish; nothing more starts beside them
        const results = await Promise.all([...before, ...burst(target, 40)]);
        expect(results.every((r) => r.statusCode === 200)).toBe(true);
        expect(peak).toBeLessThanOrEqual(running ? 4 : 1);
        peak = 0;
        const again = await Promise.all(burst(target, 20));
        expect(again.every((r) => r.statusCode === 200)).toBe(true);
        expect(peak).toBeLessThanOrEqual(1);
      } finally {
        await Promise.all([a.server.close(), b.server.close()]);
      }
    },
  );

  test('one origin however its URL is written (userinfo, case): a lowered cap holds across the forms', async () => {
    setConnectionLimits({ maxConnectionsPerHost: 4 });
    const counting = await startCounting(100);
    const { server } = counting;
    try {
      await Promise.all(Array.from({ length: 4 }, () => dispatchEvent('GET', server.url, {}))); // 4 warm connections
      setConnectionLimits({ maxConnectionsPerHost: 1 });
      counting.resetPeak();
      const { port } = server;
      const forms = [
        `http://127.0.0.1:${port}/a`,
        `http://u1@127.0.0.1:${port}/b`,
        `http://u2:x@127.0.0.1:${port}/c`,
        `HTTP://127.0.0.1:${port}/d`,
      ];
      const results = await Promise.all(forms.map((url) => dispatchEvent('GET', url, {})));
      expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
      expect(counting.peak).toBe(1); // 0.1: 3 — userinfo made each form an origin of its own
    } finally {
      await server.close();
    }
  });

  test('an origin at its cap (its requests hang) never holds up requests to other origins queued behind its own', async () => {
    setConnectionLimits({ maxConnectionsPerHost: 2 });
    const hung = await start(() => {}); // never answers
    const ok = await start((req, res) => res.end('ok'));
    try {
      const stuck = Array.from({ length: 50 }, (_, i) =>
        dispatchEvent('POST', hung.url, { i }, { timeoutMs: 600000 }).catch((e) => e.code),
      );
      while (hung.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => dispatchEvent('POST', ok.url, { i })),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
      expect(hung.requests).toHaveLength(2); // the cap held for the hung origin all along
      await hung.close(); // its connections reset: the 2 in flight fail, the 48 waiting then fail too
      expect((await Promise.all(stuck)).every((code) => typeof code === 'string')).toBe(true);
    } finally {
      await hung.close();
      await ok.close();
    }
  });

  test("requests waiting behind their origin's cap can be aborted, on several origins at once, and the pump goes on", async () => {
    setConnectionLimits({ maxConnectionsPerHost: 1 });
    const fetch = createFetch({ timeoutMs: 600000 });
    const a = await start(() => {});
    const b = await start(() => {});
    const ok = await start((req, res) => res.end('ok'));
    try {
      const controllers = [];
      const pending = [];
      for (const server of [a, b, a, b]) {
        const c = new AbortController();
        controllers.push(c);
        pending.push(
          fetch(server.url, { method: 'POST', body: '{}', signal: c.signal }).then(
            () => 'answered',
            (e) => e.name,
          ),
        );
      }
      while (a.requests.length < 1 || b.requests.length < 1)
        await new Promise((r) => setTimeout(r, 5));
      controllers[2].abort(); // a's second, waiting behind a's cap
      expect(await pending[2]).toBe('AbortError');
      // Another origin goes on; so does b's waiting request once b has room (its first is aborted).
      expect((await dispatchEvent('POST', ok.url, {})).statusCode).toBe(200);
      controllers[1].abort();
      while (b.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
      for (const c of controllers) c.abort();
      expect(await Promise.all(pending)).toEqual([
        'AbortError',
        'AbortError',
        'AbortError',
        'AbortError',
      ]);
      expect(a.requests).toHaveLength(1); // a's aborted waiter never went out
    } finally {
      await a.close();
      await b.close();
      await ok.close();
    }
  });

  test('maxInFlight: beyond it requests wait, in the order they were made', async () => {
    setConnectionLimits({ maxInFlight: 1 });
    const server = await start((req, res) => res.end());
    try {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => dispatchEvent('POST', server.url, { i })),
      );
      expect(server.requests.map((r) => JSON.parse(r.body).i)).toEqual(
        Array.from({ length: 30 }, (_, i) => i),
      );
      expect(server.connections).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('maxConnections caps the requests open across origins', async () => {
    setConnectionLimits({ maxConnections: 3 });
    const a = await startCounting(0);
    const b = await startCounting(0);
    let open = 0;
    let maxOpen = 0;
    const track = ({ server }) =>
      server.server.prependListener('request', (req, res) => {
        open += 1;
        maxOpen = Math.max(maxOpen, open);
        res.on('finish', () => {
          open -= 1;
        });
      });
    track(a);
    track(b);
    try {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          dispatchEvent('POST', (i % 2 ? a : b).server.url, { i }),
        ),
      );
      expect(results.every((r) => r.statusCode === 200)).toBe(true);
      expect(maxOpen).toBeLessThanOrEqual(3);
      expect(maxOpen).toBeGreaterThan(1);
      expect(a.server.requests.length + b.server.requests.length).toBe(60);
    } finally {
      await Promise.all([a.server.close(), b.server.close()]);
    }
  });

  test('a raised maxInFlight takes effect for the requests already waiting', async () => {
    setConnectionLimits({ maxInFlight: 1 });
    const held = [];
    const server = await start((req, res) => held.push(res));
    try {
      const results = Array.from({ length: 5 }, (_, i) => dispatchEvent('POST', server.url, { i }));
      while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
      setConnectionLimits({ maxInFlight: 5 }); // the four waiting ones start now
      while (held.length < 5) await new Promise((r) => setTimeout(r, 5));
      for (const res of held) res.end();
      expect((await Promise.all(results)).map((r) => r.statusCode)).toEqual([
        200, 200, 200, 200, 200,
      ]);
    } finally {
      await server.close();
    }
  });

  test('setConnectionLimits validates its input', () => {
    expect(() => setConnectionLimits({ maxConnectionsPerHost: 0 })).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => setConnectionLimits({ maxConnections: '5' })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => setConnectionLimits({ perHost: 5 })).toThrow(
      expect.objectContaining({
        code: 'ERR_UNKNOWN_OPTION',
        message: expect.stringContaining('perHost'),
      }),
    );
    expect(setConnectionLimits({ maxInFlight: 10 })).toEqual({
      maxConnectionsPerHost: 64,
      maxConnections: 256,
      maxInFlight: 10,
    });
  });
});

describe('the native pump', () => {
  const { dispatchEvent, pumpStats } = load('native');

  test('pumpStats() counts the batches completions come back in and the rings that woke the pump', async () => {
    const server = await start((req, res) => res.end());
    try {
      const before = pumpStats();
      await Promise.all(
        Array.from({ length: 64 }, (_, i) => dispatchEvent('POST', server.url, { i })),
      );
      const after = pumpStats();
      expect(after.settled - before.settled).toBe(64);
      // One wake-up of this thread per batch; never more batches than completions.
      expect(after.batches - before.batches).toBeGreaterThanOrEqual(1);
      expect(after.batches - before.batches).toBeLessThanOrEqual(64);
      expect(after.rings - before.rings).toBeLessThanOrEqual(64); // at most one per request
      expect(server.requests).toHaveLength(64);
    } finally {
      await server.close();
    }
  });

  test('a pump asleep with a request in flight is woken by one ring for the next request', async () => {
    const held = [];
    const server = await start((req, res) => {
      held.push(res);
    });
    try {
      const first = dispatchEvent('POST', server.url, { i: 1 });
      for (let i = 0; i < 500 && held.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50)); // the pump waits in epoll for the answer
      const before = pumpStats();
      expect(before.pumpRunning).toBe(true);
      const second = dispatchEvent('POST', server.url, { i: 2 });
      for (let i = 0; i < 500 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(held).toHaveLength(2);
      expect(pumpStats().rings - before.rings).toBe(1);
      for (const res of held) res.end();
      expect((await Promise.all([first, second])).map((r) => r.statusCode)).toEqual([200, 200]);
    } finally {
      for (const res of held) res.destroy();
      await server.close();
    }
  });

  test('the pump gives its thread back when idle and comes back for the next request', async () => {
    const server = await start((req, res) => res.end());
    try {
      await dispatchEvent('POST', server.url, {});
      const waitIdle = async () => {
        for (let i = 0; i < 200 && pumpStats().pumpRunning; i++)
          await new Promise((r) => setTimeout(r, 10));
      };
      await waitIdle();
      const idle = pumpStats();
      expect(idle.pumpRunning).toBe(false);
      expect(idle.pending).toBe(0);
      await dispatchEvent('POST', server.url, {});
      await waitIdle();
      const after = pumpStats();
      expect(after.pumpRuns).toBe(idle.pumpRuns + 1);
      expect(after.settled).toBe(idle.settled + 1);
      expect(server.connections).toBe(1); // the connection outlived the pump run
    } finally {
      await server.close();
    }
  });

  // Between two transfers a kept-alive socket stays registered with the pump's epoll (no system call
  // to park it and one to watch it again); if the server closes it meanwhile, its readable EOF must be
  // unwatched once, not reported on every wait.
  test('kept-alive connections the server closes while they rest: the pump does not spin on them, and the next requests reconnect', async () => {
    const held = [];
    const resting = new Set();
    const server = await start((req, res) => {
      if (req.url.startsWith('/hang')) {
        held.push(res);
        return;
      }
      resting.add(res.socket);
      res.end();
    });
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    try {
      // One request the server holds keeps the pump running throughout.
      const hanging = dispatchEvent('POST', `${server.origin}/hang`, {});
      hanging.catch(() => {}); // awaited below; a failed assertion before must not leave it unhandled
      for (let i = 0; i < 500 && held.length < 1; i++) await sleep(10);
      const first = await Promise.all(
        Array.from({ length: 5 }, (_, i) => dispatchEvent('POST', server.url, { i })),
      );
      expect(first.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
      const opened = server.connections;
      for (const socket of resting) socket.end(); // FIN on each resting connection
      await sleep(200);
      const before = pumpStats();
      await sleep(800);
      const after = pumpStats();
      expect(after.pumpRunning).toBe(true);
      // A pump woken by the same closed sockets again and again would spend about all of it.
      expect(after.cpuMs - before.cpuMs).toBeLessThan(300);
      const again = await Promise.all(
        Array.from({ length: 5 }, (_, i) => dispatchEvent('POST', server.url, { i })),
      );
      expect(again.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
      expect(server.connections).toBeGreaterThan(opened); // new connections for the closed ones
      held[0].end();
      expect((await hanging).statusCode).toBe(200);
    } finally {
      for (const res of held) res.destroy();
      await server.close();
    }
  });
});

// The fallback's backend driven directly, with configure() and profiles as lib/transport uses them.
describe('the fallback backend, driven directly', () => {
  const { backend, profile, send } = require('./helpers/fallback');

  const DEFAULT_LIMITS = { maxHostConnections: 64, maxTotalConnections: 256, maxInFlight: 256 };

  afterEach(() => backend.configure(DEFAULT_LIMITS));
  afterAll(() => backend.halt());

  test('configure() checks its input', () => {
    expect(() => backend.configure({ ...DEFAULT_LIMITS, maxInFlight: 0 })).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => backend.configure({ ...DEFAULT_LIMITS, maxHostConnections: '4' })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  // maxTotalConnections bounds every connection, idle ones included: the least recently used idle
  // one is closed to make room (lib/fallback/connections.js). These pin what that relies on in undici: a
  // socket closed under an idle Client (HTTP/1.1, HTTP/2, a CONNECT tunnel) fails nothing and is
  // connected again when needed.
  describe('maxTotalConnections bounds the open connections', () => {
    let certs;
    beforeAll(() => {
      certs = makeCertificates('events.test');
    });
    afterAll(() => certs.remove());

    // `n` TLS servers for events.test (HTTP/2 with `h2`), and the connect-to rules that reach them,
    // through counting forwarders unless `direct`.
    async function tlsOrigins(n, h2, direct = false) {
      const tally = counts();
      const servers = [];
      const hops = [];
      for (let i = 0; i < n; i++) {
        const server = await start((req, res) => res.end(`over ${req.httpVersion}`), {
          tls: { key: certs.key, cert: certs.cert },
          h2,
          hostname: 'events.test',
        });
        servers.push(server);
        if (!direct) hops.push(await forwarder(server.port, tally));
      }
      const connectTo = servers.map(
        (s, i) => `events.test:${s.port}:127.0.0.1:${direct ? s.port : hops[i].port}`,
      );
      return {
        servers,
        tally,
        connectTo,
        close: () => Promise.all([...hops, ...servers].map((s) => s.close())),
      };
    }

    // Rounds of `perOrigin` requests to every server at once; the statuses (or failure codes).
    async function bursts(servers, p, rounds, perOrigin) {
      const statuses = [];
      for (let round = 0; round < rounds; round++) {
        const results = await Promise.all(
          servers.flatMap((s) =>
            Array.from({ length: perOrigin }, () => send('POST', s.url, '{}', { profile: p })),
          ),
        );
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
        for (const server of servers)
          expect((await send('POST', server.url, '{}')).statusCode).toBe(200);
        expect(tally.open).toBe(10);
        backend.configure({ ...DEFAULT_LIMITS, maxTotalConnections: 3 });
        await settle(() => tally.open <= 3);
        expect(tally.open).toBe(3); // 0.1: 10, until undici's keep-alive timeout
        expect(servers.map((s) => s.openSockets)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
        // The others connect again when next used, within the bound.
        expect(
          (await Promise.all(servers.map((s) => send('POST', s.url, '{}')))).every(
            (r) => r.statusCode === 200,
          ),
        ).toBe(true);
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
        expect(
          o.servers.every(
            (s) => s.requests.length === 6 && s.requests.every((r) => r.httpVersion === '2.0'),
          ),
        ).toBe(true);
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
        const p = profile({
          httpsProxy: `http://127.0.0.1:${hop.port}`,
          connectTo: o.connectTo,
          caFile: certs.caFile,
        });
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
});
