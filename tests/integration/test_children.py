#!/usr/bin/env python3
"""Integration tests of follow-children: a node cluster (a primary and two
workers, each a process with libuv) under `uvdb --batch --json`: the
workers join the session as inferiors, each with its own loops and
profile; a child without libuv is left alone; `set follow-children off`
keeps the session to the program."""
import glob
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, SRC, TIMEOUT, example, find, uvdb  # noqa: E402
from test_faults import Session  # noqa: E402

CLUSTER = os.path.join(SRC, "examples", "node", "12-cluster.js")


def values(objs, key):
    return [o[key] for o in objs if key in o]


class Cluster(unittest.TestCase):
    def test_workers_are_inferiors_with_loops_and_profiles(self):
        plain = subprocess.run([NODE, CLUSTER], capture_output=True, text=True, timeout=TIMEOUT)
        rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall", "run", "info inferiors",
                                   "inferior 2", "info loops", "profile report --top 100",
                                   "inferior 3", "profile report --top 100", "inferior 1", "info loops"],
                                  [NODE, CLUSTER])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, plain.stdout.splitlines())  # the program's own output, as without uvdb
        run = find(objs, "run")
        self.assertEqual((run["state"], run["exit_code"], run["dropped"]), ("exited", 0, 0))
        events = values(objs, "inferior")
        news = [e for e in events if e.get("event") == "new"]
        self.assertEqual(sorted(e["id"] for e in news), [2, 3])
        self.assertTrue(all(e["parent"] == run["pid"] for e in news), news)
        self.assertEqual(sorted(e["id"] for e in events if e.get("event") == "exited"), [2, 3])
        inferiors = find(objs, "info_inferiors")
        self.assertEqual([i["id"] for i in inferiors], [1, 2, 3])
        self.assertEqual(inferiors[0]["pid"], run["pid"])
        self.assertTrue(inferiors[0]["current"])
        for w in inferiors[1:]:
            self.assertEqual((w["parent"], w["state"], w["exe"]), (run["pid"], "exited", os.path.realpath(NODE)))
            self.assertGreaterEqual(w["loops"], 1)
            # 40 ticks of a 2 ms interval: an iteration each, unless a late loop runs two in one
            self.assertGreaterEqual(w["iterations"], 10)
        # each worker's own main loop, on its own main thread
        worker_loops = values(objs, "info_loops")[0]
        main = [l for l in worker_loops if l["main"]]
        self.assertEqual(len(main), 1)
        self.assertEqual(main[0]["tid"], inferiors[1]["pid"])
        self.assertGreaterEqual(main[0]["iterations"], 10)
        primary_loops = values(objs, "info_loops")[1]
        self.assertEqual([l["tid"] for l in primary_loops if l["main"]], [run["pid"]])
        # the profile of each worker holds its fib, named from its own perf map
        for report in values(objs, "profile_report"):
            self.assertGreater(report["samples"], 50)
            names = [f["function"] for f in report["functions"]]
            self.assertTrue(any(n.startswith("JS:") and "fib " in n and "12-cluster.js" in n for n in names), names)
        # the workers' perf maps, which uvdb caused, are gone with them
        for w in inferiors[1:]:
            self.assertFalse(os.path.exists(f"/tmp/perf-{w['pid']}.map"))

    def test_a_second_run_starts_afresh(self):
        rc, objs, out, err = uvdb(["run", "inferior 2", "run", "info inferiors"], [NODE, CLUSTER, "3"])
        self.assertEqual(rc, 0, err)
        runs = values(objs, "run")
        self.assertEqual(len(runs), 2)
        inferiors = find(objs, "info_inferiors")  # the second run's: back on inferior 1, children numbered anew
        self.assertEqual([(i["id"], i["current"]) for i in inferiors], [(1, True), (2, False), (3, False)])
        self.assertEqual(inferiors[0]["pid"], runs[1]["pid"])
        self.assertEqual({i["parent"] for i in inferiors[1:]}, {runs[1]["pid"]})

    def test_follow_children_off(self):
        maps = set(glob.glob("/tmp/perf-*.map"))
        rc, objs, out, err = uvdb(["set follow-children off", "run", "info inferiors"], [NODE, CLUSTER, "5"])
        self.assertEqual(rc, 0, err)
        # the workers got NODE_OPTIONS as the program had it, without uvdb's perf-map flag: no map left behind
        self.assertEqual(set(glob.glob("/tmp/perf-*.map")) - maps, set())
        self.assertEqual(values(objs, "inferior"), [])
        self.assertEqual([i["id"] for i in find(objs, "info_inferiors")], [1])
        self.assertIn("primary: both workers done", out)

    def test_a_child_without_libuv_is_left_alone(self):
        script = ("const cp = require('child_process');"
                  "console.log(cp.execFileSync('/bin/echo', ['from echo']).toString().trim());"
                  "cp.execFile(process.execPath, ['-e', 'setTimeout(() => console.log(\"from node\"), 20)'],"
                  " (e, out) => console.log(out.trim()));")
        rc, objs, out, err = uvdb(["run", "info inferiors"], [NODE, "-e", script])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[:2], ["from echo", "from node"])
        inferiors = find(objs, "info_inferiors")
        self.assertEqual(len(inferiors), 2)  # the program and its node child; /bin/echo was not followed
        self.assertEqual(inferiors[1]["exe"], os.path.realpath(NODE))

    def test_inferior_refusals(self):
        rc, objs, out, err = uvdb(["inferior 2"], None)
        self.assertEqual(rc, 1)
        self.assertIn("no inferior 2", find(objs, "error"))
        rc, objs, out, err = uvdb(["inferior x"], None)
        self.assertIn("usage: inferior N", find(objs, "error"))
        rc, objs, out, err = uvdb(["set follow-children maybe"], None)
        self.assertIn("follow-children takes", find(objs, "error"))



