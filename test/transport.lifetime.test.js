'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { start } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');
const { TRANSPORTS } = require('./helpers/transports');

const ROOT = JSON.stringify(path.join(__dirname, '..'));

// A server that parks every request; `arrived(n)` resolves once n requests are parked.
async function holdingServer() {
  const held = [];
  const waiters = [];
  const server = await start((req, res) => {
    held.push(res);
    for (const w of waiters) if (held.length >= w.n) w.resolve();
  });
  server.held = held;
  server.arrived = (n) =>
    new Promise((resolve) => {
      if (held.length >= n) resolve();
      else waiters.push({ n, resolve });
    });
  return server;
}

// A fresh process on each transport: it lives exactly as long as its requests do.
describe.each(TRANSPORTS)('%s transport', (kind) => {
  const env = { NATIVE_EVENT_DISPATCHER_TRANSPORT: kind };

  test('an idle process exits by itself once its requests have settled', async () => {
    const server = await start((req, res) => res.end('ok'));
    try {
      const { exited } = spawnNode(
        `
        const { dispatchEvent } = require(${ROOT});
        dispatchEvent('POST', ${JSON.stringify(server.url)}, { a: 1 }).then((r) => console.log('status', r.statusCode));
      `,
        env,
      );
      const result = await exited;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe('status 200');
    } finally {
      await server.close();
    }
  });

  test('loading the package alone does not keep a process alive', async () => {
    const { exited } = spawnNode(`require(${ROOT}); console.log('loaded');`, env);
    const result = await exited;
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('loaded');
  });

  test('a process stays alive while a request is in flight, and exits after it settles', async () => {
    const server = await holdingServer();
    try {
      const { exited } = spawnNode(
        `
        const { dispatchEvent } = require(${ROOT});
        dispatchEvent('POST', ${JSON.stringify(server.url)}, { a: 1 }).then((r) => console.log('answered', r.body));
        console.log('sent');
      `,
        env,
      );
      let done = false;
      exited.then(() => {
        done = true;
      });
      await server.arrived(1);
      // The child's script finished long ago; only the request in flight keeps it alive. Let the
      // child's loop run dry several times over before answering.
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
      expect(done).toBe(false);
      server.held[0].end('late');
      const result = await exited;
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split('\n')).toEqual(['sent', 'answered late']);
    } finally {
      await server.close();
    }
  });

  test('process.exit() with 50 requests in flight exits cleanly (no crash in exit handlers)', async () => {
    const server = await holdingServer();
    try {
      const { child, exited } = spawnNode(
        `
        const { dispatchEvent } = require(${ROOT});
        // Long timeouts: if exit waited for these, the test would time out instead of passing.
        for (let i = 0; i < 50; i++) dispatchEvent('POST', ${JSON.stringify(server.url)}, { i }, { timeoutMs: 600000 }).then(() => console.log('settled'), () => console.log('settled'));
        process.stdin.once('data', () => process.exit(3));
      `,
        env,
      );
      await server.arrived(50);
      child.stdin.write('exit now\n');
      const result = await exited;
      expect(result.signal).toBeNull();
      expect(result.code).toBe(3);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(''); // nothing settled after process.exit()
    } finally {
      for (const res of server.held) res.destroy();
      await server.close();
    }
  });
});

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { dispatchEvent } = require(${ROOT});
  const sends = Array.from({ length: workerData.n }, (_, i) =>
    dispatchEvent('POST', workerData.url, { worker: workerData.id, i }).then((r) => r.statusCode, (e) => e.code));
  parentPort.postMessage({ sent: workerData.n });
  Promise.all(sends).then((codes) => parentPort.postMessage({ codes }));
