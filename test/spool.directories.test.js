'use strict';
// Bad spool directories and privacy: clear errors at once, never a hang;
// directories 0700 and files 0600 whatever the umask; a root others can write to is refused.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Spool } = require('../lib/spool/index.js');
const { useCleanup } = require('./helpers/cleanup');
const { spawnNode } = require('./helpers/processes');
const { HREF, tempRoot, request } = require('./helpers/spool');

const { later } = useCleanup();
const SPOOL = path.join(__dirname, '..', 'lib', 'spool', 'index.js');

// Runs `code` in a child that must end within 10 s: a hang (Node's recursive mkdir under /proc
// spins forever) fails the test instead of hanging it.
async function inChild(code, options) {
  const run = options ? spawnWith(code, options) : spawnNode(code);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 10000);
  later(() => {
    clearTimeout(timer);
    run.child.kill('SIGKILL');
  });
  const result = await run.exited;
  clearTimeout(timer);
  expect(result).toMatchObject({ signal: null, stderr: '' });
  return JSON.parse(result.stdout);
}

function spawnWith(code, options) {
  const child = spawn(process.execPath, ['-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) =>
    child.on('close', (c, signal) => resolve({ code: c, signal, stdout, stderr })),
  );
  return { child, exited };
}

// Child code: tries each path with new Spool() and Spool.appendLate(); prints what each threw.
function attempts(paths) {
  return `
    const { Spool } = require(${JSON.stringify(SPOOL)});
    const out = {};
    for (const p of ${JSON.stringify(paths)}) {
      const seen = [];
      for (const open of [() => new Spool(p, { maxBytes: 65536 }).close(),
        () => Spool.appendLate(p, { method: 'POST', href: ${JSON.stringify(HREF)}, body: '{}', json: true })]) {
        try { open(); seen.push({ ok: true }); } catch (e) { seen.push({ code: e.code, message: e.message }); }
      }
      out[p] = seen;
    }
    process.stdout.write(JSON.stringify(out));`;
}

test('a file, a path below a file, /proc, /sys, /dev: ERR_SPOOL_IO at once with a clear message, never a hang', async () => {
  const dir = tempRoot(later);
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  const expected = {
    [file]: new RegExp(`${file} is not a directory`),
    [path.join(file, 'sub')]: new RegExp(`${file} is not a directory`),
    '/proc/self/x/y': /\/proc\/\d+ is on a proc filesystem, which does not keep files/,
    '/sys/kernel/x': /\/sys\/kernel is on a sysfs filesystem/,
    '/dev/pts/x': /\/dev\/pts is on a devpts filesystem/,
    '/dev/x/y': /\/dev is under \/dev, the kernel's own tree/,
  };
  const out = await inChild(attempts(Object.keys(expected)));
  for (const [p, message] of Object.entries(expected)) {
    expect(out[p]).toHaveLength(2);
    for (const result of out[p]) {
      expect(result.code).toBe('ERR_SPOOL_IO');
      expect(result.message).toMatch(message);
    }
  }
  expect(fs.existsSync('/dev/x')).toBe(false);
});

test.each(['000', '022', '277'])(
  'directories 0700 and files 0600 under umask %s, intermediate directories included',
  async (umask) => {
    const base = tempRoot(later);
    const root = path.join(base, 'created', 'by', 'spool');
    // Modes are taken at each stage: the first slot is adopted (renamed away) by the second.
    const modes = await inChild(`
    const fs = require('node:fs');
    const path = require('node:path');
    const { Spool } = require(${JSON.stringify(SPOOL)});
    process.umask(0o${umask});
    const root = ${JSON.stringify(root)};
    const out = {};
    const take = (dir) => { for (const n of fs.readdirSync(dir)) out[path.join(dir, n)] = fs.statSync(path.join(dir, n)).mode; };
    const req = { method: 'POST', href: ${JSON.stringify(HREF)}, body: '{"a":1}', json: true };
    const first = new Spool(root, { maxBytes: 65536 });
    first.append(req);
    take(${JSON.stringify(base)}); take(${JSON.stringify(path.join(base, 'created'))}); take(${JSON.stringify(path.join(base, 'created', 'by'))});
    take(root); take(first.dir);
    first.close(); // released, with its record
    take(first.dir);
    Spool.appendLate(root, req);
    take(root);
    const second = new Spool(root, { maxBytes: 65536 }); // adopts both
    second.append(req);
    take(root); take(second.dir);
    second.close();
    process.stdout.write(JSON.stringify(out));`);
    const kind = (m) => m & 0o170000;
    const dirs = Object.entries(modes).filter(([, m]) => kind(m) === 0o040000);
    const files = Object.entries(modes).filter(([, m]) => kind(m) === 0o100000);
    const names = Object.keys(modes).map((p) => path.basename(p));
    expect(names).toEqual(
      expect.arrayContaining(['created', 'by', 'spool', 'owner.json', 'released.json']),
    );
    expect(names.filter((n) => n.startsWith('late-'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('seg-adopted-'))).toHaveLength(1);
    expect(names.filter((n) => /^seg-\d{12}\.jsonl$/.test(n)).length).toBeGreaterThanOrEqual(2);
    expect(dirs.length).toBeGreaterThanOrEqual(5); // created, by, spool, two slots
    for (const [p, m] of dirs) expect([p, (m & 0o777).toString(8)]).toEqual([p, '700']);
    for (const [p, m] of files) expect([p, (m & 0o777).toString(8)]).toEqual([p, '600']);
  },
);

test.each(['777', '770', '703'])(
  'a root others can write to (mode %s) is refused, ssh style',
  (octalMode) => {
    const mode = parseInt(octalMode, 8);
    const root = tempRoot(later);
    fs.chmodSync(root, mode);
    const attemptsToUse = [
      () => new Spool(root, { maxBytes: 65536 }),
      () => Spool.appendLate(root, request(300)),
    ];
    for (const use of attemptsToUse) {
      let error;
      try {
        use();
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ name: 'SpoolError', code: 'ERR_SPOOL_PERMISSIONS' });
      expect(error.message).toBe(
        `bad permissions: ${root} is writable by others (mode 0${mode.toString(8)}); use a directory only this user can write, e.g. chmod 700 ${root}`,
      );
    }
    expect(fs.readdirSync(root)).toEqual([]);
  },
);

test('an existing root of ours that others can read (0755) is made private, and the change logged', () => {
  const root = tempRoot(later);
  fs.chmodSync(root, 0o755);
  const logs = [];
  const spool = new Spool(root, {
    maxBytes: 65536,
    log: (level, message) => logs.push({ level, message }),
  });
  later(() => spool.close());
  expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  expect(logs).toContainEqual({
    level: 'info',
    message: `made ${root} private: mode 0755 → 0700 (the spool holds user data)`,
  });
});

test('a root owned by another user is refused when we are not root', async () => {
  let root;
  let options;
  if (process.getuid() === 0) {
    // As root: the check runs in a child that is not (nobody), on a directory of another user (daemon).
    const base = tempRoot(later);
    fs.chmodSync(base, 0o755);
    root = path.join(base, 'daemons');
    fs.mkdirSync(root, 0o700);
    fs.chownSync(root, 1, 1);
    options = { uid: 65534, gid: 65534, cwd: '/' };
  } else {
    root = '/usr'; // root's, and never writable by us
  }
  const out = await inChild(attempts([root]), options);
  for (const result of out[root]) {
    expect(result.code).toBe('ERR_SPOOL_PERMISSIONS');
    expect(result.message).toMatch(
      new RegExp(`^bad permissions: ${root} is owned by uid \\d+, not by this user \\(uid \\d+\\)`),
    );
  }
});
