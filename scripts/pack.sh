#!/usr/bin/env bash
# bash scripts/pack.sh DIR: npm pack (prepack makes the linux-x64 and linux-arm64 prebuilds, or
# linux-x64 only without the arm64 cross toolchain: scripts/prebuild.sh) into DIR and print the
# tarball's path; npm's log goes to DIR/pack.log, prebuild's note of a skipped arm64 to stderr.
# Packed from a copy of the tree: prebuildify rebuilds in native/build, which must not touch the
# working tree's own build. test:pack and test:arm64 use it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$(cd "$1" && pwd)
COPY="$DEST/repo"
rm -rf "$COPY"
mkdir -p "$COPY/native"
cp -r "$ROOT"/{package.json,src,lib,types,bin,scripts,LICENSE,README.md} "$COPY/"
cp "$ROOT/native/binding.gyp" "$COPY/native/"
ln -s "$ROOT/node_modules" "$COPY/node_modules"
(cd "$COPY" && npm pack --pack-destination "$DEST" >"$DEST/pack.log" 2>&1) || { cat "$DEST/pack.log" >&2; exit 1; }
grep '^prebuild: arm64 prebuild skipped' "$DEST/pack.log" >&2 || true
rm -rf "$COPY"
ls "$DEST"/native-event-dispatcher-*.tgz
