'use strict';
// lib/binding.js picks the transport: native where the binary loads, the fallback otherwise (with
// one warning naming the reason and the remedy), and NATIVE_EVENT_DISPATCHER_TRANSPORT forces
// either. Each case runs in a fresh process.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { spawnNode } = require('./helpers/processes');
const { useCleanup } = require('./helpers/cleanup');
const { start } = require('./helpers/servers');

const ROOT = path.join(__dirname, '..');
const cleanup = useCleanup();

// Loads the binding in a child and prints what it got, and every process warning, as JSON.
async function load(env, root = ROOT) {
  // Unless the test sets them: not the forced transport of a fallback run, nor the sanitizer
  // run's addon override.
  const clean = {
    NATIVE_EVENT_DISPATCHER_TRANSPORT: undefined,
    NATIVE_EVENT_DISPATCHER_ADDON: undefined,
  };
  const { exited } = spawnNode(
    `
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
  `,
    { ...clean, ...env },
  );
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
  expect(r.reason).toMatch(
    /^NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded \(Cannot find module/,
  );
  expect(r.reason).toContain('or unset it');
  expect(r.versionsReason).toBe(r.reason);
  expect(r.warnings).toEqual([
    {
      name: 'Warning',
      code: 'NED_FALLBACK_TRANSPORT',
      message: `native-event-dispatcher uses its fallback transport (undici): ${r.reason}.`,
    },
  ]);
  expect(r.stderr).toContain('NED_FALLBACK_TRANSPORT'); // printed once, as Node prints warnings
  expect(r.stderr.split('NED_FALLBACK_TRANSPORT').length).toBe(2);
});

test('NATIVE_EVENT_DISPATCHER_TRANSPORT=native with a binary that cannot load: a loud ERR_NATIVE_TRANSPORT', async () => {
  const r = await load({
    NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native',
    NATIVE_EVENT_DISPATCHER_ADDON: '/nonexistent.node',
  });
  expect(r.error).toMatchObject({ name: 'Error', code: 'ERR_NATIVE_TRANSPORT' });
  expect(r.error.message).toMatch(
    /^NATIVE_EVENT_DISPATCHER_TRANSPORT=native, but the native transport cannot load: NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded/,
  );
  expect(r.warnings).toEqual([]);
});

test('libcurl.so.4 missing or broken: the fallback, naming the library and how to install it', async () => {
  const r = await load({ LD_LIBRARY_PATH: brokenLibcurl() });
  expect(r.kind).toBe('fallback');
  expect(r.reason).toMatch(
    /^libcurl\.so\.4 is missing or cannot be loaded: `apt-get install libcurl4` \(Debian\/Ubuntu\)/,
  );
  expect(r.reason).toContain('for the native transport');
  expect(r.warnings.map((w) => w.code)).toEqual(['NED_FALLBACK_TRANSPORT']);

  const forced = await load({
    LD_LIBRARY_PATH: brokenLibcurl(),
    NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native',
  });
  expect(forced.error.code).toBe('ERR_NATIVE_TRANSPORT');
  expect(forced.error.message).toContain('apt-get install libcurl4');
  expect(forced.error.message).toContain('libcurl.so.4');
});

// The libcurl functions the binary in use calls, and the symbol version each asks for (Debian's
// CURL_OPENSSL_4 for a local build; none for a prebuild, which links against an unversioned stub).
function addonCurlFunctions() {
  const binary = require('node-gyp-build').resolve(ROOT);
  const symbols = execFileSync('nm', ['-D', '--undefined-only', binary], { encoding: 'utf8' });
  return [...symbols.matchAll(/\b(curl_\w+)(?:@+(\w+))?/g)].map((m) => ({
    name: m[1],
    version: m[2],
  }));
}

