'use strict';
// The fallback's bound on open connections, across every agent, proxy and origin: what libcurl's
// CURLMOPT_MAX_TOTAL_CONNECTIONS (with a cache of the same size) is to the native transport. Each
// undici Client (one connection at a time) takes a slot before it connects and gives it back when
// its socket closes. With no slot free, the least recently used idle connection is closed to make
// room; with every connection busy, the connect waits (its requests with it) until one falls idle
// or closes. The sockets are ours to close: a closed idle socket is, to undici, a keep-alive
// connection that ended, and the Client connects again when it next has a request.
const { Client, errors } = require('undici');

// A connection's slot: taken from before it connects until its socket closes.
class Slot {
  constructor(client) {
    this.client = client;
    this.socket = null; // set once connected
    this.released = false;
    this.closing = false; // closed by us: its slot is free once its socket has closed
    // closeIdle(): the last use a connection may have had and still be closed once idle; -1: none.
    this.closeAfter = -1;
  }

  idle() {
    return this.socket !== null && !this.closing && this.client.stats.size === 0;
  }
}

class Connections {
  constructor(max) {
    this.max = max;
    this.taken = 0; // slots: connections connecting or open
    this.closing = 0; // of those, being closed by us (their sockets have not closed yet)
    this.slots = new Set(); // every slot, waiting, connecting or open
    this.waiting = []; // connects waiting for a slot, in order
    this.marked = 0; // slots with closeAfter set
    this.uses = 0; // requests handed to clients, ever: the clock of least recently used
    this.looking = null; // a look() scheduled for after this turn's I/O
  }

  // An undici Client whose requests mark when its connection was last used.
  clientClass() {
    const connections = this;
    return class BoundedClient extends Client {
      lastUse = 0;

      dispatch(opts, handler) {
        this.lastUse = ++connections.uses;
        return super.dispatch(opts, handler);
      }
    };
  }

  // Opens a connection for `client` once it has a slot: open(callback) is undici's connector call,
  // callback(err, socket) undici's.
  connect(client, open, callback) {
    const slot = new Slot(client);
    this.slots.add(slot);
    this.waiting.push(() => {
      this.taken += 1;
      const done = (err, socket) => {
        if (err) {
          this.release(slot);
          callback(err);
          return;
        }
        slot.socket = socket;
        socket.once('close', () => this.release(slot));
        callback(null, socket);
        // Its requests may be gone (timed out while it connected): then it is idle at once.
        if (this.due()) this.lookSoon();
      };
      try {
        open(done);
      } catch (err) {
        done(err);
      }
    });
    this.serve();
  }

  release(slot) {
    if (slot.released) return;
    slot.released = true;
    this.taken -= 1;
    if (slot.closing) this.closing -= 1;
    this.slots.delete(slot);
    if (slot.closeAfter >= 0) this.marked -= 1;
    this.admit();
  }

  // Waiting connects start, in order, while there is room.
  admit() {
    while (this.waiting.length > 0 && this.taken < this.max) this.waiting.shift()();
  }

  // Room for waiting connects, made by closing idle connections if need be. A connection being
  // closed makes room only once its socket has closed, and only where the connections left then
  // are under the cap: closes that bring a lowered cap's excess down make none (counting them as
  // room left connects waiting beside idle connections, until their requests' timeoutMs).
  serve() {
    this.admit();
    while (this.waiting.length > this.roomAfterClosing() && this.closeLeastRecentIdle());
  }

  // Connects admitted once the sockets being closed have closed.
  roomAfterClosing() {
    return Math.max(0, this.max - (this.taken - this.closing));
  }

  // The slot is freed by the socket's 'close', not here: a TLS socket (HTTP/2 among them) lets go
  // of its descriptor a turn later, and a connect admitted before that would have the bound
  // exceeded for that moment (servers see the new connection before the old one ends). With the
  // error undici gives sockets it retires itself (code UND_ERR_INFO: no request fails for it);
  // without one, undici's HTTP/2 session fails on a socket that closed before it (a TypeError,
  // uncaught).
  close(slot) {
    slot.closing = true;
    this.closing += 1;
    slot.socket.destroy(
      new errors.InformationalError('idle connection closed by the fallback transport'),
    );
  }

  closeLeastRecentIdle() {
    let oldest = null;
    for (const slot of this.slots) {
      if (slot.idle() && (oldest === null || lastUseOf(slot) < lastUseOf(oldest))) oldest = slot;
    }
    if (oldest === null) return false;
    this.close(oldest);
    return true;
  }

  // Whether look() has anything to do: connects waiting, more connections than the cap (it was
  // lowered), or connections to close once idle.
  due() {
    return this.waiting.length > 0 || this.taken > this.max || this.marked > 0;
  }

  // When connections may have fallen idle (requests ended): closes those that should go.
  look() {
    if (this.marked > 0) {
      for (const slot of [...this.slots]) {
        if (slot.closeAfter < 0) continue;
        if (lastUseOf(slot) > slot.closeAfter) {
          slot.closeAfter = -1; // used again since closeIdle(): still wanted
          this.marked -= 1;
        } else if (slot.idle()) {
          this.close(slot);
        }
      }
    }
    while (this.taken - this.closing > this.max && this.closeLeastRecentIdle());
    this.serve();
  }

  // After this turn's I/O: undici frees a connection with a setImmediate of its own.
  lookSoon() {
    if (this.looking !== null) return;
    this.looking = setImmediate(() => {
      this.looking = null;
      this.look();
    });
  }

  setMax(max) {
    this.max = max;
    this.look();
  }

  // Every idle connection closes now; every other one (connecting, busy, or waiting to connect)
  // once its requests have ended, unless a request that came after this call uses it. Requests
  // that come later simply connect again.
  closeIdle() {
    for (const slot of [...this.slots]) {
      if (slot.idle()) {
        this.close(slot);
      } else if (slot.closeAfter < 0) {
        slot.closeAfter = this.uses;
        this.marked += 1;
      }
    }
  }

  // Process exit: nothing waits any more (the agents destroy the connections).
  clear() {
    if (this.looking !== null) clearImmediate(this.looking);
    this.looking = null;
    this.waiting = [];
    this.marked = 0;
  }
}

const lastUseOf = (slot) => slot.client.lastUse;

module.exports = { Connections };
