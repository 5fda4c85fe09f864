#!/usr/bin/env python3
"""Transparency: every example (C, built against the shared and the static
libuv, and Node) prints the same output and ends with the same status run
plainly and run under uvdb with the probe preloaded; a Node program's own
test suite (programs/node-suite.test.mjs) passes the same tests under the
probe as without it."""
import collections
import glob
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import EXAMPLES, NODE, SRC, TIMEOUT, UVDB  # noqa: E402

# What uvdb itself prints in --json mode: one-key objects with these keys
# (loop_ended: a Worker's loop closed).  A program's own JSON line,
# 04-blocking.js's, has other keys.
UVDB_KEYS = {"run", "warning", "error", "exited", "stopped", "loop_ended", "inferior"}  # uvdb's, not the program's

# Figures that differ from run to run with or without the probe: durations
# (scheduling and CPU speed decide them) and memory peaks (when the
# allocator and GC act depends on timing).  They are replaced by '#', so
# the sentence and every count around them are still compared exactly.
VARYING = [
    (re.compile(r"\d+\.\d+"), "#"),                 # 16.1 ms, 0.27 MiB, "blocked_ms":201.026141
    (re.compile(r"\b\d+ (ms|MB|MiB)\b"), r"# \1"),  # took 709 ms, heap used 226 MB
    (re.compile(r"\bpid \d+"), "pid #"),            # a child's (12-processes)
]

# Races the program itself shows, whatever runs it: which line comes out
# is up to the OS, so either is accepted (as is, then compared).
RACES = {
    # setTimeout(0) against setImmediate from the main module: it depends on
    # whether 1 ms passed before the loop's first timers phase.
    "06-timeout-vs-immediate.js": {
        "from the main module: setImmediate before setTimeout": "from the main module: setTimeout before setImmediate",
    },
}


# Programs whose lines come in an order that is a race in the program:
# compared as a set of lines.  03-loop-phases: the stat on the thread pool
# and the echo over loopback TCP finish in either order.
ORDER_FREE = {"03-loop-phases", "03-loop-phases-static", "12-prefork", "12-prefork-static"}  # children exit in any order


def normalize(name, lines):
    out = []
    for line in lines:
        line = RACES.get(name, {}).get(line, line)
        for pattern, repl in VARYING:
            line = pattern.sub(repl, line)
        out.append(line)
    return sorted(out) if name in ORDER_FREE else out


def run_plain(argv, cwd):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    status = ("exit", p.returncode) if p.returncode >= 0 else ("signal", -p.returncode)
    return p.stdout.splitlines(), status


def run_under_uvdb(argv, cwd):
    p = subprocess.run([UVDB, "-nx", "--batch", "--json", "-ex", "run", "--", *argv], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=cwd)
    out, run = [], None
    for line in p.stdout.splitlines():
        obj = None
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                pass
        if isinstance(obj, dict) and len(obj) == 1 and next(iter(obj)) in UVDB_KEYS:
            if "run" in obj:
                run = obj["run"]
            elif "warning" in obj or "error" in obj:
                raise AssertionError(f"uvdb: {obj} ({p.stderr})")
            continue
        out.append(line)
    if run is None or run["state"] != "exited":
        raise AssertionError(f"no exit from uvdb: {p.stdout} {p.stderr}")
    status = ("exit", run["exit_code"]) if run["signal"] is None else ("signal", run["signal"])
    return out, status, run


def c_examples():
    names = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(SRC, "examples", "c", "*.c")))
    return [n + suffix for n in names for suffix in ("", "-static")]


def node_examples():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(SRC, "examples", "node", "*.js")))


# A program's own test suite: node:test run in-process (`node FILE`, not
# `node --test`, which would run the file in a child process).
NODE_SUITE = os.path.join(SRC, "tests", "integration", "programs", "node-suite.test.mjs")
TAP_RESULT = re.compile(r"^( *)(ok|not ok) \d+ - (.*?)(?: # (?:SKIP|TODO)\b.*)?$")
TAP_SUMMARY = re.compile(r"^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$")


def tap_results(lines):
    """The TAP that node:test prints, as (results, summary): results maps each
    test's name, qualified by its describe() blocks ("fs > rename and unlink"),
    to its "ok" / "not ok" lines (a list: a name twice is seen twice); summary
    the final counts.  Durations are not read.  A suite's result line comes
    after its tests' (4 spaces deeper), so each level's results wait for
    their parent's line to be named."""
    pending = collections.defaultdict(list)  # depth -> [(name, result)] not yet under a parent
    summary = {}
    for line in lines:
        m = TAP_RESULT.match(line)
        if m:
            depth = len(m.group(1)) // 4
            name, result = m.group(3), m.group(2)
            children = pending.pop(depth + 1, [])
            pending[depth].append((name, result))
            pending[depth].extend((name + " > " + child, r) for child, r in children)
            continue
        m = TAP_SUMMARY.match(line)
        if m:
            summary[m.group(1)] = int(m.group(2))
    results = collections.defaultdict(list)
    for name, result in pending.pop(0, []):
        results[name].append(result)
    if pending:
        raise AssertionError(f"TAP results without a parent line: {dict(pending)}")
    return dict(results), summary


class Transparency(unittest.TestCase):
    def compare(self, name, argv, cwd):
        plain, plain_status = run_plain(argv, cwd)
        probed, probed_status, run = run_under_uvdb(argv, cwd)
        self.assertEqual(normalize(name, probed), normalize(name, plain), name)
        self.assertTrue(plain, f"{name} printed nothing: nothing compared")
        self.assertEqual(plain_status[0], "exit", (name, plain_status))  # every example exits
        self.assertEqual(probed_status, plain_status, name)
        # It really ran under the probe: libuv was found and events came.
        self.assertGreater(run["events"], 0, name)

    def test_c_examples(self):
        names = c_examples()
        self.assertGreaterEqual(len(names), 14)
        for name in names:
            with self.subTest(name):
                # argv[0] as a path relative to the examples' directory: the
                # same text both times (03-loop-phases stats its own argv[0]).
                self.compare(name, ["./" + name], EXAMPLES)

    def test_node_examples(self):
        names = node_examples()
        self.assertGreaterEqual(len(names), 12)
        for name in names:
            with self.subTest(name):
                self.compare(name, [NODE, os.path.join(SRC, "examples", "node", name)], SRC)

    def test_node_program_test_suite(self):
        argv = [NODE, NODE_SUITE]
        plain, plain_status = run_plain(argv, SRC)
        probed, probed_status, run = run_under_uvdb(argv, SRC)
        plain_results, plain_summary = tap_results(plain)
        probed_results, probed_summary = tap_results(probed)
        # The suite itself passes without the probe, and is a real one.
        self.assertEqual(plain_status, ("exit", 0), "\n".join(plain))
        self.assertGreaterEqual(plain_summary.get("tests", 0), 20, plain_summary)
        self.assertEqual(plain_summary["pass"], plain_summary["tests"], plain_summary)
        self.assertEqual(sum(len(r) for r in plain_results.values()),
                         plain_summary["tests"] + plain_summary["suites"], plain_results)
        # Under the probe: the same status, the same tests with the same
        # results, the same counts.
        self.assertEqual(probed_status, plain_status, "\n".join(probed))
        self.assertEqual(probed_results, plain_results, "\n".join(probed))
        self.assertEqual(probed_summary, plain_summary, "\n".join(probed))
        # It really ran under the probe: libuv was found and events came.
        self.assertGreater(run["events"], 0, run)


if __name__ == "__main__":
    unittest.main(verbosity=2)
