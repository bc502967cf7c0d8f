#!/usr/bin/env bash
# npm run test:pack — the package as a consumer gets it, under npm 11's defaults.
#  1. npm pack (prepack makes the linux-x64 and linux-arm64 prebuilds; or the tarball in
#     NED_TARBALL) and check what the tarball carries: no install script, no root binding.gyp, both
#     prebuilds (linux-x64 alone is accepted unless NED_REQUIRE_ALL_PREBUILDS=1, as CI sets);
#  2. a fresh project installs the tarball (`npm install <tgz>`), and another installs it from that
#     project's lockfile (`npm ci`): each exits 0, npm prints no install-scripts warning, nothing is
#     compiled, the prebuild is the binary loaded, and events reach a local collector through
#     require() and import(); a tsc --strict consumer compiles against the real SDK v6 types;
#  3. the prebuild loads against a libcurl.so.4 whose symbols carry other versions (Debian's GnuTLS
#     flavour), as on distributions that do not build libcurl with CURL_OPENSSL_4; where the binary
#     cannot load (not a library, or one without the functions it calls), the fallback delivers;
#  4. a project whose tarball has no prebuild (as an install from git): the install compiles
#     nothing, the fallback delivers with a warning saying how to get the native transport, then
#     `npx native-event-dispatcher build` (npm's bundled node-gyp; the project has none) builds the
#     addon, which loads and delivers;
#  5. packing where the arm64 cross toolchain is not on PATH: an x64-only tarball and one line
#     saying so; with NED_REQUIRE_ALL_PREBUILDS=1, an error before anything is built.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# npm's defaults apart from the audit and funding notices: its warnings are part of what is tested.
NPM=(npm --no-audit --no-fund)
fail() { echo "test:pack: $*" >&2; exit 1; }

if [ -n "${NED_TARBALL:-}" ]; then
  TGZ=$NED_TARBALL
else
  TGZ=$(bash "$ROOT/scripts/pack.sh" "$WORK")
fi
echo "test:pack: packed $(basename "$TGZ") ($(du -k "$TGZ" | cut -f1) KiB)"

CONTENTS=$(tar tzf "$TGZ")
ARM64_PREBUILD=package/prebuilds/linux-arm64/native-event-dispatcher.glibc.node
for wanted in package/package.json package/lib/index.js package/lib/index.mjs package/types/index.d.ts \
  package/native/binding.gyp package/src/pump.cc package/bin/native-event-dispatcher.js package/bin/build.js \
  package/LICENSE package/prebuilds/linux-x64/native-event-dispatcher.glibc.node; do
  grep -qx "$wanted" <<<"$CONTENTS" || fail "$wanted is missing from the tarball"
done
if ! grep -qx "$ARM64_PREBUILD" <<<"$CONTENTS"; then
  [ "${NED_REQUIRE_ALL_PREBUILDS:-}" != 1 ] || fail "$ARM64_PREBUILD is missing from the tarball"
  echo "test:pack: an x64-only tarball (packed without the arm64 cross toolchain)"
fi
# A root binding.gyp makes npm compile on lockfile installs even with gypfile: false (npm/cli#9859).
! grep -qx 'package/binding.gyp' <<<"$CONTENTS" || fail "the tarball has a root binding.gyp"
if grep -qE '^package/(test|bench|demo|scripts|examples|build|native/build|node_modules)/' <<<"$CONTENTS"; then
  grep -E '^package/(test|bench|demo|scripts|examples|build|native/build|node_modules)/' <<<"$CONTENTS" | head >&2
  fail "the tarball carries files that do not run"
fi
tar xzf "$TGZ" -C "$WORK" package/package.json
node -e "
const p = require('$WORK/package/package.json');
const scripts = ['preinstall', 'install', 'postinstall'].filter((s) => p.scripts && p.scripts[s]);
if (scripts.length) throw new Error('install-time scripts: ' + scripts.join(', '));
if (p.gypfile !== false) throw new Error('gypfile is not false');
if (p.os || p.cpu) throw new Error('an os/cpu restriction: ' + JSON.stringify({ os: p.os, cpu: p.cpu }));
" || fail "the packed package.json runs or restricts something at install"

