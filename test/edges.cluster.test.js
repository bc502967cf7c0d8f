'use strict';
// One spoolDir for a whole cluster (pm2, Node's cluster, containers on one volume).
// 0.1 gave every process but the first ERR_SPOOL_LOCKED at start: a crash loop.
const path = require('node:path');
const { lineProcess } = require('./helpers/processes');
const { useCleanup } = require('./helpers/cleanup');
const { tempDirs } = require('./helpers/dirs');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const MEMBER = path.join(__dirname, 'fixtures', 'cluster-member.js');

function member(dir, url, name) {
  const child = lineProcess(later, process.execPath, [MEMBER, dir, url, name]);
  const nth = (prefix, n) =>
    child
      .until((lines) => lines.filter((l) => l.startsWith(prefix)).length >= n)
      .then((lines) => lines.filter((l) => l.startsWith(prefix))[n - 1]);
  let sends = 0;
  return {
    proc: child.proc,
    exited: child.exited,
    ready: () => nth('READY', 1).then((l) => Number(l.slice(6))),
    send: (n) => {
      sends += 1;
      child.send(`send ${n}`);
      return nth('SENT', sends);
    },
    // The server counting an event is not the member acknowledging it: a member killed in between
    // would rightly send it again. flushed() waits for the member's own acknowledgements.
    flushed: () => {
      child.send('flush');
      return nth('FLUSHED', 1).then((l) => Number(l.slice(8)));
    },
    close: () => {
      child.send('close');
      return nth('DONE', 1).then((l) => JSON.parse(l.slice(5)));
    },
    accepted: () => child.lines.filter((l) => l.startsWith('A ')).map((l) => l.slice(2)),
  };
}

test('4 processes start at once on one spoolDir and deliver; 2 are SIGKILLed with journaled events while the endpoint is down; a restart delivers those, none twice', async () => {
  const dir = tempDir();
  let up = true;
  // A killed member never hears an answer, so none may count as received: bytes it sent just
  // before it died (a connection still in the listen backlog) reach the server later, when the
  // endpoint may be back — a real server would take them, and at-least-once replay would send them
  // again. The test is about replay, not about that.
  const killed = new Set();
  const c = await collector((n, r) => (up && !killed.has(r.headers['x-member']) ? 'ok' : 'hang'));
  const members = ['a', 'b', 'c', 'd'].map((name) => member(dir, c.url, name));
  expect(await Promise.all(members.map((m) => m.ready()))).toEqual([0, 0, 0, 0]); // no ERR_SPOOL_LOCKED
  await Promise.all(members.map((m) => m.send(25)));
  expect(await Promise.all(members.map((m) => m.flushed()))).toEqual([25, 25, 25, 25]);
  expect(members.flatMap((m) => m.accepted()).filter((u) => c.received.get(u) !== 1)).toEqual([]);

  // The endpoint stops answering; a and b accept 30 more each (journaled), then die without a word.
  up = false;
  killed.add('a').add('b');
  const [a, b, cc, dd] = members;
  await Promise.all([a.send(30), b.send(30), cc.send(10)]);
  a.proc.kill('SIGKILL');
  b.proc.kill('SIGKILL');
  expect((await a.exited).signal).toBe('SIGKILL');
  expect((await b.exited).signal).toBe('SIGKILL');
  const orphaned = [...a.accepted(), ...b.accepted()].filter(
    (u) => c.received.get(u) === undefined,
  );
  expect(orphaned).toHaveLength(60);

  // The endpoint is back and one member restarts: it adopts what a and b left — and only that:
  // the live slots of c and d are never touched.
  for (const res of c.hanging.splice(0)) res.destroy();
  up = true;
  const restarted = member(dir, c.url, 'a2');
  expect(await restarted.ready()).toBe(60);
  const summary = await restarted.close();
  expect(summary).toMatchObject({ delivered: 60, spooled: 0, lost: 0, inherited: 60 });
  expect(orphaned.filter((u) => c.received.get(u) !== 1)).toEqual([]);
  // c and d still own their events and deliver them themselves.
  expect(await cc.close()).toMatchObject({ delivered: 35, lost: 0, spooled: 0 });
  expect(await dd.close()).toMatchObject({ delivered: 25, lost: 0 });
  expect([...c.received.values()].every((n) => n === 1)).toBe(true); // none twice
}, 60000);
