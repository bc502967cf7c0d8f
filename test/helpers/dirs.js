'use strict';
// Temporary directories for a test (removed after it), and the bytes a directory tree holds.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function tempDirs(later) {
  return (prefix = 'ned-') => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    later(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
}

function treeBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(p) : fs.statSync(p).size;
  }
  return total;
}

module.exports = { tempDirs, treeBytes };
