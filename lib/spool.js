'use strict';
// The durable spool: a write-ahead journal of JSON lines in `spoolDir`. Every event the dispatcher
// accepts is appended (synchronously, before dispatchEvent returns) and acknowledged once it is
// delivered or failed for good, so nothing accepted is lost to a crash or SIGKILL: whatever is not
// acknowledged is delivered by the next dispatcher on the same directory, oldest first.
//
// Layout: segment-<seq>.jsonl files, written append-only and rotated at `segmentBytes`. A record:
//   {"id":"…","t":<accepted ms>,"v":"POST","u":"<url>","e":"json|text|b64","b":<body>}
// "json" embeds the JSON.stringify output as is (it never contains a newline), so the bytes sent
// on replay are the bytes accepted. An acknowledgement: {"ack":"<id>"}. Segments are deleted oldest
// first once every record in them is acknowledged (a newer segment may hold the acknowledgements of
// an older one, so deleting out of order could bring records back). A torn last line (a crash in
// the middle of a write) is skipped and counted, never fatal; each run writes to new segments.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const BODY_KEY = Buffer.from(',"b":');
const ACK_PREFIX = Buffer.from('{"ack":');
const NEWLINE = 10;
const SEGMENT = /^segment-(\d{10})\.jsonl$/;
const LATE = /^late-.+\.jsonl$/;
const ACK_FLUSH_MS = 200;
const ACK_FLUSH_BYTES = 64 * 1024;

class SpoolError extends Error {
  constructor(message, code, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = 'SpoolError';
    this.code = code;
  }
}

