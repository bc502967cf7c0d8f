'use strict';
// The journal's line format: one line per accepted event, self-describing, acknowledged in place.
//   {"a":0,"id":"<uuid>","t":<accepted ms>,"m":"POST","u":"<href>","e":"json","b":<body>}\n
// "a" is the acknowledgement flag: ack() overwrites its one byte (ACK_FLAG_OFFSET) with "1", so an
// acknowledgement never grows a file and whether a line is live never depends on another file.
// "e" says how the body is kept: json (our JSON text as is: it never holds a newline), json-string
// (JSON text that did hold one, kept as a JSON string), text (a JSON string), b64 (bytes), none
// (no body, "b":null). "b" comes last so the body's text can be sliced out unchanged: the bytes
// read back are the bytes accepted. A line is accepted on load only in exactly the form we write
// (canonical header, known fields, an http(s) URL), so a tampered or corrupt line is never
// replayed. This is spool format 2 (SPOOL_FORMAT): these lines, in slot directories (slots.js).
// Format 1 — the legacy journal 0.1.0 wrote in the root itself: {"id":…,"v":"POST",…} records and
// {"ack":"<id>"} lines — is read for import only. ("0.1.0" is a release; the formats have numbers.)

const { EVENT_METHODS } = require('../transport/protocol');

const SPOOL_FORMAT = 2;
const LEGACY_FORMAT = 1;
const METHODS = new Set(EVENT_METHODS);
const ENCODINGS = new Set(['json', 'json-string', 'text', 'b64', 'none']);
const LEGACY_ENCODINGS = new Set(['json', 'text', 'b64']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ACK_FLAG_OFFSET = 5; // the digit in {"a":0,
const NEWLINE = 10;
const MAX_ID = 128;

// The line for one event (a Buffer, newline included).
function encode(id, acceptedAt, { method, href, body, json }) {
  let encoding;
  let text;
  if (body === undefined) {
    encoding = 'none';
    text = 'null';
  } else if (typeof body === 'string') {
    if (json && body.length > 0 && body.indexOf('\n') < 0) {
      encoding = 'json';
      text = body;
    } else {
      encoding = json ? 'json-string' : 'text';
      text = JSON.stringify(body);
    }
  } else {
    encoding = 'b64';
    text = JSON.stringify(
      Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
    );
  }
  return fromParts(0, id, acceptedAt, method, href, encoding, text);
}

// A line from its fields and the body's text exactly as it was stored (import keeps the bytes).
function fromParts(acked, id, acceptedAt, method, href, encoding, bodyText) {
  return Buffer.from(`${header(acked, id, acceptedAt, method, href, encoding)}${bodyText}}\n`);
}

function header(acked, id, t, m, u, e) {
  return `${JSON.stringify({ a: acked, id, t, m, u, e }).slice(0, -1)},"b":`;
}

function isHttpUrl(href) {
  if (typeof href !== 'string') return false;
  try {
    const { protocol } = new URL(href);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function bodyFits(encoding, b) {
  switch (encoding) {
    case 'none':
      return b === null;
    case 'text':
    case 'json-string':
      return typeof b === 'string';
    case 'b64':
      return typeof b === 'string' && BASE64.test(b);
    default:
      return b !== undefined; // json: any JSON value (the whole line parsed)
  }
}

function validCommon(id, t, m, u) {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= MAX_ID &&
    typeof t === 'number' &&
    Number.isFinite(t) &&
    t >= 0 &&
    METHODS.has(m) &&
    isHttpUrl(u)
  );
}

function parseJson(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

// One line of ours (a Buffer or string, without its newline) → { acked, id, acceptedAt, method,
// href, encoding, bodyText }, or null when it is not exactly a line we write.
function parse(line) {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  if (!text.startsWith('{"a":')) return null;
  const v = parseJson(text);
  if (!v || Object.keys(v).length !== 7 || (v.a !== 0 && v.a !== 1)) return null;
  if (!validCommon(v.id, v.t, v.m, v.u) || !ENCODINGS.has(v.e) || !bodyFits(v.e, v.b)) return null;
  const prefix = header(v.a, v.id, v.t, v.m, v.u, v.e);
  if (!text.startsWith(prefix)) return null;
  return {
    acked: v.a === 1,
    id: v.id,
    acceptedAt: v.t,
    method: v.m,
    href: v.u,
    encoding: v.e,
    bodyText: text.slice(prefix.length, -1),
  };
}

// A line of ours or of format 1 → a record as parse() gives, { ack: id } for a format-1
// acknowledgement, or null.
function parseAny(line) {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  if (text.startsWith('{"a":')) return parse(text);
  const v = parseJson(text);
  if (!v) return null;
  const keys = Object.keys(v);
  if (keys.length === 1 && typeof v.ack === 'string') return { ack: v.ack };
  if (keys.length !== 6 || !validCommon(v.id, v.t, v.v, v.u)) return null;
  if (!LEGACY_ENCODINGS.has(v.e) || !bodyFits(v.e, v.b)) return null;
  const prefix = `${JSON.stringify({ id: v.id, t: v.t, v: v.v, u: v.u, e: v.e }).slice(0, -1)},"b":`;
  if (!text.startsWith(prefix)) return null;
  return {
    acked: false,
    id: v.id,
    acceptedAt: v.t,
    method: v.v,
    href: v.u,
    encoding: v.e,
    bodyText: text.slice(prefix.length, -1),
  };
}

// The request a parsed line holds: body is a string for json/text, a Buffer for bytes.
function requestOf(parsed) {
  const { encoding, bodyText } = parsed;
  let body;
  if (encoding === 'json') body = bodyText;
  else if (encoding === 'text' || encoding === 'json-string') body = JSON.parse(bodyText);
  else if (encoding === 'b64') body = Buffer.from(JSON.parse(bodyText), 'base64');
  return {
    method: parsed.method,
    href: parsed.href,
    body,
    json: encoding === 'json' || encoding === 'json-string',
    acceptedAt: parsed.acceptedAt,
  };
}

// Calls onLine(line, offset) for each complete line of `data`; returns the bytes of a torn tail
// (a last line without its newline: a write that never finished).
function eachLine(data, onLine) {
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf(NEWLINE, pos);
    if (end < 0) return data.length - pos;
    onLine(data.subarray(pos, end), pos);
    pos = end + 1;
  }
  return 0;
}

// The live records of files to import (late files, format-1 journals), read in the order given: a
// later acknowledgement (a format-1 ack line, or a flag) removes a record, whichever file holds it.
// → { entries (parsed lines, oldest first), skipped (invalid lines), torn (torn tails) }
function liveEntries(buffers) {
  const live = new Map();
  let skipped = 0;
  let torn = 0;
  for (const data of buffers) {
    const tornBytes = eachLine(data, (line) => {
      const parsed = parseAny(line);
      if (!parsed) skipped += 1;
      else if (parsed.ack !== undefined) live.delete(parsed.ack);
      else if (parsed.acked) live.delete(parsed.id);
      else if (!live.has(parsed.id)) live.set(parsed.id, parsed);
    });
    if (tornBytes > 0) torn += 1;
  }
  return { entries: [...live.values()], skipped, torn };
}

module.exports = {
  SPOOL_FORMAT,
  LEGACY_FORMAT,
  METHODS,
  ACK_FLAG_OFFSET,
  encode,
  fromParts,
  parse,
  parseAny,
  requestOf,
  eachLine,
  liveEntries,
  isHttpUrl,
};
