'use strict';
// Helpers for the spool tests: temporary roots, what a slot holds on disk, hand-made slots, child
// processes that speak in lines, and a seeded random source.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { lineProcess } = require('./processes');
const { random } = require('./random');
const record = require('../../lib/spool/record');

const WORKER = path.join(__dirname, '..', 'fixtures', 'spool-worker.js');
const HREF = 'https://collector.test/v1/events';

function tempRoot(later) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-spool-'));
  later(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// The bytes of the files directly in `dir`.
function dirBytes(dir) {
  let total = 0;
  for (const name of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

// A JSON request whose journal line is exactly `lineBytes` long (the id and time have fixed widths).
function request(lineBytes, tag = 0) {
  const base = { method: 'POST', href: HREF, body: JSON.stringify({ tag, pad: '' }), json: true };
  const overhead = lineOf(base).length;
  return {
    ...base,
    body: JSON.stringify({ tag, pad: 'x'.repeat(Math.max(0, lineBytes - overhead)) }),
  };
}

function lineOf(req, id = crypto.randomUUID(), t = Date.now()) {
  return record.encode(id, t, req);
}

// A slot made by hand: owner (null: none) or released, and segments given as arrays of lines.
function makeSlot(root, { owner, released = false, segments = [], mtimeMs } = {}) {
  const name = `slot-${crypto.randomBytes(8).toString('hex')}`;
  const dir = path.join(root, name);
  fs.mkdirSync(dir, 0o700);
  segments.forEach((lines, i) => {
    const file = path.join(dir, `seg-${String(i + 1).padStart(12, '0')}.jsonl`);
    fs.writeFileSync(
      file,
      Buffer.concat(lines.map((l) => (typeof l === 'string' ? Buffer.from(l) : l))),
      { mode: 0o600 },
    );
  });
  if (owner) {
    const file = path.join(dir, released ? 'released.json' : 'owner.json');
    fs.writeFileSync(file, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
    if (mtimeMs !== undefined) fs.utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
  }
  if (mtimeMs !== undefined) fs.utimesSync(dir, mtimeMs / 1000, mtimeMs / 1000);
  return { name, dir };
}

// This process's identity, as an owner file states it.
function ownIdentity() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return {
    pid: process.pid,
    pidNs: fs.readlinkSync('/proc/self/ns/pid'),
    bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    hostname: os.hostname(),
    startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
  };
}

// Runs test/fixtures/spool-worker.js (or `command` through bash) and collects its stdout lines.
function startWorker(later, args, { shell } = {}) {
  return shell
    ? lineProcess(later, 'bash', [
        '-c',
        `${shell} exec "$0" "$@"`,
        process.execPath,
        WORKER,
        ...args,
      ])
    : lineProcess(later, process.execPath, [WORKER, ...args]);
}

// The ids after each prefix: ids(lines, 'A') for "A <id>" lines.
function ids(lines, prefix) {
  return lines.filter((l) => l.startsWith(`${prefix} `)).map((l) => l.slice(prefix.length + 1));
}

// Every record still parked in `spool`, in queue order.
function drainParked(spool) {
  const out = [];
  for (let r = spool.takeParked(); r; r = spool.takeParked()) out.push(r);
  return out;
}

module.exports = {
  HREF,
  tempRoot,
  dirBytes,
  request,
  lineOf,
  makeSlot,
  ownIdentity,
  startWorker,
  ids,
  random,
  drainParked,
};
