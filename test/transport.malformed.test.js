'use strict';
// The same broken response gives the same result on both transports: the same `code`, and the
// libcurl number (curlCode) the native transport reports, which the fallback imitates. A status
// line or header block the package cannot read is never a delivery. Each transport runs in a child
// process of its own (NATIVE_EVENT_DISPATCHER_TRANSPORT), against raw servers started here.
const { spawnNode } = require('./helpers/processes');
const { startRaw } = require('./helpers/servers');
const { useCleanup } = require('./helpers/cleanup');

const ROOT = require('node:path').join(__dirname, '..');
const cleanup = useCleanup();

// libcurl's limit on a response's status line or header line (CURL_MAX_HTTP_HEADER); the package
// holds the whole head (status line, header lines, the empty line) to it, on both transports.
const LIMIT = 100 * 1024;
const filler = (n) => 'x'.repeat(n);
// A status line of `bytes` bytes, CRLF included.
const statusLine = (bytes) => `HTTP/1.1 200 ${filler(bytes - 15)}\r\n`;
// Header lines of 100 bytes each, CRLF included, `bytes` of them in all.
const smallHeaders = (bytes) =>
  Array.from(
    { length: bytes / 100 },
    (_, i) => `X-H${String(i).padStart(5, '0')}: ${filler(88)}\r\n`,
  ).join('');
const empty = 'Content-Length: 0\r\n\r\n';

const TOO_LARGE = `the response's status line and headers are over ${LIMIT} bytes`;
const BAD_LENGTH = "the response's Content-Length is not one number (RFC 9112, section 6.3)";
const BOTH_FRAMINGS =
  'the response has both Transfer-Encoding and Content-Length (RFC 9112, section 6.3)';

const eproto = (curlCode, message) => ({
  code: 'EPROTO',
  curlCode,
  ...(message ? { message } : {}),
});
const reset = (curlCode) => ({ code: 'ECONNRESET', curlCode });
const answer = (statusCode) => ({ statusCode });

// [what the server sends, the result on both transports]
const ROWS = {
  'chunk size "zz"': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    eproto(56),
  ],
  'chunk data longer than its size': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n0\r\n\r\n',
    eproto(56),
  ],
  'a status line of 1 MB': [`${statusLine(1024 * 1024)}${empty}`, eproto(8, TOO_LARGE)],
  'a status line just over the limit': [`${statusLine(LIMIT + 100)}${empty}`, eproto(8, TOO_LARGE)],
  'a status line just under the limit': [`${statusLine(LIMIT - 100)}${empty}`, answer(200)],
  'one header of 1 MB': [
    `HTTP/1.1 200 OK\r\nX-Big: ${filler(1024 * 1024)}\r\n${empty}`,
    eproto(8, TOO_LARGE),
  ],
  '200 KB of small headers': [
    `HTTP/1.1 200 OK\r\n${smallHeaders(200 * 1000)}${empty}`,
    eproto(8, TOO_LARGE),
  ],
  'small headers just under the limit': [
    `HTTP/1.1 200 OK\r\n${smallHeaders(LIMIT - 200)}${empty}`,
    answer(200),
  ],
  'status 099': ['HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n', eproto(1)],
  'status 2000': ['HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n', eproto(1)],
  'status 20': ['HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', eproto(1)],
  'not HTTP (an SSH banner)': ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', eproto(1)],
  'bare text': ['hello\n', eproto(1)],
  'two different Content-Length headers': [
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc',
    eproto(8, BAD_LENGTH),
  ],
  'the same Content-Length twice': [
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab',
    eproto(8, BAD_LENGTH),
  ],
  'Content-Length: 2, 3': [
    'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc',
    eproto(8, BAD_LENGTH),
  ],
  'Content-Length beyond 2^63': [
    'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n',
    eproto(8, BAD_LENGTH),
  ],
  'Content-Length: abc': ['HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', eproto(8)],
  'Transfer-Encoding and Content-Length': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    eproto(8, BOTH_FRAMINGS),
  ],
  'a body shorter than its Content-Length': [
    'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc',
    reset(18),
  ],
  'chunked without the last chunk': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
    reset(18),
  ],
  '100 Continue, then a close': ['HTTP/1.1 100 Continue\r\n\r\n', reset(52)],
  '199, then a close': ['HTTP/1.1 199 X\r\nContent-Length: 0\r\n\r\n', reset(52)],
  'status 600': ['HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n', answer(600)],
  'HTTP/1.0 and no reason phrase': ['HTTP/1.0 200\r\nContent-Length: 2\r\n\r\nok', answer(200)],
};

