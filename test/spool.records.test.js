'use strict';
// What a record holds and how it comes back: the bytes accepted; lines validated on load (a
// tampered or corrupt line is skipped, counted and logged, never replayed); torn lines and
// duplicate copies; the replay queue; close(); argument errors.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Spool } = require('../lib/spool/index.js');
const { useCleanup } = require('./helpers/cleanup');
const { HREF, tempRoot, request, lineOf, makeSlot, drainParked } = require('./helpers/spool');

const { later } = useCleanup();

function open(root, log) {
  const spool = new Spool(root, { maxBytes: 1024 * 1024, log });
  later(() => spool.close());
  return spool;
}

const bytes = new Uint8Array(Buffer.from([9, 0, 1, 2, 254, 255, 128, 9]).buffer, 1, 6); // a view
const cases = [
  {
    method: 'POST',
    href: HREF,
    body: JSON.stringify({ é: '😀', s: 'a\nb', lone: '\ud800' }),
    json: true,
  },
  { method: 'PUT', href: `${HREF}?q=1#f`, body: '{\n  "pretty": true\n}', json: true }, // a newline in JSON text
  { method: 'PATCH', href: HREF, body: 'plain text\nwith "quotes" and \u2028', json: false },
  { method: 'POST', href: HREF, body: '', json: false },
  { method: 'POST', href: HREF, body: '', json: true },
  { method: 'POST', href: 'http://[::1]:8080/x', body: bytes, json: false },
  { method: 'GET', href: 'http://127.0.0.1/pixel?e=1', body: undefined, json: false },
];

function expectSame(read, req, acceptedAt) {
  const body =
    req.body instanceof Uint8Array
      ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength)
      : req.body;
  expect(read).toEqual({ method: req.method, href: req.href, body, json: req.json, acceptedAt });
}

test('read() gives back the bytes accepted — JSON, text, bytes, none — before and after a restart', () => {
  const root = tempRoot(later);
  const first = new Spool(root, { maxBytes: 1024 * 1024 });
  const records = cases.map((req, i) => first.append(req, 1700000000000 + i));
  records.forEach((r, i) => expectSame(first.read(r), cases[i], 1700000000000 + i));
  expect(records.map((r) => r.acceptedAt)).toEqual(cases.map((_, i) => 1700000000000 + i));
  first.close();
  const second = open(root);
  const adopted = drainParked(second);
  expect(adopted.map((r) => r.id)).toEqual(records.map((r) => r.id));
  adopted.forEach((r, i) => expectSame(second.read(r), cases[i], 1700000000000 + i));
  // Every line is one line of JSON: the journal stays line-framed whatever the body.
  const seg = fs.readdirSync(second.dir).find((n) => n.startsWith('seg-'));
  const lines = fs.readFileSync(path.join(second.dir, seg), 'utf8').split('\n').filter(Boolean);
  expect(lines).toHaveLength(cases.length);
  for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
});

test('lines are validated on load: tampered or corrupt ones are skipped, counted and logged, never replayed', () => {
  const root = tempRoot(later);
  const good = lineOf(request(300));
  const goodId = JSON.parse(good).id;
  const valid = JSON.parse(good);
  const tamper = (changes) =>
    `${JSON.stringify({ ...valid, id: crypto.randomUUID(), ...changes })}\n`;
  const bad = [
    tamper({ m: 'DELETE' }),
    tamper({ u: 'file:///etc/passwd' }),
    tamper({ u: 'javascript:alert(1)' }),
    tamper({ u: 'not a url' }),
    tamper({ u: 42 }),
    tamper({ a: 2 }),
    tamper({ t: -1 }),
    tamper({ t: '1700000000000' }),
    tamper({ e: 'gzip' }),
    tamper({ e: 'b64', b: 'not base64!' }),
    tamper({ e: 'text', b: 12 }),
    tamper({ e: 'none', b: 'x' }),
    tamper({ extra: true }),
    tamper({ id: '' }),
    `${JSON.stringify({ ...valid, id: crypto.randomUUID() }, null, 1).replace(/\n/g, ' ')}\n`, // not our form
    '{"a":0,"id":"x"\n',
    'garbage\n',
    '\n',
  ];
  const logs = [];
  makeSlot(root, {
    owner: { pid: 1 },
    released: true,
    segments: [[...bad.slice(0, 9), good, ...bad.slice(9)]],
  });
  const spool = open(root, (level, message) => logs.push({ level, message }));
  expect(drainParked(spool).map((r) => r.id)).toEqual([goodId]);
  expect(spool.stats()).toMatchObject({ skipped: bad.length, adopted: 1, liveRecords: 1 });
  expect(logs).toContainEqual({
    level: 'warn',
    message: `skipped 0 torn last line(s) and ${bad.length} invalid line(s) in the spool ${root}; they are not replayed`,
  });
});

