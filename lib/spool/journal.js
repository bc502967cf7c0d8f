'use strict';
// One slot's journal: segment files (seg-<12 digits>.jsonl, and seg-adopted-<hex>-<n>.jsonl from
// adopted slots) of record lines (see record.js).
// - append: one positioned write at the end of the current segment, which rotates at
//   `segmentBytes` (capacity / 8, within 4 KiB … 8 MiB) so that space comes back in small pieces.
// - ack: one positioned write of one byte (the line's flag). A segment whose records are all
//   acknowledged is deleted at once, the current one too (the next append opens a new one).
// - the bound: the segments never hold more than `capacity` bytes, plus one record while a record
//   is being moved. When an append would cross it, segments with dead bytes (acknowledged, torn or
//   invalid lines) are compacted from their tail: the last live record is copied to the current
//   segment, then the segment is truncated before it, dead bytes behind it included. A SIGKILL
//   between the copy and the truncation leaves two live copies of one id; load() keeps one and
//   flags the other. A live record is never deleted, an acknowledged one never comes back.
// - a slot holds at most maxSegments files (+ one): past that, the smallest is merged away.
// - append refuses (null) only when the live records alone leave no room; records inherited at
//   open (`force`) are never refused nor deleted, even past the capacity.
// - segment files deleted while open (rm -rf of the spool) still read through their descriptors:
//   unlinked() finds them, rescue() copies their live records to the current segment (in `dir`,
//   which relocate() moves to a recreated slot), forget() gives up on those that cannot be.
const fs = require('node:fs');
const path = require('node:path');
const record = require('./record');
const { ioError } = require('./error');
const { openPrivateFile, strangeEntry } = require('./directory');

const SEGMENT = /^seg-[0-9a-z-]+\.jsonl$/;
const OWN_SEGMENT = /^seg-(\d{12})\.jsonl$/;
const MIN_SEGMENT_BYTES = 4096;
const MAX_SEGMENT_BYTES = 8 * 1024 * 1024;
// Compaction leaves small segments behind (the all-live start of a drained one); past four times
// the number of full segments the cap allows (+ 16), the smallest is merged into the current one.
const SEGMENTS_PER_FULL_SEGMENT = 4;
const SEGMENTS_SLACK = 16;
const ACKED = Buffer.from('1');

// An existing segment, for reading and writing; never through a symlink (O_NOFOLLOW).
function openSegment(file) {
  return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
}

function segmentName(seq) {
  return `seg-${String(seq).padStart(12, '0')}.jsonl`;
}

// What the dispatcher holds for one journaled event. id, acceptedAt and bytes (the line's size on
// disk) are read-only; the other fields are the journal's and the spool's own.
class SpoolRecord {
  #id;
  #acceptedAt;
  #bytes;

  constructor(id, acceptedAt, bytes, segment, offset) {
    this.#id = id;
    this.#acceptedAt = acceptedAt;
    this.#bytes = bytes;
    this.segment = segment;
    this.offset = offset;
    this.live = true;
    this.parked = false;
  }

  get id() {
    return this.#id;
  }

  get acceptedAt() {
    return this.#acceptedAt;
  }

  get bytes() {
    return this.#bytes;
  }
}

class Segment {
  constructor(journal, seq, file, fd, bytes) {
    this.journal = journal;
    this.seq = seq;
    this.file = file;
    this.fd = fd;
    this.bytes = bytes;
    this.records = new Set(); // the live ones, in file order
    this.liveBytes = 0;
    this.dirty = false; // written since the last fsync
  }

  get deadBytes() {
    return this.bytes - this.liveBytes;
  }
}

class Journal {
  constructor(dir, capacity, log) {
    this.dir = dir;
    this.capacity = capacity;
    this.log = log;
    this.segmentBytes = Math.min(
      MAX_SEGMENT_BYTES,
      Math.max(MIN_SEGMENT_BYTES, Math.floor(capacity / 8)),
    );
    this.maxSegments =
      SEGMENTS_PER_FULL_SEGMENT * Math.max(1, Math.floor(capacity / this.segmentBytes)) +
      SEGMENTS_SLACK;
    this.segments = new Set();
    this.current = null;
    this.nextSeq = 1;
    this.bytes = 0; // of every segment file
    this.liveBytes = 0;
    this.liveCount = 0;
    this.closed = false;
  }

