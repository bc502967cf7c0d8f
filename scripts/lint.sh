#!/usr/bin/env bash
# npm run lint: C++ formatting (.clang-format) and a warning-free build (-Wall -Wextra -Werror).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
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
for f in "${SOURCES[@]}"; do
  g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS \
    -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS \
    -I"$NODE_INCLUDE" -I"$(node -p "require('node-addon-api').include_dir")" \
    $(pkg-config --cflags libcurl) "$f"
done
echo "lint: no compiler warnings (-Wall -Wextra)"
