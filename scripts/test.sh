#!/bin/sh
# Every test: set up (with the sanitizer build, the clang build of the
# fuzz targets, and chromium and the npm packages of the consumers suite),
# run the unit and integration suites, then the debugger and the unit tests
# again under ASan+UBSan, then a bounded libFuzzer run of each fuzz target,
# then uvdb's exports in their real consumers (speedscope, Chromium,
# pprof-format).  The probe, the examples and the test programs of the
# sanitizer run come from build/: a sanitized probe cannot be preloaded into
# a program that is not, nor the plain probe into a sanitized program.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh --asan --fuzz --consumers

status=0
meson test -C build --print-errorlogs --no-suite consumers || status=1
UVDB_PROBE="$PWD/build/preload/libuvdb-probe.so" UVDB_EXAMPLES="$PWD/build/examples" \
  UVDB_TEST_PROGRAMS="$PWD/build/tests/integration" UVDB_BENCH="$PWD/build/bench" \
  meson test -C build-asan --print-errorlogs --suite unit --suite integration --suite docs || status=1
# The fuzz targets, each over its seeds for UVDB_FUZZ_RUNS inputs (a count,
# not a time: every machine does the same work), one after the other.
# setup.sh built them and nothing else of build-fuzz/ (meson test rebuilds
# only what the tests it runs depend on).  An old testlog.json must not be
# counted if this run fails to start.
rm -f build-fuzz/meson-logs/testlog.json
meson test -C build-fuzz --print-errorlogs --suite fuzz || status=1
# The consumers suite, logged apart (meson-logs/consumers.json): a second
# meson test in build/ would otherwise replace the first one's testlog.json.
rm -f build/meson-logs/consumers.json
meson test -C build --print-errorlogs --suite consumers --logbase consumers || status=1

# One line for people and CI: test cases, counted from each runner's own
# summary (cmocka's [  PASSED  ] / [  FAILED  ], unittest's Ran N / failures=).
# A fuzz target's run counts as one test (its result).
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json \
  build/meson-logs/consumers.json <<'PY'
import json, os, re, sys
passed = failed = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):  # its meson test did not run at all
        print(f"FAILED: no {path}")
        failed += 1
        continue
    for line in open(path):
        r = json.loads(line)
        out = r.get("stdout", "") + r.get("stderr", "")
        ok = r["result"] in ("OK", "EXPECTEDFAIL")
        cm_pass = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
        cm_fail = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
        ran = re.search(r"^Ran (\d+) tests?", out, re.M)
        if cm_pass or cm_fail:
            p, f = cm_pass, cm_fail
        elif ran:
            bad = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", out))
            p, f = int(ran.group(1)) - bad, bad
        else:
            p, f = int(ok), int(not ok)
        if not ok and f == 0:
            f = 1  # crashed or timed out before its own summary
        passed += p
        failed += f
        if not ok:
            print(f"FAILED: {r['name']} ({path})")
print(f"{passed} passed, {failed} failed")
PY
exit $status
