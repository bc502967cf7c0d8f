'use strict';
// `npm run demo` as a user runs it: a child process with the real SDK v6, the dispatcher, the SDK's
// own default dispatcher and the embedded collector on 127.0.0.1 (a port chosen by the OS). Small
// runs, so the suite stays fast.
const { execFile } = require('node:child_process');
const path = require('node:path');

const DEMO = path.join(__dirname, '..', 'demo', 'demo.js');

// Resolves with the exit code and the output; never rejects on a non-zero exit.
function runDemo(args, timeout = 15000) {
  return new Promise((resolve) => {
    execFile(process.execPath, [DEMO, ...args], { timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : err.signal || err.code) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// The number after a report line's label, e.g. numberAfter(out, 'visitors received') → 600.
function numberAfter(stdout, label) {
  const match = new RegExp(`^${label} {2,}(\\d+)`, 'm').exec(stdout); // the report pads labels
  if (!match) throw new Error(`no "${label}" line in the demo's output:\n${stdout}`);
  return Number(match[1]);
}

test('every event of 300 users (a decision and a conversion each) arrives', async () => {
  const { code, stdout, stderr } = await runDemo(['--users', '300']);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toMatch(/^OK: every event arrived$/m);
  expect(numberAfter(stdout, 'users')).toBe(300);
  expect(numberAfter(stdout, 'events made')).toBe(600);
  expect(numberAfter(stdout, 'visitors received')).toBe(600);
  expect(stdout).toMatch(
    /^close\s+\{"delivered":60,"spooled":0,"lost":0,"failed":0,"events":\{"delivered":600,"spooled":0,"lost":0,"failed":0\}\}$/m,
  );
}, 20000);

// A row of the CPU comparison: "  <label>   <n> ms, <n> µs per event; <rest>" → numbers and rest.
function cpuRow(stdout, label) {
  const match = new RegExp(
    `^ {2}${label} +(\\d+(?:\\.\\d)?) ms, (\\d+\\.\\d) µs per event; (.*)$`,
    'm',
  ).exec(stdout);
  if (!match) throw new Error(`no "${label}" row in the demo's output:\n${stdout}`);
  return { ms: Number(match[1]), usPerEvent: Number(match[2]), rest: match[3] };
}

test('main-thread CPU side by side: the SDK default dispatcher, this package and the no-op floor, each delivering every event', async () => {
  const { code, stdout, stderr } = await runDemo(['--users', '300']);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  // The collector counts each dispatcher's events apart: this package's 600 in 60 batches,
  // nothing from the warm-up, the SDK default's or the no-op run.
  expect(numberAfter(stdout, 'requests')).toBe(60);
  expect(numberAfter(stdout, 'visitors received')).toBe(600);
  expect(stdout).toMatch(
    /^main thread CPU {4}the same 300 users \(600 events\) through each dispatcher, from the first user to the end of close\(\)$/m,
  );
  const sdkDefault = cpuRow(stdout, 'SDK default');
  const ours = cpuRow(stdout, 'this package');
  const nothing = cpuRow(stdout, 'no dispatcher');
  // Counted by uuid at the collector, for each dispatcher.
  expect(sdkDefault.rest).toBe('600 of 600 events arrived');
  expect(ours.rest).toBe('600 of 600 events arrived');
  expect(nothing.rest).toBe("sends nothing: the SDK's own work");
  // Parseable and positive; how they compare is not asserted (a busy machine decides that).
  for (const row of [sdkDefault, ours, nothing]) {
    expect(row.ms).toBeGreaterThan(0);
    expect(row.usPerEvent).toBeGreaterThan(0);
  }
  const share =
    '(\\d+(\\.\\d)? ms \\(\\d+\\.\\d µs per event%s\\)|too small to tell from the noise in this run \\(try more --users\\))';
  expect(stdout).toMatch(
    new RegExp(
      `^dispatching {8}SDK default ${share.replace('%s', '')}, ` +
        `this package ${share.replace('%s', ', \\d+\\.\\d µs per request')}` +
        '(: \\d+\\.\\d× (less|more) main-thread CPU than the SDK default)?$',
      'm',
    ),
  );
  // The dispatcher's stats() line shows its event counts, not "[object Object]".
  expect(stdout).toMatch(
    /^dispatcher {9}.*events \{accepted 600, delivered 600\}; latency p50\/p95\/p99 [\d.]+\/[\d.]+\/[\d.]+ ms$/m,
  );
}, 20000);

test("with 60% of requests failing transiently, this package still brings every event; the SDK default's losses are printed", async () => {
  const { code, stdout, stderr } = await runDemo(['--users', '300', '--fail-rate', '0.6'], 40000);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toMatch(/^OK: every event arrived$/m);
  expect(numberAfter(stdout, 'visitors received')).toBe(600);
  // Every failure the collector injected was retried (a drop would have failed the run above).
  const injected = Number(/(\d+) failures injected/.exec(stdout)[1]);
  expect(numberAfter(stdout, 'retries')).toBeGreaterThanOrEqual(injected);
  expect(cpuRow(stdout, 'this package').rest).toBe('600 of 600 events arrived');
  // Three attempts a batch: 60 batches each lost with a chance of 0.6³ leave none lost once in
  // two million runs.
  const row =
    /^(\d+) of 600 events arrived, (\d+) LOST: the SDK gives a batch three attempts, then drops it$/.exec(
      cpuRow(stdout, 'SDK default').rest,
    );
  expect(row).not.toBeNull();
  expect(Number(row[1]) + Number(row[2])).toBe(600);
  expect(Number(row[2]) % 10).toBe(0); // whole batches of 10 events
}, 45000);

test.each([
  [['--users', '-1'], /--users needs a positive integer, got "-1"/],
  [['--users', '1.5'], /--users needs a positive integer/],
  [['--users'], /--users needs a value/],
  [['--fail-rate', '2'], /--fail-rate needs a number from 0 up to \(not including\) 1, got "2"/],
  [['--fail-rate', '1'], /--fail-rate needs a number from 0 up to/],
  [['--url', 'ftp://127.0.0.1/'], /--url needs an http:\/\/ or https:\/\/ URL/],
  [['--url', 'http://127.0.0.1:9/', '--fail-rate', '0.1'], /cannot be combined with --url/],
  [['--batches', '10'], /unknown argument "--batches"/],
])('bad arguments %j: exit code 2 and a clear message, nothing sent', async (args, message) => {
  const { code, stdout, stderr } = await runDemo(args);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr).toMatch(/--help/);
  expect(stdout).toBe('');
});

test('--help describes the options and exits 0', async () => {
  const { code, stdout } = await runDemo(['--help']);
  expect(code).toBe(0);
  for (const option of ['--users', '--fail-rate', '--url']) expect(stdout).toContain(option);
});