class ChildrenWhileAtThePrompt(unittest.TestCase):
    """`run &`, then no command: the workers the primary starts meanwhile
    are answered at once (their probes wait for the answer), not at the
    next command."""

    def test_workers_join_while_uvdb_waits_for_a_command(self):
        s = Session([NODE, CLUSTER])
        try:
            run = s.command("run &", "run")
            self.assertEqual(run["state"], "running")
            news = [s.expect("inferior"), s.expect("inferior")]  # not one command sent meanwhile
            self.assertEqual(sorted((e["event"], e["id"]) for e in news), [("new", 2), ("new", 3)])
            self.assertTrue(all(e["parent"] == run["pid"] for e in news), news)
            s.until_line("primary: both workers done")
            inferiors = s.command("info inferiors", "info_inferiors")
            self.assertEqual([i["id"] for i in inferiors], [1, 2, 3])
            for w in inferiors[1:]:  # traced from their start: every tick an iteration, or two in one
                self.assertEqual(w["parent"], run["pid"])
                self.assertGreaterEqual(w["iterations"], 10)
            self.assertIn("worker 1: 40 ticks, fib 46368", s.other)
        finally:
            s.close()


class ForkWithoutExec(unittest.TestCase):
    """A prefork parent: its children, forked from a timer callback with no
    exec, meet uvdb before fork returns in them, with rings of their own."""

    def check(self, program):
        rc, objs, out, err = uvdb(["run", "info inferiors", "inferior 2", "info loop", "info probe",
                                   "inferior 3", "info loop"], [program])
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["state"], run["exit_code"], run["dropped"]), ("exited", 0, 0))
        codes = sorted(l.rsplit(" ", 1)[1] for l in out if l.startswith("child pid "))
        self.assertEqual(codes, ["1", "2"])  # each child's number, from the parent's waitpid
        self.assertIn("parent: 2 children reaped", out)
        inferiors = find(objs, "info_inferiors")
        self.assertEqual([i["id"] for i in inferiors], [1, 2, 3])
        children = {int(l.split()[2]) for l in out if l.startswith("child pid ")}
        self.assertEqual({i["pid"] for i in inferiors[1:]}, children)
        for child in inferiors[1:]:
            self.assertEqual((child["parent"], child["state"], child["loops"]), (run["pid"], "exited", 1))
        # each child's own loop, on its own thread: the iteration it forked in, and one a tick
        for loop, child in zip([o["info_loop"] for o in objs if "info_loop" in o], inferiors[1:]):
            self.assertEqual(loop["tid"], child["pid"])
            self.assertGreaterEqual(loop["iterations"], 21)
            counts = {p["phase"]: p["count"] for p in loop["phases"]}
            self.assertEqual(counts["poll"], loop["iterations"])
        probe = find(objs, "info_probe")
        self.assertEqual(probe["pid"], inferiors[1]["pid"])
        self.assertGreater(probe["events"], 0)
        self.assertEqual(probe["dropped"], 0)

    def test_c_shared(self):
        self.check(example("12-prefork"))

    def test_c_static(self):
        self.check(example("12-prefork-static"))

    def test_follow_children_off(self):
        rc, objs, out, err = uvdb(["set follow-children off", "run", "info inferiors"], [example("12-prefork")])
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["id"] for i in find(objs, "info_inferiors")], [1])
        self.assertIn("parent: 2 children reaped", out)

if __name__ == "__main__":
    unittest.main(verbosity=2)