# The checks a consumer runs: CommonJS and ESM, delivered events, the libcurl and TLS in use.
write_checks() {
  cat >"$1/check.cjs" <<'JS'
const assert = require('node:assert');
const http = require('node:http');
const ned = require('native-event-dispatcher');
const received = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => { received.push(JSON.parse(body)); res.writeHead(204).end(); });
});
server.listen(0, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}/v1/events`;
  const dispatcher = ned.createDispatcher();
  assert.strictEqual((await dispatcher.send('POST', url, { from: 'require' })).statusCode, 204);
  assert.strictEqual((await ned.dispatchEvent('POST', url, { from: 'dispatchEvent' })).statusCode, 204);
  await dispatcher.close();
  assert.deepStrictEqual(received.map((r) => r.from), ['require', 'dispatchEvent']);
  const v = ned.versions();
  console.log(`require: ok (transport ${v.transport}, libcurl ${v.libcurl}, TLS ${v.tls})`);
  server.close();
});
JS
  cat >"$1/check.mjs" <<'JS'
import assert from 'node:assert';
import http from 'node:http';
import { createDispatcher, closeOptimizely } from 'native-event-dispatcher';
const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(204).end()); });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const dispatcher = createDispatcher({ endpoint: `http://127.0.0.1:${server.address().port}/v1/events` });
const result = await dispatcher.dispatchEvent({ url: 'https://logx.optimizely.com/v1/events', httpVerb: 'POST', params: { from: 'import' } });
assert.strictEqual(result.statusCode, 204);
assert.strictEqual(typeof closeOptimizely, 'function');
await dispatcher.close();
server.close();
console.log('import: ok');
JS
}

consumer() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null)
  write_checks "$dir"
  echo "$dir"
}

# installed <dir> <log> <how>: what every install path must give.
installed() {
  local dir=$1 log=$2 how=$3
  if grep -qi 'install-scripts\|node-gyp\|gyp info' "$log"; then
    cat "$log" >&2
    fail "$how: npm warned about install scripts or ran node-gyp"
  fi
  [ ! -d "$dir/node_modules/native-event-dispatcher/build" ] || fail "$how: something was compiled"
  [ ! -d "$dir/node_modules/native-event-dispatcher/native/build" ] || fail "$how: something was compiled"
  (cd "$dir" && node check.cjs && node check.mjs)
  local doctor
  doctor=$(cd "$dir" && npx --no-install native-event-dispatcher doctor)
  grep -q "binary .*/node_modules/native-event-dispatcher/prebuilds/linux-x64/native-event-dispatcher.glibc.node$" <<<"$doctor" || {
    echo "$doctor"; fail "$how: the prebuild was not the binary loaded"; }
  echo "$how: no warning, nothing compiled, the prebuild loads and delivers"
}

# 2a. A fresh `npm install <tarball>` with npm's defaults.
C1=$(consumer defaults)
(cd "$C1" && "${NPM[@]}" install "$TGZ") >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "npm install failed"; }
installed "$C1" "$WORK/install.log" "npm install <tarball>"

# 2b. `npm ci` from that project's lockfile: npm builds these tree nodes from the lockfile, which is
# where a root binding.gyp would still be compiled.
C2="$WORK/ci"
mkdir -p "$C2"
cp "$C1"/{package.json,package-lock.json,check.cjs,check.mjs} "$C2/"
grep -q '"node_modules/native-event-dispatcher"' "$C2/package-lock.json" || fail "the lockfile lacks the package"
(cd "$C2" && "${NPM[@]}" ci) >"$WORK/ci.log" 2>&1 || { cat "$WORK/ci.log" >&2; fail "npm ci failed"; }
installed "$C2" "$WORK/ci.log" "npm ci (lockfile)"

# A TypeScript consumer of the real SDK v6 types, compiled with --strict.
(cd "$C1" && "${NPM[@]}" --loglevel=error install typescript@5 @types/node@20 @optimizely/optimizely-sdk@6.6.1 >/dev/null)
cat >"$C1/consumer.ts" <<'TS'
import { createInstance, createBatchEventProcessor, createStaticProjectConfigManager, type EventDispatcher } from '@optimizely/optimizely-sdk';
import { createDispatcher, closeOptimizely, type CloseSummary } from 'native-event-dispatcher';

const dispatcher = createDispatcher({ spoolDir: './spool', maxAttempts: 6 });
const asSdkType: EventDispatcher = dispatcher;
const client = createInstance({
  projectConfigManager: createStaticProjectConfigManager({ datafile: '{}' }),
  eventProcessor: createBatchEventProcessor({ eventDispatcher: asSdkType, closingEventDispatcher: dispatcher, maxRetries: 0 }),
});
export const shutdown = (): Promise<CloseSummary> => closeOptimizely(client, dispatcher);
TS
(cd "$C1" && npx --no-install tsc --strict --noEmit --module node16 --moduleResolution node16 --target es2022 --types node consumer.ts)
echo "tsc --strict: the consumer compiles against SDK v6's types"

