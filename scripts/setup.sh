#!/bin/sh
# Installs uvdb's build dependencies (Debian 12, as root) and builds it into
# build/ (and build-asan/ with --asan).  Safe to run again.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential pkg-config meson ninja-build python3 libuv1-dev libunwind-dev libelf-dev
libdw-dev libreadline-dev libcmocka-dev libzydis-dev zlib1g-dev"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
    exit 1
  fi
  echo "setup: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
if [ "${1:-}" = "--asan" ]; then
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  ninja -C build-asan
fi
