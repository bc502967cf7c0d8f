'use strict';
// The loggers people use, as they come: the real pino (to a destination stream read here) and the
// real winston (a stream transport captured here), with npm's levels and with syslog's. A drop
// line arrives at warn, the close line at info, and a password and an API key planted in the URL
// arrive masked. (The Optimizely SDKs' own loggers: dispatcher.options.test.js.)
const { Writable } = require('node:stream');
const pino = require('pino');
const winston = require('winston');
const { createDispatcher } = require('..');
const { useCleanup } = require('./helpers/cleanup');
const { closedPort } = require('./helpers/servers');

useCleanup();

const PASSWORD = 'pw-Pl4nted';
const API_KEY = 'key-Pl4nted';

// A stream that keeps what it is written, one JSON line per write.
function capture() {
  const lines = [];
  const stream = new Writable({
    write(chunk, encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { stream, lines };
}

// One event to a port nobody listens on, one attempt: a drop (warn), then close() (info).
async function loseOne(logger) {
  const port = await closedPort();
  const d = createDispatcher({ logger, maxAttempts: 1 });
  const result = await d.send(
    'POST',
    `http://shop:${PASSWORD}@127.0.0.1:${port}/v1/events?api_key=${API_KEY}`,
    { visitors: [] },
  );
  expect(result).toMatchObject({ dropped: true, reason: 'retries-exhausted' });
  await d.close();
}

const DROP =
  /^\[native-event-dispatcher\] dropped an event \(retries-exhausted: ECONNREFUSED\) for http:\/\/shop:\*\*\*@127\.0\.0\.1:\d+\/v1\/events\?api_key=\*\*\* after 1 attempt\(s\)$/;
const CLOSED = /^\[native-event-dispatcher\] closed: \{"delivered":0,"spooled":0,"lost":1,/;

function expectNoSecret(lines) {
  const text = JSON.stringify(lines);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(API_KEY);
}

test('pino: the drop at warn (40), the close line at info (30), credentials masked', async () => {
  const { stream, lines } = capture();
  await loseOne(pino({ level: 'debug' }, stream));
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [40, expect.stringMatching(DROP)],
    [30, expect.stringMatching(CLOSED)],
  ]);
  expectNoSecret(lines);
});

test("pino at level 'warn' keeps the drop and leaves out the close line; a child logger works as its parent", async () => {
  const { stream, lines } = capture();
  await loseOne(pino({ level: 'warn' }, stream).child({ component: 'events' }));
  expect(lines).toEqual([
    expect.objectContaining({ level: 40, component: 'events', msg: expect.stringMatching(DROP) }),
  ]);
  expectNoSecret(lines);
});

test("winston with npm's levels: the drop at warn, the close line at info, credentials masked", async () => {
  const { stream, lines } = capture();
  const logger = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
  await loseOne(logger);
  expect(lines.map((l) => [l.level, l.message])).toEqual([
    ['warn', expect.stringMatching(DROP)],
    ['info', expect.stringMatching(CLOSED)],
  ]);
  expectNoSecret(lines);
});

test("winston with syslog's levels: the drop at 'warning' (0.1: taken for the v4/v5 SDK's log(3, message); winston printed \"Unknown logger level: 3\" and nothing arrived)", async () => {
  const { stream, lines } = capture();
  const logger = winston.createLogger({
    levels: winston.config.syslog.levels,
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
  const complaints = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await loseOne(logger);
    expect(complaints).not.toHaveBeenCalled();
  } finally {
    complaints.mockRestore();
  }
  expect(lines.map((l) => [l.level, l.message])).toEqual([
    ['warning', expect.stringMatching(DROP)],
    ['info', expect.stringMatching(CLOSED)],
  ]);
  expectNoSecret(lines);
});
