#!/usr/bin/env python3
"""Integration tests of worker threads: every Worker's loop is a loop of its
own, labelled apart from the main loop and Node's internal ones, reported
when it ends; a breakpoint on one Worker's loop stops that thread only.
The example under `uvdb --batch --json`."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import find, node_example, uvdb  # noqa: E402

WORKERS = node_example("11-workers.js")
RESULT = "256726 primes below 3600000, 18 ranges counted by 3 workers"


class Workers(unittest.TestCase):
    def test_loops_are_labelled_and_worker_loops_end(self):
        rc, objs, out, err = uvdb(["run", "info loops"], WORKERS)
        self.assertEqual(rc, 0, err)
        self.assertIn(RESULT, out)
        loops = find(objs, "info_loops")
        kinds = [l["kind"] for l in loops]
        self.assertEqual(kinds.count("main"), 1, loops)
        self.assertEqual(kinds.count("worker"), 3, loops)
        self.assertEqual(kinds.count("platform"), 1, loops)  # the delayed-task scheduler's
        self.assertEqual(kinds.count("tracing"), 1, loops)   # the tracing agent's, turned at exit
        main = [l for l in loops if l["kind"] == "main"][0]
        self.assertEqual((main["id"], main["main"], main["label"]), (1, True, "main"))
        self.assertEqual(main["tid"], find(objs, "run")["pid"])
        self.assertEqual(main["caller"], "node::SpinEventLoopInternal")
        workers = [l for l in loops if l["kind"] == "worker"]
        self.assertEqual([w["label"] for w in workers], ["worker 1", "worker 2", "worker 3"])
        self.assertEqual([w["worker"] for w in workers], [1, 2, 3])
        self.assertEqual(len({w["tid"] for w in workers} | {main["tid"]}), 4)  # a thread each
        for w in workers:
            self.assertEqual(w["caller"], "node::SpinEventLoopInternal")  # as main's, on another thread
            self.assertTrue(w["ended"], w)
            self.assertEqual(w["state"], "ended")
            self.assertGreater(w["iterations"], 18)  # a turn per slice of its ranges, at least
        # each Worker's end was said as it happened, with its iteration count then
        ended = {o["loop_ended"]["id"]: o["loop_ended"] for o in objs if "loop_ended" in o}
        self.assertEqual(set(ended), {w["id"] for w in workers})
        for w in workers:
            self.assertEqual((ended[w["id"]]["label"], ended[w["id"]]["iterations"]), (w["label"], w["iterations"]))
        self.assertFalse(main["ended"])  # Node never closes it: the process exits
        self.assertEqual(main["state"], "exited")

    def test_a_breakpoint_on_one_worker_stops_that_thread_only(self):
        # loop 5 is the last Worker's (1: main, 2: the platform's, started with node; loops are numbered as
        # they first run): when it turns, the two other Workers' loops run too
        rc, objs, out, err = uvdb(["break phase poll loop 5 if iteration == 20", "run", "info loops",
                                   "set $e = $events", "while $events < $e + 400", "end", "info loops",
                                   "info breakpoints", "delete", "continue"], WORKERS)
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["state"], run["loop"], run["phase"], run["iteration"], run["breakpoint"]),
                         ("stopped", 5, "poll", 20, 1))
        before, after = [{l["id"]: l for l in o["info_loops"]} for o in objs if "info_loops" in o]
        self.assertEqual((before[5]["kind"], before[5]["label"]), ("worker", "worker 3"))
        # the stopped Worker did not move; the other Workers went on turning
        self.assertEqual((before[5]["state"], after[5]["state"]), ("stopped", "stopped"))
        self.assertEqual((before[5]["iterations"], after[5]["iterations"]), (19, 19))
        for i in (3, 4):
            self.assertEqual(before[i]["kind"], "worker")
            self.assertEqual(after[i]["state"], "running")
            self.assertGreater(after[i]["iterations"], before[i]["iterations"], (before, after))
        self.assertEqual(find(objs, "info_breakpoints")[0]["hits"], 1)  # on loop 5 only, though all poll
        self.assertEqual(find(objs, "continue")["exit_code"], 0)
        self.assertIn(RESULT, out)

if __name__ == "__main__":
    unittest.main(verbosity=2)
