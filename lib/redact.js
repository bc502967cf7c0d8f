'use strict';
// Secrets never leave in clear. Users hand the package URLs with credentials in them
// (https://user:pw@host/…, ?api_key=…), proxy URLs with passwords and credential headers
// (Authorization, Cookie, x-api-key); whatever the package prints or emits — log lines, events,
// error messages, doctor, the trace — shows them masked. Only what goes to the server, and the
// spool (which must replay them; 0600 files), holds them in clear.
const MASK = '***';

// A header or query parameter name whose value is a credential: authorization, cookie, and any
// name with a part (split at - and _) such as key, token, secret, password, session or auth…
// Over-masking a harmless value costs nothing; showing a credential cannot be taken back.
const SECRET_PART =
  /^(?:auth.*|.*token|.*secret|.*key|.*password|passw(?:or)?d|pwd|pass|cookie|set-cookie|sessions?(?:id)?|sid|signature|sig|credentials?|jwt|bearer)$/i;

function isSecretName(name) {
  if (typeof name !== 'string') return false;
  const parts = name.toLowerCase().split(/[-_.]/);
  return parts.some((part) => part !== '' && SECRET_PART.test(part));
}

// userinfo: "user:password@" keeps the user name; a user name alone is often a token
// (https://<token>@host), so it is masked whole.
function maskUserinfo(userinfo) {
  const colon = userinfo.indexOf(':');
  return colon < 0 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`;
}

// ?a=1&api_key=s3cret → ?a=1&api_key=***
function maskQuery(query) {
  return query.replace(/([?&;])([^=&;#\s]*)=([^&;#\s]*)/g, (whole, sep, name, value) =>
    value !== '' && isSecretName(safeDecode(name)) ? `${sep}${name}=${MASK}` : whole,
  );
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// A URL (string or URL) for display: userinfo and credential query values masked, the rest as is.
// Text that is not a URL is scrubbed like any other text (redactText).
function redactUrl(url) {
  if (url === undefined || url === null) return url;
  const text = String(url);
  return redactText(text);
}

// scheme://userinfo@ anywhere in a text (several URLs, a URL inside a sentence), a scheme-less
// proxy "user:pw@host", credential query values, and "Authorization: …"-style header lines.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s"'<>]*)@/gi;
const BARE_USERINFO = /^([^/:@\s]+:[^/@\s]*)@/;
const QUERY = /\?[^#\s"'<>]*/g;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)([ \t]*:[ \t]*)([^\r\n]*)/gm;

function redactText(text) {
  if (typeof text !== 'string' || text === '') return text;
  let out = text.replace(URL_USERINFO, (whole, scheme, userinfo) =>
    userinfo === '' ? whole : `${scheme}${maskUserinfo(userinfo)}@`,
  );
  out = out.replace(BARE_USERINFO, (whole, userinfo) => `${maskUserinfo(userinfo)}@`);
  out = out.replace(QUERY, (query) => maskQuery(query));
  return out;
}

// Text that may hold HTTP header lines (a trace, a raw header block): the values of credential
// headers masked, then as redactText.
function redactHeaderText(text) {
  if (typeof text !== 'string' || text === '') return text;
  const masked = text.replace(HEADER_LINE, (line, name, sep, value) =>
    value !== '' && isSecretName(name) ? `${name}${sep}${maskHeaderValue(value)}` : line,
  );
  return redactText(masked);
}

// "Basic dXNlcjpwdw==" → "Basic ***": the scheme says what kind of credential it was.
function maskHeaderValue(value) {
  const scheme = /^(Basic|Bearer|Digest|Negotiate|NTLM|Token|AWS4-HMAC-SHA256)\s+/i.exec(value);
  return scheme ? `${scheme[1]} ${MASK}` : MASK;
}

// A header value for display: masked when the header carries a credential.
function redactHeader(name, value) {
  return isSecretName(name) ? maskHeaderValue(String(value)) : value;
}

module.exports = { MASK, isSecretName, redactUrl, redactText, redactHeaderText, redactHeader };
