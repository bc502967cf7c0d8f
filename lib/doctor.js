'use strict';
// npx native-event-dispatcher doctor [url]: what this installation runs on (addon, libcurl, TLS,
// nghttp2, the binary, the CA bundle, the proxies in effect) and, given a URL, one test request
// with its timings and a plain-words diagnosis when it fails.
const transport = require('./transport');
const { proxiesFromEnvironment, profileFor, PROXY_VARIABLES } = require('./transport/options');
const { targetOf } = require('./transport/request');
const { noProxyMatcher } = require('./transport/no-proxy');
const { closest } = require('./unknown-option');
const { redactText } = require('./redact');
const { version } = require('../package.json');

const MIN_LIBCURL = '7.68.0';

const USAGE = `Usage: npx native-event-dispatcher doctor [url] [options]

Prints the versions and settings this package runs with; with a URL, sends one test request
(POST {} unless --method GET) and explains the outcome.

Options:
  --proxy URL        use this proxy (default: http_proxy/https_proxy/all_proxy from the environment)
  --no-proxy         connect directly, whatever the environment says
  --ca-file PATH     trust the CAs in this PEM file instead of the system's
  --insecure         do not verify the server's certificate
  --http2            offer HTTP/2
  --resolve H:P:A    pin a host name to an address (curl's --resolve format; repeatable)
  --timeout MS       whole-request timeout (default 10000)
  --method M         POST (default) or GET
  --version          print the package's version
  --help             this text

Exit code: 0 when the endpoint answered (any HTTP status), 1 when it could not be reached,
2 for bad arguments.`;

class UsageError extends Error {}

const FLAGS = [
  '--proxy',
  '--no-proxy',
  '--ca-file',
  '--insecure',
  '--http2',
  '--resolve',
  '--timeout',
  '--method',
  '--version',
  '--help',
];

// "unknown argument", with the flag it was probably meant to be.
function unknownArgument(arg) {
  const flag = arg.startsWith('-') ? closest(arg.split('=')[0], FLAGS) : undefined;
  return new UsageError(
    `unknown argument ${JSON.stringify(arg)}${flag ? `: did you mean ${flag}?` : ' (doctor --help lists the options)'}`,
  );
}

// The flag each transport option comes from, for messages about its value.
const FLAG_OF = {
  proxy: '--proxy',
  caFile: '--ca-file',
  resolve: '--resolve',
  timeoutMs: '--timeout',
};
const asFlags = (message) =>
  message.replace(/\boptions\.(\w+)(\[\d+\])?/g, (text, name) => FLAG_OF[name] || text);

function parse(argv) {
  const args = { url: undefined, options: {}, method: 'POST', help: false, version: false };
  const resolve = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--version') args.version = true;
    else if (arg === '--proxy') args.options.proxy = next();
    else if (arg === '--no-proxy') args.options.proxy = false;
    else if (arg === '--ca-file') args.options.caFile = next();
    else if (arg === '--insecure') args.options.insecure = true;
    else if (arg === '--http2') args.options.http2 = true;
    else if (arg === '--resolve') resolve.push(next());
    else if (arg === '--timeout') {
      const ms = Number(next());
      if (!Number.isInteger(ms) || ms < 1)
        throw new UsageError('--timeout needs a positive integer (ms)');
      args.options.timeoutMs = ms;
    } else if (arg === '--method') {
      args.method = next().toUpperCase();
      if (args.method !== 'POST' && args.method !== 'GET')
        throw new UsageError('--method is POST or GET');
    } else if (!arg.startsWith('-') && args.url === undefined) args.url = arg;
    else throw unknownArgument(arg);
  }
  if (resolve.length) args.options.resolve = resolve;
  return args;
}

function versionAtLeast(version, minimum) {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
  return true;
}

// Which proxy the request to `url` takes, and why, following libcurl's rules.
function proxyFor(url, options) {
  const u = new URL(url);
  if (options.proxy === false) return { proxy: null, source: '--no-proxy' };
  if (options.proxy) return { proxy: options.proxy, source: '--proxy' };
  const env = proxiesFromEnvironment();
  const proxy = u.protocol === 'https:' ? env.httpsProxy : env.httpProxy;
  if (!proxy) return { proxy: null, source: 'no proxy variable for this scheme' };
  const entry = noProxyMatcher(env.noProxy)(u.hostname);
  if (entry !== null) return { proxy: null, source: `no_proxy matches ${entry}` };
  return { proxy, source: 'environment' };
}

