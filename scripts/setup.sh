#!/usr/bin/env bash
# Installs the system packages native-event-dispatcher builds against, when they are missing.
# Debian/Ubuntu (apt). Uses sudo only when not root: root shells and containers often have none.
#   bash scripts/setup.sh            the build packages
#   bash scripts/setup.sh --bench    also nginx (npm run bench uses it)
set -euo pipefail

PACKAGES=(build-essential python3 pkg-config libcurl4-openssl-dev nlohmann-json3-dev openssl)
if [ "${1:-}" = "--bench" ]; then PACKAGES+=(nginx-light); fi

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

echo "setup: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
