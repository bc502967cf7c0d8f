'use strict';
// Open sockets as servers see them, summed over several servers: counts() makes the tally,
// countSockets(server, tally) adds a server to it, settle(condition) waits for what they see, and
// forwarder(port, tally) puts a counted TCP hop in front of a server whose own sockets are not
// seen closing at once (TLS and HTTP/2 servers take their sockets over: only a 'close', turns
// later, says that the client closed one).
const net = require('node:net');

function counts() {
  return { open: 0, peak: 0, accepted: 0, sampling: false };
}

// A socket counts until its server sees it end, reset or close. `peak` (the most open at once) is
// sampled a few turns of the loop after every new connection (SETTLE_TURNS): Node accepts every
// pending connection of a listener at once, ahead of the FINs that came between them, and a FIN
// that follows data (a TLS close_notify, an HTTP/2 GOAWAY) is read one poll phase after the data
// (libuv stops at a short read) — so a client that closed a connection to make room for another is
// seen closing it a turn or two after the new one arrived. A bound that is not kept keeps the
// excess open far longer (keep-alive: seconds), and is seen.
const SETTLE_TURNS = 3;

function afterTurns(turns, fn) {
  if (turns === 0) fn();
  else setImmediate(() => afterTurns(turns - 1, fn));
}

function countSockets(server, tally) {
  server.on('connection', (socket) => {
    tally.open += 1;
    tally.accepted += 1;
    if (!tally.sampling) {
      tally.sampling = true;
      afterTurns(SETTLE_TURNS, () => {
        tally.sampling = false;
        tally.peak = Math.max(tally.peak, tally.open);
      });
    }
    let open = true;
    const gone = () => {
      if (open) tally.open -= 1;
      open = false;
    };
    socket.on('end', gone);
    socket.on('error', gone);
    socket.on('close', gone);
  });
}

// Waits, boundedly (3 s), until `condition` holds: what a server sees of a client's closes comes
// when it comes. The caller then asserts it.
async function settle(condition) {
  for (let i = 0; i < 300 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}

// A TCP forwarder on 127.0.0.1 to `port` there, counting the connections it accepts into `tally`.
async function forwarder(port, tally) {
  const server = net.createServer((socket) => {
    const upstream = net.connect(port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  countSockets(server, tally);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { counts, countSockets, forwarder, settle };