`;

test('works inside worker_threads, each worker with its own pump, alongside the main thread', async () => {
  const { dispatchEvent } = require('..');
  const server = await start((req, res) => res.end('ok'));
  try {
    const runWorker = (id) =>
      new Promise((resolve, reject) => {
        const worker = new Worker(WORKER, {
          eval: true,
          workerData: { url: server.url, n: 40, id },
        });
        worker.on('message', (m) => {
          if (m.codes) resolve(m.codes);
        });
        worker.on('error', reject);
      });
    const [a, b, main] = await Promise.all([
      runWorker(1),
      runWorker(2),
      Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          dispatchEvent('POST', server.url, { worker: 0, i }).then((r) => r.statusCode),
        ),
      ),
    ]);
    expect([...a, ...b, ...main]).toEqual(Array(120).fill(200));
    const byWorker = [0, 1, 2].map(
      (id) => server.requests.filter((r) => JSON.parse(r.body).worker === id).length,
    );
    expect(byWorker).toEqual([40, 40, 40]);
  } finally {
    await server.close();
  }
});

test('terminating a worker with requests in flight does not crash, and the process carries on', async () => {
  const { pumpStats } = require('..');
  const server = await holdingServer();
  // Each wait is bounded and named, so a hang says where it hung and what the pump was doing.
  // Whether libuv's threadpool (where the pump runs) takes work now: an fs call is queued there.
  const threadpool = () =>
    Promise.race([
      require('node:fs/promises')
        .stat(__filename)
        .then(() => 'free'),
      new Promise((resolve) => setTimeout(() => resolve('busy for 1 s'), 1000).unref()),
    ]);
  const step = (what, promise) => {
    let timer;
    const late = new Promise((resolve, reject) => {
      timer = setTimeout(async () => {
        const held = server.held.length;
        const stats = JSON.stringify(pumpStats());
        const pool = await threadpool();
        reject(
          new Error(
            `${what}: still waiting after 12 s (${held} held, threadpool ${pool}) ${stats}`,
          ),
        );
      }, 12000);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  };
  // The worker's results, should its requests end before they all arrive (a failed connect, say):
  // then that, not a wait, is what the test reports.
  const settledFirst = (worker) => {
    const ended = new Promise((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (m) => {
        if (m.codes) reject(new Error(`the worker's requests ended first: ${m.codes.join(', ')}`));
      });
    });
    ended.catch(() => {}); // once the requests have arrived, their ending is no failure
    return ended;
  };
  try {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { url: server.url, n: 30, id: 7 },
    });
    const exitCode = new Promise((resolve) => worker.on('exit', resolve));
    await step(
      "the first worker's 30 requests arriving",
      Promise.race([server.arrived(30), settledFirst(worker)]),
    );
    await step('terminate()', worker.terminate());
    expect(await step('the exit event', exitCode)).toBe(1); // terminated
    for (const res of server.held) res.end('too late');

    // A new worker and the main thread still work.
    const again = new Worker(WORKER, { eval: true, workerData: { url: server.url, n: 5, id: 8 } });
    const codes = new Promise((resolve) =>
      again.on('message', (m) => {
        if (m.codes) resolve(m.codes);
      }),
    );
    await step(
      "the second worker's 5 requests arriving",
      Promise.race([server.arrived(35), settledFirst(again)]),
    );
    for (const res of server.held.slice(30)) res.end('ok');
    expect(await step("the second worker's answers", codes)).toEqual(Array(5).fill(200));
    await step('terminate() of the second worker', again.terminate());
  } finally {
    await server.close();
  }
}, 60000);

test('a child that terminates workers mid-flight many times exits normally', async () => {
  const server = await holdingServer();
  try {
    const { exited } = spawnNode(`
      const { Worker } = require('node:worker_threads');
      const code = ${JSON.stringify(WORKER)};
      (async () => {
        for (let round = 0; round < 5; round++) {
          const w = new Worker(code, { eval: true, workerData: { url: ${JSON.stringify(server.url)}, n: 20, id: round } });
          await new Promise((resolve) => w.once('message', resolve));
          await w.terminate();
        }
        console.log('rounds done');
      })();
    `);
    const result = await exited;
    expect(result.stderr).toBe('');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('rounds done');
  } finally {
    for (const res of server.held) res.destroy();
    await server.close();
  }
});