test('a torn last line (a write cut short) is skipped, counted and logged; the rest is live', () => {
  const root = tempRoot(later);
  const lines = [lineOf(request(300)), lineOf(request(300))];
  const torn = lineOf(request(300)).subarray(0, 150);
  makeSlot(root, { owner: { pid: 1 }, released: true, segments: [[...lines, torn]] });
  const logs = [];
  const spool = open(root, (level, message) => logs.push(`${level}: ${message}`));
  expect(drainParked(spool).map((r) => r.id)).toEqual(lines.map((l) => JSON.parse(l).id));
  expect(spool.stats().skipped).toBe(1);
  expect(logs.some((m) => /^warn: skipped 1 torn last line/.test(m))).toBe(true);
});

test('a line changed on disk after load: read() throws ERR_SPOOL_CORRUPT', () => {
  const spool = open(tempRoot(later));
  const r = spool.append(request(300));
  const seg = path.join(
    spool.dir,
    fs.readdirSync(spool.dir).find((n) => n.startsWith('seg-')),
  );
  const text = fs.readFileSync(seg, 'utf8');
  fs.writeFileSync(seg, text.replace('https://collector.test', 'ftp://elsewhere.test/'));
  expect(() => spool.read(r)).toThrow(
    expect.objectContaining({ name: 'SpoolError', code: 'ERR_SPOOL_CORRUPT' }),
  );
});

test('two copies of one id (a compaction cut short) are merged on open; acknowledged once, neither comes back', () => {
  const root = tempRoot(later);
  const line = lineOf(request(300));
  const other = lineOf(request(300));
  makeSlot(root, { owner: { pid: 1 }, released: true, segments: [[line, other], [line]] });
  const first = new Spool(root, { maxBytes: 1024 * 1024 });
  const records = drainParked(first);
  expect(records.map((r) => r.id)).toEqual([JSON.parse(line).id, JSON.parse(other).id]);
  first.ack(records[0]);
  first.close();
  const second = open(root);
  expect(drainParked(second).map((r) => r.id)).toEqual([JSON.parse(other).id]);
});

test('park/takeParked: a FIFO of live records; an acknowledged one leaves it', () => {
  const spool = open(tempRoot(later));
  const [a, b, c] = [1, 2, 3].map((i) => spool.append(request(300, i)));
  expect(spool.takeParked()).toBeUndefined();
  spool.park(b);
  spool.park(a);
  spool.park(c);
  spool.park(a); // already parked: no-op
  expect(spool.parkedCount).toBe(3);
  spool.ack(a);
  expect(spool.parkedCount).toBe(2);
  expect(spool.takeParked()).toBe(b);
  spool.park(b); // back of the queue
  expect([spool.takeParked(), spool.takeParked(), spool.takeParked()]).toEqual([c, b, undefined]);
  spool.park(a); // acknowledged: stays out
  expect(spool.parkedCount).toBe(0);
  expect(spool.stats()).toMatchObject({ liveRecords: 2, parked: 0 });
  expect(() => spool.read(a)).toThrow(expect.objectContaining({ code: 'ERR_SPOOL_NOT_LIVE' }));
});

test('close(): idempotent; append and read throw ERR_SPOOL_CLOSED; ack() still lands on disk', () => {
  const root = tempRoot(later);
  const spool = new Spool(root, { maxBytes: 1024 * 1024 });
  const [a, b] = [spool.append(request(300)), spool.append(request(300))];
  spool.close();
  spool.close();
  expect(() => spool.append(request(300))).toThrow(
    expect.objectContaining({ code: 'ERR_SPOOL_CLOSED' }),
  );
  expect(() => spool.read(a)).toThrow(expect.objectContaining({ code: 'ERR_SPOOL_CLOSED' }));
  spool.ack(a); // e.g. a transfer that completed after the close deadline
  const next = open(root);
  expect(drainParked(next).map((r) => r.id)).toEqual([b.id]);
});

test('invalid arguments: TypeError/RangeError with a code, "Expected X for Y but received Z"', () => {
  const root = tempRoot(later);
  expect(() => new Spool('', { maxBytes: 1 })).toThrow(
    expect.objectContaining({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'Expected a directory path for root but received ""',
    }),
  );
  expect(() => new Spool(root, { maxBytes: 0 })).toThrow(
    expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
  );
  expect(() => new Spool(root, {})).toThrow(
    expect.objectContaining({
      name: 'TypeError',
      message: 'Expected an integer for options.maxBytes but received undefined',
    }),
  );
  const spool = open(root);
  expect(() => spool.append({ method: 'DELETE', href: HREF })).toThrow(
    expect.objectContaining({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'Expected one of GET, POST, PUT, PATCH for request.method but received "DELETE"',
    }),
  );
  expect(() => spool.append({ method: 'POST', href: HREF, body: 5 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() =>
    spool.append({ method: 'POST', href: HREF, body: new Uint8Array(1), json: true }),
  ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  expect(() => spool.append(request(300), NaN)).toThrow(
    expect.objectContaining({ name: 'RangeError' }),
  );
  expect(() => spool.ack({ id: 'x' })).toThrow(
    expect.objectContaining({
      message: 'Expected a record of this spool for record but received an object',
    }),
  );
  const other = open(root);
  expect(() => spool.park(other.append(request(300)))).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(spool.stats().liveRecords).toBe(0);
});