  // Reads the slot's segments → { records (live, in file order), byId, skipped, torn, duplicates }.
  load() {
    const names = segmentOrder(
      fs
        .readdirSync(this.dir, { withFileTypes: true })
        .filter((e) => e.isFile() && SEGMENT.test(e.name))
        .map((e) => e.name),
    );
    const byId = new Map();
    const records = [];
    const counts = { skipped: 0, torn: 0, duplicates: 0 };
    for (const name of names) {
      const own = OWN_SEGMENT.exec(name);
      const seq = own ? Number(own[1]) : 0;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const file = path.join(this.dir, name);
      const fd = openSegment(file);
      let data;
      try {
        const why = strangeEntry(fs.fstatSync(fd), 'file');
        if (why) {
          this.log('warn', `left alone ${file}: ${why}`);
          fs.closeSync(fd);
          continue;
        }
        data = fs.readFileSync(fd);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      const segment = new Segment(this, seq, file, fd, data.length);
      this.segments.add(segment);
      this.bytes += data.length;
      const tornBytes = record.eachLine(data, (line, offset) => {
        const parsed = record.parse(line);
        if (!parsed) {
          counts.skipped += 1;
        } else if (!parsed.acked) {
          if (byId.has(parsed.id)) {
            // A copy left by a compaction that was cut short: one copy stays live.
            counts.duplicates += 1;
            this.flag(segment, offset);
            return;
          }
          const r = new SpoolRecord(parsed.id, parsed.acceptedAt, line.length + 1, segment, offset);
          this.track(r);
          byId.set(parsed.id, r);
          records.push(r);
        }
      });
      if (tornBytes > 0) counts.torn += 1;
      if (segment.records.size === 0) this.remove(segment);
    }
    return { records, byId, ...counts };
  }

  // Journals inherited records (parsed lines, see record.parseAny) that are not live here yet:
  // past the capacity if need be. → the new records.
  import(entries, byId) {
    const added = [];
    for (const e of entries) {
      if (byId.has(e.id)) continue;
      const line = record.fromParts(
        0,
        e.id,
        e.acceptedAt,
        e.method,
        e.href,
        e.encoding,
        e.bodyText,
      );
      const r = this.append(line, e.id, e.acceptedAt, true);
      byId.set(e.id, r);
      added.push(r);
    }
    return added;
  }

  // Journals one line → its record, or null when live records leave no room for it.
  append(line, id, acceptedAt, force = false) {
    const n = line.length;
    if (!force && this.bytes + n > this.capacity) {
      this.reclaim(n);
      if (this.bytes + n > this.capacity) return null;
    }
    const { segment, offset } = this.write(line);
    const r = new SpoolRecord(id, acceptedAt, n, segment, offset);
    this.track(r);
    // A merge can itself rotate the current segment: merge until the count is back within bounds
    // (each pass removes the smallest sealed segment, so this ends).
    for (let pass = 0; this.segments.size > this.maxSegments && pass < SEGMENTS_SLACK; pass++) {
      if (!this.consolidate()) break;
    }
    return r;
  }

  // Delivered or failed for good: the flag byte, then the segment goes if nothing in it is live.
  // Never throws: a failed flag write is logged (the record may then be delivered again by a
  // later run). After close() the flag is still written, through the file's path.
  ack(r) {
    if (!r.live) return;
    r.live = false;
    const s = r.segment;
    s.records.delete(r);
    s.liveBytes -= r.bytes;
    this.liveBytes -= r.bytes;
    this.liveCount -= 1;
    try {
      if (this.closed) this.flagByPath(s.file, r.offset);
      else this.flag(s, r.offset);
    } catch (err) {
      if (err.code !== 'ENOENT') {
        // after close, the slot may have been adopted already
        this.log(
          'error',
          `could not acknowledge an event in ${s.file} (${err.message}); a later run may deliver it again`,
        );
      }
    }
    if (!this.closed && s.records.size === 0) this.remove(s);
  }

  // The line of a live record, newline included.
  readLine(r) {
    const buf = Buffer.allocUnsafe(r.bytes);
    let done = 0;
    while (done < r.bytes) {
      const n = fs.readSync(r.segment.fd, buf, done, r.bytes - done, r.offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  // Makes what was written durable (fsync of every segment written since the last sync).
  sync() {
    for (const s of this.segments) {
      if (!s.dirty) continue;
      fs.fsyncSync(s.fd);
      s.dirty = false;
    }
  }

  // fsync, then close every file. Throws the first failure, after closing everything.
  close() {
    if (this.closed) return;
    this.closed = true;
    let failure;
    for (const s of this.segments) {
      try {
        if (s.dirty) fs.fsyncSync(s.fd);
      } catch (err) {
        failure = failure || ioError(`cannot make the spool durable (fsync ${s.file})`, err);
      }
      try {
        fs.closeSync(s.fd);
      } catch {
        // closing what we opened: nothing left to do
      }
      s.fd = -1;
    }
    this.current = null;
    if (failure) throw failure;
  }

  // Segments whose file was deleted while open (no link left): their records are in the open
  // file only, gone once it is closed.
  unlinked() {
    return [...this.segments].filter((s) => fs.fstatSync(s.fd).nlink === 0);
  }

  // New segments are made in `dir` from now on (the slot was recreated there).
  relocate(dir) {
    this.dir = dir;
    this.current = null;
  }

  // Copies the live records of a deleted segment, read from its open file, to the current
  // segment (in their order), then lets go of it. Throws ERR_SPOOL_IO when a copy cannot be
  // written; what was copied stays copied (and the rest in `s`).
  rescue(s) {
    if (this.current === s) this.current = null;
    for (const r of [...s.records]) this.move(r);
    this.release(s);
  }

  // A deleted segment whose live records cannot be copied: they are no longer live. → them.
  forget(s) {
    const lost = [...s.records];
    for (const r of lost) {
      r.live = false;
      this.liveBytes -= r.bytes;
      this.liveCount -= 1;
    }
    s.records.clear();
    s.liveBytes = 0;
    this.release(s);
    return lost;
  }

  // ---- internals ----------------------------------------------------------------------------

  track(r) {
    r.segment.records.add(r);
    r.segment.liveBytes += r.bytes;
    this.liveBytes += r.bytes;
    this.liveCount += 1;
  }

  flag(s, offset) {
    fs.writeSync(s.fd, ACKED, 0, 1, offset + record.ACK_FLAG_OFFSET);
    s.dirty = true;
  }

  flagByPath(file, offset) {
    const fd = openSegment(file);
    try {
      fs.writeSync(fd, ACKED, 0, 1, offset + record.ACK_FLAG_OFFSET);
    } finally {
      fs.closeSync(fd);
    }
  }

  // Appends a line to the current segment, opening or rotating first. On failure the partial
  // line is cut off (or, failing that, the segment is never appended to again: a line written
  // after a partial one would be unreadable) and an ERR_SPOOL_IO is thrown.
  write(line) {
    let segment = this.current;
    if (segment && segment.bytes > 0 && segment.bytes + line.length > this.segmentBytes)
      segment = null;
    if (!segment) segment = this.open();
    const offset = segment.bytes;
    try {
      let done = 0;
      while (done < line.length) {
        const n = fs.writeSync(segment.fd, line, done, line.length - done, offset + done);
        if (n <= 0) throw new Error('the write made no progress');
        done += n;
      }
    } catch (err) {
      this.abandonTail(segment, offset);
      throw ioError(`cannot write to the spool (${segment.file})`, err);
    }
    segment.bytes += line.length;
    segment.dirty = true;
    this.bytes += line.length;
    return { segment, offset };
  }

  open() {
    const seq = this.nextSeq++;
    const file = path.join(this.dir, segmentName(seq));
    let fd;
    try {
      fd = openPrivateFile(file, 'wx+');
    } catch (err) {
      throw ioError(`cannot create a spool segment (${file})`, err);
    }
    const s = new Segment(this, seq, file, fd, 0);
    this.segments.add(s);
    this.current = s;
    return s;
  }

  abandonTail(s, offset) {
    try {
      fs.ftruncateSync(s.fd, offset);
    } catch (err) {
      try {
        const size = fs.fstatSync(s.fd).size;
        this.bytes += size - s.bytes;
        s.bytes = size;
      } catch {
        // the size stays as we knew it
      }
      this.log(
        'error',
        `could not cut a partly written line off ${s.file} (${err.message}); it will be skipped as torn`,
      );
    }
    if (this.current === s) this.current = null;
    if (s.records.size === 0) this.remove(s);
  }

  // The segment leaves the journal (its file stays).
  release(s) {
    this.segments.delete(s);
    if (this.current === s) this.current = null;
    this.bytes -= s.bytes;
    try {
      fs.closeSync(s.fd);
    } catch {
      // already closed
    }
  }

  remove(s) {
    this.release(s);
    try {
      fs.unlinkSync(s.file);
    } catch (err) {
      // Every line in it is dead: the next open reclaims it.
      if (err.code !== 'ENOENT') this.log('warn', `could not delete ${s.file}: ${err.message}`);
    }
  }

  truncate(s, end) {
    try {
      fs.ftruncateSync(s.fd, end);
    } catch (err) {
      throw ioError(`cannot compact the spool (${s.file})`, err);
    }
    this.bytes -= s.bytes - end;
    s.bytes = end;
    s.dirty = true;
  }

  // Copies a live record to the current segment (its old copy is cut off by the caller).
  move(r) {
    const line = this.readLine(r);
    const from = r.segment;
    const { segment, offset } = this.write(line);
    from.records.delete(r);
    from.liveBytes -= r.bytes;
    r.segment = segment;
    r.offset = offset;
    segment.records.add(r);
    segment.liveBytes += r.bytes;
  }

  // Frees room for `n` more bytes, cheapest segment first (live bytes to move per dead byte won).
  reclaim(n) {
    // The current segment's dead bytes can only be reclaimed once it is sealed; sealing it first
    // pays: it is mostly recent records, acknowledged soonest, so the cheapest to compact.
    if (this.current && this.current.deadBytes > 0) this.current = null;
    while (this.bytes + n > this.capacity) {
      let best = null;
      let bestCost = Infinity;
      for (const s of this.segments) {
        if (s === this.current || s.deadBytes === 0) continue;
        const cost = s.liveBytes / s.deadBytes;
        if (cost < bestCost) {
          best = s;
          bestCost = cost;
        }
      }
      if (!best) return;
      this.drain(best, n);
    }
  }

  // Compacts a sealed segment from its tail until there is room for `n` bytes, the segment is
  // gone, or what is left of it is all live (`whole`: until it is gone).
  drain(s, n, whole = false) {
    const live = [...s.records];
    for (let i = live.length - 1; ; i--) {
      const end = i >= 0 ? live[i].offset + live[i].bytes : 0;
      if (end < s.bytes) this.truncate(s, end);
      if (i < 0) {
        this.remove(s);
        return;
      }
      if (!whole && (this.bytes + n <= this.capacity || s.deadBytes === 0)) return;
      this.move(live[i]);
    }
  }

  // Merges the smallest sealed segment into the current one (record by record, from its tail:
  // the same crash safety and the same bound as compaction).
  consolidate() {
    let smallest = null;
    for (const s of this.segments) {
      if (s !== this.current && (!smallest || s.bytes < smallest.bytes)) smallest = s;
    }
    if (smallest) this.drain(smallest, 0, true);
    return smallest !== null;
  }
}

// Whether a file in a slot is a segment (own, or renamed in from an adopted slot).
function isSegmentName(name) {
  return SEGMENT.test(name);
}

// The order a slot's segments were written in: adopted ones (renamed in at start, so older) before
// the slot's own, each kind by name. Events accepted in the same millisecond replay in this order.
function segmentOrder(names) {
  const own = (n) => OWN_SEGMENT.test(n);
  return names
    .filter((n) => !own(n))
    .sort()
    .concat(names.filter(own).sort());
}

module.exports = { Journal, SpoolRecord, isSegmentName, segmentOrder };
