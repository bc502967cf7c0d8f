#!/usr/bin/env bash
# Installs the system packages native-event-dispatcher builds and tests against, when they are
# missing. Debian/Ubuntu (apt). Uses sudo only when not root: root shells and containers often
# have none.
#   bash scripts/setup.sh            the build packages
#   bash scripts/setup.sh --bench    also nginx (npm run bench uses it)
#   bash scripts/setup.sh --cross    also the linux-arm64 cross toolchain, arm64 libcurl and qemu
#                                    (npm pack's arm64 prebuild, npm run test:arm64)
set -euo pipefail

# libcurl3-gnutls: a libcurl.so.4 whose symbols carry other versions (test:pack loads the
# prebuild against it).
PACKAGES=(build-essential python3 pkg-config libcurl4-openssl-dev openssl libcurl3-gnutls)
CROSS=0
for arg in "$@"; do
  case "$arg" in
    --bench) PACKAGES+=(nginx-light) ;;
    --cross) CROSS=1 ;;
    *) echo "setup: unknown option $arg (--bench, --cross)" >&2; exit 2 ;;
  esac
done
if [ "$CROSS" = 1 ]; then
  # libstdc++6:arm64 for the arm64 node that test:arm64 runs under qemu.
  PACKAGES+=(g++-aarch64-linux-gnu libcurl4-openssl-dev:arm64 libstdc++6:arm64 qemu-user-static)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: system packages present (${PACKAGES[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing ${missing[*]}, and this is not a Debian/Ubuntu system (no apt-get)." >&2
  echo "setup: install the equivalents of: ${missing[*]}" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup: not root and no sudo; as root run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# arm64 packages install beside the amd64 ones (multiarch) once dpkg knows the architecture.
if [ "$CROSS" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: adding the arm64 architecture to dpkg"
  "${SUDO[@]}" dpkg --add-architecture arm64
fi

echo "setup: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
