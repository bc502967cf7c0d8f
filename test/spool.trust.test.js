'use strict';
// The spool directory is never a way in. The root must be ours (not another user's,
// not even when we are root), its parents ours or root's and writable by nobody else unless sticky;
// a symlink is followed only when this user or root made it; and no entry of the root — slots to
// adopt, late files, 0.1.0 segments, unrecognised/ — is read, moved or written through a symlink,
// or taken over from another user. Run as root, the tests make "another user's" files by chowning
// them to nobody (65534).
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Spool } = require('../lib/spool/index.js');
const record = require('../lib/spool/record');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { batch } = require('./helpers/events');
const { HREF, tempRoot, request, lineOf, makeSlot, drainParked } = require('./helpers/spool');

const { later, collector } = useCleanup();
const NOBODY = 65534;
const asRoot = process.getuid() === 0 ? test : test.skip;

function open(root, options = {}) {
  const spool = new Spool(root, { maxBytes: 1024 * 1024, ...options });
  later(() => spool.close());
  return spool;
}

// What new Spool() throws (or undefined; a Spool that did open is closed after the test).
function openError(root, options) {
  try {
    open(root, options);
  } catch (err) {
    return err;
  }
  return undefined;
}

// Every path under `dir` with its mode, owner and size, or its link: to show nothing was touched.
function tree(dir) {
  const out = [];
  const walk = (p) => {
    for (const name of fs.readdirSync(p).sort()) {
      const full = path.join(p, name);
      const st = fs.lstatSync(full);
      const what = st.isSymbolicLink()
        ? `-> ${fs.readlinkSync(full)}`
        : `${(st.mode & 0o7777).toString(8)} ${st.uid} ${st.isFile() ? st.size : 'dir'}`;
      out.push(`${path.relative(dir, full)} ${what}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

function chownTree(p, uid) {
  fs.lchownSync(p, uid, uid);
  if (fs.lstatSync(p).isDirectory())
    for (const name of fs.readdirSync(p)) chownTree(path.join(p, name), uid);
}

// A journal line for `url` (our format) carrying one batch; and a 0.1.0 line.
function lineFor(url) {
  return record.encode(crypto.randomUUID(), Date.now(), {
    method: 'POST',
    href: url,
    body: JSON.stringify(batch(1)),
    json: true,
  });
}

function legacyLine(url = HREF) {
  return `${JSON.stringify({ id: crypto.randomUUID(), t: Date.now(), v: 'POST', u: url, e: 'json' }).slice(0, -1)},"b":{"x":1}}\n`;
}

function logInto(logs) {
  return (level, message) => logs.push(`${level}: ${message}`);
}

describe('the root and the path to it', () => {
  asRoot(
    'the reproduction: a spoolDir of another user (0700) is refused even as root, and the record planted there is never sent',
    async () => {
      const c = await collector();
      const root = path.join(tempRoot(later), 'theirs');
      fs.mkdirSync(root, 0o700);
      makeSlot(root, { owner: { pid: 1 }, released: true, segments: [[lineFor(c.url)]] });
      chownTree(root, NOBODY);
      const before = tree(root);
      let error;
      let dispatcher;
      try {
        dispatcher = createDispatcher({ spoolDir: root });
      } catch (err) {
        error = err;
      }
      if (dispatcher) {
        // 0.2: it opened, adopted the slot and replayed the planted record
        await dispatcher.flush();
        await dispatcher.close();
      }
      expect(c.requests).toHaveLength(0);
      expect(error).toMatchObject({ name: 'SpoolError', code: 'ERR_SPOOL_PERMISSIONS' });
      expect(error.message).toBe(
        `bad permissions: ${root} is owned by uid ${NOBODY}, not by this user (uid 0); use a directory only this user can write, e.g. mkdir -m 700 on a path of your own`,
      );
      expect(() => Spool.appendLate(root, request(300))).toThrow(
        expect.objectContaining({ code: 'ERR_SPOOL_PERMISSIONS' }),
      );
      expect(tree(root)).toEqual(before);
    },
  );

  asRoot(
    'the reproduction: a symlink another user planted at spoolDir is not followed: its target keeps its mode and gets no slot',
    () => {
      const base = tempRoot(later);
      const target = path.join(base, 'victim');
      fs.mkdirSync(target);
      fs.chmodSync(target, 0o755);
      fs.writeFileSync(path.join(target, 'data'), 'x');
      const link = path.join(base, 'spool');
      fs.symlinkSync(target, link);
      fs.lchownSync(link, NOBODY, NOBODY);
      for (const use of [() => open(link), () => Spool.appendLate(link, request(300))]) {
        expect(use).toThrow(
          expect.objectContaining({
            name: 'SpoolError',
            code: 'ERR_SPOOL_PERMISSIONS',
            message: `bad permissions: ${link} is a symbolic link owned by uid ${NOBODY}, neither this user (uid 0) nor root: the spool does not follow links others made; remove it, or use another path`,
          }),
        );
      }
      expect(fs.statSync(target).mode & 0o7777).toBe(0o755); // 0.2: chmod-ed 0700, and a slot made in it
      expect(fs.readdirSync(target)).toEqual(['data']);
    },
  );

  asRoot(
    'a dangling symlink another user planted is refused, and its target is not created',
    () => {
      const base = tempRoot(later);
      const link = path.join(base, 'spool');
      fs.symlinkSync(path.join(base, 'made-by-link'), link);
      fs.lchownSync(link, NOBODY, NOBODY);
      expect(openError(link)).toMatchObject({
        code: 'ERR_SPOOL_PERMISSIONS',
        message: expect.stringMatching(/is a symbolic link owned by uid 65534/),
      });
      expect(fs.readdirSync(base)).toEqual(['spool']);
    },
  );

  asRoot('a symlink another user planted on the way (a parent) is refused too', () => {
    const base = tempRoot(later);
    fs.mkdirSync(path.join(base, 'real'), 0o700);
    const link = path.join(base, 'via');
    fs.symlinkSync(path.join(base, 'real'), link);
    fs.lchownSync(link, NOBODY, NOBODY);
    expect(openError(path.join(link, 'spool'))).toMatchObject({
      code: 'ERR_SPOOL_PERMISSIONS',
      message: expect.stringMatching(/via is a symbolic link owned by uid 65534/),
    });
    expect(fs.readdirSync(path.join(base, 'real'))).toEqual([]);
  });

  test('our own symlink to our own directory works: the spool lives in the target (the path checked is the real one)', () => {
    const base = tempRoot(later);
    const target = path.join(base, 'real');
    fs.mkdirSync(target, 0o700);
    fs.symlinkSync(target, path.join(base, 'link'));
    const spool = open(path.join(base, 'link'));
    expect(spool.root).toBe(target);
    expect(path.dirname(spool.dir)).toBe(target);
    spool.append(request(300));
    expect(fs.readdirSync(target)).toEqual([path.basename(spool.dir)]);
    // Our own dangling link: the directory it names is created, private.
    fs.symlinkSync(path.join(base, 'later', 'spool'), path.join(base, 'dangling'));
    const second = open(path.join(base, 'dangling'));
    expect(second.root).toBe(path.join(base, 'later', 'spool'));
    expect(fs.statSync(second.root).mode & 0o777).toBe(0o700);
  });

  asRoot(
    'a parent owned by another user is refused (its owner could swap the spool directory)',
    () => {
      const base = tempRoot(later);
      const parent = path.join(base, 'theirs');
      fs.mkdirSync(parent, 0o755);
      fs.mkdirSync(path.join(parent, 'spool'), 0o700);
      fs.chownSync(parent, NOBODY, NOBODY);
      for (const root of [path.join(parent, 'spool'), path.join(parent, 'missing', 'spool')]) {
        expect(openError(root)).toMatchObject({
          code: 'ERR_SPOOL_PERMISSIONS',
          message: `bad permissions: ${parent}, a parent of the spool directory ${root}, is owned by uid ${NOBODY}, neither this user (uid 0) nor root: its owner could replace the spool directory; use a spoolDir whose parent directories belong to this user or root`,
        });
      }
      expect(fs.readdirSync(parent)).toEqual(['spool']);
      expect(fs.readdirSync(path.join(parent, 'spool'))).toEqual([]);
    },
  );

  test.each(['777', '770', '757'])(
    'a parent others can write to (mode %s, not sticky) is refused; chmod advice since it is ours',
    (octalMode) => {
      const base = tempRoot(later);
      const parent = path.join(base, 'open');
      fs.mkdirSync(parent);
      fs.chmodSync(parent, parseInt(octalMode, 8));
      const root = path.join(parent, 'spool');
      expect(openError(root)).toMatchObject({
        code: 'ERR_SPOOL_PERMISSIONS',
        message: `bad permissions: ${parent}, a parent of the spool directory ${root}, is writable by others (mode 0${octalMode}) and not sticky: anyone who can write it could replace the spool directory; e.g. chmod go-w ${parent}`,
      });
      expect(fs.readdirSync(parent)).toEqual([]);
    },
  );

  test('a sticky parent others can write to (like /tmp) is fine for a spoolDir of ours in it', () => {
    const base = tempRoot(later);
    const shared = path.join(base, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const spool = open(path.join(shared, 'spool'));
    expect(fs.statSync(spool.root).mode & 0o7777).toBe(0o700);
  });

  test('a sticky directory others can write to (/tmp) as the spoolDir itself: advice to use a subdirectory, never chmod 700', () => {
    const base = tempRoot(later);
    const shared = path.join(base, 'tmp');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const error = openError(shared);
    expect(error).toMatchObject({ code: 'ERR_SPOOL_PERMISSIONS' });
    expect(error.message).toBe(
      `bad permissions: ${shared} is a shared directory (mode 01777): use a subdirectory of it, e.g. spoolDir ${path.join(shared, 'native-event-dispatcher')}, which the spool creates with mode 0700`,
    );
    expect(error.message).not.toMatch(/chmod/);
    expect(fs.statSync(shared).mode & 0o7777).toBe(0o1777);
  });
});

describe('the entries of the root', () => {
  // A root of ours holding an orphan slot (one live record) to adopt, and a directory beside it (a
  // cron.d) that nothing may be moved into.
  function rootWithOrphan() {
    const base = tempRoot(later);
    const root = path.join(base, 'spool');
    const target = path.join(base, 'cron.d');
    fs.mkdirSync(root, 0o700);
    fs.mkdirSync(target, 0o755);
    const orphan = makeSlot(root, {
      owner: { pid: 1 },
      released: true,
      segments: [[lineOf(request(300))]],
    });
    return { base, root, target, orphan };
  }

  test("the reproduction: unrecognised/ a symlink: an adopted slot's stray files are never moved into its target", () => {
    const { root, target, orphan } = rootWithOrphan();
    fs.symlinkSync(target, path.join(root, 'unrecognised'));
    fs.writeFileSync(path.join(orphan.dir, 'job'), '* * * * * root sh -c id\n');
    const logs = [];
    const spool = open(root, { log: logInto(logs) });
    expect(spool.stats().adopted).toBe(1); // the slot's own records still come over
    expect(fs.readdirSync(target)).toEqual([]); // 0.2: ['<hex>-job']
    expect(fs.lstatSync(path.join(root, 'unrecognised')).isSymbolicLink()).toBe(true); // left alone
    const kept = fs.readdirSync(spool.dir).find((n) => n.startsWith('adopt-'));
    expect(fs.readdirSync(path.join(spool.dir, kept))).toEqual(['job']);
    expect(logs).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^warn: .*job is not a spool file and was not moved: ${root}/unrecognised is not a directory of this user's \\(a symbolic link\\)`,
        ),
      ),
    );
  });

  test('a symlink swapped in for unrecognised/ after the root was checked: nothing goes through it', () => {
    const { base, root, target, orphan } = rootWithOrphan();
    fs.writeFileSync(path.join(orphan.dir, 'a-first'), 'one');
    fs.writeFileSync(path.join(orphan.dir, 'b-second'), 'two');
    const logs = [];
    let swapped = false;
    const log = (level, message) => {
      logs.push(`${level}: ${message}`);
      // The first stray file was moved: unrecognised/ now exists; swap a link in for it.
      if (!swapped && /moved to/.test(message)) {
        swapped = true;
        fs.renameSync(path.join(root, 'unrecognised'), path.join(base, 'old-unrecognised'));
        fs.symlinkSync(target, path.join(root, 'unrecognised'));
      }
    };
    open(root, { log });
    expect(swapped).toBe(true);
    expect(fs.readdirSync(target)).toEqual([]);
    expect(fs.readdirSync(path.join(base, 'old-unrecognised')).map((n) => n.slice(9))).toHaveLength(
      1,
    );
    expect(logs.filter((m) => /was not moved/.test(m))).toHaveLength(1);
  });

  test('the reproduction: a slot-… symlink to a directory holding a valid record is not adopted nor merged: not replayed, its target untouched', async () => {
    const c = await collector();
    const base = tempRoot(later);
    const root = path.join(base, 'spool');
    fs.mkdirSync(root, 0o700);
    const elsewhere = makeSlot(base, {
      owner: { pid: 1 },
      released: true,
      segments: [[lineFor(c.url)]],
    });
    const before = tree(elsewhere.dir);
    fs.symlinkSync(elsewhere.dir, path.join(root, 'slot-0123456789abcdef'));
    const logs = [];
    const spool = open(root, { log: logInto(logs) });
    expect(spool.stats().adopted).toBe(0); // 0.2: 1, and the target's segment renamed away
    expect(tree(elsewhere.dir)).toEqual(before);
    expect(fs.lstatSync(path.join(root, 'slot-0123456789abcdef')).isSymbolicLink()).toBe(true);
    expect(logs).toContainEqual(`warn: left alone ${root}/slot-0123456789abcdef: a symbolic link`);
    // Through a dispatcher on a live endpoint: nothing is sent.
    spool.close();
    const dispatcher = createDispatcher({ spoolDir: root });
    await dispatcher.flush();
    expect(await dispatcher.close()).toMatchObject({ delivered: 0, spooled: 0 });
    expect(c.requests).toHaveLength(0);
    expect(tree(elsewhere.dir)).toEqual(before);
  });

  asRoot(
    'slots, late files and 0.1.0 segments of another user in our root are left alone, each logged once per start',
    async () => {
      const c = await collector();
      const root = tempRoot(later);
      const theirs = makeSlot(root, {
        owner: { pid: 1 },
        released: true,
        segments: [[lineFor(c.url)]],
      });
      chownTree(theirs.dir, NOBODY);
      fs.writeFileSync(path.join(root, 'late-1-abc.jsonl'), lineFor(c.url), { mode: 0o600 });
      fs.writeFileSync(path.join(root, 'segment-0000000001.jsonl'), legacyLine(c.url), {
        mode: 0o600,
      });
      fs.chownSync(path.join(root, 'late-1-abc.jsonl'), NOBODY, NOBODY);
      fs.chownSync(path.join(root, 'segment-0000000001.jsonl'), NOBODY, NOBODY);
      const before = tree(root);
      const logs = [];
      const spool = open(root, { log: logInto(logs) });
      expect(spool.stats().adopted).toBe(0); // 0.2: 3
      spool.close();
      expect(tree(root)).toEqual(before);
      for (const name of [
        path.basename(theirs.dir),
        'late-1-abc.jsonl',
        'segment-0000000001.jsonl',
      ]) {
        expect(
          logs.filter(
            (m) =>
              m === `warn: left alone ${root}/${name}: owned by uid ${NOBODY}, not by this user`,
          ),
        ).toHaveLength(1);
      }
      const dispatcher = createDispatcher({ spoolDir: root });
      await dispatcher.flush();
      await dispatcher.close();
      expect(c.requests).toHaveLength(0);
    },
  );

  test('symlinked late files and 0.1.0 segments are never read through (their targets are not imported nor removed)', () => {
    const base = tempRoot(later);
    const root = path.join(base, 'spool');
    fs.mkdirSync(root, 0o700);
    const lateTarget = path.join(base, 'late-target');
    const legacyTarget = path.join(base, 'legacy-target');
    fs.writeFileSync(lateTarget, lineOf(request(300)));
    fs.writeFileSync(legacyTarget, legacyLine());
    fs.symlinkSync(lateTarget, path.join(root, 'late-1-abc.jsonl'));
    fs.symlinkSync(legacyTarget, path.join(root, 'segment-0000000001.jsonl'));
    const logs = [];
    const spool = open(root, { log: logInto(logs) });
    expect(spool.stats().adopted).toBe(0); // 0.2: 1, the 0.1.0 segment read through its link
    expect(fs.readFileSync(lateTarget)).toHaveLength(lineOf(request(300)).length);
    expect(fs.readFileSync(legacyTarget, 'utf8')).toMatch(/^\{"id":/);
    expect(logs).toContainEqual(
      `warn: left alone ${root}/segment-0000000001.jsonl: a symbolic link`,
    );
    expect(logs).toContainEqual(`warn: left alone ${root}/late-1-abc.jsonl: a symbolic link`);
  });

  asRoot(
    "inside an adopted slot: a segment that is a symlink, or another user's, is set aside unread; ours are adopted",
    () => {
      const base = tempRoot(later);
      const root = path.join(base, 'spool');
      fs.mkdirSync(root, 0o700);
      const outside = path.join(base, 'outside.jsonl');
      fs.writeFileSync(outside, lineOf(request(300)));
      const orphan = makeSlot(root, {
        owner: { pid: 1 },
        released: true,
        segments: [[lineOf(request(300))], [lineOf(request(300))]],
      });
      fs.chownSync(path.join(orphan.dir, 'seg-000000000002.jsonl'), NOBODY, NOBODY);
      fs.symlinkSync(outside, path.join(orphan.dir, 'seg-000000000003.jsonl'));
      const logs = [];
      const spool = open(root, { log: logInto(logs) });
      expect(spool.stats().adopted).toBe(1); // 0.2: 2 (another user's segment adopted)
      const aside = fs
        .readdirSync(path.join(root, 'unrecognised'))
        .map((n) => n.slice(9))
        .sort();
      expect(aside).toEqual(['seg-000000000002.jsonl', 'seg-000000000003.jsonl']);
      expect(fs.readFileSync(outside)).toHaveLength(lineOf(request(300)).length); // untouched
      expect(drainParked(spool)).toHaveLength(1);
    },
  );
});
