'use strict';
// Real servers on 127.0.0.1 for the tests: an HTTP(S)/h2 server that records what arrives, a
// forwarding proxy, and a throw-away CA made with openssl. Everything started here is stopped by
// the returned close().
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const certificates = require('./certificates');

// start(handler, { tls, h2 }) -> { url, origin, port, requests, connections, close() }
// `requests` holds { method, url, headers, body (Buffer), httpVersion } for every request.
async function start(handler = (req, res) => res.end('ok'), options = {}) {
  const requests = [];
  const sockets = new Set();
  let connections = 0;
  const onRequest = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        httpVersion: req.httpVersion,
      };
      requests.push(record);
      handler(req, res, record);
    });
  };
  let server;
  if (options.tls && options.h2) {
    server = http2.createSecureServer({ ...options.tls, allowHTTP1: true }, onRequest);
  } else if (options.tls) {
    server = https.createServer(options.tls, onRequest);
  } else {
    server = http.createServer(onRequest);
  }
  if (server.keepAliveTimeout !== undefined) server.keepAliveTimeout = 30000;
  server.on(options.tls ? 'secureConnection' : 'connection', () => {
    connections += 1;
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, options.host || '127.0.0.1', resolve));
  const { port } = server.address();
  const host = options.hostname || '127.0.0.1';
  const origin = `${options.tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    server,
    port,
    origin,
    url: `${origin}/v1/events`,
    requests,
    get connections() {
      return connections;
    },
    get openSockets() {
      return sockets.size;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// A port on which nothing listens, and nothing will while the tests run: a privileged one (below
// 1024), checked closed (a connection to it is refused). The tests' servers listen on port 0, and
// the kernel gives them ports from the ephemeral range (32768 up): an ephemeral port bound and
// released here could be handed to another test's server meanwhile (Jest runs files in parallel),
// which would then answer this test's requests, or receive its retries. 700–988 holds none of the
// ports fetch() refuses (the Fetch standard's "bad ports").
const CLOSED_FIRST = 700;
const CLOSED_LAST = 988;
let nextClosed = CLOSED_FIRST;
async function closedPort() {
  for (let tries = 0; tries <= CLOSED_LAST - CLOSED_FIRST; tries++) {
    const port = nextClosed;
    nextClosed = port === CLOSED_LAST ? CLOSED_FIRST : port + 1; // each call another port
    if (await refused(port)) return port;
  }
  throw new Error(`no port in ${CLOSED_FIRST}–${CLOSED_LAST} on 127.0.0.1 refuses connections`);
}

function refused(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

// A raw TCP server: onSocket(socket, firstChunk) decides what the client gets.
async function startRaw(onSocket) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (chunk) => onSocket(socket, chunk));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/v1/events`,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// A forwarding HTTP proxy: absolute-form requests for http: and CONNECT tunnels for https:.
async function startProxy() {
  const seen = [];
  const agents = []; // the User-Agent of each request and CONNECT, in order
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url });
    agents.push(req.headers['user-agent']);
    const target = new URL(req.url);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        agent: false,
        path: target.pathname + target.search,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode, { ...up.headers, 'x-proxied': '1' });
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, client, head) => {
    seen.push({ method: 'CONNECT', url: req.url });
    agents.push(req.headers['user-agent']);
    const [host, port] = req.url.split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    sockets.add(client);
    sockets.add(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    agents,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// A CA and a server certificate for `hostname`, made with the openssl command line.
function makeCertificates(hostname = 'events.test') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-tls-'));
  return certificates.makeCertificates({ dir, names: [`DNS:${hostname}`] });
}

// Every value of header `name` in a request start() recorded, as sent (repeats and empty ones kept).
function headerValues(record, name) {
  const values = [];
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    if (record.rawHeaders[i].toLowerCase() === name) values.push(record.rawHeaders[i + 1]);
  }
  return values;
}

module.exports = { start, startRaw, startProxy, closedPort, makeCertificates, headerValues };
