#!/usr/bin/env bash
# npm run test:asan — builds the addon with -fsanitize=address,undefined in build-asan/ (the normal
# build is left alone) and runs the whole Jest suite against it under ASan's runtime.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build-asan"

# Build offline against this node's own headers when npm is configured for it (npm run passes
# npm_config_nodedir); otherwise node-gyp uses its usual cache or download.
NODEDIR="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
GYP_ARGS=(rebuild --ned_sanitize=1)
if [ -n "$NODEDIR" ] && [ "$NODEDIR" != "undefined" ] && [ "$NODEDIR" != "null" ]; then
  GYP_ARGS+=("--nodedir=$NODEDIR")
fi

rm -rf "$OUT"
mkdir -p "$OUT/native"
cp -r "$ROOT/package.json" "$ROOT/src" "$OUT/"
cp "$ROOT/native/binding.gyp" "$OUT/native/"
ln -s "$ROOT/node_modules" "$OUT/node_modules"
(cd "$OUT/native" && "$ROOT/node_modules/.bin/node-gyp" "${GYP_ARGS[@]}" >"$OUT/build.log" 2>&1) || {
  cat "$OUT/build.log"
  exit 1
}
ADDON="$OUT/native/build/Release/native_event_dispatcher.node"
if ! nm -D "$ADDON" | grep __asan >/dev/null; then  # no -q: with pipefail, nm must not see SIGPIPE
  echo "test:asan: the addon was not built with ASan" >&2
  exit 1
fi

# node is not built with ASan, so its runtime is preloaded; every node process the tests start
# (workers, children) inherits it. Leak checking is off: node itself keeps memory until exit.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export NATIVE_EVENT_DISPATCHER_ADDON="$ADDON"
cd "$ROOT"
node "$ROOT/node_modules/.bin/jest" --runInBand "$@"
echo "test:asan: the suite passed against the ASan/UBSan build ($ADDON)"
