#!/usr/bin/env bash
# npm run test:newcomer — a newcomer's path, past the quick start: a fresh consumer app installs the
# packed package (as from a release tarball) and the libraries the examples use, pastes in every
# example and recipe of the README (examples/, examples/recipes/), and the README-example and recipe
# tests run those pasted copies — so `import 'native-event-dispatcher'` is the installed tarball, not
# this clone. The quick start's demo runs first, as its command does.
#   NED_TARBALL=<tgz>   test this tarball (CI passes the one test:pack checked); else one is packed
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NPM=(npm --no-audit --no-fund --loglevel=error)
fail() { echo "test:newcomer: $*" >&2; exit 1; }

# The quick start's first command ends with the demo (setup, install and build are CI's own steps).
(cd "$ROOT" && npm run --silent demo -- --users 500) >"$WORK/demo.log" 2>&1 || { cat "$WORK/demo.log" >&2; fail "npm run demo failed"; }
grep -q 'OK: every event arrived' "$WORK/demo.log" || { cat "$WORK/demo.log" >&2; fail "the demo did not deliver every event"; }
echo "test:newcomer: npm run demo delivered every event"

TGZ=${NED_TARBALL:-$(bash "$ROOT/scripts/pack.sh" "$WORK")}
APP="$WORK/app"
mkdir -p "$APP"
(cd "$APP" && npm init -y >/dev/null)
# What the examples import, at the versions this repository tests them with (its devDependencies;
# the v4/v5 SDK under the alias the v5 example's loader hook maps to).
mapfile -t DEPS < <(node -e "
const dev = require('$ROOT/package.json').devDependencies;
const wanted = ['@optimizely/optimizely-sdk', 'optimizely-sdk-v5', 'express', 'fastify', '@vercel/functions',
  '@opentelemetry/api', '@opentelemetry/sdk-metrics', '@opentelemetry/exporter-prometheus',
  '@opentelemetry/otlp-exporter-base', '@opentelemetry/otlp-transformer', '@opentelemetry/sdk-trace-base'];
for (const name of wanted) {
  if (!dev[name]) throw new Error('no devDependency ' + name);
  console.log(name + '@' + dev[name]);
}")
(cd "$APP" && "${NPM[@]}" install "$TGZ" "${DEPS[@]}") >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "npm install in the consumer app failed"; }
cp -r "$ROOT/examples" "$APP/examples"
RESOLVED=$(cd "$APP/examples" && node --input-type=module -e "console.log(import.meta.resolve('native-event-dispatcher'))")
case "$RESOLVED" in
  "file://$APP/node_modules/native-event-dispatcher/"*) ;;
  *) fail "the pasted examples resolve native-event-dispatcher to $RESOLVED, not to the installed tarball" ;;
esac
echo "test:newcomer: a consumer app installed $(basename "$TGZ") and pasted in $(find "$APP/examples" -name '*.mjs' | wc -l) example files"

cd "$ROOT"
NED_EXAMPLES_ROOT="$APP" node node_modules/.bin/jest test/readme test/recipes
echo "test:newcomer: every README example and recipe ran as pasted in a consumer app"
