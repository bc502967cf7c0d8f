'use strict';
// npx native-event-dispatcher doctor, run as a command against local servers: what it reports and
// diagnoses on each transport (NATIVE_EVENT_DISPATCHER_TRANSPORT set for the command), and its
// arguments, which are checked before any transport loads.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { start, startRaw, closedPort, makeCertificates, startProxy } = require('./helpers/servers');
const { TRANSPORTS, load } = require('./helpers/transports');
const { withoutProxyVariables } = require('./helpers/processes');

const CLI = path.join(__dirname, '..', 'bin', 'native-event-dispatcher.js');

// doctorOn(args, env): the command's exit code, stdout and stderr, without the caller's proxy and
// transport variables.
function doctorOn(args, env = {}) {
  return new Promise((resolve) => {
    const clean = withoutProxyVariables([
      'NATIVE_EVENT_DISPATCHER_TRANSPORT',
      'NATIVE_EVENT_DISPATCHER_ADDON',
    ]);
    execFile(
      process.execPath,
      [CLI, 'doctor', ...args],
      { env: { ...clean, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

describe.each(TRANSPORTS)('%s transport', (kind) => {
  const doctor = (args, env = {}) =>
    doctorOn(args, { NATIVE_EVENT_DISPATCHER_TRANSPORT: kind, ...env });

  test('without a URL: the transport, versions, the binary, the CA bundle and the proxy environment', async () => {
    const r = await doctor([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/addon\s+\d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/TLS\s+OpenSSL/);
    expect(r.stdout).toMatch(/CA bundle\s+\S+/);
    expect(r.stdout).toContain('none of http_proxy, https_proxy, all_proxy, no_proxy is set');
    if (kind === 'native') {
      const { versions } = load('native');
      expect(r.stdout).toMatch(/transport\s+native \(libcurl on the libuv threadpool\)/);
      expect(r.stdout).toMatch(
        new RegExp(`libcurl\\s+${versions().libcurl.replace(/\./g, '\\.')}`),
      );
      expect(r.stdout).toMatch(/binary\s+\/.+\.node/);
    } else {
      expect(r.stdout).toMatch(
        /transport\s+fallback \(undici [\d.]+\), because NATIVE_EVENT_DISPATCHER_TRANSPORT=fallback is set/,
      );
      expect(r.stdout).toMatch(/binary\s+none loaded/);
      expect(r.stdout).toMatch(/libcurl\s+not used by the fallback transport/);
      expect(r.stdout).toMatch(/CA bundle\s+Node's built-in CA store/);
    }
  });

  test('a reachable endpoint: timings, the answer, exit 0', async () => {
    const server = await start((req, res) =>
      res.writeHead(204, { server: 'test-collector' }).end(),
    );
    try {
      const r = await doctor([server.url]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /timings\s+DNS .* ms, connect [\d.]+ ms, TLS .*, first byte [\d.]+ ms, total [\d.]+ ms/,
      );
      expect(r.stdout).toMatch(/answer\s+HTTP 204 from test-collector/);
      expect(r.stdout).toContain('reached, and accepted');
      if (kind === 'fallback') expect(r.stdout).toMatch(/TLS –, first byte/);
      expect(r.stdout).toMatch(/route\s+direct \(no proxy variable for this scheme\)/);
      expect(server.requests[0].method).toBe('POST');
      expect(server.requests[0].body.toString()).toBe('{}');
    } finally {
      await server.close();
    }
  });

  test('a 400 is explained as an expected refusal of the test payload', async () => {
    const server = await start((req, res) => res.writeHead(400).end());
    try {
      const r = await doctor([server.url, '--method', 'GET']);
      expect(r.code).toBe(0);
      expect(server.requests[0].method).toBe('GET');
      expect(r.stdout).toContain('refused the test payload');
    } finally {
      await server.close();
    }
  });

  test('nothing listening: exit 1 and a diagnosis in plain words', async () => {
    const port = await closedPort();
    const r = await doctor([`http://127.0.0.1:${port}/v1/events`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error\s+ECONNREFUSED \(curl code 7\): POST /);
    expect(r.stdout).toContain(`Nothing accepts connections at 127.0.0.1:${port}`);
    expect(r.stdout).toMatch(
      /error\s+ECONNREFUSED \(curl code 7\): POST http:\/\/127\.0\.0\.1:\d+\/v1\/events: Couldn't connect to server/,
    );
    if (kind === 'fallback') expect(r.stdout).not.toMatch(/\(libcurl \d+\)/); // no libcurl claimed
  });

  test('an untrusted certificate is diagnosed; --ca-file and --resolve make it work', async () => {
    const certs = makeCertificates('events.test');
    const server = await start((req, res) => res.end('ok'), {
      tls: { key: certs.key, cert: certs.cert },
      hostname: 'events.test',
    });
    try {
      const pin = ['--resolve', `events.test:${server.port}:127.0.0.1`];
      const bad = await doctor([server.url, ...pin]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('ECERT');
      expect(bad.stdout).toContain("The server's certificate was not accepted");
      const good = await doctor([server.url, ...pin, '--ca-file', certs.caFile]);
      expect(good.code).toBe(0);
      expect(good.stdout).toMatch(/TLS [\d.]+ ms/);
      expect(good.stdout).toContain(`${certs.caFile} (--ca-file)`);
    } finally {
      await server.close();
      certs.remove();
    }
  });

  test('proxies: shown from the environment and taken; no_proxy is honoured; a dead proxy is diagnosed', async () => {
    const server = await start((req, res) => res.end('ok'));
    const proxy = await startProxy();
    try {
      const via = await doctor([server.url], { http_proxy: proxy.url });
      expect(via.code).toBe(0);
      expect(via.stdout).toContain(`http_proxy=${proxy.url}`);
      expect(via.stdout).toContain(`through ${proxy.url} (environment)`);
      expect(proxy.seen).toHaveLength(1);
      const skipped = await doctor([server.url], { http_proxy: proxy.url, no_proxy: '127.0.0.1' });
      expect(skipped.stdout).toContain('direct (no_proxy matches 127.0.0.1)');
      const port = await closedPort();
      const dead = await doctor([server.url, '--proxy', `http://127.0.0.1:${port}`]);
      expect(dead.code).toBe(1);
      expect(dead.stdout).toContain('EPROXY');
      expect(dead.stdout).toContain('The proxy http://127.0.0.1:');
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  test('an answer that is not HTTP, and HTTP that cannot be read, are told apart', async () => {
    const ssh = await startRaw((socket) => socket.end('SSH-2.0-OpenSSH_9.2p1\r\n'));
    const huge = await startRaw((socket) =>
      socket.end(`HTTP/1.1 200 ${'x'.repeat(200 * 1024)}\r\nContent-Length: 0\r\n\r\n`),
    );
    try {
      const notHttp = await doctor([ssh.url]);
      expect(notHttp.code).toBe(1);
      expect(notHttp.stdout).toMatch(/error\s+EPROTO \(curl code 1\)/);
      expect(notHttp.stdout).toMatch(
        /diagnosis\s+What came back from 127\.0\.0\.1:\d+ is not HTTP/,
      );
      const unreadable = await doctor([huge.url]);
      expect(unreadable.code).toBe(1);
      expect(unreadable.stdout).toMatch(/error\s+EPROTO \(curl code 8\)/);
      expect(unreadable.stdout).toMatch(
        /diagnosis\s+127\.0\.0\.1:\d+ answered with HTTP that cannot be read safely: Weird server reply \(the response's status line and headers are over 102400 bytes\)\. /,
      );
    } finally {
      await ssh.close();
      await huge.close();
    }
  });
});

test('when the binary cannot load: the fallback, the reason and the remedy, and no libcurl', async () => {
  const r = await doctorOn([], { NATIVE_EVENT_DISPATCHER_ADDON: '/nonexistent.node' });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /transport\s+fallback \(undici \d+\.\d+\.\d+\), because NATIVE_EVENT_DISPATCHER_ADDON=\/nonexistent\.node cannot be loaded/,
  );
  expect(r.stdout).toContain('or unset it');
  expect(r.stdout).toContain(
    'with NATIVE_EVENT_DISPATCHER_TRANSPORT=native, a native binary that cannot load is an error',
  );
  expect(r.stdout).toMatch(/binary\s+none loaded/);
  expect(r.stdout).toMatch(/libcurl\s+not used by the fallback transport/);
  expect(r.stdout).toMatch(/TLS\s+OpenSSL\//);
  expect(r.stdout).toMatch(/CA bundle\s+Node's built-in CA store/);
  expect(r.stderr).toContain('NED_FALLBACK_TRANSPORT'); // the one warning
});

test('with no transport named, doctor runs on the native one where it loads', async () => {
  const r = await doctorOn([]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/transport\s+native \(libcurl on the libuv threadpool\)/);
  expect(r.stdout).toMatch(/binary\s+\/.+\.node/);
});

test("--version prints the package version and exits 0 (doctor's, and the command's own)", async () => {
  const version = `${require('../package.json').version}\n`;
  expect(await doctorOn(['--version'])).toEqual({ code: 0, stdout: version, stderr: '' });
  const cli = await new Promise((resolve) => {
    execFile(process.execPath, [CLI, '--version'], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
  expect(cli).toEqual({ code: 0, stdout: version, stderr: '' });
});

test.each([
  ['--proxi', 'unknown argument "--proxi": did you mean --proxy?'],
  ['--no-proxi', 'unknown argument "--no-proxi": did you mean --no-proxy?'],
  ['--timeuot', 'unknown argument "--timeuot": did you mean --timeout?'],
  ['--resolv=x', 'unknown argument "--resolv=x": did you mean --resolve?'],
  ['--verbose', 'unknown argument "--verbose" (doctor --help lists the options)'],
])('an unknown flag %s: exit 2, the flag it was probably meant to be', async (flag, message) => {
  const r = await doctorOn([flag, 'http://127.0.0.1:9/']);
  expect(r).toEqual({ code: 2, stdout: '', stderr: `doctor: ${message}\n` });
});

test.each([
  [
    ['logx.optimizely.com/v1/events'],
    'Expected an absolute http: or https: URL for the URL but received ' +
      '"logx.optimizely.com/v1/events": the scheme is missing; did you mean "https://logx.optimizely.com/v1/events"?',
  ],
  [
    ['localhost:8080/x'],
    'Expected an absolute http: or https: URL for the URL but received "localhost:8080/x": ' +
      'the scheme is missing; did you mean "https://localhost:8080/x"?',
  ],
  [
    ['ftp://127.0.0.1/x'],
    'Expected an http: or https: URL for the URL but received "ftp://127.0.0.1/x"',
  ],
  [
    ['http://127.0.0.1:9/', '--proxy', '127.0.0.1:3128'],
    'Expected a proxy URL such as http://host:3128 for --proxy ' +
      'but received "127.0.0.1:3128": the scheme is missing; did you mean "http://127.0.0.1:3128"?',
  ],
  [
    ['http://127.0.0.1:9/', '--resolve', 'events.test'],
    "Expected 'host:port:address' with a literal IPv4 or [IPv6] " +
      'address for --resolve but received "events.test"',
  ],
])('a bad URL or option %j is the only thing printed: exit 2', async (args, message) => {
  const r = await doctorOn(args);
  expect(r).toEqual({ code: 2, stdout: '', stderr: `doctor: ${message}\n` });
});

test('bad arguments: exit 2 with a message', async () => {
  const r = await doctorOn(['--timeout', 'soon']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--timeout needs a positive integer');
  const help = await doctorOn(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: npx native-event-dispatcher doctor');
});
