#!/bin/sh
# Every test: set up (with the sanitizer build), run the unit and integration
# suites, then the debugger and the unit tests again under ASan+UBSan.  The
# probe and the examples of the sanitizer run come from build/: a sanitized
# probe cannot be preloaded into a program that is not.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh --asan

status=0
meson test -C build --print-errorlogs || status=1
UVDB_PROBE="$PWD/build/preload/libuvdb-probe.so" UVDB_EXAMPLES="$PWD/build/examples" \
  meson test -C build-asan --print-errorlogs --suite unit --suite integration || status=1

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        ok = r["result"] in ("OK", "EXPECTEDFAIL")
        passed += ok
        failed += not ok
        if not ok:
            print(f"FAILED: {r['name']} ({path})")
print(f"{passed} passed, {failed} failed")
PY
exit $status
