'use strict';
// `npm run demo` as a user runs it: a child process with the real SDK v6, the dispatcher and the
// embedded collector on 127.0.0.1 (a port chosen by the OS). Small runs, so the suite stays fast.
const { execFile } = require('node:child_process');
const path = require('node:path');

const DEMO = path.join(__dirname, '..', 'demo', 'demo.js');

// Resolves with the exit code and the output; never rejects on a non-zero exit.
function runDemo(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [DEMO, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
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
  expect(stdout).toMatch(/^close\s+\{"delivered":60,"spooled":0,"lost":0,"failed":0,"events":\{"delivered":600,"spooled":0,"lost":0,"failed":0\}\}$/m);
}, 20000);

test('the main thread\'s CPU is split between the SDK and the dispatcher; the SDK-alone runs send nothing', async () => {
  const { code, stdout, stderr } = await runDemo(['--users', '300']);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  // Only the measured run reached the collector: 600 events in 60 batches, nothing from the
  // warm-up or the SDK-alone run (their dispatcher does nothing).
  expect(numberAfter(stdout, 'requests')).toBe(60);
  expect(numberAfter(stdout, 'visitors received')).toBe(600);
  expect(stdout).toMatch(/^main thread CPU {4}\d+(\.\d)? ms while the events were made and delivered, \d+\.\d µs per event$/m);
  expect(stdout).toMatch(/^ {2}the SDK {10}\d+(\.\d)? ms, \d+\.\d µs per event: the same users again, through a dispatcher that does nothing$/m);
  // Timings are not asserted: on a busy machine the difference can even come out below zero.
  expect(stdout).toMatch(/^ {2}the dispatcher {3}(\d+(\.\d)? ms, \d+\.\d µs per event \(\d+\.\d µs per request\): \d+% of the main thread's CPU|too small to tell from the noise)/m);
  // The dispatcher's stats() line shows its event counts, not "[object Object]".
  expect(stdout).toMatch(/^dispatcher {9}.*events \{accepted 600, delivered 600\}; latency/m);
}, 20000);

test('with 20% of requests failing transiently, the retries still bring every event', async () => {
  const { code, stdout, stderr } = await runDemo(['--users', '200', '--fail-rate', '0.2']);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toMatch(/^OK: every event arrived$/m);
  expect(numberAfter(stdout, 'visitors received')).toBe(400);
  // Every failure the collector injected was retried (a drop would have failed the run above).
  const injected = Number(/(\d+) failures injected/.exec(stdout)[1]);
  expect(numberAfter(stdout, 'retries')).toBeGreaterThanOrEqual(injected);
}, 20000);

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
