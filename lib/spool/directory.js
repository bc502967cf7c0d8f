'use strict';
// The spool's root on disk: created safely, private, and on a filesystem that keeps files.
// - Never a recursive mkdir: under /proc Node's mkdirSync(p, { recursive: true }) spins forever.
//   The path is resolved one component at a time (lstat), then the missing components are created
//   one by one.
// - Trusted like ssh trusts ~/.ssh: the root is ours (also when we are root: another user's
//   directory, and what they planted in it, is never taken), writable by nobody else; one that is
//   ours but readable by others (0755) is tightened to 0700. Every directory on the way is ours or
//   root's and writable by nobody else, unless it is root's and sticky (/tmp): otherwise its owner,
//   or anyone who can write it, could swap the spool directory. A symlink on the way is followed
//   only when this user or root made it (/var/run → /run); its target is then checked the same.
// - Directories are 0700 and files 0600, whatever the umask; modes are set through a descriptor
//   opened with O_NOFOLLOW, never through a symlink.
const fs = require('node:fs');
const path = require('node:path');
const { SpoolError, ioError } = require('./error');

// statfs(2) f_type of filesystems that do not keep files (linux/magic.h). tmpfs is fine; devtmpfs
// reports tmpfs's magic, so /dev is refused by path.
const SPECIAL_FILESYSTEMS = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x6165676c, 'pstore'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x43415d53, 'smackfs'],
  [0xde5e81e4, 'efivarfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x65735543, 'fusectl'],
  [0x958458f6, 'hugetlbfs'],
  [0x19800202, 'mqueue'],
  [0x6e736673, 'nsfs'],
  [0x7655821, 'resctrl'],
]);
// Trees of the kernel's own, whatever their statfs says; /dev/shm is an ordinary tmpfs.
const SPECIAL_TREES = ['/proc', '/sys', '/dev'];
const SHM = '/dev/shm';

function under(p, tree) {
  return p === tree || p.startsWith(`${tree}/`);
}

// Refuses a directory on a filesystem that does not keep files.
function checkFilesystem(root, dir) {
  let real = dir;
  try {
    real = fs.realpathSync(dir);
  } catch {
    // keep the path as given: statfs below still judges it
  }
  let type;
  try {
    ({ type } = fs.statfsSync(real));
  } catch (err) {
    throw ioError(`cannot use ${root} as a spool directory: statfs ${real}`, err);
  }
  const name = SPECIAL_FILESYSTEMS.get(type);
  if (name) {
    throw new SpoolError(
      `cannot use ${root} as a spool directory: ${real} is on a ${name} filesystem, which does not keep files`,
      'ERR_SPOOL_IO',
    );
  }
  const tree = SPECIAL_TREES.find((t) => under(real, t));
  if (tree && !under(real, SHM)) {
    throw new SpoolError(
      `cannot use ${root} as a spool directory: ${real} is under ${tree}, the kernel's own tree, which does not keep files`,
      'ERR_SPOOL_IO',
    );
  }
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const STICKY = 0o1000;
const MAX_LINKS = 40; // symlinks in one path, as the kernel's ELOOP
// What the spool suggests instead of a shared directory such as /tmp.
const SUBDIRECTORY = 'native-event-dispatcher';

function notADirectory(root, p) {
  return new SpoolError(
    `cannot use ${root} as a spool directory: ${p} is not a directory`,
    'ERR_SPOOL_IO',
  );
}

function badPermissions(message) {
  return new SpoolError(`bad permissions: ${message}`, 'ERR_SPOOL_PERMISSIONS');
}

function octal(mode) {
  return `0${(mode & 0o7777).toString(8)}`;
}

function isOurs(st) {
  return st.uid === process.getuid();
}

// A symlink on the way: followed only when this user or root made it.
function checkLink(root, link, st) {
  const uid = process.getuid();
  if (st.uid !== uid && st.uid !== 0) {
    throw badPermissions(
      `${link} is a symbolic link owned by uid ${st.uid}, neither this user (uid ${uid}) nor root: the spool does not follow links others made; remove it, or use another path`,
    );
  }
}

// A directory on the way to the root: whoever owns it, or can write it, can swap what is below.
function checkParent(root, dir, st) {
  const uid = process.getuid();
  if (st.uid !== uid && st.uid !== 0) {
    throw badPermissions(
      `${dir}, a parent of the spool directory ${root}, is owned by uid ${st.uid}, neither this user (uid ${uid}) nor root: its owner could replace the spool directory; use a spoolDir whose parent directories belong to this user or root`,
    );
  }
  if (st.mode & 0o022 && !(st.mode & STICKY)) {
    const advice =
      st.uid === uid
        ? `e.g. chmod go-w ${dir}`
        : 'use a spoolDir whose parent directories only this user or root can write';
    throw badPermissions(
      `${dir}, a parent of the spool directory ${root}, is writable by others (mode ${octal(st.mode)}) and not sticky: anyone who can write it could replace the spool directory; ${advice}`,
    );
  }
}

function lstatOf(root, p) {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    throw ioError(`cannot use ${root} as a spool directory: lstat ${p}`, err);
  }
}

