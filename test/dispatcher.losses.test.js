'use strict';
// A loss is never silent and never without its cause: every 'drop' names why — the last answer
// ("ECONNREFUSED", "HTTP 503"), the memory bound ("maxQueueBytes"), the spool's bound
// ("spoolMaxBytes") or the disk's refusal ("ENOSPC") — and with nobody listening and no logger the
// first loss is a process warning.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { closedPort } = require('./helpers/servers');
const { tempDirs } = require('./helpers/dirs');
const { spawnNode } = require('./helpers/processes');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const ROOT = JSON.stringify(path.join(__dirname, '..'));
const body = (i, size = 900) => ({ i, pad: 'x'.repeat(size) });

function drops(d) {
  const list = [];
  d.on('drop', (info) => list.push(info));
  return list;
}

test('queue-full without a spool: the cause is the memory bound', async () => {
  const hung = await collector(() => 'hang');
  const d = createDispatcher({ maxInFlight: 1, maxQueueBytes: 4096, timeoutMs: 600000 });
  const lost = drops(d);
  for (let i = 0; i < 12; i++) d.send('POST', hung.url, body(i));
  // 4 KiB hold four events: each newer one evicted the oldest waiting one.
  expect(lost.length).toBe(8);
  for (const info of lost)
    expect(info).toMatchObject({ reason: 'queue-full', cause: 'maxQueueBytes' });
  await d.close({ timeoutMs: 0 });
});

test('retries exhausted and closed without a spool: the last answer, or "no spoolDir"', async () => {
  const port = await closedPort();
  const failing = await collector(() => ({ status: 503 }));
  const hung = await collector(() => 'hang');
  const d = createDispatcher({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, timeoutMs: 600000 });
  const lost = drops(d);
  await d.send('POST', `http://127.0.0.1:${port}/x`, {});
  await d.send('POST', failing.url, {});
  d.send('POST', hung.url, {});
  while (hung.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
  await d.close({ timeoutMs: 50 });
  expect(lost.map((l) => [l.reason, l.cause])).toEqual([
    ['retries-exhausted', 'ECONNREFUSED'],
    ['retries-exhausted', 'HTTP 503'],
    ['closed', 'no spoolDir'],
  ]);
});

test('an event still failing at close() without a spool names its last failure', async () => {
  const failing = await collector(() => ({ status: 503 }));
  const d = createDispatcher({ baseDelayMs: 60000, maxDelayMs: 60000 });
  const lost = drops(d);
  d.send('POST', failing.url, {});
  while (failing.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
  await d.close({ timeoutMs: 50 });
  expect(lost).toEqual([
    expect.objectContaining({ reason: 'closed', cause: 'HTTP 503', statusCode: 503 }),
  ]);
});

test('queue-full with a spool whose bound is reached: the cause is spoolMaxBytes', async () => {
  const hung = await collector(() => 'hang');
  const d = createDispatcher({
    spoolDir: tempDir(),
    spoolMaxBytes: 4096,
    maxQueueBytes: 4096,
    maxInFlight: 1,
    timeoutMs: 600000,
  });
  const lost = drops(d);
  for (let i = 0; i < 16; i++) d.send('POST', hung.url, body(i));
  expect(lost.length).toBeGreaterThan(0);
  for (const info of lost)
    expect(info).toMatchObject({ reason: 'queue-full', cause: 'spoolMaxBytes' });
  await d.close({ timeoutMs: 0 });
});

// A directory on a filesystem that is full after `bytes`: a tmpfs of that size where this process
// may mount one (root); otherwise null, and the child runs under a file-size limit instead, where
// writes past it fail with EFBIG. Either way the disk refuses with a code of its own.
function smallDisk(bytes) {
  const dir = tempDir('ned-disk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], {
      stdio: 'ignore',
    });
  } catch {
    return { dir, mounted: false };
  }
  later(() => execFileSync('umount', ['-l', dir], { stdio: 'ignore' }));
  return { dir, mounted: true };
}

