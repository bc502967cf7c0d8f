'use strict';
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { startCollector } = require('./helpers/collector');

const run = promisify(execFile);

test('endpoint down, 100 000 events offered: memory stays bounded and every drop is counted', async () => {
  const c = await startCollector(() => 'hang');
  try {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', path.join(__dirname, 'fixtures', 'bounds-child.js'), c.url, '100000'],
      { maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout);
    // The queue never held more than its limit, and the heap did not grow with the offered load
    // (100 000 events of ~1 KB would be ~100 MB if they were kept).
    expect(r.maxQueued).toBeLessThanOrEqual(r.limit);
    expect(r.heapGrowth).toBeLessThan(24 * 1024 * 1024);
    // maxInFlight were in flight, nothing was delivered. (The collector may not have read the last
    // of them yet when close({ timeoutMs: 0 }) aborts them — the fallback sends from the main
    // thread, after this loop — so it holds at most that many.)
    expect(r.before.inFlight).toBe(64);
    expect(c.hanging.length).toBeLessThanOrEqual(64);
    expect(r.before.delivered).toBe(0);
    // Every event is accounted for: dropped while offered (queue full) or at close (no spool).
    expect(r.reasons['queue-full'] + r.reasons.closed).toBe(100000);
    expect(r.after.dropped).toBe(100000);
    expect(r.dropEvents).toBe(100000);
    expect(r.droppedResults).toBe(100000);
    expect(r.otherResults).toBe(0);
    expect(r.summary).toEqual({
      delivered: 0,
      spooled: 0,
      lost: 100000,
      failed: 0,
      events: { delivered: 0, spooled: 0, lost: 100000, failed: 0 },
    });
    expect(r.after.queuedBytes).toBe(0);
  } finally {
    await c.close();
  }
}, 60000);

