'use strict';
// The clients under comparison. Each CLIENTS[name](target) returns { send(batch) → Promise of a
// status code, close(), pumpStats? }; every one gets the same freshly built EventBatch and the same
// collector. target: { url, inFlight, connections, caFile, http2 } — `connections` (default
// inFlight) caps the process's connections, for when several threads share one process.
// A client's process runs with CLIENT_ENV[name] added to its environment.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const TRANSPORT_VARIABLE = 'NATIVE_EVENT_DISPATCHER_TRANSPORT';
// The package's rows say which transport they measure: `native` fails loudly when the addon cannot
// load, so a missing build never passes for the native row.
const CLIENT_ENV = {
  dispatcher: { [TRANSPORT_VARIABLE]: 'native' },
  dispatchEvent: { [TRANSPORT_VARIABLE]: 'native' },
  fallback: { [TRANSPORT_VARIABLE]: 'fallback' },
};

// This package, on the transport the process environment chose (CLIENT_ENV).
function loadPackage(target, transport) {
  const pkg = require('..');
  const running = pkg.versions().transport;
  if (running !== transport)
    throw new Error(`expected the ${transport} transport, but ${running} is running`);
  const connections = target.connections || target.inFlight;
  pkg.setConnectionLimits({
    maxConnectionsPerHost: connections,
    maxConnections: connections,
    maxInFlight: target.inFlight,
  });
  return pkg;
}

function packageDispatcher(target, transport) {
  const { createDispatcher, pumpStats } = loadPackage(target, transport);
  const d = createDispatcher({
    maxInFlight: target.inFlight,
    caFile: target.caFile,
    http2: target.http2,
  });
  return {
    send: (batch) => d.send('POST', target.url, batch).then((r) => r.statusCode),
    close: () => d.close(),
    pumpStats,
  };
}

const CLIENTS = {
  // This package: the dispatcher (retries, bounds) and the bare transport, on the native pump.
  dispatcher: (target) => packageDispatcher(target, 'native'),
  dispatchEvent(target) {
    const { dispatchEvent, pumpStats } = loadPackage(target, 'native');
    const options = { caFile: target.caFile, http2: target.http2 };
    return {
      send: (batch) => dispatchEvent('POST', target.url, batch, options).then((r) => r.statusCode),
      close: async () => {},
      pumpStats,
    };
  },
  // The same dispatcher on the fallback transport (undici on the main thread): what the native
  // pump buys where it loads.
  fallback: (target) => packageDispatcher(target, 'fallback'),
  // Node's fetch (undici inside Node, HTTP/1.1 only).
  fetch(target) {
    if (target.http2) return null;
    return {
      send: async (batch) => {
        const res = await fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        });
        await res.arrayBuffer();
        return res.status;
      },
      close: async () => {},
    };
  },
  // http.request with a keep-alive agent.
  http(target) {
    if (target.http2) return null;
    const u = new URL(target.url);
    const tls = u.protocol === 'https:';
    const agent = new (tls ? https : http).Agent({
      keepAlive: true,
      maxSockets: target.inFlight,
      ca: tls ? fs.readFileSync(target.caFile) : undefined,
    });
    const request = (tls ? https : http).request;
    return {
      send: (batch) =>
        new Promise((resolve, reject) => {
          const body = JSON.stringify(batch);
          const req = request(
            u,
            {
              method: 'POST',
              agent,
              headers: {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(body),
              },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(body);
        }),
      close: async () => agent.destroy(),
    };
  },
  // undici's Pool, the fastest pure-JS client (HTTP/2 through allowH2).
  undici(target) {
    const { Pool } = require('undici');
    const u = new URL(target.url);
    const pool = new Pool(u.origin, {
      connections: target.inFlight,
      allowH2: Boolean(target.http2),
      connect: u.protocol === 'https:' ? { ca: fs.readFileSync(target.caFile) } : undefined,
    });
    return {
      send: async (batch) => {
        const res = await pool.request({
          path: u.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        });
        await res.body.dump();
        return res.statusCode;
      },
      close: () => pool.close(),
    };
  },
  // The Optimizely SDK v6's own default event dispatcher (http/https.request, Node's global agent).
  optimizely(target) {
    if (target.http2) return null;
    const { eventDispatcher } = require('@optimizely/optimizely-sdk');
    return {
      send: (batch) =>
        eventDispatcher
          .dispatchEvent({ url: target.url, httpVerb: 'POST', params: batch })
          .then((r) => r.statusCode),
      close: async () => {},
    };
  },
  // A reference, not a dispatcher: the floor plus copying the body out of the JavaScript heap
  // (TextEncoder.encodeInto into a buffer kept for the next call), the least any design that sends
  // from another thread pays on the main thread. V8 flattens the string JSON.stringify built from
  // parts before it can be read, as it does for N-API's string functions.
  copy() {
    const encoder = new TextEncoder();
    let buffer = new Uint8Array(64 * 1024);
    let sink = 0;
    return {
      send: (batch) =>
        new Promise((resolve) => {
          const body = JSON.stringify(batch);
          if (body.length * 3 > buffer.length) buffer = new Uint8Array(body.length * 3);
          sink += encoder.encodeInto(body, buffer).written;
          setImmediate(resolve, sink > 0 ? 204 : 0);
        }),
      close: async () => {},
    };
  },
  // The floor any JS-facing dispatcher pays: build the payload and JSON.stringify it, nothing else.
  serialise() {
    let sink = 0;
    return {
      send: (batch) =>
        new Promise((resolve) => {
          sink += JSON.stringify(batch).length;
          setImmediate(resolve, sink > 0 ? 204 : 0);
        }),
      close: async () => {},
    };
  },
};

module.exports = { CLIENTS, CLIENT_ENV, CLIENT_NAMES: Object.keys(CLIENTS) };