test('a full disk at close() with the endpoint down: every drop says the disk refused (ENOSPC), none is left without a cause', async () => {
  const port = await closedPort();
  const disk = smallDisk(128 * 1024);
  const code = `
    process.on('SIGXFSZ', () => {}); // under a file-size limit a write past it fails with EFBIG instead
    const { createDispatcher } = require(${ROOT});
    const d = createDispatcher({
      spoolDir: ${JSON.stringify(path.join(disk.dir, 'spool'))}, maxAttempts: 1000, baseDelayMs: 20, maxDelayMs: 20,
      maxQueueBytes: 256 * 1024, spoolMaxBytes: 64 * 1024 * 1024,
    });
    const drops = [];
    const errors = [];
    d.on('drop', (x) => drops.push([x.reason, x.cause]));
    d.on('error', (e) => errors.push(e.cause && e.cause.code));
    const results = [];
    for (let i = 0; i < 600; i++) d.send('POST', 'http://127.0.0.1:${port}/v1/events', { i, pad: 'x'.repeat(900) }).then((r) => results.push(r));
    setTimeout(async () => {
      const summary = await d.close({ timeoutMs: 300 });
      const stats = d.stats();
      const late = await d.send('POST', 'http://127.0.0.1:${port}/v1/events', { late: true, pad: 'x'.repeat(900) });
      console.log(JSON.stringify({ drops, errors: [...new Set(errors)], summary, stats, results: results.length, late }));
    }, 200);
  `;
  const { exited } = disk.mounted
    ? spawnNode(code)
    : {
        exited: new Promise((resolve) => {
          const { spawn } = require('node:child_process');
          const child = spawn('prlimit', [`--fsize=${128 * 1024}`, process.execPath, '-e', code]);
          let stdout = '';
          child.stdout.on('data', (d) => {
            stdout += d;
          });
          child.on('close', (c) => resolve({ code: c, stdout }));
        }),
      };
  const r = await exited;
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  const diskCode = disk.mounted ? 'ENOSPC' : 'EFBIG';
  expect(out.errors).toContain(diskCode);
  expect(out.drops.length).toBeGreaterThan(0);
  // 0.1: 1,183 of 1,183 drops with reason 'closed' and cause undefined.
  for (const [reason, cause] of out.drops) {
    expect(['closed', 'queue-full']).toContain(reason);
    expect(cause).toBe(diskCode);
  }
  // A full disk refuses the event handed over after close() too (its drop is the last); a
  // file-size limit does not: it is one small file.
  if (disk.mounted) {
    expect(out.late).toMatchObject({ dropped: true, reason: 'closed' });
    expect(out.drops.pop()).toEqual(['closed', 'ENOSPC']);
  } else {
    expect(out.late).toMatchObject({ spooled: true });
  }
  expect(out.summary.lost).toBe(out.drops.length);
  expect(out.summary.spooled + out.summary.lost + out.summary.delivered + out.summary.failed).toBe(
    600,
  );
  expect(out.stats.pending).toBe(0);
  expect(out.results).toBe(600);
}, 60000);

test('an event handed over after close() that the spool cannot take: lost, and the cause says the spool could not', async () => {
  const dir = tempDir();
  const d = createDispatcher({ spoolDir: dir });
  await d.close();
  const lost = drops(d);
  d.on('error', () => {});
  // The root replaced by a file: the late file cannot be written.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.writeFileSync(dir, 'not a directory');
  const r = await d.send('POST', 'http://127.0.0.1:9/x', {});
  expect(r).toMatchObject({ dropped: true, reason: 'closed' });
  // 0.1: cause undefined. (Not a directory has no system code; a full disk's ENOSPC is below.)
  expect(lost).toEqual([expect.objectContaining({ reason: 'closed', cause: 'ERR_SPOOL_IO' })]);
});

describe('a loss nobody hears of is a process warning, once', () => {
  const scenario = (setup) => `
    const { createDispatcher } = require(${ROOT});
    const d = createDispatcher({ maxAttempts: 1${setup.includes('logger') ? ', logger: { debug() {}, info() {}, warn: (m) => console.log(m), error() {} }' : ''} });
    ${setup.includes('listener') ? "d.on('drop', () => console.log('heard'));" : ''}
    (async () => {
      for (let i = 0; i < 3; i++) await d.send('POST', 'http://127.0.0.1:PORT/x', {});
      await d.close();
    })();
  `;

  test.each([
    { name: 'no logger, no listener: one warning for three losses', setup: 'none', warnings: 1 },
    { name: "a 'drop' listener: no warning", setup: 'listener', warnings: 0 },
    { name: 'a logger: no warning, the logger hears of each', setup: 'logger', warnings: 0 },
  ])('$name', async ({ setup, warnings }) => {
    const port = await closedPort();
    const { exited } = spawnNode(scenario(setup).replace('PORT', String(port)), {
      NODE_NO_WARNINGS: undefined,
    });
    const r = await exited;
    expect(r.code).toBe(0);
    expect((r.stderr.match(/NED_EVENT_LOST/g) || []).length).toBe(warnings);
    if (warnings)
      expect(r.stderr).toMatch(
        /lost an event \(retries-exhausted: ECONNREFUSED\) for http:\/\/127\.0\.0\.1:\d+\/x/,
      );
    if (setup === 'listener')
      expect(r.stdout.trim().split('\n')).toEqual(['heard', 'heard', 'heard']);
    if (setup === 'logger')
      expect(r.stdout).toMatch(/dropped an event \(retries-exhausted: ECONNREFUSED\)/);
  });
});