# 3. Another distribution's libcurl.so.4: Debian's GnuTLS build stands in (its symbols are
# versioned CURL_GNUTLS_3, so a binary requiring CURL_OPENSSL_4 does not load against it).
GNUTLS=$(ls /usr/lib/*-linux-gnu/libcurl-gnutls.so.4 2>/dev/null | head -1)
[ -n "$GNUTLS" ] || fail "no libcurl-gnutls.so.4 (libcurl3-gnutls; bash scripts/setup.sh installs it)"
mkdir -p "$WORK/other-libcurl"
ln -s "$GNUTLS" "$WORK/other-libcurl/libcurl.so.4"
OUT=$(cd "$C1" && LD_LIBRARY_PATH="$WORK/other-libcurl" node check.cjs)
echo "$OUT"
grep -q 'TLS GnuTLS' <<<"$OUT" || fail "the check did not run against the other libcurl"
echo "another libcurl.so.4 (symbol versions CURL_GNUTLS_3): the prebuild loads and delivers"

# 3b. The native binary cannot load (here: a libcurl.so.4 that is not a library, found first): the
# fallback transport (undici) takes over, says so once with the reason and the remedy, and delivers.
mkdir -p "$WORK/broken-libcurl"
echo 'not a library' >"$WORK/broken-libcurl/libcurl.so.4"
(cd "$C1" && LD_LIBRARY_PATH="$WORK/broken-libcurl" node check.cjs && LD_LIBRARY_PATH="$WORK/broken-libcurl" node check.mjs) \
  >"$WORK/fallback.log" 2>&1 || { cat "$WORK/fallback.log" >&2; fail "fallback: the checks failed"; }
cat "$WORK/fallback.log"
grep -q 'transport fallback' "$WORK/fallback.log" || fail "fallback: the fallback transport was not the one in use"
[ "$(grep -c 'NED_FALLBACK_TRANSPORT' "$WORK/fallback.log")" = 2 ] || fail "fallback: not exactly one warning per process"
grep -q 'libcurl.so.4' "$WORK/fallback.log" || fail "fallback: the warning does not name the library"
DOCTOR=$(cd "$C1" && LD_LIBRARY_PATH="$WORK/broken-libcurl" npx --no-install native-event-dispatcher doctor 2>&1)
grep -q 'transport *fallback' <<<"$DOCTOR" || { echo "$DOCTOR"; fail "fallback: doctor does not say which transport"; }
echo "the binary made unloadable: the fallback transport delivers, with one warning naming the reason"

# 3c. A libcurl.so.4 that loads but lacks the functions the prebuild calls (here: only
# curl_version_info): require() falls back naming the missing function, instead of the process
# dying at the first call (the prebuild binds every symbol at load).
mkdir -p "$WORK/fake-libcurl"
echo 'void curl_version_info(void) {}' >"$WORK/fake-libcurl/fake.c"
gcc -shared -fPIC -Wl,-soname,libcurl.so.4 -o "$WORK/fake-libcurl/libcurl.so.4" "$WORK/fake-libcurl/fake.c"
(cd "$C1" && LD_LIBRARY_PATH="$WORK/fake-libcurl" node check.cjs) >"$WORK/fake.log" 2>&1 || {
  cat "$WORK/fake.log" >&2; fail "a libcurl.so.4 without the functions: the check failed"; }
cat "$WORK/fake.log"
grep -q 'transport fallback' "$WORK/fake.log" || fail "a libcurl.so.4 without the functions: not the fallback"
grep -q 'lacks curl_[a-z_]*: it is not a usable libcurl' "$WORK/fake.log" || fail "a libcurl.so.4 without the functions: the warning does not name one"
DOCTOR=$(cd "$C1" && LD_LIBRARY_PATH="$WORK/fake-libcurl" npx --no-install native-event-dispatcher doctor 2>&1) || {
  echo "$DOCTOR"; fail "a libcurl.so.4 without the functions: doctor failed"; }
grep -q 'transport *fallback.*lacks curl_' <<<"$DOCTOR" || { echo "$DOCTOR"; fail "a libcurl.so.4 without the functions: doctor does not say why"; }
echo "a libcurl.so.4 lacking the functions: the prebuild falls back, naming the missing one; doctor exits 0"

# 4. No prebuild: nothing happens at install; the explicit build command compiles.
mkdir -p "$WORK/unpacked"
tar xzf "$TGZ" -C "$WORK/unpacked"
rm -rf "$WORK/unpacked/package/prebuilds"
tar czf "$WORK/source-only.tgz" -C "$WORK/unpacked" package
C3=$(consumer source)
(cd "$C3" && "${NPM[@]}" install "$WORK/source-only.tgz") >"$WORK/source.log" 2>&1 || {
  cat "$WORK/source.log" >&2; fail "npm install (source only) failed"; }
! grep -qi 'install-scripts\|gyp info' "$WORK/source.log" || { cat "$WORK/source.log" >&2; fail "source only: npm warned or compiled"; }
PKG="$C3/node_modules/native-event-dispatcher"
[ ! -d "$PKG/build" ] || fail "source only: something was compiled at install"
[ ! -d "$C3/node_modules/node-gyp" ] || fail "source only: the project has its own node-gyp, so npm's is not what gets tested"
if (cd "$C3" && node -e "require('node-gyp-build').resolve('$PKG')" 2>/dev/null); then
  fail "source only: a native binary was found before the build"
fi
# Before the build: the fallback delivers, and its warning says why (as for an install from git).
(cd "$C3" && node check.cjs) >"$WORK/source-fallback.log" 2>&1 || { cat "$WORK/source-fallback.log" >&2; fail "source only: the fallback failed"; }
grep -q 'has no prebuilt binaries (installed from git or from source, which carry none, and not built here yet): run `npx native-event-dispatcher build` in the project' \
  "$WORK/source-fallback.log" || { cat "$WORK/source-fallback.log" >&2; fail "source only: the warning does not say how to get the native transport"; }
(cd "$C3" && npx --no-install native-event-dispatcher build) >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "the build command failed"; }
grep -q "^build: npm's bundled node-gyp" "$WORK/build.log" || { cat "$WORK/build.log" >&2; fail "the build did not use npm's node-gyp"; }
[ -f "$PKG/build/Release/native_event_dispatcher.node" ] || fail "the build command made no build/Release addon"
(cd "$C3" && node check.cjs && node check.mjs)
DOCTOR=$(cd "$C3" && npx --no-install native-event-dispatcher doctor)
grep -q "binary .*/node_modules/native-event-dispatcher/build/Release/native_event_dispatcher.node$" <<<"$DOCTOR" || {
  echo "$DOCTOR"; fail "source only: the local build was not the binary loaded"; }
