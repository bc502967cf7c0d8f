'use strict';
// Spool directories and privacy through createDispatcher: a spoolDir that cannot be one is a clear error at
// once (never a raw EEXIST, never a hang under /proc); the spool is private to its user; and what
// comes back from a journal is held to the rules of a new event.
const fs = require('node:fs');
const path = require('node:path');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { logEvent } = require('./helpers/events');
const { tempDirs } = require('./helpers/dirs');
const { spawnNode } = require('./helpers/processes');

const { later, collector } = useCleanup();
const tempDir = tempDirs(later);
const ROOT = JSON.stringify(path.join(__dirname, '..'));

test('a spoolDir that is a file: ERR_SPOOL_IO saying it is not a directory (0.1: a raw EEXIST from mkdir)', () => {
  const file = path.join(tempDir(), 'not-a-dir');
  fs.writeFileSync(file, 'x');
  expect(() => createDispatcher({ spoolDir: file })).toThrow(
    expect.objectContaining({
      code: 'ERR_SPOOL_IO',
      message: expect.stringMatching(/not a directory/),
    }),
  );
  expect(() => createDispatcher({ spoolDir: path.join(file, 'below') })).toThrow(
    expect.objectContaining({ code: 'ERR_SPOOL_IO' }),
  );
});

test.each(['/proc/self/ned-spool', '/proc/ned/spool/dir', '/sys/ned-spool'])(
  'spoolDir %s: a clear error at once, never a hang',
  async (dir) => {
    // In a child with a time limit: 0.1's recursive mkdir spun at 100% CPU forever under /proc.
    const { child, exited } = spawnNode(`
    const { createDispatcher } = require(${ROOT});
    try { createDispatcher({ spoolDir: ${JSON.stringify(dir)} }); console.log('created'); }
    catch (e) { console.log(e.code + ' ' + e.message); }
  `);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    const r = await exited;
    clearTimeout(timer);
    expect(r.signal).toBeNull();
    expect(r.stdout).toMatch(/^ERR_SPOOL_IO /);
  },
);

test('the spool is private: directories 0700, files 0600, whatever the umask', async () => {
  const base = tempDir();
  const c = await collector(() => 'hang');
  const { exited } = spawnNode(`
    process.umask(0);
    const { createDispatcher } = require(${ROOT});
    const d = createDispatcher({ spoolDir: ${JSON.stringify(path.join(base, 'spool'))}, timeoutMs: 600000 });
    d.send('POST', ${JSON.stringify(c.url)}, { visitor: 'secret' });
    setTimeout(() => d.close({ timeoutMs: 0 }).then(() => console.log('closed')), 100);
  `);
  expect((await exited).stdout.trim()).toBe('closed');
  const modes = [];
  const walk = (p) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const full = path.join(p, e.name);
      modes.push([e.isDirectory() ? 'dir' : 'file', fs.statSync(full).mode & 0o777]);
      if (e.isDirectory()) walk(full);
    }
  };
  expect(fs.statSync(path.join(base, 'spool')).mode & 0o777).toBe(0o700);
  walk(path.join(base, 'spool'));
  expect(modes.filter(([k]) => k === 'file').length).toBeGreaterThan(0);
  for (const [kind, mode] of modes)
    expect([kind, mode]).toEqual([kind, kind === 'dir' ? 0o700 : 0o600]);
});

test('a spoolDir others can write to is refused, as ssh does with key files; one others can read is tightened', () => {
  const open = path.join(tempDir(), 'open');
  fs.mkdirSync(open);
  fs.chmodSync(open, 0o777);
  expect(() => createDispatcher({ spoolDir: open })).toThrow(
    expect.objectContaining({ code: 'ERR_SPOOL_PERMISSIONS' }),
  );
  const readable = path.join(tempDir(), 'readable');
  fs.mkdirSync(readable);
  fs.chmodSync(readable, 0o755);
  const d = createDispatcher({ spoolDir: readable });
  expect(fs.statSync(readable).mode & 0o777).toBe(0o700);
  return d.close();
});

test('tampered journal lines (a file: URL, a verb events never use, broken JSON) are never sent; the good ones are', async () => {
  const dir = tempDir();
  const down = await collector(() => ({ status: 503 }));
  const first = createDispatcher({ spoolDir: dir, maxAttempts: 1, spoolRetryMs: 600000 });
  const events = [logEvent(down.url), logEvent(down.url), logEvent(down.url), logEvent(down.url)];
  for (const e of events) expect((await first.dispatchEvent(e.event)).spooled).toBe(true);
  await first.close();
  // Someone with access to the directory edits three of the four lines.
  const slot = fs.readdirSync(dir).find((n) => n.startsWith('slot-'));
  const segment = fs.readdirSync(path.join(dir, slot)).find((n) => n.endsWith('.jsonl'));
  const file = path.join(dir, slot, segment);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[0] = lines[0].replace(/"u":"[^"]+"/, '"u":"file:///etc/passwd"');
  lines[1] = lines[1].replace('"m":"POST"', '"m":"DELETE"');
  lines[2] = lines[2].slice(0, 40) + lines[2].slice(60);
  fs.writeFileSync(file, lines.join('\n'));
  const c = await collector();
  const warnings = [];
  const logger = {
    debug() {},
    info() {},
    warn: (m) => warnings.push(m),
    error: (m) => warnings.push(m),
  };
  const next = createDispatcher({ spoolDir: dir, logger, endpoint: c.url });
  await next.flush();
  const summary = await next.close();
  expect(summary).toMatchObject({ delivered: 1, spooled: 0 });
  expect(c.requests).toHaveLength(1);
  expect(c.received.has(events[3].uuids[0])).toBe(true);
  expect(warnings.some((m) => /invalid line/.test(m))).toBe(true);
});
