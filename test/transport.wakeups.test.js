'use strict';
// Completions come back on the event loop's own turns where they can: a wake-up of the loop costs
// its thread more than handing back the batch. These run the client in a child process, so that
// its loop wakes only for its own timers and completions (the test server lives here).
const path = require('node:path');
const { start } = require('./helpers/servers');
const { spawnNode } = require('./helpers/processes');

const ROOT = JSON.stringify(path.join(__dirname, '..'));

const PRELUDE = `
  const fs = require('node:fs');
  const { dispatchEvent, createDispatcher, pumpStats } = require(${ROOT});
  const url = process.env.URL;
  const d = createDispatcher();
  const send = () => (process.env.CLIENT === 'dispatcher' ? d.send('POST', url, '{}')
    : dispatchEvent('POST', url, '{}')).then((r) => r.statusCode);
  // This thread's voluntary context switches: each time its loop slept and was woken.
  const switches = () => Number(/voluntary_ctxt_switches:\\s+(\\d+)/
    .exec(fs.readFileSync('/proc/self/task/' + process.pid + '/status', 'utf8'))[1]);
  const report = (x) => d.close().then(() => console.log(JSON.stringify(x)));
`;

async function runChild(code, env) {
  const { exited } = spawnNode(PRELUDE + code, env);
  const { code: exitCode, stdout, stderr } = await exited;
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' });
  return JSON.parse(stdout.trim().split('\n').pop());
}

describe.each(['dispatchEvent', 'dispatcher'])('%s', (client) => {
  test("sending on a 5 ms timer: completions come back with the timer's own wake-ups, not one more each, and no ring a tick", async () => {
    const server = await start((req, res) => res.end());
    try {
      // 100 ticks of a 5 ms timer without requests, then 100 sending 10 each: the loop wakes for
      // the timer either way; completions (back within the tick) add no wake-ups of their own.
      const out = await runChild(
        `
        const ticks = (n) => new Promise((resolve) => {
          const all = [];
          let count = 0;
          const s0 = switches();
          const p0 = pumpStats();
          const timer = setInterval(() => {
            for (let i = 0; i < n; i++) all.push(send());
            if (++count < 100) return;
            clearInterval(timer);
            const woke = switches() - s0;
            const p1 = pumpStats();
            Promise.all(all).then((results) => resolve({ woke, results, batches: p1.batches - p0.batches, wakeups: p1.wakeups - p0.wakeups, rings: p1.rings - p0.rings }));
          }, 5);
        });
        (async () => {
          await ticks(10); // warm up: connections open
          const idle = await ticks(0);
          const busy = await ticks(10);
          await report({ idle: idle.woke, busy: busy.woke, batches: busy.batches, wakeups: busy.wakeups, rings: busy.rings,
            ok: busy.results.filter((r) => r === 200).length, count: busy.results.length });
        })();
      `,
        { URL: server.url, CLIENT: client },
      );
      expect(out.count).toBe(1000);
      expect(out.ok).toBe(1000);
      expect(server.requests).toHaveLength(2000);
      // About one batch per tick (100) on a quiet machine. On a loaded one (an ASan run beside
      // other jobs: 36) the server's answers come late and several ticks' completions share a
      // batch; 20 still makes the bound on wake-ups below one that can fail.
      expect(out.batches).toBeGreaterThanOrEqual(20);
      // The thread slept and woke about as often as without requests (one more per tick before),
      expect(out.busy - out.idle).toBeLessThan(50);
      // and the pump woke it only for a tick that came late.
      expect(out.wakeups).toBeLessThan(out.batches / 4);
      // Nor did this thread ring the pump for each tick's requests (one or two rings a tick
      // before: 100–216 here): the pump looks just after the loop's timer wakes it. A tick that
      // takes longer than that look still rings: an ASan build 28, a machine loaded by other jobs
      // 51. Fewer than one a tick is what the old code never did.
      expect(out.rings).toBeLessThan(80);
    } finally {
      await server.close();
    }
  });

  test('awaiting each request before the next, with a 2 ms timer running: each completion comes back at once', async () => {
    const server = await start((req, res) => res.end());
    try {
      // The application waits on the answer to send again: holding it for the timer's wake-up
      // would make every request wait for a tick.
      const out = await runChild(
        `
        (async () => {
          const timer = setInterval(() => {}, 2);
          await send();
          const p0 = pumpStats();
          const results = [];
          for (let i = 0; i < 100; i++) results.push(await send());
          const p1 = pumpStats();
          clearInterval(timer);
          await report({ wakeups: p1.wakeups - p0.wakeups, settled: p1.settled - p0.settled,
            ok: results.filter((r) => r === 200).length });
        })();
      `,
        { URL: server.url, CLIENT: client },
      );
      expect(out.settled).toBe(100);
      expect(out.ok).toBe(100);
      expect(out.wakeups).toBeGreaterThanOrEqual(50);
    } finally {
      await server.close();
    }
  });
});

test('a loop that sleeps with no timer due is woken for its completions', async () => {
  const server = await start((req, res) => setTimeout(() => res.end(), 20));
  try {
    const out = await runChild(
      `
      (async () => {
        const p0 = pumpStats();
        const statuses = await Promise.all([send(), send(), send()]);
        const p1 = pumpStats();
        await report({ statuses, wakeups: p1.wakeups - p0.wakeups });
      })();
    `,
      { URL: server.url, CLIENT: 'dispatchEvent' },
    );
    expect(out.statuses).toEqual([200, 200, 200]);
    expect(out.wakeups).toBeGreaterThanOrEqual(1);
  } finally {
    await server.close();
  }
});
