'use strict';
// The spool's root on disk: created safely, private, and on a filesystem that keeps files.
// - Never a recursive mkdir: under /proc Node's mkdirSync(p, { recursive: true }) spins forever.
//   The nearest existing ancestor is checked first, then the missing components are created one
//   by one.
// - A root that other users can write to is refused, in the style of ssh; one that is ours but
//   readable by others (0755) is tightened to 0700. Directories are 0700 and files 0600, whatever
//   the umask.
const fs = require('node:fs');
const path = require('node:path');
const { SpoolError, ioError } = require('./error');

// statfs(2) f_type of filesystems that do not keep files (linux/magic.h). tmpfs is fine; devtmpfs
// reports tmpfs's magic, so /dev is refused by path.
const SPECIAL_FILESYSTEMS = new Map([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x1cd1, 'devpts'], [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'], [0x64626720, 'debugfs'], [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'], [0x6165676c, 'pstore'], [0xcafe4a11, 'bpf'], [0x62656570, 'configfs'],
  [0xf97cff8c, 'selinuxfs'], [0x43415d53, 'smackfs'], [0xde5e81e4, 'efivarfs'],
  [0x42494e4d, 'binfmt_misc'], [0x65735543, 'fusectl'], [0x958458f6, 'hugetlbfs'],
  [0x19800202, 'mqueue'], [0x6e736673, 'nsfs'], [0x7655821, 'resctrl'],
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
    throw new SpoolError(`cannot use ${root} as a spool directory: ${real} is on a ${name} filesystem, which does not keep files`, 'ERR_SPOOL_IO');
  }
  const tree = SPECIAL_TREES.find((t) => under(real, t));
  if (tree && !under(real, SHM)) {
    throw new SpoolError(`cannot use ${root} as a spool directory: ${real} is under ${tree}, the kernel's own tree, which does not keep files`, 'ERR_SPOOL_IO');
  }
}

function notADirectory(root, p) {
  return new SpoolError(`cannot use ${root} as a spool directory: ${p} is not a directory`, 'ERR_SPOOL_IO');
}

function octal(mode) {
  return `0${(mode & 0o777).toString(8)}`;
}

// ssh's rule for the root: ours (unless we are root), and writable by nobody else.
function checkPermissions(root, st, log) {
  const uid = process.getuid();
  if (st.uid !== uid && uid !== 0) {
    throw new SpoolError(`bad permissions: ${root} is owned by uid ${st.uid}, not by this user (uid ${uid}); use a directory only this user can write, e.g. mkdir -m 700 on a path of your own`, 'ERR_SPOOL_PERMISSIONS');
  }
  if (st.mode & 0o022) {
    throw new SpoolError(`bad permissions: ${root} is writable by others (mode ${octal(st.mode)}); use a directory only this user can write, e.g. chmod 700 ${root}`, 'ERR_SPOOL_PERMISSIONS');
  }
  if (st.mode & 0o077) {
    try {
      fs.chmodSync(root, 0o700);
    } catch (err) {
      throw ioError(`cannot make ${root} private (chmod 700)`, err);
    }
    log('info', `made ${root} private: mode ${octal(st.mode)} → 0700 (the spool holds user data)`);
  }
}

// mkdir with exactly 0700 (chmod after: a umask may take the owner's bits too).
function makePrivateDir(dir) {
  fs.mkdirSync(dir, 0o700);
  fs.chmodSync(dir, 0o700);
}

// Opens a new file with exactly 0600 (fchmod: whatever the umask). `flags`: 'wx', 'wx+'.
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

// Makes sure `root` is a private directory of ours that keeps files; returns its absolute path.
function ensureRoot(root, log = () => {}) {
  const abs = path.resolve(root);
  const missing = [];
  let existing = abs;
  let st;
  for (;;) {
    try {
      st = fs.statSync(existing);
      break;
    } catch (err) {
      if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw ioError(`cannot use ${abs} as a spool directory: stat ${existing}`, err);
      const parent = path.dirname(existing);
      if (parent === existing) throw ioError(`cannot use ${abs} as a spool directory`, err);
      missing.unshift(existing);
      existing = parent;
    }
  }
  if (!st.isDirectory()) throw notADirectory(abs, existing);
  checkFilesystem(abs, existing);
  for (const dir of missing) {
    try {
      makePrivateDir(dir);
    } catch (err) {
      if (err.code !== 'EEXIST') throw ioError(`cannot create the spool directory ${dir}`, err);
      // Created meanwhile by another process: it must still be a directory.
      if (!fs.statSync(dir).isDirectory()) throw notADirectory(abs, dir);
    }
  }
  const rootStat = fs.statSync(abs);
  if (!rootStat.isDirectory()) throw notADirectory(abs, abs);
  checkPermissions(abs, rootStat, log);
  return abs;
}

// Makes a rename or an unlink in `dir` durable.
function syncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

module.exports = { ensureRoot, makePrivateDir, openPrivateFile, syncDir };