echo "no prebuild: installed without compiling; npx native-event-dispatcher build made the addon, which loads and delivers"

# 5. No arm64 cross toolchain: a PATH holding everything this one does but aarch64-linux-gnu-*.
NOCROSS="$WORK/nocross-bin"
mkdir -p "$NOCROSS"
IFS=: read -ra PATH_DIRS <<<"$PATH"
for dir in "${PATH_DIRS[@]}"; do
  for tool in "$dir"/*; do
    name=${tool##*/}
    [[ $name == aarch64-linux-gnu-* || -e "$NOCROSS/$name" || ! -x "$tool" ]] || ln -s "$tool" "$NOCROSS/$name"
  done
done
! PATH="$NOCROSS" command -v aarch64-linux-gnu-g++ >/dev/null || fail "no cross toolchain: aarch64-linux-gnu-g++ is still on PATH"
SKIP_NOTE='prebuild: arm64 prebuild skipped: aarch64-linux-gnu-gcc is missing; install with bash scripts/setup.sh --cross; this tarball runs the fallback transport on linux-arm64'
mkdir -p "$WORK/nocross"
if PATH="$NOCROSS" NED_REQUIRE_ALL_PREBUILDS=1 bash "$ROOT/scripts/pack.sh" "$WORK/nocross" >/dev/null 2>"$WORK/required.err"; then
  fail "no cross toolchain, NED_REQUIRE_ALL_PREBUILDS=1: packing succeeded"
fi
grep -qx 'prebuild: NED_REQUIRE_ALL_PREBUILDS=1, but the arm64 prebuild cannot be made: aarch64-linux-gnu-gcc is missing; install with bash scripts/setup.sh --cross' \
  "$WORK/required.err" || { cat "$WORK/required.err" >&2; fail "no cross toolchain, NED_REQUIRE_ALL_PREBUILDS=1: not the error expected"; }
! grep -q '^gyp info' "$WORK/required.err" || fail "no cross toolchain, NED_REQUIRE_ALL_PREBUILDS=1: something was built first"
X64_ONLY=$(PATH="$NOCROSS" NED_REQUIRE_ALL_PREBUILDS='' bash "$ROOT/scripts/pack.sh" "$WORK/nocross" 2>"$WORK/nocross.err") || {
  cat "$WORK/nocross.err" >&2; fail "no cross toolchain: packing failed"; }
[ "$(cat "$WORK/nocross.err")" = "$SKIP_NOTE" ] || { cat "$WORK/nocross.err" >&2; fail "no cross toolchain: not the one line expected on stderr"; }
[ "$(grep -cxF "$SKIP_NOTE" "$WORK/nocross/pack.log")" = 1 ] || fail "no cross toolchain: npm's log does not carry the note once"
X64_CONTENTS=$(tar tzf "$X64_ONLY")
grep -qx package/prebuilds/linux-x64/native-event-dispatcher.glibc.node <<<"$X64_CONTENTS" || fail "no cross toolchain: no linux-x64 prebuild"
! grep -q '^package/prebuilds/linux-arm64/' <<<"$X64_CONTENTS" || fail "no cross toolchain: the tarball has a linux-arm64 prebuild"
echo "no arm64 cross toolchain: an x64-only tarball and one line saying so; NED_REQUIRE_ALL_PREBUILDS=1 makes it an error"
echo "test:pack: passed"
