#!/usr/bin/env bash
# npm run lint: the JS (eslint, prettier at 100 columns: npm run lint:js), then C++ formatting
# (.clang-format) and a warning-free build (-Wall -Wextra -Werror).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
npm run --silent lint:js
echo "lint: the JS is linted (eslint.config.js) and formatted (.prettierrc.json; npm run format)"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "lint: clang-format is not installed (apt-get install clang-format)" >&2
  exit 1
fi
# Every source under src/, as native/binding.gyp compiles them.
mapfile -t SOURCES < <(find src -name '*.cc' | sort)
mapfile -t HEADERS < <(find src -name '*.h' | sort)
clang-format --dry-run --Werror "${HEADERS[@]}" "${SOURCES[@]}"
echo "lint: src/ is formatted"
# Compile every source with the addon's warning flags and -Werror (objects are thrown away).
NODE_INCLUDE="$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")"
[ -f "$NODE_INCLUDE/node_api.h" ] || NODE_INCLUDE="${npm_config_nodedir:-/usr}/include/node"
# The standard, warnings and defines are native/binding.gyp's own (scripts/gyp-flags.js reads them).
read -r -a GYP_FLAGS < <(node scripts/gyp-flags.js)
for f in "${SOURCES[@]}"; do
  g++ "${GYP_FLAGS[@]}" -Werror -fsyntax-only \
    -I"$NODE_INCLUDE" -I"$(node -p "require('node-addon-api').include_dir")" \
    $(pkg-config --cflags libcurl) "$f"
done
echo "lint: no compiler warnings (-Wall -Wextra)"
