'use strict';
// The undici agents of the fallback transport: one per distinct set of connection settings, and one
// per proxy on top, shared by every profile with those settings (libcurl shares one connection
// cache in the same way). undici does the work: keep-alive, TLS, ALPN, proxies and CONNECT tunnels;
// this file only adds what libcurl does and undici does not: connect-to pins, HTTP/2 multiplexing
// of POSTs, connection times for `timings`, and one bound on open connections across all agents
// (connections.js).
const net = require('node:net');
const { performance } = require('node:perf_hooks');
const { Agent, Pool, ProxyAgent, buildConnector } = require('undici');
const { Connections } = require('./connections');
const { MAX_HEAD_BYTES } = require('../transport/protocol');

// libcurl's default cap on concurrent streams per HTTP/2 connection.
const H2_STREAMS = 100;
// Distinct connection settings kept at once; the JS layer keeps at most 64 profiles.
const MAX_AGENTS = 64;
// When a connection was begun, resolved, connected and secured (performance.now(), -1 = not yet).
const kTimes = Symbol('native-event-dispatcher connection times');

// Where a connection for `o` (undici's connect parameters) really goes: the first connect-to rule
// that matches its host and port. TLS still checks the certificate against the URL's host name.
function pinned(o, rules) {
  const host = String(o.hostname)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  const port = Number(o.port) || (o.protocol === 'https:' ? 443 : 80);
  for (const rule of rules) {
    if ((rule.host === '' || rule.host === host) && (rule.port === 0 || rule.port === port)) {
      const address = rule.address || host;
      const toPort = rule.toPort || port;
      return {
        ...o,
        hostname: address,
        host: `${net.isIPv6(address) ? `[${address}]` : address}:${toPort}`,
        port: toPort,
        servername: o.servername || (net.isIP(host) ? '' : host),
      };
    }
  }
  return o;
}

// undici's Agent keeps one pool per origin and looks a pool's bookkeeping up by origin when the
// pool reports a connect or disconnect. A pool it has already retired (its last connection closed)
// still reports them while it finishes, and those reports then count against its successor, which
// the Agent closes in turn: every later request opens a new connection (nodejs/undici#5022, still
// in 7.30.2). A retired pool keeps its reports to itself here.
class OriginPool extends Pool {
  emit(event, ...args) {
    if (
      (this.closed || this.destroyed) &&
      (event === 'connect' || event === 'disconnect' || event === 'connectionError')
    ) {
      return false;
    }
    return super.emit(event, ...args);
  }
}

// undici keeps no count of a response's status line (its maxHeaderSize counts header names and
// values; of a status line that spans reads it keeps the last piece), so what its parser reads from
// an HTTP/1.1 connection is counted here: its socket.read(), wrapped, notes the bytes handed over
// and the last two chunks. A response's head ends in the chunk being parsed when undici reports it.
const kReads = Symbol('native-event-dispatcher reads');

function countReads(socket) {
  const reads = { total: 0, last: null, before: null };
  const read = socket.read;
  socket.read = function countedRead(n) {
    const chunk = read.call(this, n);
    if (chunk !== null && chunk.length > 0) {
      reads.before = reads.last;
      reads.last = chunk;
      reads.total += chunk.length;
    }
    return chunk;
  };
  socket[kReads] = reads;
}

// Bytes undici's parser has read from `socket` so far, or -1 where they are not counted (HTTP/2).
function bytesRead(socket) {
  const reads = socket && socket[kReads];
  return reads ? reads.total : -1;
}

// Where (in bytes read from `socket`) the head of the response that began at `start` ended: after
// its first empty line. Called while undici reports that response, so the head ends in the last
// chunk read; an empty line split between two chunks is found with the end of the chunk before.
function headEnd(socket, start) {
  const { total, last, before } = socket[kReads];
  let text = last;
  let offset = total - last.length; // where `text` begins, in bytes read
  if (start <= offset && before !== null) {
    const tail = before.subarray(Math.max(0, before.length - 2));
    text = Buffer.concat([tail, last]);
    offset -= tail.length;
  }
  const from = Math.max(0, start - offset);
  const crlf = text.indexOf('\n\r\n', from); // CRLF (or a bare LF) then an empty CRLF line
  const lf = text.indexOf('\n\n', from); // lines ended by a bare LF
  const ends = [crlf < 0 ? -1 : crlf + 3, lf < 0 ? -1 : lf + 2].filter((end) => end >= 0);
  return ends.length > 0 ? offset + Math.min(...ends) : total;
}

