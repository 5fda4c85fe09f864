#!/usr/bin/env python3
"""A bounded fuzz run for the test suite: FUZZER over its seed corpus for
RUNS inputs (a count, not a time, so every machine does the same work);
new inputs go to a scratch directory, never into the seeds."""
import os
import subprocess
import sys
import tempfile

fuzzer, seeds = sys.argv[1], sys.argv[2]
runs = os.environ.get("UVDB_FUZZ_RUNS", "20000")
with tempfile.TemporaryDirectory(prefix="uvdb-fuzz-") as scratch:
    env = dict(os.environ, UVDB_FUZZ_QUIET="1")
    p = subprocess.run([fuzzer, scratch, seeds, f"-runs={runs}", "-seed=1", "-timeout=30", "-rss_limit_mb=4096",
                        f"-artifact_prefix={scratch}/"], cwd=scratch, env=env, capture_output=True, text=True,
                       errors="replace")  # a target's messages can quote the fuzzed bytes: not UTF-8
    tail = p.stderr[-4000:]
    print(tail)
    if p.returncode != 0:
        sys.exit(f"{os.path.basename(fuzzer)} failed ({p.returncode}): see above")
