#!/bin/sh
# Installs uvdb's build dependencies (Debian 12, as root) and builds it into
# build/ (and build-asan/ with --asan, the libFuzzer targets into build-fuzz/
# with --fuzz; with --consumers, Debian's chromium and the npm packages of
# tests/consumers/, pinned by its package-lock.json; with --bench, the peers
# bench/run.py measures uvdb against: bpftrace, gdb).  Safe to run again.
#   scripts/setup.sh [--asan] [--fuzz] [--consumers] [--bench]
set -eu
cd "$(dirname "$0")/.."

asan=0 fuzz=0 consumers=0 bench=0
for opt in "$@"; do
  case $opt in
    --asan) asan=1 ;;
    --fuzz) fuzz=1 ;;
    --consumers) consumers=1 ;;
    --bench) bench=1 ;;
    *) echo "setup: unknown option $opt (--asan, --fuzz, --consumers, --bench)" >&2; exit 2 ;;
  esac
done

PACKAGES="build-essential pkg-config meson ninja-build python3 libuv1-dev libunwind-dev libelf-dev
libdw-dev libreadline-dev libcmocka-dev libzydis-dev zlib1g-dev groff-base"
# libFuzzer comes with clang only (gcc has none); its runtime library is in
# libclang-rt-dev, which clang merely recommends, so it is named too.
if [ "$fuzz" = 1 ]; then
  PACKAGES="$PACKAGES clang libclang-rt-dev"
fi
# The consumers suite drives Debian's chromium through playwright-core
# (which downloads no browser of its own).
if [ "$consumers" = 1 ]; then
  PACKAGES="$PACKAGES chromium"
fi
# bench/run.py's peers: bpftrace counting uv__io_poll beside uvdb (nm, from
# binutils, names uv_run's address in a stripped libuv.so.1), gdb's
# breakpoints beside uvdb's.
if [ "$bench" = 1 ]; then
  PACKAGES="$PACKAGES bpftrace binutils gdb"
fi
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
if [ "$consumers" = 1 ]; then
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
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
if [ "$asan" = 1 ]; then
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  ninja -C build-asan
fi
if [ "$consumers" = 1 ]; then
  # npm ci empties node_modules/ first, so the copy of the lock file left
  # there says the install finished and matches the lock file.
  lock=tests/consumers/package-lock.json stamp=tests/consumers/node_modules/.uvdb-installed-lock
  if ! cmp -s "$lock" "$stamp"; then
    (cd tests/consumers && npm ci --no-audit --no-fund --no-update-notifier)
    cp "$lock" "$stamp"
  fi
fi
if [ "$fuzz" = 1 ]; then
  # Only the fuzz targets: the rest is built and tested by gcc in build/.
  # Configured as scripts/fuzz.sh does, so either may create build-fuzz/
  # (-Db_lundef=false: sanitized code leaves the sanitizer runtime's
  # symbols to the final link, as in build-asan/).
  [ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Db_lundef=false >/dev/null
  ninja -C build-fuzz tests/fuzz/fuzz_command tests/fuzz/fuzz_cond tests/fuzz/fuzz_wire \
    tests/fuzz/fuzz_perfmap tests/fuzz/fuzz_elf tests/fuzz/fuzz_record
fi