// undici's pool, whose connections count against the bound on all of them (`connections`), follow
// the connect-to rules and, once a connection turns out to be HTTP/2, carry up to H2_STREAMS
// requests at once. undici runs one request at a time on a connection unless told otherwise;
// requests are sent as idempotent (see transfer.js) so that this applies to POST too, and
// HTTP/1.1 connections stay at one request (no pipelining). Every connection of the fallback goes
// through here: direct ones, those to a proxy, and CONNECT tunnels (whose connect dials the proxy).
function poolFactory(settings, connections) {
  const BoundedClient = connections.clientClass();
  const clientFactory = (origin, options) => {
    let h2 = false;
    let client = null;
    const connect = (o, callback) =>
      connections.connect(
        client,
        (done) => options.connect(pinned(o, settings.connectTo), done),
        (err, socket) => {
          h2 = !err && socket.alpnProtocol === 'h2';
          if (!err && !h2) countReads(socket);
          callback(err, socket);
        },
      );
    client = new BoundedClient(origin, { ...options, connect });
    if (settings.http2)
      client.on('connect', () => {
        client.pipelining = h2 ? H2_STREAMS : 1;
      });
    return client;
  };
  return (origin, options) => new OriginPool(origin, { ...options, factory: clientFactory });
}

// undici's connector, noting when each phase of a connection ended.
function timedConnector(connector) {
  return (o, callback) => {
    const times = { start: performance.now(), lookup: -1, connect: -1, secure: -1 };
    const socket = connector(o, callback);
    socket[kTimes] = times;
    socket.once('lookup', () => {
      times.lookup = performance.now();
    });
    socket.once('connect', () => {
      times.connect = performance.now();
    });
    socket.once('secureConnect', () => {
      times.secure = performance.now();
    });
    return socket;
  };
}

function agentOptions(settings, perHost, connections) {
  return {
    connections: perHost,
    // The whole-request timer is the backend's (timeoutMs), as in libcurl.
    headersTimeout: 0,
    bodyTimeout: 0,
    // Header names and values up to libcurl's limit on a head (not Node's 16 KiB); the whole head,
    // status line included, is held to it as well (headEnd).
    maxHeaderSize: MAX_HEAD_BYTES,
    allowH2: settings.http2,
    factory: poolFactory(settings, connections),
  };
}

function targetTls(settings) {
  return {
    ca: settings.ca,
    rejectUnauthorized: !settings.insecure,
    timeout: settings.connectTimeoutMs,
    allowH2: settings.http2,
  };
}

function directAgent(settings, perHost, connections) {
  return new Agent({
    ...agentOptions(settings, perHost, connections),
    connect: timedConnector(buildConnector(targetTls(settings))),
  });
}

// Like libcurl: http: URLs go to the proxy as absolute-form requests, https: through a CONNECT
// tunnel with TLS end to end. `insecure` is for the target only (libcurl's proxy verification is a
// separate option); the CA file is trusted for both, as the native transport sets it for both.
// `servername`: the TLS name when connect-to sends the tunnel to another address (undici's
// ProxyAgent takes the name from its TLS options, not from the connection it tunnels).
function proxyAgent(proxy, settings, perHost, connections, servername) {
  return new ProxyAgent({
    ...agentOptions(settings, perHost, connections),
    uri: proxy,
    proxyTunnel: false,
    requestTls: { ...targetTls(settings), servername: servername || undefined },
    proxyTls: { ca: settings.ca, timeout: settings.connectTimeoutMs },
  });
}

class Agents {
  constructor(perHost, total) {
    this.perHost = perHost;
    this.connections = new Connections(total);
    this.byKey = new Map();
  }

  // { agent, viaProxy } for a request of `profile` to `host` over http: or https:; `direct`: lib/
  // decided no_proxy sends it direct (the DIRECT flag).
  route(profile, https, host, direct) {
    const proxy = https ? profile.httpsProxy : profile.httpProxy;
    const viaProxy = proxy !== '' && !direct && profile.noProxy(host) === null;
    // With connect-to pins, a tunnel's TLS name is the host's own: one proxy agent per host then.
    const servername =
      viaProxy &&
      https &&
      profile.connection.connectTo.length > 0 &&
      !net.isIP(host.replace(/^\[|\]$/g, ''))
        ? host
        : '';
    const key = viaProxy
      ? `${proxy}\n${servername}\n${profile.connectionKey}`
      : profile.connectionKey;
    let agent = this.byKey.get(key);
    if (agent === undefined) {
      agent = viaProxy
        ? proxyAgent(proxy, profile.connection, this.perHost, this.connections, servername)
        : directAgent(profile.connection, this.perHost, this.connections);
      if (this.byKey.size >= MAX_AGENTS) this.retire(this.byKey.keys().next().value);
      this.byKey.set(key, agent);
    }
    return { agent, viaProxy };
  }

  // A new cap on connections per origin applies to new agents; the current ones finish their
  // requests and close. A new cap on all connections applies at once.
  setLimits(perHost, total) {
    this.connections.setMax(total);
    if (perHost === this.perHost) return;
    this.perHost = perHost;
    for (const key of [...this.byKey.keys()]) this.retire(key);
  }

  retire(key) {
    const agent = this.byKey.get(key);
    this.byKey.delete(key);
    agent.close().catch(() => {});
  }

  // Process exit: every connection goes now.
  destroy() {
    this.connections.clear();
    for (const agent of this.byKey.values()) agent.destroy().catch(() => {});
    this.byKey.clear();
  }
}

module.exports = { Agents, kTimes, bytesRead, headEnd };
