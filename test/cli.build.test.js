'use strict';
// npx native-event-dispatcher build: what it says before node-gyp starts. (The build itself, in a
// project without node-gyp, is in npm run test:pack.)
const path = require('node:path');
const { execFile } = require('node:child_process');

const CLI = path.join(__dirname, '..', 'bin', 'native-event-dispatcher.js');

function cli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

test('no libcurl for pkg-config: exit 1, naming what is missing and the packages', async () => {
  const r = await cli(['build'], { PKG_CONFIG_LIBDIR: path.join(__dirname, 'no-such-dir') });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('build: missing libcurl');
  expect(r.stderr).toMatch(/libcurl4-openssl-dev|curl-dev|libcurl-devel/);
  expect(r.stdout).not.toContain('node-gyp');
});

test('libcurl headers older than the sources need: exit 1 with both versions', async () => {
  // A pkg-config directory whose libcurl claims 7.74.0 (Debian 11's).
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-pc-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'libcurl.pc'),
      'Name: libcurl\nDescription: old\nVersion: 7.74.0\nLibs: -lcurl\nCflags:\n',
    );
    const r = await cli(['build'], { PKG_CONFIG_LIBDIR: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("libcurl's headers are 7.74.0; the sources need 7.85.0 or newer");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('build --help: the packages to install, exit 0', async () => {
  const r = await cli(['build', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Usage: npx native-event-dispatcher build');
  expect(r.stdout).toContain('build/Release/native_event_dispatcher.node');
});

test('an unknown command: the usage, exit 2; none: exit 0', async () => {
  const unknown = await cli(['frob']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('doctor [url] [options]');
  expect(unknown.stderr).toContain('build [options]');
  expect((await cli([])).code).toBe(0);
});
