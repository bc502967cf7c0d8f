'use strict';
// No secret leaves in clear: credentials planted where users put them (URL userinfo, a credential
// query parameter, Authorization / x-api-key / Cookie headers, a proxy password, proxy variables)
// never appear in any output channel — logger lines, dispatcher events, errors (message, stack,
// cause), results, stats, process warnings, doctor, the trace — across the failure paths, on both
// transports. Every secret carries one marker, so a leak of any of them, or of part of one, shows.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { useCleanup } = require('./helpers/cleanup');
const { start, closedPort } = require('./helpers/servers');
const { tempDirs } = require('./helpers/dirs');
const { spawnNode, withoutProxyVariables } = require('./helpers/processes');

const { later } = useCleanup();
const tempDir = tempDirs(later);
const CLI_BIN = path.join(__dirname, '..', 'bin', 'native-event-dispatcher.js');
const CHILD = path.join(__dirname, 'fixtures', 'secrets-child.js');
const MARKER = 'S3cr3tMark';
const SECRETS = {
  password: `pw-${MARKER}-1`,
  token: `tok-${MARKER}-2`,
  apiKey: `key-${MARKER}-3`,
  cookie: `ck-${MARKER}-4`,
  proxyPassword: `ppw-${MARKER}-5`,
  bearer: `br-${MARKER}-6`,
};

async function servers() {
  const ok = await start((req, res) => res.end('ok'));
  const failing = await start((req, res) => {
    res.writeHead(503, { 'retry-after': '0' });
    res.end();
  });
  const rejecting = await start((req, res) => {
    res.writeHead(400);
    res.end('bad');
  });
  for (const s of [ok, failing, rejecting]) later(() => s.close());
  return {
    ok,
    failing,
    rejecting,
    down: `http://127.0.0.1:${await closedPort()}/v1/events`,
    deadProxy: `127.0.0.1:${await closedPort()}`,
  };
}

function run(code, env) {
  return spawnNode(code, { NODE_NO_WARNINGS: undefined, ...env }).exited;
}

function doctor(args, env) {
  return new Promise((resolve) => {
    const clean = withoutProxyVariables();
    execFile(
      process.execPath,
      [CLI_BIN, 'doctor', ...args],
      { env: { ...clean, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

describe.each(['native', 'fallback'])('on the %s transport', (transport) => {
  test('every output channel of the failure paths, the trace included, is free of the planted secrets', async () => {
    const s = await servers();
    const config = {
      ok: s.ok.url,
      failing: s.failing.url,
      rejecting: s.rejecting.url,
      down: s.down,
      deadProxy: s.deadProxy,
      spoolDir: path.join(tempDir(), 'spool'),
      secrets: SECRETS,
    };
    const r = await run(`require(${JSON.stringify(CHILD)})`, {
      SECRETS_CONFIG: JSON.stringify(config),
      NATIVE_EVENT_DISPATCHER_TRANSPORT: transport,
      NATIVE_EVENT_DISPATCHER_TRACE: '1',
    });
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const channels = new Set(lines.map((l) => l.channel));
    // The paths were taken: retries, a failure for good, a pause, spooling, a loss, close, bad input.
    for (const channel of [
      'dispatcher.retry',
      'dispatcher.failed',
      'dispatcher.spool',
      'dispatcher.pause',
      'viaProxy.drop',
      'log.warn',
      'close.result',
      'late.result',
      'proxied.error',
      'direct.error',
      'fetch.error',
      'bad0.error',
      'bad3.error',
      'bad6.error',
      'stats',
      'versions',
      'done',
    ]) {
      expect(channels).toContain(channel);
    }
    // The server got the credentials: they were sent, only never shown.
    const seen = s.ok.requests.concat(s.failing.requests, s.rejecting.requests);
    expect(
      seen.some(
        (q) =>
          q.headers.authorization === `Bearer ${SECRETS.bearer}` && q.url.includes(SECRETS.token),
      ),
    ).toBe(true);
    // Masked where they were.
    expect(r.stdout).toContain('user:***@');
    expect(r.stdout).toContain('api_key=***');
    // The trace ran (request lines and headers on stderr), and the loss warning came.
    expect(r.stderr).toMatch(/POST \S*\/v1\/events/);
    expect(r.stderr).toMatch(/NED_EVENT_LOST/);
    expect(r.stdout).not.toContain(MARKER);
    expect(r.stderr).not.toContain(MARKER);
  }, 60000);

  test('doctor with a password in the URL, in --proxy and in the proxy variables shows none of them', async () => {
    const s = await servers();
    const url = `${s.ok.url.replace('//', `//user:${SECRETS.password}@`)}?token=${SECRETS.token}`;
    const proxy = `http://pu:${SECRETS.proxyPassword}@${s.deadProxy}`;
    const env = {
      NATIVE_EVENT_DISPATCHER_TRANSPORT: transport,
      http_proxy: proxy,
      https_proxy: proxy,
    };
    const viaProxy = await doctor([url, '--proxy', proxy], env);
    expect(viaProxy.code).toBe(1); // the proxy is down
    expect(viaProxy.stdout).toMatch(/EPROXY/);
    const direct = await doctor([url], { ...env, no_proxy: '127.0.0.1' });
    expect(direct.code).toBe(0); // answered
    const usage = await doctor([url, `--proxy=${proxy}`], env); // not an option doctor knows
    expect(usage.code).toBe(2);
    for (const r of [viaProxy, direct]) {
      expect(r.stdout).toMatch(/user:\*\*\*@/);
      expect(r.stdout).toMatch(/http_proxy=http:\/\/pu:\*\*\*@/);
    }
    for (const r of [viaProxy, direct, usage]) expect(r.stdout + r.stderr).not.toContain(MARKER);
  }, 60000);
});
