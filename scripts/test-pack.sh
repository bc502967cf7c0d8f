#!/usr/bin/env bash
# npm run test:pack — the package as a consumer gets it, under npm 11's defaults.
#  1. npm pack (prepack builds the prebuild) and check what the tarball carries;
#  2. a fresh project installs the tarball with npm's defaults (dependency install scripts
#     blocked, so nothing may be compiled), then require()s and import()s it, delivers events to a
#     local collector, runs the doctor, and compiles a tsc --strict consumer against the real
#     Optimizely SDK v6 types;
#  3. another fresh project installs the tarball without its prebuild and with install scripts
#     allowed: the source build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NPM=(npm --no-audit --no-fund --loglevel=error)

# Packed from a copy: prebuildify rebuilds (and then removes) build/, which must not touch the
# working tree's own build.
COPY="$WORK/repo"
mkdir -p "$COPY"
cp -r "$ROOT"/{package.json,binding.gyp,src,lib,types,bin,LICENSE,README.md} "$COPY/"
ln -s "$ROOT/node_modules" "$COPY/node_modules"
(cd "$COPY" && "${NPM[@]}" pack --pack-destination "$WORK" >/dev/null)
TGZ=$(ls "$WORK"/native-event-dispatcher-*.tgz)
echo "test:pack: packed $(basename "$TGZ") ($(du -k "$TGZ" | cut -f1) KiB)"

CONTENTS=$(tar tzf "$TGZ")
for wanted in package/package.json package/lib/index.js package/lib/index.mjs package/types/index.d.ts \
  package/binding.gyp package/src/pump.cc package/bin/native-event-dispatcher.js package/LICENSE; do
  grep -qx "$wanted" <<<"$CONTENTS" || { echo "test:pack: $wanted is missing from the tarball" >&2; exit 1; }
done
grep -q '^package/prebuilds/linux-x64/.*\.node$' <<<"$CONTENTS" || { echo "test:pack: no linux-x64 prebuild in the tarball" >&2; exit 1; }
if grep -qE '^package/(test|bench|demo|scripts|examples|build|node_modules)/' <<<"$CONTENTS"; then
  echo "test:pack: the tarball carries files that do not run:" >&2
  grep -E '^package/(test|bench|demo|scripts|examples|build|node_modules)/' <<<"$CONTENTS" | head >&2
  exit 1
fi

# The checks a consumer runs: CommonJS and ESM, a delivered event, the doctor, the binary in use.
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
  console.log(`require: ok (libcurl ${ned.versions().libcurl})`);
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
  (cd "$dir" && "${NPM[@]}" init -y >/dev/null)
  write_checks "$dir"
  echo "$dir"
}

# 2. npm's defaults: the prebuild, nothing compiled.
C1=$(consumer defaults)
(cd "$C1" && "${NPM[@]}" install "$TGZ" >/dev/null)
[ ! -d "$C1/node_modules/native-event-dispatcher/build" ] || { echo "test:pack: something was compiled" >&2; exit 1; }
(cd "$C1" && node check.cjs && node check.mjs)
DOCTOR=$(cd "$C1" && npx --no-install native-event-dispatcher doctor)
grep -q "binary .*/prebuilds/linux-x64/" <<<"$DOCTOR" || { echo "$DOCTOR"; echo "test:pack: the prebuild was not the binary loaded" >&2; exit 1; }
echo "defaults: the prebuild loads; no compiler ran"

# A TypeScript consumer of the real SDK v6 types, compiled with --strict.
(cd "$C1" && "${NPM[@]}" install typescript@5 @types/node@20 @optimizely/optimizely-sdk@6.6.1 >/dev/null)
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

# 3. No prebuild, install scripts allowed: built from source by the package's install script.
mkdir -p "$WORK/unpacked"
tar xzf "$TGZ" -C "$WORK/unpacked"
rm -rf "$WORK/unpacked/package/prebuilds"
tar czf "$WORK/source-only.tgz" -C "$WORK/unpacked" package
C2=$(consumer source)
# What a consumer writes to let this package's install script run (npm 11 blocks it otherwise).
node -e "const f='$C2/package.json';const p=require(f);p.allowScripts={'native-event-dispatcher':true};require('fs').writeFileSync(f,JSON.stringify(p,null,2))"
(cd "$C2" && "${NPM[@]}" install "$WORK/source-only.tgz" >/dev/null)
[ -f "$C2/node_modules/native-event-dispatcher/build/Release/native_event_dispatcher.node" ] || {
  echo "test:pack: the source build did not happen" >&2; exit 1; }
(cd "$C2" && node check.cjs && node check.mjs)
echo "source build: compiled by the install script and working"
echo "test:pack: passed"
