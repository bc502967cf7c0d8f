'use strict';
// lib/binding.js picks the transport: native where the binary loads, the fallback otherwise (with
// one warning naming the reason and the remedy), and NATIVE_EVENT_DISPATCHER_TRANSPORT forces
// either. Each case runs in a fresh process.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnNode } = require('./helpers/processes');
const { useCleanup } = require('./helpers/cleanup');

const ROOT = path.join(__dirname, '..');
const cleanup = useCleanup();

// Loads the binding in a child and prints what it got, and every process warning, as JSON.
async function load(env, root = ROOT) {
  // Unless the test sets them: not the forced transport of a fallback run, nor the sanitizer
  // run's addon override.
  const clean = { NATIVE_EVENT_DISPATCHER_TRANSPORT: undefined, NATIVE_EVENT_DISPATCHER_ADDON: undefined };
  const { exited } = spawnNode(`
    const warnings = [];
    process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
    let result;
    try {
      const b = require(${JSON.stringify(path.join(root, 'lib', 'binding.js'))});
      result = { kind: b.kind, reason: b.reason, binaryPath: b.binaryPath, transport: b.versions().transport,
        versionsReason: b.versions().reason };
    } catch (e) {
      result = { error: { name: e.name, code: e.code, message: e.message } };
    }
    setImmediate(() => console.log(JSON.stringify({ ...result, warnings })));
  `, { ...clean, ...env });
  const { stdout, stderr, code } = await exited;
  expect(code).toBe(0);
  return { ...JSON.parse(stdout), stderr };
}

// A libcurl.so.4 that is not a library, found first through LD_LIBRARY_PATH.
function brokenLibcurl() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-nolib-'));
  fs.writeFileSync(path.join(dir, 'libcurl.so.4'), 'not a library');
  cleanup.later(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('unset, with a loadable binary: the native transport, without a word', async () => {
  const r = await load({});
  expect(r.kind).toBe('native');
  expect(r.reason).toBeUndefined();
  expect(r.binaryPath).toMatch(/\.node$/);
  expect(r.warnings).toEqual([]);
});

test('NATIVE_EVENT_DISPATCHER_TRANSPORT=fallback: the fallback, by request, without a warning', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_TRANSPORT: 'fallback' });
  expect(r).toMatchObject({ kind: 'fallback', transport: 'fallback', binaryPath: null });
  expect(r.reason).toBe('NATIVE_EVENT_DISPATCHER_TRANSPORT=fallback is set');
  expect(r.versionsReason).toBe(r.reason);
  expect(r.warnings).toEqual([]);
});

test('NATIVE_EVENT_DISPATCHER_TRANSPORT=native: the native transport when it loads', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native' });
  expect(r.kind).toBe('native');
});

test('a binary that cannot load: the fallback, and one warning with the reason and the remedy', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_ADDON: '/nonexistent.node' });
  expect(r.kind).toBe('fallback');
  expect(r.reason).toMatch(/^NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded \(Cannot find module/);
  expect(r.reason).toContain('or unset it');
  expect(r.versionsReason).toBe(r.reason);
  expect(r.warnings).toEqual([{
    name: 'Warning',
    code: 'NED_FALLBACK_TRANSPORT',
    message: `native-event-dispatcher uses its fallback transport (undici): ${r.reason}.`,
  }]);
  expect(r.stderr).toContain('NED_FALLBACK_TRANSPORT'); // printed once, as Node prints warnings
  expect(r.stderr.split('NED_FALLBACK_TRANSPORT').length).toBe(2);
});

test('NATIVE_EVENT_DISPATCHER_TRANSPORT=native with a binary that cannot load: a loud ERR_NATIVE_TRANSPORT', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native', NATIVE_EVENT_DISPATCHER_ADDON: '/nonexistent.node' });
  expect(r.error).toMatchObject({ name: 'Error', code: 'ERR_NATIVE_TRANSPORT' });
  expect(r.error.message).toMatch(/^NATIVE_EVENT_DISPATCHER_TRANSPORT=native, but the native transport cannot load: NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded/);
  expect(r.warnings).toEqual([]);
});

test('libcurl.so.4 missing or broken: the fallback, naming the library and how to install it', async () => {
  const r = await load({ LD_LIBRARY_PATH: brokenLibcurl() });
  expect(r.kind).toBe('fallback');
  expect(r.reason).toMatch(/^libcurl\.so\.4 is missing or cannot be loaded: `apt-get install libcurl4` \(Debian\/Ubuntu\)/);
  expect(r.reason).toContain('for the native transport');
  expect(r.warnings.map((w) => w.code)).toEqual(['NED_FALLBACK_TRANSPORT']);

  const forced = await load({ LD_LIBRARY_PATH: brokenLibcurl(), NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native' });
  expect(forced.error.code).toBe('ERR_NATIVE_TRANSPORT');
  expect(forced.error.message).toContain('apt-get install libcurl4');
  expect(forced.error.message).toContain('libcurl.so.4');
});

test('no binary for this platform: the fallback, with how to build one', async () => {
  // A copy of the package without build/ or prebuilds/, as installed where no prebuild matches.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-noprebuild-'));
  cleanup.later(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(ROOT, 'lib'), path.join(dir, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const r = await load({}, dir);
  expect(r.kind).toBe('fallback');
  expect(r.reason).toBe(`no prebuilt native binary for linux-${process.arch} (glibc): build one with `
    + '`npx native-event-dispatcher build` (needs a C++ compiler, make, python3 and the libcurl headers: '
    + '`apt-get install build-essential python3 libcurl4-openssl-dev`, or `apk add build-base python3 curl-dev` on Alpine)');
  expect(r.warnings.length).toBe(1);
});

test('an unknown NATIVE_EVENT_DISPATCHER_TRANSPORT value is an error, not a guess', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_TRANSPORT: 'curl' });
  expect(r.error).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  expect(r.error.message).toBe(`Expected 'native', 'fallback' or unset for NATIVE_EVENT_DISPATCHER_TRANSPORT but received "curl"`);
});