// A libcurl.so.4 that loads but lacks functions the addon calls (another library of that name, or
// a libcurl older than the addon needs), built here: it exports `names` only, each doing nothing,
// under the symbol versions the addon asks for. (Without them glibc does not report a versioned
// symbol it finds in an unversioned library: it aborts the process, "Inconsistency detected by ld.so".)
function libcurlWith(names) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-fakecurl-'));
  cleanup.later(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'fake.c'), names.map((f) => `void ${f}(void) {}\n`).join(''));
  const args = [
    '-shared',
    '-fPIC',
    '-Wl,-soname,libcurl.so.4',
    '-o',
    path.join(dir, 'libcurl.so.4'),
    path.join(dir, 'fake.c'),
  ];
  const versions = [
    ...new Set(
      addonCurlFunctions()
        .map((f) => f.version)
        .filter(Boolean),
    ),
  ];
  if (versions.length > 0) {
    const script = versions
      .map((v, i) => `${v} { ${i === 0 ? `global: ${names.join('; ')}; local: *; ` : ''}};`)
      .join('\n');
    fs.writeFileSync(path.join(dir, 'fake.map'), script);
    args.push(`-Wl,--version-script,${path.join(dir, 'fake.map')}`);
  }
  execFileSync('gcc', args);
  return dir;
}

// The environment of a child that finds `dir`'s libcurl.so.4 first, with the transport chosen as
// the package chooses it (not forced by a fallback run, nor the sanitizer run's addon).
const findingFirst = (dir, more = {}) => ({
  LD_LIBRARY_PATH: dir,
  NATIVE_EVENT_DISPATCHER_TRANSPORT: undefined,
  NATIVE_EVENT_DISPATCHER_ADDON: undefined,
  ...more,
});

describe.each([
  ['only curl_version_info', () => ['curl_version_info'], /curl_\w+/],
  // libcurl before 7.62 had no URL API; everything else the addon calls is there.
  [
    'everything but the URL API (as before 7.62)',
    () =>
      addonCurlFunctions()
        .map((f) => f.name)
        .filter((f) => !f.startsWith('curl_url')),
    /curl_url\w*/,
  ],
])('a libcurl.so.4 with %s, found first', (what, functions, missing) => {
  test('require() works: the fallback, with a warning naming the missing function, delivers', async () => {
    const server = await start((req, res) => res.writeHead(204).end());
    cleanup.later(() => server.close());
    const { exited } = spawnNode(
      `
      const warnings = [];
      process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
      const ned = require(${JSON.stringify(ROOT)});
      ned.dispatchEvent('POST', ${JSON.stringify(server.url)}, { from: 'child' }).then((res) => {
        const v = ned.versions();
        console.log(JSON.stringify({ status: res.statusCode, transport: v.transport, reason: v.reason, warnings }));
      });
    `,
      findingFirst(libcurlWith(functions())),
    );
    const { code, signal, stdout, stderr } = await exited;
    expect({ code, signal, stderr: code === 0 ? '' : stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ status: 204, transport: 'fallback' });
    const symbol = missing.exec(r.reason)[0];
    expect(functions()).not.toContain(symbol);
    expect(r.reason).toContain(`lacks ${symbol}: it is not a usable libcurl ≥ 7.68`);
    expect(r.reason).toContain('unset LD_LIBRARY_PATH');
    expect(r.reason).toContain('apt-get install libcurl4');
    expect(r.warnings).toEqual([
      {
        code: 'NED_FALLBACK_TRANSPORT',
        message: `native-event-dispatcher uses its fallback transport (undici): ${r.reason}.`,
      },
    ]);
    expect(server.requests.map((q) => JSON.parse(q.body))).toEqual([{ from: 'child' }]);
  });

  test('doctor runs, exits 0 and prints the reason', async () => {
    const cli = path.join(ROOT, 'bin', 'native-event-dispatcher.js');
    const { exited } = spawnNode(
      `process.argv.splice(1, Infinity, ${JSON.stringify(cli)}, 'doctor'); require(${JSON.stringify(cli)});`,
      findingFirst(libcurlWith(functions())),
    );
    const { code, signal, stdout } = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const line = stdout.split('\n').find((l) => /^ {2}transport /.test(l));
    expect(line).toMatch(/fallback \(undici [\d.]+\), because the libcurl\.so\.4 found/);
    expect(line).toMatch(
      new RegExp(`lacks ${missing.source}: it is not a usable libcurl ≥ 7\\.68`),
    );
  });

  test('NATIVE_EVENT_DISPATCHER_TRANSPORT=native: the ERR_NATIVE_TRANSPORT error, and a normal exit', async () => {
    const r = await load(
      findingFirst(libcurlWith(functions()), { NATIVE_EVENT_DISPATCHER_TRANSPORT: 'native' }),
    );
    expect(r.error).toMatchObject({ name: 'Error', code: 'ERR_NATIVE_TRANSPORT' });
    expect(r.error.message).toMatch(
      new RegExp(
        `^NATIVE_EVENT_DISPATCHER_TRANSPORT=native, but the native transport cannot load: the libcurl\\.so\\.4 found .*lacks ${missing.source}: `,
      ),
    );
    expect(r.warnings).toEqual([]);
  });
});