// Resolves `abs` (absolute, normalised) like realpath(3), one component at a time with lstat, and
// follows only the symlinks checkLink() allows → { real: the existing directory it leads to, st,
// missing: the directories still to create below it, in order, passed: every directory passed
// through on the way, with its lstat }.
function walk(abs) {
  const passed = [];
  let real = '/';
  let st = lstatOf(abs, real);
  const todo = abs.split('/');
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift();
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // from a link's target
      real = path.dirname(real);
      st = lstatOf(abs, real);
      continue;
    }
    passed.push({ dir: real, st });
    const next = path.join(real, name);
    let found;
    try {
      found = fs.lstatSync(next);
    } catch (err) {
      if (err.code !== 'ENOENT')
        throw ioError(`cannot use ${abs} as a spool directory: lstat ${next}`, err);
      const missing = [next];
      for (const rest of todo) {
        if (rest === '..') throw ioError(`cannot use ${abs} as a spool directory: ${next}`, err);
        if (rest !== '' && rest !== '.') missing.push(path.join(missing[missing.length - 1], rest));
      }
      return { real, st, missing, passed };
    }
    if (found.isSymbolicLink()) {
      checkLink(abs, next, found);
      if (++links > MAX_LINKS)
        throw new SpoolError(
          `cannot use ${abs} as a spool directory: too many symbolic links at ${next}`,
          'ERR_SPOOL_IO',
        );
      const target = fs.readlinkSync(next);
      todo.unshift(...target.split('/'));
      if (path.isAbsolute(target)) {
        real = '/';
        st = lstatOf(abs, real);
      }
      continue;
    }
    if (!found.isDirectory()) throw notADirectory(abs, next);
    real = next;
    st = found;
  }
  return { real, st, missing: [], passed };
}

// Refuses a path whose directories on the way could let another user swap the spool directory, or
// that is on a filesystem that does not keep files.
function checkWay(abs, { real, missing, passed }) {
  const root = missing.length > 0 ? missing[missing.length - 1] : real;
  for (const { dir, st } of passed) if (dir !== root) checkParent(abs, dir, st);
  checkFilesystem(abs, real);
}

// ssh's rule for the root itself: ours (also when we are root), and writable by nobody else.
function checkRootOwner(root, st) {
  const uid = process.getuid();
  if (st.mode & 0o022 && st.mode & STICKY) {
    throw badPermissions(
      `${root} is a shared directory (mode ${octal(st.mode)}): use a subdirectory of it, e.g. spoolDir ${path.join(root, SUBDIRECTORY)}, which the spool creates with mode 0700`,
    );
  }
  if (st.uid !== uid) {
    throw badPermissions(
      `${root} is owned by uid ${st.uid}, not by this user (uid ${uid}); use a directory only this user can write, e.g. mkdir -m 700 on a path of your own`,
    );
  }
}

