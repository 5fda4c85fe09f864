#!/usr/bin/env python3
"""Integration tests of the sampling profiler: real examples under
`uvdb --batch --json`, its report by function and by phase, and its
exports (folded stacks, SVG flamegraph, speedscope) checked field by field."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import example, find, node_example, uvdb  # noqa: E402


class CProfile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_wall_clock_report_and_exports(self):
        # 04-blocking spins 200 ms in a timer callback and waits the rest
        rc, objs, out, err = uvdb([
            "profile start --hz 999 --clock wall", "run", "profile report --top 50",
            f"profile export {self.path('p.folded')} --format folded --phase-roots",
            f"profile export {self.path('p.svg')} --format svg --phase-roots",
            f"profile export {self.path('p.json')} --format speedscope"], [example("04-blocking-static")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "profile_start"), {"hz": 999, "clock": "wall", "threads": "loop", "from_start": True})
        report = find(objs, "profile_report")
        n = report["samples"]
        self.assertGreater(n, 200)  # about 0.5 s of wall time at 999 Hz
        phases = report["by_phase"]
        self.assertGreater(phases["timers"], 0.25 * n)  # the 200 ms spin
        self.assertGreater(phases["idle"], 0.25 * n)    # the waits for the ticks
        functions = {f["function"]: f for f in report["functions"]}
        self.assertGreater(functions["on_heavy"]["total"], 0.25 * n)
        self.assertGreater(functions["uv_run"]["total"], 0.9 * n)
        # the probe's own frames never show
        self.assertFalse([f for f in functions if f.startswith("uv__hook") or "uvdb" in f], functions)
        # folded: every sample once, each stack under its phase
        lines = open(self.path("p.folded")).read().splitlines()
        self.assertEqual(sum(int(l.rsplit(" ", 1)[1]) for l in lines), n)
        roots = {l.split(";", 1)[0] for l in lines}
        self.assertTrue({"[timers]", "[idle]"} <= roots, roots)
        self.assertTrue(any(l.startswith("[timers]") and "on_heavy" in l for l in lines))
        # SVG: self-contained, interactive, every frame named
        svg = open(self.path("p.svg")).read()
        self.assertTrue(svg.startswith("<?xml") and svg.rstrip().endswith("</svg>"))
        self.assertIn("<script>", svg)
        self.assertIn("function zoom", svg)
        self.assertIn("function search", svg)
        self.assertIn("<title>on_heavy (", svg)
        self.assertIn(f"({n} samples)", svg)
        # speedscope: a sampled profile whose weights add up to the samples
        doc = json.load(open(self.path("p.json")))
        prof = doc["profiles"][0]
        self.assertEqual(prof["type"], "sampled")
        self.assertEqual(sum(prof["weights"]), n)
        names = [f["name"] for f in doc["shared"]["frames"]]
        self.assertIn("on_heavy", names)
        self.assertTrue(all(0 <= i < len(names) for s in prof["samples"] for i in s))

    def test_cpu_clock_samples_only_work(self):
        rc, objs, out, err = uvdb(["profile start --hz 999", "run", "profile report"], [example("04-blocking")])
        self.assertEqual(rc, 0, err)
        report = find(objs, "profile_report")
        self.assertNotIn("idle", report["by_phase"])  # a thread waiting uses no CPU
        self.assertGreater(report["by_phase"]["timers"], 0.9 * report["samples"])

    def test_thread_pool_workers(self):
        rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall --threads pool", "run", "profile report --top 100"],
                                  [example("07-threadpool")])
        self.assertEqual(rc, 0, err)
        report = find(objs, "profile_report")
        self.assertEqual(set(report["by_phase"]), {"threadpool"})
        functions = {f["function"] for f in report["functions"]}
        self.assertIn("on_work", functions)

    def test_started_while_stopped(self):
        rc, objs, out, err = uvdb(["start", "profile start --hz 999 --clock wall", "continue", "profile report"],
                                  [example("04-blocking")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "profile_start")["from_start"], False)
        self.assertGreater(find(objs, "profile_report")["samples"], 100)


class NodeProfile(unittest.TestCase):
    def test_javascript_functions_named(self):
        rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall", "run", "profile report --top 200"],
                                  node_example("04-blocking.js"))
        self.assertEqual(rc, 0, err)
        report = find(objs, "profile_report")
        blocking = [f for f in report["functions"] if "blockFor200ms" in f["function"]]
        self.assertTrue(blocking, report["functions"][:20])
        # the 200 ms spin is most of the timers phase, and its samples name the function
        timers = report["by_phase"]["timers"]
        self.assertGreater(timers, 150)  # at 999 Hz
        self.assertGreater(max(f["total"] for f in blocking), 0.5 * timers)


class BadInput(unittest.TestCase):
    def test_options(self):
        for bad, message in (("profile start --hz 0", "--hz takes 1 to 10000"),
                             ("profile start --clock sun", "--clock is cpu"),
                             ("profile start --threads some", "--threads is loop, pool or all"),
                             ("profile start --fast", "usage: profile start"),
                             ("profile stop", "the profiler is not running"),
                             ("profile report", "no profile"),
                             ("profile export /tmp/x --format folded", "no samples to export"),
                             ("profile export /tmp/x --format png", 'no format "png"')):
            rc, objs, out, err = uvdb([bad], [example("04-blocking")])
            self.assertEqual(rc, 1, bad)
            self.assertIn(message, find(objs, "error"), bad)

    def test_unwritable_file_leaves_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            target = os.path.join(d, "missing", "p.svg")
            rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall", "run",
                                       f"profile export {target} --format svg"], [example("04-blocking")])
            self.assertEqual(rc, 1)
            self.assertIn("cannot write", find(objs, "error"))
            self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
    unittest.main(verbosity=2)
