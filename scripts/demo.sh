#!/bin/sh
# The demo: set up, then watch the loop of a Node program and of a C program
# linked with Debian's libuv.so.1 (libuv 1.46 runs timers last, 1.44 first),
# and stop a C program before its timers to look at its timer heap and stack.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
UVDB=build/debugger/uvdb
echo
echo '$ uvdb --batch -ex run -ex "info loop" -ex "info probe" -- node examples/node/03-loop-phases.js'
$UVDB --batch -ex run -ex 'info loop' -ex 'info probe' -- node examples/node/03-loop-phases.js
echo
echo '$ uvdb --batch -ex "trace on phases" -ex run -ex "info loop" -- build/examples/06-run-once 2'
$UVDB --batch -ex 'trace on phases' -ex run -ex 'info loop' -- build/examples/06-run-once 2
echo
echo '$ uvdb --batch -ex "break phase timers" -ex run -ex "info timers" -ex bt -ex delete -ex continue -- build/examples/06-timers'
$UVDB --batch -ex 'break phase timers' -ex run -ex 'info timers' -ex bt -ex delete -ex continue -- build/examples/06-timers
