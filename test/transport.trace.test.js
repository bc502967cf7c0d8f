'use strict';
// NATIVE_EVENT_DISPATCHER_TRACE=1 prints every request's head on stderr, and never a secret: the
// values of credential headers (the caller's, and those sent from a URL's or a proxy URL's
// user:password), query values and user names are masked, on both transports. A child process per
// transport sends through a local proxy; the servers see the real values.
const { spawnNode } = require('./helpers/processes');
const { start, startProxy } = require('./helpers/servers');
const { useCleanup } = require('./helpers/cleanup');

const ROOT = require('node:path').join(__dirname, '..');
const cleanup = useCleanup();

// Every secret planted below, and the Basic credentials made of them, as they would be printed.
const SECRETS = [
  'PROXYPASS',
  'URLPASS',
  'TOKENUSER',
  'QUERYTOKEN',
  'HEADERTOKEN',
  'COOKIEVALUE',
  'APIKEYVALUE',
  'SESSIONVALUE',
  'FETCHQUERYKEY',
  'FETCHAPIKEY',
  'FETCHBEARER',
  'SERVERCOOKIE',
];
const BASIC = ['puser:PROXYPASS', 'alice:URLPASS', 'TOKENUSER:'].map((pair) =>
  Buffer.from(pair).toString('base64'),
);

async function traced(transport, trace = true) {
  const server = await start((req, res) =>
    res.writeHead(200, { 'set-cookie': 'sid=SERVERCOOKIE', 'x-answer': 'plain-answer' }).end('ok'),
  );
  const proxy = await startProxy();
  cleanup.later(() => server.close());
  cleanup.later(() => proxy.close());
  const origin = `127.0.0.1:${server.port}`;
  const { exited } = spawnNode(
    `
    const ned = require(${JSON.stringify(ROOT)});
    const proxy = 'http://puser:PROXYPASS@127.0.0.1:${proxy.port}';
    (async () => {
      // The caller's credential headers, a credential query value, through a proxy with a password.
      await ned.dispatchEvent('POST', 'http://${origin}/v1/events?token=QUERYTOKEN&page=2', { a: 1 }, { proxy, headers: {
        Authorization: 'Bearer HEADERTOKEN', Cookie: 'session=COOKIEVALUE', 'x-api-key': 'APIKEYVALUE',
        'X-Session-Id': 'SESSIONVALUE', 'x-request-id': 'visible-id' } });
      // Authorization made from the URL's user:password, and from a user name alone (a token).
      await ned.dispatchEvent('POST', 'http://alice:URLPASS@${origin}/v1/events', { a: 2 }, { proxy });
      await ned.dispatchEvent('POST', 'http://TOKENUSER@${origin}/v1/events', { a: 3 }, { proxy });
      // fetch() sends header lines of its own with each request.
      const fetch = ned.createFetch({ proxy, headers: { Authorization: 'Bearer FETCHBEARER' } });
      await fetch('http://${origin}/v1/flags?api_key=FETCHQUERYKEY', { headers: { 'X-Api-Key': 'FETCHAPIKEY', 'X-Plain': 'plain-value' } });
    })();
  `,
    {
      NATIVE_EVENT_DISPATCHER_TRANSPORT: transport,
      NATIVE_EVENT_DISPATCHER_TRACE: trace ? '1' : undefined,
    },
  );
  const { code, stderr } = await exited;
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  return { stderr, server, proxy };
}

describe.each(['native', 'fallback'])('the trace on the %s transport', (transport) => {
  test('shows every request line and plain header, and none of the secrets', async () => {
    const { stderr, server, proxy } = await traced(transport);
    // The requests went out as they were, credentials and all: only the trace masks them.
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v1/events?token=QUERYTOKEN&page=2',
      '/v1/events',
      '/v1/events',
      '/v1/flags?api_key=FETCHQUERYKEY',
    ]);
    expect(server.requests[0].headers).toMatchObject({
      authorization: 'Bearer HEADERTOKEN',
      'x-api-key': 'APIKEYVALUE',
    });
    expect(server.requests[1].headers.authorization).toBe(`Basic ${BASIC[1]}`);
    expect(proxy.seen.length).toBe(4);

    const leaked = [...SECRETS, ...BASIC].filter((secret) => stderr.includes(secret));
    expect(leaked).toEqual([]);
    // Still a trace worth reading: each request line, plain headers both ways, the masked ones named.
    expect(stderr).toMatch(/> POST http:\/\/127\.0\.0\.1:\d+\/v1\/events\?token=\*\*\*&page=/);
    expect(stderr).toMatch(/> GET http:\/\/127\.0\.0\.1:\d+\/v1\/flags\?api_key=\*\*\*/);
    for (const line of [
      'x-request-id: visible-id',
      'X-Plain: plain-value',
      'x-answer: plain-answer',
      'Authorization: Bearer ***',
      'Authorization: Basic ***',
      'Cookie: ***',
      'x-api-key: ***',
      'X-Session-Id: ***',
      'X-Api-Key: ***',
      'set-cookie: ***',
    ]) {
      expect({ line, found: stderr.includes(line) }).toEqual({ line, found: true });
    }
    if (transport === 'native') {
      // libcurl's own lines stay, with the user names it mentions masked.
      expect(stderr).toContain('> Proxy-Authorization: Basic ***');
      expect(stderr).toContain("* Server auth using Basic with user '***'");
      expect(stderr).toMatch(/^\* Connected to 127\.0\.0\.1/m);
    }
  });

  test('off (unset): the same requests print nothing', async () => {
    const { stderr, server } = await traced(transport, false);
    expect(server.requests.length).toBe(4);
    expect(stderr).toBe('');
  });
});