// Found by the fault suite.
describe('what the memory bound counts, and what it evicts', () => {
  const { createDispatcher } = require('..');
  let c;
  afterEach(async () => {
    if (c) await c.close();
    c = null;
  });

  test('an event that can never fit (larger than maxQueueBytes with what is in flight) is refused alone: no waiting event is evicted for it', async () => {
    c = await startCollector(() => 'hang');
    const d = createDispatcher({ maxInFlight: 1, maxQueueBytes: 1024, timeoutMs: 600000 });
    const drops = [];
    d.on('drop', (x) => drops.push(JSON.parse(x.body).name));
    const small = ['inflight', 'w1', 'w2', 'w3'].map((name) => d.send('POST', c.url, { name }));
    while (c.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
    const big = await d.send('POST', c.url, { name: 'big', pad: 'x'.repeat(2000) });
    expect(big).toMatchObject({ dropped: true, reason: 'queue-full' });
    // 900 bytes fit only if every waiting event goes, and the one in flight stays: still refused alone.
    const almost = await d.send('POST', c.url, { name: 'almost', pad: 'x'.repeat(1024 - 40) });
    expect(almost).toMatchObject({ dropped: true, reason: 'queue-full' });
    expect(drops).toEqual(['big', 'almost']); // 0.1: w1, w2, w3 evicted first, then big anyway
    expect(d.stats()).toMatchObject({ queued: 3, inFlight: 1 });
    await d.close({ timeoutMs: 0 });
    await Promise.all(small);
  });

  test('text is counted in the bytes that go out (UTF-8), not in characters', async () => {
    c = await startCollector(() => 'hang');
    const d = createDispatcher({ maxInFlight: 1, maxQueueBytes: 4096, timeoutMs: 600000 });
    const text = '漢字'.repeat(300); // 600 characters, 1,800 bytes
    const results = Array.from({ length: 6 }, () => d.send('POST', c.url, { text }));
    expect(d.stats().queuedBytes).toBeLessThanOrEqual(4096); // 0.1: 3,6xx "bytes" counted while 11,000 were held
    expect(d.stats().queuedBytes).toBeGreaterThan(2 * 1800);
    expect(d.stats().lost).toBeGreaterThan(0);
    await d.close({ timeoutMs: 0 });
    await Promise.all(results);
  });

  // An event that goes straight out is counted by the transport's copy of it, not by a pass over
  // the text first: the count must still be its UTF-8 bytes, through retries, until it settles.
  test('events sent straight out count their UTF-8 bytes (text of every kind, and binary) until they settle', async () => {
    c = await startCollector(() => 'hang'); // every request waits for the test to answer it
    const d = createDispatcher({
      maxInFlight: 8,
      maxQueueBytes: 1 << 20,
      timeoutMs: 600000,
      baseDelayMs: 5,
      maxDelayMs: 10,
    });
    const bodies = [
      { text: '漢字'.repeat(300) }, // 3 bytes a character
      { text: 'ascii only '.repeat(50) },
      { text: 'é€😀 '.repeat(100) }, // 2, 3 and 4 bytes, and a surrogate pair
      Buffer.from('{"binary":true}'),
    ];
    const bytes = bodies.map((b) =>
      Buffer.isBuffer(b) ? b.length : Buffer.byteLength(JSON.stringify(b)),
    );
    const total = bytes.reduce((a, b) => a + b);
    const results = bodies.map((b) => d.send('POST', c.url, b));
    expect(d.stats()).toMatchObject({ inFlight: 4, queued: 0, queuedBytes: total });
    while (c.hanging.length < 4) await new Promise((r) => setTimeout(r, 5));
    // The first two fail once (503) and are sent again: still counted, at the same size.
    c.hanging[0].writeHead(503).end();
    c.hanging[1].writeHead(503).end();
    for (let i = 0; i < 1000 && c.hanging.length < 6; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(c.hanging).toHaveLength(6);
    expect(d.stats()).toMatchObject({ inFlight: 4, delivered: 0, queuedBytes: total });
    for (const res of c.hanging.slice(2)) res.writeHead(204).end();
    const out = await Promise.all(results);
    expect(out.map((r) => r.statusCode)).toEqual([204, 204, 204, 204]);
    expect(out.map((r) => r.attempts)).toEqual([2, 2, 1, 1]);
    expect(d.stats()).toMatchObject({ queued: 0, queuedBytes: 0, delivered: 4 });
    const sizes = (list) => list.slice().sort((x, y) => x - y);
    expect(sizes(c.requests.slice(0, 4).map((r) => Buffer.byteLength(r.body)))).toEqual(
      sizes(bytes),
    );
    await d.close();
  });

  test('the bound holds when the first events go straight out uncounted and the rest must be counted first', async () => {
    c = await startCollector(() => 'hang');
    const text = '漢字'.repeat(300); // 1,800 bytes each as UTF-8, ~1,812 with its JSON
    const d = createDispatcher({ maxInFlight: 3, maxQueueBytes: 8000, timeoutMs: 600000 });
    const results = Array.from({ length: 8 }, () => d.send('POST', c.url, { text }));
    const each = Buffer.byteLength(JSON.stringify({ text }));
    const held = Math.floor(8000 / each); // 4 fit: 3 in flight, 1 waiting
    expect(d.stats()).toMatchObject({
      inFlight: 3,
      queued: held - 3,
      queuedBytes: held * each,
      lost: 8 - held,
    });
    await d.close({ timeoutMs: 0 });
    await Promise.all(results);
    expect(d.stats().queuedBytes).toBe(0);
  });

  test('a Buffer the caller reuses after send(): every attempt sends the bytes handed over', async () => {
    c = await startCollector((n) => (n === 0 ? { status: 503 } : 'ok'));
    const d = createDispatcher({ baseDelayMs: 5, maxDelayMs: 10 });
    const buf = Buffer.from('{"event":"original"}');
    const sent = d.send('POST', c.url, buf);
    buf.write('{"event":"CLOBBERED"'); // the caller's buffer pool reuses it at once
    expect(await sent).toMatchObject({ statusCode: 204, attempts: 2 });
    expect(c.requests.map((r) => r.body)).toEqual(['{"event":"original"}', '{"event":"original"}']);
    await d.close();
  });
});
