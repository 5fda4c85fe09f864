#!/bin/sh
# Long libFuzzer runs of uvdb's fuzz targets (tests/fuzz/): builds them with
# clang into build-fuzz/, then fuzzes each for SECONDS (default 600).
#   scripts/fuzz.sh [-t SECONDS] [-j PARALLEL] [TARGET...]   (targets: command cond wire perfmap elf loccache record)
# New inputs go to build-fuzz/fuzz-work/TARGET (the seeds in
# tests/fuzz/corpus/TARGET are only read), crashes to
# build-fuzz/fuzz-artifacts/, libFuzzer's log to build-fuzz/fuzz-TARGET.log.
# Reproduce a crash: build-fuzz/tests/fuzz/fuzz_TARGET CRASH-FILE
set -eu
cd "$(dirname "$0")/.."
seconds=600 parallel=1
while getopts t:j: o; do
  case $o in
    t) seconds=$OPTARG ;;
    j) parallel=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=${*:-command cond wire perfmap elf loccache record}

[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Db_lundef=false >/dev/null
nice -n 10 ninja -C build-fuzz $(for t in $targets; do printf 'tests/fuzz/fuzz_%s ' "$t"; done)
mkdir -p build-fuzz/fuzz-artifacts

fuzz_one() {
  mkdir -p "build-fuzz/fuzz-work/$1"
  # -timeout: one input running 30 s is a hang worth a report (a `while`
  # ends after 1e6 passes, well under it); the answers printed go nowhere.
  UVDB_FUZZ_QUIET=1 nice -n 10 "$PWD/build-fuzz/tests/fuzz/fuzz_$1" "$PWD/build-fuzz/fuzz-work/$1" "$PWD/tests/fuzz/corpus/$1" \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$PWD/build-fuzz/fuzz-artifacts/$1-" >"build-fuzz/fuzz-$1.log" 2>&1 || true
  grep -E '^#[0-9]+' "build-fuzz/fuzz-$1.log" | tail -n 1 | sed "s/^/$1: /"
}

running=0
for t in $targets; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait
    running=0
  fi
done
wait
failed=0
for t in $targets; do
  if grep -q 'ERROR\|runtime error' "build-fuzz/fuzz-$t.log"; then
    echo "fuzz_$t found a crash: see build-fuzz/fuzz-$t.log" >&2
    failed=1
  fi
done
exit $failed
