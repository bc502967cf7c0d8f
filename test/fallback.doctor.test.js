'use strict';
// `npx native-event-dispatcher doctor` on the fallback transport: it says which transport runs and
// why, how to get the native one, and diagnoses a request as it does on the native transport.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { start, closedPort } = require('./helpers/servers');

const CLI = path.join(__dirname, '..', 'bin', 'native-event-dispatcher.js');

function doctor(args, env) {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    for (const n of ['http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'HTTP_PROXY',
      'NATIVE_EVENT_DISPATCHER_TRANSPORT', 'NATIVE_EVENT_DISPATCHER_ADDON']) delete clean[n];
    execFile(process.execPath, [CLI, 'doctor', ...args], { env: { ...clean, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('on the native transport, doctor says so', async () => {
  const r = await doctor([], {});
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/transport\s+native \(libcurl on the libuv threadpool\)/);
  expect(r.stdout).toMatch(/binary\s+\/.+\.node/);
});

test('when the binary cannot load: the fallback, the reason and the remedy, and no libcurl', async () => {
  const r = await doctor([], { NATIVE_EVENT_DISPATCHER_ADDON: '/nonexistent.node' });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/transport\s+fallback \(undici \d+\.\d+\.\d+\), because NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded/);
  expect(r.stdout).toContain('or unset it');
  expect(r.stdout).toContain('with NATIVE_EVENT_DISPATCHER_TRANSPORT=native, a native binary that cannot load is an error');
  expect(r.stdout).toMatch(/binary\s+none loaded/);
  expect(r.stdout).toMatch(/libcurl\s+not used by the fallback transport/);
  expect(r.stdout).toMatch(/TLS\s+OpenSSL\//);
  expect(r.stdout).toMatch(/CA bundle\s+Node's built-in CA store/);
  expect(r.stderr).toContain('NED_FALLBACK_TRANSPORT'); // the one warning
});

test('a request on the fallback: timings, the answer and the diagnosis, as on the native transport', async () => {
  const server = await start((req, res) => res.writeHead(204, { server: 'test-collector' }).end());
  try {
    const r = await doctor([server.url], { NATIVE_EVENT_DISPATCHER_TRANSPORT: 'fallback' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/transport\s+fallback \(undici [\d.]+\), because NATIVE_EVENT_DISPATCHER_TRANSPORT=fallback is set/);
    expect(r.stdout).toMatch(/timings\s+DNS .* ms, connect [\d.]+ ms, TLS –, first byte [\d.]+ ms, total [\d.]+ ms/);
    expect(r.stdout).toMatch(/answer\s+HTTP 204 from test-collector/);
    expect(r.stdout).toContain('reached, and accepted');
    expect(server.requests[0].body.toString()).toBe('{}');
  } finally {
    await server.close();
  }
});

test('a failure on the fallback: the same code, curl code and diagnosis, and no libcurl claimed', async () => {
  const port = await closedPort();
  const r = await doctor([`http://127.0.0.1:${port}/v1/events`], { NATIVE_EVENT_DISPATCHER_TRANSPORT: 'fallback' });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/error\s+ECONNREFUSED \(curl code 7\): POST http:\/\/127\.0\.0\.1:\d+\/v1\/events: Couldn't connect to server/);
  expect(r.stdout).not.toMatch(/\(libcurl \d+\)/);
  expect(r.stdout).toContain(`Nothing accepts connections at 127.0.0.1:${port}`);
});