// A line for one event. `body` is a string (JSON text when `json`) or bytes.
function recordLine(id, t, verb, url, body, json) {
  let encoding;
  let encoded;
  if (typeof body !== 'string') {
    encoding = 'b64';
    encoded = JSON.stringify(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'));
  } else if (json) {
    encoding = 'json';
    encoded = body;
  } else {
    encoding = 'text';
    encoded = JSON.stringify(body);
  }
  const header = JSON.stringify({ id, t, v: verb, u: url, e: encoding });
  return `${header.slice(0, -1)},"b":${encoded}}\n`;
}

// The body of a record line (a Buffer holding exactly one line, newline included).
function bodyOf(line, encoding) {
  const at = line.indexOf(BODY_KEY);
  const text = line.toString('utf8', at + BODY_KEY.length, line.length - 2);
  if (encoding === 'json') return text;
  if (encoding === 'text') return JSON.parse(text);
  return Buffer.from(JSON.parse(text), 'base64');
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

class Spool {
  // Opens (creating if needed) and locks `dir`, and reads what earlier runs left there.
  constructor(dir, { maxBytes, segmentBytes = 8 * 1024 * 1024, log = () => {} } = {}) {
    this.dir = path.resolve(dir);
    this.maxBytes = maxBytes;
    this.segmentBytes = segmentBytes;
    this.log = log;
    this.segments = []; // oldest first: { name, seq, bytes, live }
    this.live = new Map(); // id -> record
    this.parked = []; // records waiting to be replayed, oldest first
    this.torn = 0;
    this.fd = -1;
    this.current = null;
    this.pendingAcks = [];
    this.pendingAckBytes = 0;
    this.ackTimer = null;
    this.closed = false;
    fs.mkdirSync(this.dir, { recursive: true });
    this.lock();
    try {
      this.load();
    } catch (err) {
      this.unlock();
      throw err;
    }
  }

  get bytes() {
    let total = 0;
    for (const s of this.segments) total += s.bytes;
    return total;
  }

  lock() {
    this.lockPath = path.join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(this.lockPath, 'wx');
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        return;
      } catch (err) {
        if (err.code !== 'EEXIST') throw new SpoolError(`cannot lock ${this.dir}: ${err.message}`, 'ERR_SPOOL_IO', err);
      }
      const holder = Number(fs.readFileSync(this.lockPath, 'utf8'));
      if (holder === process.pid || (holder > 0 && isAlive(holder))) {
        throw new SpoolError(
          `${this.dir} is in use by another dispatcher (process ${holder}); a spool directory serves one dispatcher at a time`,
          'ERR_SPOOL_LOCKED',
        );
      }
      this.log('warn', `taking over ${this.dir} from process ${holder}, which is gone`);
      fs.rmSync(this.lockPath, { force: true });
    }
    throw new SpoolError(`cannot lock ${this.dir}`, 'ERR_SPOOL_LOCKED');
  }

  unlock() {
    if (this.lockPath) fs.rmSync(this.lockPath, { force: true });
    this.lockPath = null;
  }

  load() {
    const names = fs.readdirSync(this.dir);
    const segmentNames = names.filter((n) => SEGMENT.test(n)).sort();
    const lateNames = names.filter((n) => LATE.test(n)).sort();
    let order = 0;
    for (const name of segmentNames) {
      const segment = { name, seq: Number(SEGMENT.exec(name)[1]), bytes: 0, live: 0 };
      this.segments.push(segment);
      order = this.scan(segment, order);
    }
    const lastSeq = this.segments.length ? this.segments[this.segments.length - 1].seq : 0;
    this.nextSeq = lastSeq + 1;
    // Files written by closed dispatchers: their records move into a segment, then the file goes.
    for (const name of lateNames) {
      const late = { name, seq: -1, bytes: 0, live: 0, late: true };
      order = this.scan(late, order);
      for (const record of this.live.values()) {
        if (record.segment === late) this.relocate(record);
      }
      fs.rmSync(path.join(this.dir, name), { force: true });
    }
    this.parked = [...this.live.values()].sort((a, b) => a.t - b.t || a.order - b.order);
    this.sweep();
    if (this.torn > 0) this.log('warn', `skipped ${this.torn} torn or unreadable journal line(s) in ${this.dir}`);
  }

  // Reads one file: records become live, acknowledgements remove them.
  scan(segment, order) {
    const file = path.join(this.dir, segment.name);
    const data = fs.readFileSync(file);
    segment.bytes = data.length;
    let pos = 0;
    while (pos < data.length) {
      const end = data.indexOf(NEWLINE, pos);
      if (end < 0) {
        this.torn += 1; // a last line without its newline: the write never finished
        break;
      }
      const line = data.subarray(pos, end + 1);
      const offset = pos;
      pos = end + 1;
      try {
        if (line.subarray(0, ACK_PREFIX.length).equals(ACK_PREFIX)) {
          const { ack } = JSON.parse(line.toString('utf8'));
          const record = this.live.get(ack);
          if (record) {
            this.live.delete(ack);
            record.segment.live -= 1;
          }
          continue;
        }
        const at = line.indexOf(BODY_KEY);
        if (at < 0 || line[line.length - 2] !== 0x7d /* } */) throw new Error('no body');
        const header = JSON.parse(`${line.toString('utf8', 0, at)}}`);
        if (typeof header.id !== 'string' || typeof header.u !== 'string') throw new Error('bad header');
        const previous = this.live.get(header.id);
        if (previous) previous.segment.live -= 1; // a relocated copy replaces the original
        this.live.set(header.id, {
          id: header.id, t: header.t, verb: header.v, url: header.u, encoding: header.e,
          segment, offset, length: line.length, order: order++,
        });
        segment.live += 1;
      } catch {
        this.torn += 1;
      }
    }
    return order;
  }

  // Appends a line to the current segment (opening or rotating it as needed).
  write(line) {
    const bytes = Buffer.byteLength(line);
    if (this.fd < 0 || this.current.bytes + bytes > this.segmentBytes) this.rotate();
    const offset = this.current.bytes;
    fs.writeSync(this.fd, line);
    this.current.bytes += bytes;
    return { offset, bytes };
  }

  rotate() {
    if (this.fd >= 0) fs.closeSync(this.fd);
    const name = `segment-${String(this.nextSeq).padStart(10, '0')}.jsonl`;
    this.nextSeq += 1;
    this.fd = fs.openSync(path.join(this.dir, name), 'a');
    this.current = { name, seq: this.nextSeq - 1, bytes: 0, live: 0 };
    this.segments.push(this.current);
  }

  // Journals one accepted event; returns its record, or null when the spool is full.
  append(verb, url, body, json, t = Date.now()) {
    if (this.closed) throw new SpoolError('the spool is closed', 'ERR_SPOOL_CLOSED');
    const id = crypto.randomUUID();
    const line = recordLine(id, t, verb, url, body, json);
    if (this.bytes + Buffer.byteLength(line) > this.maxBytes) return null;
    const { offset, bytes } = this.write(line);
    const record = {
      id, t, verb, url, encoding: typeof body !== 'string' ? 'b64' : json ? 'json' : 'text',
      segment: this.current, offset, length: bytes, order: 0,
    };
    this.current.live += 1;
    this.live.set(id, record);
    return record;
  }

  // Copies a live record into the current segment (its old copy is superseded by id).
  relocate(record) {
    const line = this.readLine(record);
    const old = record.segment;
    const { offset, bytes } = this.write(line);
    old.live -= 1;
    record.segment = this.current;
    record.offset = offset;
    record.length = bytes;
    this.current.live += 1;
  }

  readLine(record) {
    const fd = fs.openSync(path.join(this.dir, record.segment.name), 'r');
    try {
      const buf = Buffer.allocUnsafe(record.length);
      fs.readSync(fd, buf, 0, record.length, record.offset);
      return buf;
    } finally {
      fs.closeSync(fd);
    }
  }

  // The body of a live record, read back from disk.
  read(record) {
    return bodyOf(this.readLine(record), record.encoding);
  }

  // The record is delivered or failed for good: it must not come back.
  ack(record) {
    if (!this.live.delete(record.id)) return;
    record.segment.live -= 1;
    if (this.closed) return;
    const line = `{"ack":${JSON.stringify(record.id)}}\n`;
    this.pendingAcks.push(line);
    this.pendingAckBytes += line.length;
    if (this.pendingAckBytes >= ACK_FLUSH_BYTES) {
      this.flushAcks();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.flushAcks(), ACK_FLUSH_MS);
      this.ackTimer.unref();
    }
  }

  flushAcks() {
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    if (this.pendingAcks.length === 0) return;
    const lines = this.pendingAcks.join('');
    this.pendingAcks = [];
    this.pendingAckBytes = 0;
    this.write(lines);
    this.sweep();
  }

  // Deletes fully acknowledged segments, oldest first; a nearly empty oldest segment that holds
  // newer ones back has its few records moved forward, so one stuck event cannot pin the journal.
  sweep() {
    for (;;) {
      const head = this.segments[0];
      if (!head || head === this.current) return;
      if (head.live > 0) {
        // Only a few stragglers, with newer segments waiting behind them: move them forward.
        if (this.segments.length < 3 || head.live > 64) return;
        for (const record of this.live.values()) if (record.segment === head) this.relocate(record);
      }
      fs.rmSync(path.join(this.dir, head.name), { force: true });
      this.segments.shift();
    }
  }

  // Makes the journal durable and releases the directory.
  close() {
    if (this.closed) return;
    this.flushAcks();
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
      } finally {
        fs.closeSync(this.fd);
        this.fd = -1;
      }
    }
    this.closed = true;
    this.sweep();
    this.unlock();
  }

  // For an event that reaches a dispatcher after close(): a file of its own (the directory may
  // already belong to a new dispatcher), picked up by the next one that opens the directory.
  static appendLate(dir, verb, url, body, json) {
    const name = `late-${Date.now()}-${process.pid}-${crypto.randomUUID()}.jsonl`;
    const file = path.join(path.resolve(dir), name);
    const line = recordLine(crypto.randomUUID(), Date.now(), verb, url, body, json);
    const fd = fs.openSync(file, 'wx');
    try {
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

module.exports = { Spool, SpoolError, recordLine };
