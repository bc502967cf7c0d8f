'use strict';
// Proxies on both transports: the `proxy` and `noProxy` options, the proxy variables of the
// environment (read in a fresh process, the way libcurl reads them), CONNECT tunnels, credentials,
// and every way a proxy can fail.
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const {
  start,
  startProxy,
  closedPort,
  makeCertificates,
  headerValues,
} = require('./helpers/servers');
const { TRANSPORTS, load, per } = require('./helpers/transports');
const { withoutProxyVariables } = require('./helpers/processes');

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
  tlsTarget = await start((req, res) => res.end('tls ok'), {
    tls: { key: certs.key, cert: certs.cert },
    hostname: 'events.test',
  });
});
afterAll(async () => {
  await Promise.all([target.close(), proxy.close(), tlsTarget.close()]);
  certs.remove();
});

describe.each(TRANSPORTS)('%s transport', (kind) => {
  const { dispatchEvent, versions } = load(kind);

  test('proxy option: an http: URL goes to the proxy as an absolute-form request', async () => {
    const before = proxy.seen.length;
    const res = await dispatchEvent('POST', target.url, { via: 'proxy' }, { proxy: proxy.url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-proxied']).toBe('1');
    expect(proxy.seen.slice(before)).toEqual([{ method: 'POST', url: target.url }]);
    expect(target.requests[target.requests.length - 1].body.toString()).toBe('{"via":"proxy"}');
  });

  test('proxy option: an https: URL is tunnelled with CONNECT to the resolve address (TLS stays end to end)', async () => {
    const before = proxy.seen.length;
    // `resolve` pins events.test to 127.0.0.1, so the tunnel is asked for the literal address and
    // nobody looks the name up; the certificate is still checked against events.test.
    const res = await dispatchEvent(
      'POST',
      tlsTarget.url,
      {},
      {
        proxy: proxy.url,
        caFile: certs.caFile,
        resolve: [`events.test:${tlsTarget.port}:127.0.0.1`],
      },
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('tls ok');
    expect(proxy.seen.slice(before)).toEqual([
      { method: 'CONNECT', url: `127.0.0.1:${tlsTarget.port}` },
    ]);
  });

  test('the user agent reaches the proxy, once: on a proxied request and on the CONNECT of a tunnel', async () => {
    const { version } = require('../package.json');
    const agent = per(kind, {
      native: `native-event-dispatcher/${version} libcurl/${versions().libcurl}`,
      fallback: `native-event-dispatcher/${version}`,
    });
    const sent = (record) => headerValues(record, 'user-agent');
    const before = proxy.agents.length;
    await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, userAgent: 'via-proxy/1' });
    expect(sent(target.requests[target.requests.length - 1])).toEqual(['via-proxy/1']);
    // A target of its own: a tunnel kept from another test would not be asked for again.
    const fresh = await start((req, res) => res.end('tls ok'), {
      tls: { key: certs.key, cert: certs.cert },
      hostname: 'events.test',
    });
    try {
      await dispatchEvent(
        'POST',
        fresh.url,
        {},
        {
          proxy: proxy.url,
          caFile: certs.caFile,
          resolve: [`events.test:${fresh.port}:127.0.0.1`],
        },
      );
      expect(sent(fresh.requests[0])).toEqual([agent]);
    } finally {
      await fresh.close();
    }
    // The fallback's CONNECT (undici's ProxyAgent) carries no User-Agent: a difference the README's
    // list does not name yet.
    expect(proxy.agents.slice(before)).toEqual([
      'via-proxy/1',
      per(kind, { native: agent, fallback: undefined }),
    ]);
  });

  test('proxy: false ignores the environment; noProxy skips the proxy for listed hosts', async () => {
    const before = proxy.seen.length;
    const direct = await dispatchEvent('POST', target.url, {}, { proxy: false });
    expect(direct.body).toBe('direct:no');
    const skipped = await dispatchEvent(
      'POST',
      target.url,
      {},
      { proxy: proxy.url, noProxy: '127.0.0.1' },
    );
    expect(skipped.body).toBe('direct:no');
    expect(proxy.seen.length).toBe(before);
  });

  test('noProxy (curl syntax: *, suffixes, CIDR, spaces) sends listed hosts direct', async () => {
    const before = proxy.seen.length;
    for (const noProxy of [
      '127.0.0.1',
      '*',
      'example.com, 127.0.0.0/8',
      ' .example.com,127.0.0.1 ',
    ]) {
      const res = await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, noProxy });
      expect([noProxy, res.headers['x-proxied']]).toEqual([noProxy, undefined]);
    }
    expect(proxy.seen.length).toBe(before);
    // A list that does not name the host leaves it proxied.
    const res = await dispatchEvent(
      'POST',
      target.url,
      {},
      { proxy: proxy.url, noProxy: 'example.com,10.0.0.0/8' },
    );
    expect(res.headers['x-proxied']).toBe('1');
    expect(proxy.seen.length).toBe(before + 1);
  });

  test('a proxy that is down → EPROXY 7, for http: and https:', async () => {
    const port = await closedPort();
    for (const url of [target.url, tlsTarget.url]) {
      const err = await dispatchEvent(
        'POST',
        url,
        {},
        { proxy: `http://127.0.0.1:${port}`, caFile: certs.caFile },
      ).catch((e) => e);
      expect([url, err.code, err.curlCode]).toEqual([url, 'EPROXY', 7]);
    }
  });

  test('a proxy name that does not resolve → EPROXY 5', async () => {
    const err = await dispatchEvent(
      'POST',
      target.url,
      {},
      { proxy: `http://${'y'.repeat(70)}.invalid:3128` },
    ).catch((e) => e);
    expect([err.code, err.curlCode]).toEqual(['EPROXY', 5]);
    expect(err.detail).toMatch(/^Couldn't resolve proxy name/);
  });

  test('a proxy that refuses the CONNECT tunnel → EPROXY 56, naming the status', async () => {
    const refusing = await start((req, res) => res.end());
    refusing.server.on('connect', (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    try {
      const err = await dispatchEvent(
        'POST',
        tlsTarget.url,
        {},
        { proxy: refusing.origin, caFile: certs.caFile },
      ).catch((e) => e);
      expect(err.code).toBe('EPROXY');
      expect(err.message).toMatch(/CONNECT|proxy|403/i);
      expect(err.curlCode).toBe(56);
      expect(err.detail).toContain('CONNECT tunnel failed, response 403');
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
      const res = await dispatchEvent('POST', target.url, {}, { proxy: u.href });
      expect(res.body).toBe('from proxy');
      expect(seen).toEqual([`Basic ${Buffer.from('me:s3cret').toString('base64')}`]);
    } finally {
      await authProxy.close();
    }
  });

  test('a proxy that wants credentials (407): the answer natively, EPROXY 97 on the fallback (undici ends the request there)', async () => {
    // libcurl hands a 407 to an absolute-form request back as the answer; undici's ProxyAgent turns
    // it into an error, so the fallback reports a proxy failure with the status in its message
    // (README, "The fallback transport").
    const demanding = await start((req, res) =>
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="p"' }).end(),
    );
    try {
      const outcome = await dispatchEvent(
        'POST',
        target.url,
        {},
        { proxy: demanding.origin },
      ).catch((e) => e);
      if (kind === 'native') {
        expect(outcome.statusCode).toBe(407);
      } else {
        expect([outcome.code, outcome.curlCode]).toEqual(['EPROXY', 97]);
        expect(outcome.detail).toContain('Proxy Authentication Required (407)');
      }
    } finally {
      await demanding.close();
    }
  });

  test('noProxy takes CIDR ranges and domains; a host it sends direct fails as itself, not as the proxy', async () => {
    const before = proxy.seen.length;
    for (const noProxy of ['10.0.0.0/8, 127.0.0.0/8', '.example.com,127.0.0.1', '*']) {
      const skipped = await dispatchEvent('POST', target.url, {}, { proxy: proxy.url, noProxy });
      expect(skipped.headers['x-proxied']).toBeUndefined();
    }
    const viaProxy = await dispatchEvent(
      'POST',
      target.url,
      {},
      { proxy: proxy.url, noProxy: '10.0.0.0/8,127.0.0.1.example.com' },
    );
    expect(viaProxy.headers['x-proxied']).toBe('1');
    expect(proxy.seen.length).toBe(before + 1);
    const port = await closedPort();
    const down = `http://127.0.0.1:${await closedPort()}`;
    const err = await dispatchEvent(
      'POST',
      `http://127.0.0.1:${port}/`,
      {},
      { proxy: down, noProxy: '127.0.0.0/24' },
    ).catch((e) => e);
    expect(err.code).toBe('ECONNREFUSED');
  });

  // The environment is read the way libcurl reads it, in a fresh process on this transport.
  async function inChild(env, url) {
    const script = `require(${JSON.stringify(ROOT)}).dispatchEvent('POST', ${JSON.stringify(url)}, { from: 'child' })
      .then((r) => console.log(r.headers['x-proxied'] ? 'proxied' : 'direct'), (e) => { console.log(e.code); process.exitCode = 1; });`;
    const clean = { ...withoutProxyVariables(), NATIVE_EVENT_DISPATCHER_TRANSPORT: kind };
    const { stdout } = await run(process.execPath, ['-e', script], { env: { ...clean, ...env } });
    return stdout.trim();
  }

  test('http_proxy from the environment is used for http: URLs (https_proxy is not); no_proxy is honoured', async () => {
    const before = proxy.seen.length;
    expect(await inChild({ http_proxy: proxy.url }, target.url)).toBe('proxied');
    expect(proxy.seen.length).toBe(before + 1);
    expect(
      await inChild({ http_proxy: proxy.url, no_proxy: 'localhost,127.0.0.1' }, target.url),
    ).toBe('direct');
    expect(await inChild({ ALL_PROXY: proxy.url }, target.url)).toBe('proxied');
    // Upper-case HTTP_PROXY is ignored for http: URLs, as libcurl does (CGI "httpoxy").
    expect(await inChild({ HTTP_PROXY: proxy.url }, target.url)).toBe('direct');
    expect(await inChild({ https_proxy: proxy.url }, target.url)).toBe('direct');
    expect(proxy.seen.length).toBe(before + 2);
  }, 60000); // five fresh processes
});