function environmentLines() {
  const { http, https, noProxy, ignored } = PROXY_VARIABLES;
  const names = [...new Set([...http, ...https, ...noProxy, ...ignored])];
  const set = names.filter((n) => process.env[n]);
  if (set.length === 0) return ['none of http_proxy, https_proxy, all_proxy, no_proxy is set'];
  const note = (n) => (ignored.includes(n) ? ' (ignored for http: URLs, as libcurl does)' : '');
  return set.map((n) => `${n}=${process.env[n]}${note(n)}`);
}

const ms = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} ms`);

function diagnose(err, url, proxy) {
  const u = new URL(url);
  const where = `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
  const t = err.timings || {};
  switch (err.code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections at ${where}. Is the collector running, and is the port right? (A firewall that rejects connections looks the same.)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `This machine has no route to ${u.hostname}. Check its network, or whether a proxy is needed.`;
    case 'ENOTFOUND':
      return `The name ${u.hostname} does not resolve. Check the spelling and this machine's DNS; behind a proxy, set https_proxy.`;
    case 'ETIMEDOUT':
      return t.connectMs === null
        ? `No connection to ${where} within the connect timeout: a firewall may drop the packets, or the host is down.`
        : `Connected to ${where}, but no complete answer within the timeout: the endpoint is slow or stuck.`;
    case 'ECERT':
      return `The server's certificate was not accepted (${err.detail}). If the endpoint uses a private CA, pass --ca-file; check that the host name matches the certificate.`;
    case 'ETLS':
      return `The TLS handshake failed (${err.detail}). Is this an HTTPS port? A plain HTTP port answers TLS with nonsense.`;
    case 'EPROXY':
      return `The proxy ${proxy || ''} failed (${err.detail}). Check http_proxy/https_proxy, or try --proxy URL or --no-proxy.`;
    case 'ECONNRESET':
      return `${where} closed the connection without a complete answer: an overloaded server, a load balancer's limit, or a port that does not speak HTTP.`;
    case 'EPROTO':
      // libcurl's 1: no HTTP status line at all; otherwise HTTP the package refuses to read (a head
      // over 100 KB, a body that cannot be delimited, broken chunks) or a broken HTTP/2 stream.
      if (err.curlCode === 1) {
        return `What came back from ${where} is not HTTP: is it an HTTPS port addressed with http://, or another protocol?`;
      }
      return `${where} answered with HTTP that cannot be read safely: ${err.detail}. The server, or something in between, sends a broken response; it is never counted as delivered.`;
    default:
      return `The request failed: ${err.message}`;
  }
}

function explainStatus(status) {
  if (status >= 200 && status < 300) return 'reached, and accepted.';
  if (status === 400)
    return 'reached; it refused the test payload (an empty event batch), which an event collector is expected to do. The connection is fine.';
  if (status === 401 || status === 403)
    return 'reached, but access is denied: check credentials or allow-lists.';
  if (status === 404) return 'reached, but nothing is at this path: check the URL.';
  if (status === 405)
    return 'reached, but this method is not allowed here (try --method GET or POST).';
  if (status === 407)
    return 'the proxy wants credentials: put them in the proxy URL (http://user:pass@host:port).';
  if (status === 429)
    return 'reached, but it asks to slow down (rate limited); the dispatcher honours Retry-After.';
  if (status >= 500) return 'reached, but the server has a problem; the dispatcher would retry.';
  if (status >= 300 && status < 400)
    return 'reached; it redirects, and redirects are not followed: use the final URL.';
  return 'reached.';
}

