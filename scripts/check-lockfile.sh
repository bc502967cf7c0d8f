#!/usr/bin/env bash
# npm run check:lockfile — package-lock.json is in step with package.json: npm, asked to settle the
# lockfile (offline, no scripts, in a scratch copy so node_modules is not touched), changes nothing.
# To bring it in step: npm install --package-lock-only --ignore-scripts
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$WORK/"
if ! (cd "$WORK" && npm install --package-lock-only --ignore-scripts --offline --no-audit --no-fund >"$WORK/npm.log" 2>&1); then
  cat "$WORK/npm.log" >&2
  echo "check:lockfile: npm could not settle the lockfile offline: package.json asks for packages" >&2
  echo "check:lockfile: package-lock.json lacks. Run: npm install --package-lock-only --ignore-scripts" >&2
  exit 1
fi
if ! diff -u "$ROOT/package-lock.json" "$WORK/package-lock.json" >"$WORK/lock.diff"; then
  head -40 "$WORK/lock.diff" >&2
  echo "check:lockfile: package-lock.json is out of step with package.json. Run: npm install --package-lock-only --ignore-scripts" >&2
  exit 1
fi
echo "check:lockfile: package-lock.json matches package.json"
