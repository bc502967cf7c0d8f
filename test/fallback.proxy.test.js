'use strict';
// Proxies on the fallback: given explicitly in the profile (the JS layer reads the environment).
const { start, startProxy, closedPort, makeCertificates } = require('./helpers/servers');
const { backend, profile, send, RESPONSE } = require('./helpers/fallback');

let target;
let proxy;
let certs;
let tlsTarget;
beforeAll(async () => {
  target = await start((req, res) => res.end('target'));
  proxy = await startProxy();
  certs = makeCertificates('events.test');
  tlsTarget = await start((req, res) => res.end('tls ok'), { tls: { key: certs.key, cert: certs.cert }, hostname: 'events.test' });
});
afterAll(async () => {
  await Promise.all([target.close(), proxy.close(), tlsTarget.close()]);
  certs.remove();
  backend.halt();
});

test('an http: URL goes to the proxy as an absolute-form request', async () => {
  const before = proxy.seen.length;
  const done = await send('POST', target.url, '{"via":"proxy"}', { profile: profile({ httpProxy: proxy.url }), flags: RESPONSE });
  expect(done.statusCode).toBe(200);
  expect(done.detail.headers).toContain('x-proxied: 1\r\n');
  expect(proxy.seen.slice(before)).toEqual([{ method: 'POST', url: target.url }]);
  expect(target.requests[target.requests.length - 1].body.toString()).toBe('{"via":"proxy"}');
});

test('an https: URL is tunnelled with CONNECT, to the connect-to address, with TLS end to end', async () => {
  const before = proxy.seen.length;
  const p = profile({
    httpsProxy: proxy.url,
    caFile: certs.caFile,
    connectTo: [`events.test:${tlsTarget.port}:127.0.0.1:${tlsTarget.port}`],
  });
  const done = await send('POST', tlsTarget.url, '{}', { profile: p, flags: RESPONSE });
  expect(done.statusCode).toBe(200);
  expect(done.detail.body).toBe('tls ok');
  expect(proxy.seen.slice(before)).toEqual([{ method: 'CONNECT', url: `127.0.0.1:${tlsTarget.port}` }]);
});

test('httpProxy is for http: URLs and httpsProxy for https: ones', async () => {
  const before = proxy.seen.length;
  const onlyHttps = profile({ httpsProxy: proxy.url });
  const done = await send('POST', target.url, '{}', { profile: onlyHttps, flags: RESPONSE });
  expect(done.detail.body).toBe('target');
  expect(done.detail.headers).not.toContain('x-proxied');
  expect(proxy.seen.length).toBe(before);
});

test('noProxy (curl syntax) sends listed hosts direct', async () => {
  const before = proxy.seen.length;
  for (const noProxy of ['127.0.0.1', '*', 'example.com, 127.0.0.0/8', ' .example.com,127.0.0.1 ']) {
    const done = await send('POST', target.url, '{}', { profile: profile({ httpProxy: proxy.url, noProxy }), flags: RESPONSE });
    expect(done.detail.headers).not.toContain('x-proxied');
  }
  expect(proxy.seen.length).toBe(before);
  // A list that does not name the host leaves it proxied.
  const done = await send('POST', target.url, '{}', { profile: profile({ httpProxy: proxy.url, noProxy: 'example.com,10.0.0.0/8' }), flags: RESPONSE });
  expect(done.detail.headers).toContain('x-proxied: 1\r\n');
  expect(proxy.seen.length).toBe(before + 1);
});

test('a proxy that is down → EPROXY 7, for http: and https:', async () => {
  const port = await closedPort();
  const down = profile({ httpProxy: `http://127.0.0.1:${port}`, httpsProxy: `http://127.0.0.1:${port}` });
  for (const url of [target.url, tlsTarget.url]) {
    const done = await send('POST', url, '{}', { profile: down });
    expect(done.detail).toMatchObject({ code: 'EPROXY', curlCode: 7 });
  }
});

test('a proxy name that does not resolve → EPROXY 5', async () => {
  const unknown = profile({ httpProxy: `http://${'y'.repeat(70)}.invalid:3128` });
  const done = await send('POST', target.url, '{}', { profile: unknown });
  expect(done.detail).toMatchObject({ code: 'EPROXY', curlCode: 5 });
  expect(done.detail.message).toMatch(/^Couldn't resolve proxy name/);
});

test('a proxy that refuses the CONNECT tunnel → EPROXY 56, naming the status', async () => {
  const refusing = await start((req, res) => res.end());
  refusing.server.on('connect', (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  try {
    const done = await send('POST', tlsTarget.url, '{}', { profile: profile({ httpsProxy: refusing.origin, caFile: certs.caFile }) });
    expect(done.detail).toMatchObject({ code: 'EPROXY', curlCode: 56 });
    expect(done.detail.message).toContain('CONNECT tunnel failed, response 403');
  } finally {
    await refusing.close();
  }
});

test('proxy credentials in the URL go to the proxy as Basic authentication', async () => {
  const seen = [];
  const authProxy = await start((req, res) => {
    seen.push(req.headers['proxy-authorization']);
    res.end('from proxy');
  });
  try {
    const u = new URL(authProxy.origin);
    u.username = 'me';
    u.password = 's3cret';
    const done = await send('POST', target.url, '{}', { profile: profile({ httpProxy: u.href }), flags: RESPONSE });
    expect(done.detail.body).toBe('from proxy');
    expect(seen).toEqual([`Basic ${Buffer.from('me:s3cret').toString('base64')}`]);
  } finally {
    await authProxy.close();
  }
});

test('a proxy that wants credentials (407) → EPROXY 97; undici ends the request there', async () => {
  // libcurl hands a 407 to an absolute-form request back as the answer; undici's ProxyAgent turns
  // it into an error, so the fallback reports a proxy failure with the status in its message.
  const demanding = await start((req, res) => res.writeHead(407, { 'proxy-authenticate': 'Basic realm="p"' }).end());
  try {
    const done = await send('POST', target.url, '{}', { profile: profile({ httpProxy: demanding.origin }) });
    expect(done.detail).toMatchObject({ code: 'EPROXY', curlCode: 97 });
    expect(done.detail.message).toContain('Proxy Authentication Required (407)');
  } finally {
    await demanding.close();
  }
});
