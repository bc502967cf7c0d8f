'use strict';
// The dispatcher's seams: eventCount (what a request counts as user events; the Optimizely
// adapter's visitor count by default) and settleWithin (settleBy for a deadline the settling must
// end by, with close()'s reserve; closeOptimizely's).
const { createDispatcher, Dispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { tempDirs } = require('./helpers/dirs');
const { batch, logEvent } = require('./helpers/events');

const { collector, later } = useCleanup();
const tempDir = tempDirs(later);

describe('eventCount', () => {
  test('by default: the visitors of an Optimizely batch, 1 for other payloads — from createDispatcher and new Dispatcher', async () => {
    const c = await collector(() => 'ok');
    for (const d of [createDispatcher(), new Dispatcher()]) {
      await d.dispatchEvent(logEvent(c.url, 3).event);
      await d.send('POST', c.url, batch(4));
      await d.send('POST', c.url, { other: true });
      expect((await d.close()).events.delivered).toBe(8);
    }
  });

  test('a hook of its own counts instead, for fresh and for replayed events', async () => {
    const dir = tempDir();
    const countOf = (params) => (params && Array.isArray(params.items) ? params.items.length : 0);
    const down = await collector(() => ({ status: 503 }));
    const d = createDispatcher({ spoolDir: dir, eventCount: countOf, maxAttempts: 1 });
    await d.send('POST', down.url, { items: [1, 2, 3], visitors: [1] });
    expect((await d.close()).events.spooled).toBe(3);
    const up = await collector(() => 'ok');
    const next = createDispatcher({ spoolDir: dir, endpoint: up.url, eventCount: countOf });
    await next.flush();
    expect(next.stats().events).toMatchObject({ delivered: 3, spooled: 0 });
    await next.close();
  });

  test('a hook that throws or answers something else refuses the event', async () => {
    const c = await collector(() => 'ok');
    const d = createDispatcher({ eventCount: (params) => params.n });
    await expect(d.send('POST', c.url, { n: -1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_RETURN_VALUE',
    });
    await expect(d.send('POST', c.url, { n: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_RETURN_VALUE',
    });
    await expect(d.send('POST', c.url, null)).rejects.toMatchObject({ name: 'TypeError' });
    await expect(d.send('POST', c.url, { n: 2 })).resolves.toMatchObject({ statusCode: 204 });
    expect(d.stats()).toMatchObject({
      accepted: 1,
      events: expect.objectContaining({ delivered: 2 }),
    });
    await d.close();
  });

  test('anything but a function is refused', () => {
    expect(() => createDispatcher({ eventCount: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('settleWithin', () => {
  test("settles what is held before the deadline, keeping close()'s reserve; the dispatcher stays open", async () => {
    const hung = await collector(() => 'hang');
    const d = createDispatcher({ timeoutMs: 600000, closeTimeoutMs: 3000 });
    const results = [1, 2].map((i) => d.send('POST', hung.url, { i }));
    while (hung.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    const { timeoutMs, reserveMs } = d.settleWithin(1000);
    expect(timeoutMs).toBe(1000);
    expect(reserveMs).toBeGreaterThanOrEqual(100); // a tenth of the time at least
    expect(reserveMs).toBeLessThan(1000);
    await expect(Promise.all(results)).resolves.toEqual([
      expect.objectContaining({ dropped: true, reason: 'closed' }),
      expect.objectContaining({ dropped: true, reason: 'closed' }),
    ]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(d.stats().state).toBe('open');
    expect(d.settleWithin().timeoutMs).toBe(3000); // closeTimeoutMs by default
    expect(() => d.settleWithin({ timeout: 5 })).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_OPTION' }),
    );
    await d.close(0);
  });
});
