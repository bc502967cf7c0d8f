#!/usr/bin/env bash
# npm run prebuildify (and so prepack): the prebuilds the tarball carries, prebuilds/linux-x64 and
# prebuilds/linux-arm64 (glibc), built with prebuildify from native/binding.gyp. arm64 is cross-
# compiled (g++-aarch64-linux-gnu, libcurl4-openssl-dev:arm64: bash scripts/setup.sh --cross).
# Without that toolchain the arm64 prebuild is skipped with one line on stderr, and the tarball
# carries linux-x64 only (linux-arm64 then runs the fallback transport); with
# NED_REQUIRE_ALL_PREBUILDS=1 (CI, a release) a missing toolchain is an error instead.
#
# Each prebuild links against a libcurl stub made here: a libcurl.so.4 with the same functions and
# no symbol versions. Linked against Debian's libcurl the binary would require CURL_OPENSSL_4
# symbol versions, which a libcurl.so.4 built without versioned symbols or with another TLS
# backend's (CURL_GNUTLS_4, ...) does not define, and the loader refuses it; linked against the
# stub it asks for libcurl.so.4 and the functions only. The headers are the real ones.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STUBS=$(mktemp -d)
trap 'rm -rf "$STUBS"' EXIT

CROSS_SETUP="bash scripts/setup.sh --cross"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "prebuild: $1 is missing" >&2
    exit 1
  }
}

# missing <arch> <triplet> <tool prefix>: what the prebuild for <arch> lacks, in words; nothing
# when it has everything.
missing() {
  local arch=$1 triplet=$2 tools=$3 tool
  for tool in gcc g++ nm strip objdump; do
    command -v "${tools}$tool" >/dev/null 2>&1 || { echo "${tools}$tool is missing"; return; }
  done
  [ -f "/usr/lib/$triplet/pkgconfig/libcurl.pc" ] ||
    echo "no /usr/lib/$triplet/pkgconfig/libcurl.pc (libcurl4-openssl-dev for $arch)"
}

# stub <dir> <cc> <nm> <libcurl.so.4>: a libcurl.so (soname libcurl.so.4) defining every function
# the real one exports, unversioned.
stub() {
  local dir=$1 cc=$2 nm=$3 real=$4
  mkdir -p "$dir"
  "$nm" -D --defined-only "$real" | awk '$2 == "T" { sub(/@.*/, "", $3); print "void " $3 "(void) {}" }' |
    sort -u >"$dir/stub.c"
  grep -q ' curl_easy_init(' "$dir/stub.c" || { echo "prebuild: no curl functions found in $real" >&2; exit 1; }
  "$cc" -shared -fPIC -Wl,-soname,libcurl.so.4 -o "$dir/libcurl.so" "$dir/stub.c"
}

# prebuild <arch> <triplet> <tool prefix>: the toolchain is <prefix>gcc, <prefix>g++, ...
prebuild() {
  local arch=$1 triplet=$2 tools=$3
  local cc=${tools}gcc cxx=${tools}g++ objdump=${tools}objdump
  local pcdir="/usr/lib/$triplet/pkgconfig"
  need "$cc"
  need "$cxx"
  [ -f "$pcdir/libcurl.pc" ] || {
    echo "prebuild: no $pcdir/libcurl.pc (libcurl4-openssl-dev for $arch)" >&2
    exit 1
  }
  # pkg-config (in native/binding.gyp) answers with this architecture's libcurl.
  export PKG_CONFIG_LIBDIR="$pcdir:/usr/share/pkgconfig"
  stub "$STUBS/$arch" "$cc" "${tools}nm" "$(pkg-config --variable=libdir libcurl)/libcurl.so.4"
  CC=$cc CXX=$cxx npm_config_ned_libcurl_stub="$STUBS/$arch" \
    "$ROOT/node_modules/.bin/prebuildify" --napi --target "$TARGET" --strip --strip-bin "${tools}strip" --tag-libc \
    --name native-event-dispatcher --arch "$arch" --cwd native --out "$ROOT"
  unset PKG_CONFIG_LIBDIR
  local file="prebuilds/linux-$arch/native-event-dispatcher.glibc.node"
  [ -f "$file" ] || { echo "prebuild: $file was not made" >&2; exit 1; }
  # The point of the stub: no versioned libcurl symbol in the binary.
  if "$objdump" -T "$file" | grep -q 'CURL_'; then
    echo "prebuild: $file still requires versioned libcurl symbols:" >&2
    "$objdump" -T "$file" | grep 'CURL_' | head >&2
    exit 1
  fi
  # Bound at load (native/binding.gyp's -z now): a libcurl.so.4 lacking a function fails require(),
  # which falls back, instead of killing the process at the first call.
  readelf -d "$file" | grep -q 'BIND_NOW' || { echo "prebuild: $file is not linked with -z now" >&2; exit 1; }
  local glibc glibcxx
  glibc=$("$objdump" -T "$file" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  glibcxx=$("$objdump" -T "$file" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)
  echo "prebuild: $file ($(du -k "$file" | cut -f1) KiB; needs $glibc, ${glibcxx:-no GLIBCXX}, libcurl.so.4 without symbol versions)"
}

# Node's own headers when npm is configured with a nodedir (offline); otherwise node-gyp fetches
# the headers of this node's version (N-API: any version >= NAPI_VERSION 8 makes the same binary).
NODEDIR="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
if [ -n "$NODEDIR" ] && [ "$NODEDIR" != "undefined" ] && [ "$NODEDIR" != "null" ]; then
  export npm_config_nodedir="$NODEDIR"
fi
TARGET=$(node -p process.versions.node)

rm -rf prebuilds
case "$(uname -m)" in
  x86_64) ;;
  *) echo "prebuild: the release prebuilds are made on x86_64 (linux-x64 natively, linux-arm64 crossed)" >&2; exit 1 ;;
esac
# Decided before anything is built: a release that must carry both fails at once.
ARM64_MISSING=$(missing arm64 aarch64-linux-gnu aarch64-linux-gnu-)
if [ -n "$ARM64_MISSING" ] && [ "${NED_REQUIRE_ALL_PREBUILDS:-}" = 1 ]; then
  echo "prebuild: NED_REQUIRE_ALL_PREBUILDS=1, but the arm64 prebuild cannot be made: $ARM64_MISSING; install with $CROSS_SETUP" >&2
  exit 1
fi
prebuild x64 x86_64-linux-gnu ''
if [ -n "$ARM64_MISSING" ]; then
  # Last, so that it is not lost above the build's output.
  echo "prebuild: arm64 prebuild skipped: $ARM64_MISSING; install with $CROSS_SETUP; this tarball runs the fallback transport on linux-arm64" >&2
else
  prebuild arm64 aarch64-linux-gnu aarch64-linux-gnu-
fi