// Everything doctor prints goes through redactText: the URL, --proxy and the proxy variables
// may carry passwords and tokens, and its output gets pasted into tickets.
async function doctor(argv, write = (line) => process.stdout.write(`${line}\n`)) {
  const out = (line) => write(redactText(line));
  const complain = (line) => process.stderr.write(`doctor: ${redactText(line)}\n`);
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    complain(err.message);
    return 2;
  }
  if (args.help) {
    out(USAGE);
    return 0;
  }
  if (args.version) {
    out(version);
    return 0;
  }
  // The URL and the options are checked before anything is printed: a mistake in them is the
  // answer, not a line after the versions.
  try {
    if (args.url !== undefined) targetOf(args.url, 'the URL');
    profileFor({ ...args.options, timings: true });
  } catch (err) {
    if (typeof err.code !== 'string' || !(err instanceof TypeError || err instanceof RangeError))
      throw err;
    complain(asFlags(err.message));
    return 2;
  }
  const row = (label, value) => out(`  ${label.padEnd(12)} ${value}`);
  const v = transport.versions();
  // The fallback transport (undici) runs where the native binary cannot load: say why, and what
  // gets the native path.
  const fallback = v.transport === 'fallback';
  out('native-event-dispatcher doctor');
  row(
    'transport',
    fallback
      ? `fallback (undici ${v.undici}), because ${v.reason}`
      : 'native (libcurl on the libuv threadpool)',
  );
  if (fallback) {
    row(
      '',
      'same API, codes and results as the native transport, but HTTP and TLS work on the main thread;',
    );
    row(
      '',
      'with NATIVE_EVENT_DISPATCHER_TRANSPORT=native, a native binary that cannot load is an error',
    );
  }
  row('addon', `${v.addon}${v.addonBinary ? ` (binary built from ${v.addonBinary})` : ''}`);
  row('binary', fallback ? 'none loaded' : v.binary);
  row('node', `${process.version} (N-API ${process.versions.napi})`);
  if (fallback) row('libcurl', 'not used by the fallback transport');
  else
    row(
      'libcurl',
      `${v.libcurl}${versionAtLeast(v.libcurl, MIN_LIBCURL) ? '' : ` — older than ${MIN_LIBCURL}, not supported`}`,
    );
  // libcurl runs on whichever OpenSSL the process loaded first: on Node's official binaries,
  // Node's own (they export it), not the system's.
  const nodeTls = `OpenSSL/${v.nodeOpenssl}`;
  row(
    'TLS',
    v.tls
      ? `${v.tls} in use${v.tls === nodeTls ? " (the same as Node's)" : `; Node's own: ${nodeTls}`}`
      : 'none (https: will not work)',
  );
  row(
    'nghttp2',
    v.nghttp2 ? `${v.nghttp2} (HTTP/2 available with http2: true)` : 'none (HTTP/1.1 only)',
  );
  const defaultCa = fallback
    ? "Node's built-in CA store, plus NODE_EXTRA_CA_CERTS (the fallback's default)"
    : `${v.caFile || v.caPath || 'libcurl has no default'} (libcurl's default)`;
  row('CA bundle', args.options.caFile ? `${args.options.caFile} (--ca-file)` : defaultCa);
  const [firstVariable, ...moreVariables] = environmentLines();
  row('proxy env', firstVariable);
  for (const extra of moreVariables) row('', extra);
  if (!args.url) {
    out('');
    out(
      'Give a URL to test a request: npx native-event-dispatcher doctor https://logx.optimizely.com/v1/events',
    );
    return 0;
  }
  const route = proxyFor(args.url, args.options);
  out('');
  out(`Test request: ${args.method} ${args.url}`);
  row(
    'route',
    route.proxy ? `through ${route.proxy} (${route.source})` : `direct (${route.source})`,
  );
  try {
    const res = await transport.dispatchEvent(
      args.method,
      args.url,
      args.method === 'GET' ? undefined : {},
      { ...args.options, timings: true },
    );
    const t = res.timings;
    row(
      'timings',
      `DNS ${ms(t.dnsMs)}, connect ${ms(t.connectMs)}, TLS ${ms(t.tlsMs)}, first byte ${ms(t.firstByteMs)}, total ${ms(t.totalMs)}`,
    );
    row(
      'answer',
      `HTTP ${res.statusCode}${res.headers.server ? ` from ${res.headers.server}` : ''}`,
    );
    row('diagnosis', explainStatus(res.statusCode));
    return 0;
  } catch (err) {
    if (err.curlCode === undefined) {
      complain(err.message);
      return 2;
    }
    const t = err.timings || {};
    row(
      'timings',
      `DNS ${ms(t.dnsMs)}, connect ${ms(t.connectMs)}, TLS ${ms(t.tlsMs)}, total ${ms(t.totalMs)}`,
    );
    // curlCode is libcurl's number on both transports (the fallback's for the same situation, 0
    // where there is none): said as a curl code, since the fallback runs no libcurl.
    row(
      'error',
      `${err.code}${err.curlCode ? ` (curl code ${err.curlCode})` : ''}: ${err.message}`,
    );
    row('diagnosis', diagnose(err, args.url, route.proxy));
    return 1;
  }
}

module.exports = { doctor };