// A copy of the package as npm installs it from git (or a tarball packed without prebuilds): no
// build/, no prebuilds/ — unless `prebuilds` names the platforms to give it (each an empty binary
// that node-gyp-build never picks for this one).
function packageCopy(prebuilds = null) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-noprebuild-'));
  cleanup.later(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const part of ['lib', 'bin', 'src', 'types'])
    fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  fs.mkdirSync(path.join(dir, 'native'));
  fs.copyFileSync(
    path.join(ROOT, 'native', 'binding.gyp'),
    path.join(dir, 'native', 'binding.gyp'),
  );
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  for (const platform of prebuilds || []) {
    fs.mkdirSync(path.join(dir, 'prebuilds', platform), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'prebuilds', platform, 'native-event-dispatcher.glibc.node'),
      '',
    );
  }
  return dir;
}

const BUILD_NEEDS =
  '(needs a C++ compiler, make, python3 and the libcurl headers: ' +
  '`apt-get install build-essential python3 libcurl4-openssl-dev`, or `apk add build-base python3 curl-dev` on Alpine)';

test('installed from git (no prebuilds, nothing built): the fallback, saying so and how to get the native transport', async () => {
  const r = await load({}, packageCopy());
  expect(r.kind).toBe('fallback');
  expect(r.reason).toBe(
    'this copy of native-event-dispatcher has no prebuilt binaries (installed from git or from ' +
      'source, which carry none, and not built here yet): run `npx native-event-dispatcher build` in the project for ' +
      `the native transport ${BUILD_NEEDS}`,
  );
  expect(r.warnings).toEqual([
    {
      name: 'Warning',
      code: 'NED_FALLBACK_TRANSPORT',
      message: `native-event-dispatcher uses its fallback transport (undici): ${r.reason}.`,
    },
  ]);
});

test('a tarball without a prebuild for this platform: the fallback, naming the ones it carries', async () => {
  const other = process.arch === 'arm64' ? 'linux-x64' : 'linux-arm64';
  const r = await load({}, packageCopy([other]));
  expect(r.kind).toBe('fallback');
  expect(r.reason).toBe(
    `no prebuilt native binary for linux-${process.arch} (glibc) in this copy, which carries ` +
      `${other} (glibc) only: build one with \`npx native-event-dispatcher build\` ${BUILD_NEEDS}`,
  );
  expect(r.warnings.length).toBe(1);
});

test('an unknown NATIVE_EVENT_DISPATCHER_TRANSPORT value is an error, not a guess', async () => {
  const r = await load({ NATIVE_EVENT_DISPATCHER_TRANSPORT: 'curl' });
  expect(r.error).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  expect(r.error.message).toBe(
    `Expected 'native', 'fallback' or unset for NATIVE_EVENT_DISPATCHER_TRANSPORT but received "curl"`,
  );
});