// A raw server per row, answering every request with the row's bytes and closing.
async function servers(rows) {
  const urls = {};
  for (const [name, [reply]] of Object.entries(rows)) {
    const server = await startRaw((socket) => socket.end(reply));
    cleanup.later(() => server.close());
    urls[name] = server.url;
  }
  return urls;
}

// Runs `code` (the body of an async function with `ned` and `urls` in scope, returning what to
// print) in a child on `transport`; resolves what it printed, parsed.
async function onTransport(transport, urls, code) {
  const { exited } = spawnNode(
    `
    const ned = require(${JSON.stringify(ROOT)});
    const urls = ${JSON.stringify(urls)};
    (async () => { ${code} })().then((out) => console.log(JSON.stringify(out)));
  `,
    { NATIVE_EVENT_DISPATCHER_TRANSPORT: transport },
  );
  const { code: exitCode, stdout, stderr } = await exited;
  expect({ exitCode, stderr: exitCode === 0 ? '' : stderr }).toEqual({ exitCode: 0, stderr: '' });
  return JSON.parse(stdout);
}

test('every broken response: the same code and curlCode on the native and the fallback transport', async () => {
  const urls = await servers(ROWS);
  // Sequential, so that a 1 MB reply or a failure in one row never shares a moment with another.
  const send = `
    const results = {};
    for (const [name, url] of Object.entries(urls)) {
      results[name] = await ned.dispatchEvent('POST', url, {}, { timeoutMs: 5000 }).then(
        (res) => ({ statusCode: res.statusCode }),
        (err) => ({ code: err.code, curlCode: err.curlCode, message: err.message }));
    }
    return results;`;
  const [native, fallback] = await Promise.all([
    onTransport('native', urls, send),
    onTransport('fallback', urls, send),
  ]);
  const summary = (results) =>
    Object.fromEntries(
      Object.entries(results).map(([name, r]) => [
        name,
        r.statusCode !== undefined ? answer(r.statusCode) : { code: r.code, curlCode: r.curlCode },
      ]),
    );
  const expected = Object.fromEntries(
    Object.entries(ROWS).map(([name, [, result]]) => [
      name,
      result.statusCode !== undefined ? result : { code: result.code, curlCode: result.curlCode },
    ]),
  );
  expect({ native: summary(native), fallback: summary(fallback) }).toEqual({
    native: expected,
    fallback: expected,
  });
  // Where the package itself finds the response unreadable, both say so in the same words.
  for (const [name, [, result]] of Object.entries(ROWS)) {
    if (result.message === undefined) continue;
    const said = `POST ${urls[name]}: Weird server reply (${result.message})`;
    expect({ name, native: native[name].message, fallback: fallback[name].message }).toEqual({
      name,
      native: said,
      fallback: said,
    });
  }
});

test('through the dispatcher, a 1 MB status line is never counted delivered, on either transport', async () => {
  let attempts = 0;
  const server = await startRaw((socket) => {
    attempts += 1;
    socket.end(`${statusLine(1024 * 1024)}${empty}`);
  });
  cleanup.later(() => server.close());
  const send = `
    const d = ned.createDispatcher({ maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000 });
    const result = await d.send('POST', urls.status, { visitors: [] });
    const summary = await d.close({ timeoutMs: 1000 });
    return { result: { ...result, error: result.error && { code: result.error.code, curlCode: result.error.curlCode } },
      stats: d.stats(), summary };`;
  for (const transport of ['native', 'fallback']) {
    attempts = 0;
    const { result, stats, summary } = await onTransport(transport, { status: server.url }, send);
    expect({ transport, result }).toEqual({
      transport,
      result: {
        statusCode: 0,
        dropped: true,
        reason: expect.any(String),
        attempts: 2,
        error: { code: 'EPROTO', curlCode: 8 },
      },
    });
    expect(stats).toMatchObject({ delivered: 0, lost: 1 });
    expect(summary).toMatchObject({ delivered: 0, lost: 1 });
    expect(attempts).toBe(2);
  }
});