test('without a usable libcurl, NATIVE_EVENT_DISPATCHER_TRANSPORT=native says so, naming the library', async () => {
  // A libcurl.so.4 that is not a library, found first through LD_LIBRARY_PATH. (Without the
  // variable the package takes the fallback transport instead: test/fallback.loader.test.js.)
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-nolib-'));
  fs.writeFileSync(path.join(dir, 'libcurl.so.4'), 'not a library');
  try {
    const { exited } = spawnNode(
      `try { require(${ROOT}); } catch (e) { console.log(e.code + ' ' + e.message); }`,
      {
        LD_LIBRARY_PATH: dir,
        NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native',
        NATIVE_EVENT_DISPATCHER_ADDON: undefined,
      },
    );
    const out = (await exited).stdout;
    expect(out).toMatch(
      /^ERR_NATIVE_TRANSPORT NATIVE_EVENT_DISPATCHER_TRANSPORT=native, but the native transport cannot load: libcurl\.so\.4 is missing or cannot be loaded/,
    );
    expect(out).toContain('apt-get install libcurl4');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('request ids are never reused: an abort() for a request that already ended does not touch the next one', async () => {
  require('..'); // the transport as the package sets it up (its connection limits)
  const completions = require('../lib/transport/completions');
  const { prepare } = require('../lib/transport/request');
  const { profileFor } = require('../lib/transport/options');
  const server = await holdingServer();
  try {
    // One owner for every request; each result comes back with the token it was submitted with.
    const waiting = new Map();
    const owner = {
      onTransportResult: (token, statusCode) => waiting.get(token)(statusCode),
    };
    const send = (i) =>
      new Promise((resolve) => {
        const token = { i };
        const id = completions.submit(
          prepare('POST', server.url, { i }),
          profileFor(),
          owner,
          token,
        );
        waiting.set(token, (statusCode) => resolve({ id, statusCode }));
      });
    const first = send(1);
    await server.arrived(1);
    server.held[0].end();
    const { id: firstId, statusCode } = await first;
    expect(statusCode).toBe(200);
    // The next request takes the slot the first one left; the first one's id is not its id.
    const second = send(2);
    await server.arrived(2);
    expect(completions.abort(firstId)).toBe(false);
    server.held[1].end();
    expect((await second).statusCode).toBe(200);
    // A pending one is aborted by its own id.
    let thirdId;
    const third = new Promise((resolve) => {
      thirdId = completions.submit(prepare('POST', server.url, { i: 3 }), profileFor(), {
        onTransportResult: (token, code, bytesSent, outcome) => resolve(outcome.failure.code),
      });
    });
    await server.arrived(3);
    expect(completions.abort(thirdId)).toBe(true);
    expect(await third).toBe('EABORTED');
    expect(completions.abort(thirdId)).toBe(false);
  } finally {
    for (const res of server.held) res.destroy();
    await server.close();
  }
});

test('completions of a burst are held back for the rest of it only briefly: 7 answered requests settle while the 8th is still unanswered', async () => {
  const { dispatchEvent, pumpStats } = require('..');
  const server = await holdingServer();
  try {
    const before = pumpStats();
    const settled = [];
    const sends = Array.from({ length: 8 }, (_, i) =>
      dispatchEvent('POST', server.url, { i }).then(
        (r) => {
          settled.push(i);
          return r.statusCode;
        },
        (err) => err.code,
      ),
    );
    await server.arrived(8);
    for (const res of server.held.slice(0, 7)) res.end();
    // They would not settle before the 8th is answered if the pump waited for the whole burst.
    for (let i = 0; i < 500 && settled.length < 7; i++) await new Promise((r) => setTimeout(r, 10));
    expect(settled).toHaveLength(7);
    server.held[7].end();
    expect(await Promise.all(sends)).toEqual(Array(8).fill(200));
    const after = pumpStats();
    expect(after.batches - before.batches).toBeGreaterThanOrEqual(2); // the 7, then the 8th
    expect(after.batches - before.batches).toBeLessThanOrEqual(8);
  } finally {
    for (const res of server.held) res.destroy();
    await server.close();
  }
});
