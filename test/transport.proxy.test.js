'use strict';
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { dispatchEvent, versions } = require('..');
const { start, startProxy, closedPort, makeCertificates, headerValues } = require('./helpers/servers');

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..');

let target;
let proxy;
let certs;
let tlsTarget;
beforeAll(async () => {
  target = await start((req, res) => res.end(`direct:${req.headers['x-proxied'] || 'no'}`));
  proxy = await startProxy();
  certs = makeCertificates('events.test');
  tlsTarget = await start((req, res) => res.end('tls ok'), { tls: { key: certs.key, cert: certs.cert }, hostname: 'events.test' });
});
afterAll(async () => {
  await Promise.all([target.close(), proxy.close(), tlsTarget.close()]);
  certs.remove();
});

test('proxy option: an http: URL goes through the proxy', async () => {
  const before = proxy.seen.length;
  const res = await dispatchEvent('POST', target.url, { via: 'proxy' }, { proxy: proxy.url });
  expect(res.statusCode).toBe(200);
  expect(res.headers['x-proxied']).toBe('1');
  expect(proxy.seen.slice(before)).toEqual([{ method: 'POST', url: target.url }]);
  expect(target.requests[target.requests.length - 1].body.toString()).toBe('{"via":"proxy"}');
});

test('proxy option: an https: URL is tunnelled with CONNECT (TLS stays end to end)', async () => {
  const before = proxy.seen.length;
  // `resolve` pins events.test to 127.0.0.1, so the tunnel is asked for the literal address and
  // nobody looks the name up; the certificate is still checked against events.test.
  const res = await dispatchEvent('POST', tlsTarget.url, {}, { proxy: proxy.url, caFile: certs.caFile, resolve: [`events.test:${tlsTarget.port}:127.0.0.1`] });
  expect(res.statusCode).toBe(200);
  expect(res.body).toBe('tls ok');
  expect(proxy.seen.slice(before)).toEqual([{ method: 'CONNECT', url: `127.0.0.1:${tlsTarget.port}` }]);
});

test('the user agent reaches the proxy, once: on a proxied request and on the CONNECT of a tunnel', async () => {
  const { version } = require('../package.json');
  const agent = `native-event-dispatcher/${version} libcurl/${versions().libcurl}`;
  const sent = (record) => headerValues(record, 'user-agent');
  const before = proxy.agents.length;
  await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, userAgent: 'via-proxy/1' });
  expect(sent(target.requests[target.requests.length - 1])).toEqual(['via-proxy/1']);
  // A target of its own: a tunnel kept from another test would not be asked for again.
  const fresh = await start((req, res) => res.end('tls ok'), { tls: { key: certs.key, cert: certs.cert }, hostname: 'events.test' });
  try {
    await dispatchEvent('POST', fresh.url, {}, { proxy: proxy.url, caFile: certs.caFile, resolve: [`events.test:${fresh.port}:127.0.0.1`] });
    expect(sent(fresh.requests[0])).toEqual([agent]);
  } finally {
    await fresh.close();
  }
  expect(proxy.agents.slice(before)).toEqual(['via-proxy/1', agent]);
});

test('proxy: false ignores the environment; noProxy skips the proxy for listed hosts', async () => {
  const before = proxy.seen.length;
  const direct = await dispatchEvent('POST', target.url, {}, { proxy: false });
  expect(direct.body).toBe('direct:no');
  const skipped = await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, noProxy: '127.0.0.1' });
  expect(skipped.body).toBe('direct:no');
  expect(proxy.seen.length).toBe(before);
});

test('noProxy takes CIDR ranges and domains; a host it sends direct fails as itself, not as the proxy', async () => {
  const before = proxy.seen.length;
  for (const noProxy of ['10.0.0.0/8, 127.0.0.0/8', '.example.com,127.0.0.1', '*']) {
    const skipped = await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, noProxy });
    expect(skipped.headers['x-proxied']).toBeUndefined();
  }
  const viaProxy = await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, noProxy: '10.0.0.0/8,127.0.0.1.example.com' });
  expect(viaProxy.headers['x-proxied']).toBe('1');
  expect(proxy.seen.length).toBe(before + 1);
  const port = await closedPort();
  const down = `http://127.0.0.1:${await closedPort()}`;
  const err = await dispatchEvent('POST', `http://127.0.0.1:${port}/`, {}, { proxy: down, noProxy: '127.0.0.0/24' }).catch((e) => e);
  expect(err.code).toBe('ECONNREFUSED');
});

test('a proxy that is down → EPROXY', async () => {
  const port = await closedPort();
  const err = await dispatchEvent('POST', target.url, {}, { proxy: `http://127.0.0.1:${port}` }).catch((e) => e);
  expect(err.code).toBe('EPROXY');
  expect(err.curlCode).toBe(7);
});

test('a proxy that refuses the CONNECT tunnel → EPROXY', async () => {
  const refusing = await start((req, res) => res.end());
  refusing.server.on('connect', (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  try {
    const err = await dispatchEvent('POST', tlsTarget.url, {}, { proxy: refusing.origin, caFile: certs.caFile }).catch((e) => e);
    expect(err.code).toBe('EPROXY');
    expect(err.message).toMatch(/CONNECT|proxy|403/i);
  } finally {
    await refusing.close();
  }
});

// The environment is read the way libcurl reads it, in a fresh process.
async function inChild(env, url) {
  const script = `require(${JSON.stringify(ROOT)}).dispatchEvent('POST', ${JSON.stringify(url)}, { from: 'child' })
    .then((r) => console.log(r.headers['x-proxied'] ? 'proxied' : 'direct'), (e) => { console.log(e.code); process.exitCode = 1; });`;
  const clean = { ...process.env };
  for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) delete clean[name];
  const { stdout } = await run(process.execPath, ['-e', script], { env: { ...clean, ...env } });
  return stdout.trim();
}

test('http_proxy from the environment is used; no_proxy is honoured', async () => {
  const before = proxy.seen.length;
  expect(await inChild({ http_proxy: proxy.url }, target.url)).toBe('proxied');
  expect(proxy.seen.length).toBe(before + 1);
  expect(await inChild({ http_proxy: proxy.url, no_proxy: 'localhost,127.0.0.1' }, target.url)).toBe('direct');
  expect(await inChild({ ALL_PROXY: proxy.url }, target.url)).toBe('proxied');
  // Upper-case HTTP_PROXY is ignored for http: URLs, as libcurl does (CGI "httpoxy").
  expect(await inChild({ HTTP_PROXY: proxy.url }, target.url)).toBe('direct');
  expect(await inChild({ https_proxy: proxy.url }, target.url)).toBe('direct');
  expect(proxy.seen.length).toBe(before + 2);
});
