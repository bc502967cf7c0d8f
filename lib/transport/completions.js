'use strict';
// Requests in flight and their results. Each submitted request has an owner; the backend hands
// results back in batches (packed as lib/transport/protocol.js describes, read by its
// decodeBatch()). Each owner hears of its own, with the token it submitted the request with:
//   owner.onTransportResult(token, statusCode, bytesSent, outcome)
// `outcome` is undefined for a plain 2xx answer (the common case costs no object); otherwise
// { statusCode, retryAfterMs, failure, headers, body, truncated, timings }, built once by the
// decoder. `failure` ({ code, curlCode, message, statusCode }) is set when no complete HTTP
// response arrived (statusCode is then 0); errorOf() turns it into a DispatchError where one is
// surfaced.
const backend = require('../binding');
const { DispatchError } = require('../errors');
const { FLAGS, decodeBatch } = require('./protocol');

const { RESPONSE, BINARY, DIRECT } = FLAGS;

// Owners by slot. A Map keyed by id grew and shrank with every burst, a new table each time (most
// of the main thread's page faults at 2,000 events/s); slots are reused instead, and an id is
// slot + SLOTS × generation, so a late abort() or result for an earlier use of a slot is ignored.
const SLOTS = 2 ** 21; // requests pending at once, at most
const owners = []; // slot -> owner, or null when free
const tokens = []; // slot -> the owner's token for the request (what the owner needs to find it)
const generations = []; // slot -> generation of its current (or last) use
const free = []; // free slots
let pending = 0;

// The slot of a pending id, or -1.
function slotOf(id) {
  const slot = id % SLOTS;
  const owner = owners[slot];
  return owner !== undefined && owner !== null && generations[slot] === (id - slot) / SLOTS
    ? slot
    : -1;
}

function release(slot) {
  owners[slot] = null;
  tokens[slot] = undefined;
  free.push(slot);
  pending -= 1;
}

// A throw from an owner must not stop the others in the batch, nor escape into the addon's
// callback: it is reported like any uncaught exception, after the batch.
function rethrowLater(err) {
  process.nextTick(() => {
    throw err;
  });
}

let failure;

function deliver(id, statusCode, bytesSent, outcome) {
  const slot = slotOf(id);
  if (slot < 0) return;
  const owner = owners[slot];
  const token = tokens[slot];
  release(slot);
  try {
    owner.onTransportResult(token, statusCode, bytesSent, outcome);
  } catch (err) {
    if (failure === undefined) failure = err;
  }
}

function onBatch(numbers, details, headerText, count) {
  const outer = failure; // a sink called from an owner's callback (none does today) keeps its own
  failure = undefined;
  decodeBatch(numbers, details, headerText, count, deliver);
  if (failure !== undefined) rethrowLater(failure);
  failure = outer;
}
backend.setCompletionSink(onBatch);

// The body bytes the backend copied in the last submit() (UTF-8 for text): what the dispatcher
// counts an event's size by, instead of a pass of its own over the text.
let copied = 0;
function copiedBytes() {
  return copied;
}

// Sends `request` with a compiled profile; returns its id. `owner` hears of the result with
// `token` (so one owner can have many requests pending without each knowing its owner). Throws on
// junk the checks above the backend should have caught (never for a network failure: that is a
// result). `headers`: the request's own header lines instead of the profile's; `traceSecrets`:
// with the trace on, the secret names among them.
function submit(
  request,
  profile,
  owner,
  token,
  flags = 0,
  headers = undefined,
  traceSecrets = undefined,
) {
  const slot = free.length > 0 ? free.pop() : owners.length;
  if (slot >= SLOTS)
    throw Object.assign(new RangeError(`more than ${SLOTS} requests pending at once`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  if (profile.direct !== undefined && profile.direct(request.origin)) flags |= DIRECT;
  const generation = (generations[slot] || 0) + 1;
  const id = slot + SLOTS * generation;
  try {
    copied = backend.submit(
      id,
      request.verb,
      request.href,
      request.body,
      profile.handle,
      headers,
      flags,
      traceSecrets,
    );
  } catch (err) {
    if (slot < owners.length) free.push(slot);
    throw err;
  }
  owners[slot] = owner;
  tokens[slot] = token;
  generations[slot] = generation;
  pending += 1;
  return id;
}

// The DispatchError for a failed request (message prefixed with its method and URL); `request`:
// anything with the request's method and display URL.
function errorOf(failure, request) {
  return new DispatchError(failure.message, {
    code: failure.code,
    curlCode: failure.curlCode,
    statusCode: failure.statusCode,
    method: request.method,
    url: request.display,
  });
}

// Ends a request still pending: its owner hears EABORTED. False when it already ended.
function abort(id) {
  if (slotOf(id) < 0) return false;
  backend.abort(id);
  return true;
}

function pendingCount() {
  return pending;
}

// Closes the transport's idle connections (a dispatcher's close()); a binary built before the
// addon had closeIdle() leaves them to their keep-alive timeout.
function closeIdle() {
  if (typeof backend.closeIdle === 'function') backend.closeIdle();
}

module.exports = { submit, copiedBytes, abort, errorOf, pendingCount, closeIdle, RESPONSE, BINARY };