// Others may not write the root; they may not read it either (0755 → 0700: the spool holds user
// data). Checked and changed through a descriptor of the directory found by walk() itself.
function checkRootMode(root, dir, found, log) {
  let fd;
  try {
    fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    // swapped meanwhile
    if (err.code === 'ENOTDIR' || err.code === 'ELOOP') throw notADirectory(root, dir);
    throw ioError(`cannot use ${root} as a spool directory: open ${dir}`, err);
  }
  try {
    const st = fs.fstatSync(fd);
    // swapped meanwhile
    if (st.ino !== found.ino || st.dev !== found.dev) throw notADirectory(root, dir);
    checkRootOwner(root, st);
    if (st.mode & 0o022) {
      throw badPermissions(
        `${root} is writable by others (mode ${octal(st.mode)}); use a directory only this user can write, e.g. chmod 700 ${root}`,
      );
    }
    if (st.mode & 0o077) {
      try {
        fs.fchmodSync(fd, 0o700);
      } catch (err) {
        throw ioError(`cannot make ${root} private (chmod 700)`, err);
      }
      log(
        'info',
        `made ${root} private: mode ${octal(st.mode)} → 0700 (the spool holds user data)`,
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}

// chmod 0700 through a descriptor opened without following a symlink.
function makePrivate(dir) {
  const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fchmodSync(fd, 0o700);
  } finally {
    fs.closeSync(fd);
  }
}

// mkdir with exactly 0700 (chmod after: a umask may take the owner's bits too).
function makePrivateDir(dir) {
  fs.mkdirSync(dir, 0o700);
  makePrivate(dir);
}

// Opens a new file with exactly 0600 (fchmod: whatever the umask). `flags`: 'wx', 'wx+' (O_EXCL:
// never through a symlink).
function openPrivateFile(file, flags) {
  const fd = fs.openSync(file, flags, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

// Makes sure `root` is a private directory of ours that keeps files, reached through nothing
// another user controls; returns its real path (symlinks resolved), which the spool then uses.
function ensureRoot(root, log = () => {}) {
  const abs = path.resolve(root);
  let found = walk(abs);
  if (found.missing.length > 0) {
    checkWay(abs, found); // before anything is created
    for (const dir of found.missing) {
      try {
        makePrivateDir(dir);
      } catch (err) {
        // Created meanwhile by another process: walked and judged again below.
        if (err.code !== 'EEXIST') throw ioError(`cannot create the spool directory ${dir}`, err);
      }
    }
    found = walk(abs);
    if (found.missing.length > 0)
      throw new SpoolError(
        `cannot use ${abs} as a spool directory: ${found.missing[0]} was removed while it was being created`,
        'ERR_SPOOL_IO',
      );
  }
  checkWay(abs, found);
  checkRootOwner(abs, found.st);
  checkRootMode(abs, found.real, found.st, log);
  return found.real;
}

// Why the spool leaves an entry it found alone (a symlink, another user's, not of the `kind`
// wanted: 'file' or 'directory'), or null when it is ours to handle.
function strangeEntry(st, kind) {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (!isOurs(st)) return `owned by uid ${st.uid}, not by this user`;
  if (kind === 'file' ? !st.isFile() : !st.isDirectory())
    return `not a ${kind === 'file' ? 'regular file' : kind}`;
  return null;
}

// The content of a regular file of ours, never read through a symlink (O_NOFOLLOW; O_NONBLOCK: a
// FIFO swapped in does not block the open).
function readOwnFile(file) {
  const fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const why = strangeEntry(fs.fstatSync(fd), 'file');
    if (why) throw new SpoolError(`${file} is ${why}`, 'ERR_SPOOL_IO');
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// A descriptor of a directory of ours, never opened through a symlink; a path into it that the
// kernel resolves through that descriptor (/proc/self/fd), so that nothing swapped in for `dir`
// meanwhile is followed. Throws an Error saying why it cannot be used.
function openOwnDir(dir) {
  let fd;
  try {
    fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    if (err.code === 'ELOOP' || err.code === 'ENOTDIR') {
      const st = fs.lstatSync(dir, { throwIfNoEntry: false });
      // No `cause`: the message says what is there; a system code as its cause would read as a
      // disk error.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(
        `${dir} is not a directory of this user's (${st ? strangeEntry(st, 'directory') || 'not a directory' : 'gone'})`,
      );
    }
    throw err;
  }
  const st = fs.fstatSync(fd);
  if (!isOurs(st)) {
    fs.closeSync(fd);
    throw new Error(`${dir} is not a directory of this user's (owned by uid ${st.uid})`);
  }
  const via = `/proc/self/fd/${fd}`;
  const base = fs.existsSync(via) ? via : dir; // without /proc: the checked path
  return { fd, pathOf: (name) => path.join(base, name), close: () => fs.closeSync(fd) };
}

// Makes a rename or an unlink in `dir` durable.
function syncDir(dir) {
  const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

module.exports = {
  ensureRoot,
  makePrivateDir,
  openPrivateFile,
  syncDir,
  strangeEntry,
  readOwnFile,
  openOwnDir,
  isOurs,
};
