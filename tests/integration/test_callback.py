#!/usr/bin/env python3
"""Integration tests of callback breakpoints, `step` and `finish` in a
callback: real examples under `uvdb --batch --json`, on Node and on C with
Debian's libuv.so.1 and with libuv linked in statically."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import EXAMPLES, example, find, node_example, uvdb  # noqa: E402

PROGRAMS = (os.environ.get("UVDB_TEST_PROGRAMS") or os.environ.get("TEST_PROGRAMS")
            or os.path.join(os.path.dirname(EXAMPLES), "tests", "integration"))


def all_of(objs, key):
    return [o[key] for o in objs if key in o]


class BreakCallback(unittest.TestCase):
    def check_c(self, program):
        rc, objs, out, err = uvdb(["break callback on_repeating", "run", "backtrace", "finish", "continue",
                                   "info breakpoints", "delete", "continue"], [program])
        self.assertEqual(rc, 0, err)
        bp = find(objs, "break")
        self.assertEqual((bp["type"], bp["pattern"], bp["pending"], bp["locations"]),
                         ("callback", "on_repeating", True, []))
        run = find(objs, "run")
        self.assertEqual((run["state"], run["reason"], run["breakpoint"], run["callback"], run["phase"]),
                         ("stopped", "breakpoint", 1, "on_repeating", "timers"))
        frames = find(objs, "backtrace")["frames"]
        self.assertEqual(frames[0]["function"], "on_repeating")
        self.assertIn("uv_run", [f["function"] for f in frames])
        self.assertEqual(frames[-1]["function"], "_start")
        fin = find(objs, "finish")
        self.assertEqual((fin["state"], fin["reason"], fin["callback"], fin["returned"], fin["phase"],
                          fin["iteration"]),
                         ("stopped", "finish", "on_repeating", True, "timers", run["iteration"]))
        again = all_of(objs, "continue")
        # the 20 ms timer repeats: the next stop is its second run, a later iteration
        self.assertEqual((again[0]["reason"], again[0]["callback"]), ("breakpoint", "on_repeating"))
        self.assertGreater(again[0]["iteration"], run["iteration"])
        info = find(objs, "info_breakpoints")[0]
        self.assertEqual(info["hits"], 2)
        self.assertEqual([(l["function"], l["state"]) for l in info["locations"]], [("on_repeating", "installed")])
        # deleted: the program runs to its end, its output as without uvdb
        self.assertEqual((again[1]["state"], again[1]["exit_code"]), ("exited", 0))
        self.assertIn("third, after the repeating timer fired 1 time", out)

    def test_c_shared(self):
        self.check_c(example("06-timers"))

    def test_c_static(self):
        self.check_c(example("06-timers-static"))

    def test_glob_names_several_functions(self):
        rc, objs, out, err = uvdb(["break callback on_[ft]*", "run", "continue", "info breakpoints", "kill"],
                                  [example("06-timers")])
        self.assertEqual(rc, 0, err)
        info = find(objs, "info_breakpoints")[0]
        self.assertEqual(sorted(l["function"] for l in info["locations"]), ["on_first", "on_third"])
        self.assertEqual({l["state"] for l in info["locations"]}, {"installed"})
        # due in 10 and 30 ms: the heap gives them in that order
        self.assertEqual([find(objs, "run")["callback"], find(objs, "continue")["callback"]],
                         ["on_first", "on_third"])

    def test_ignore_and_condition(self):
        # the third run of the repeating timer: two ignored, then a condition on the loop
        rc, objs, out, err = uvdb(["break callback on_repeating if loop == 1", "ignore 1 2", "run",
                                   "info breakpoints", "kill"], [example("06-timers")])
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["callback"], run["breakpoint"]), ("on_repeating", 1))
        self.assertEqual(find(objs, "info_breakpoints")[0]["hits"], 3)
        self.assertEqual(find(objs, "kill")["state"], "exited")

    def test_set_while_stopped(self):
        rc, objs, out, err = uvdb(["start", "break callback on_third", "continue", "kill"], [example("06-timers")])
        self.assertEqual(rc, 0, err)
        bp = find(objs, "break")
        self.assertEqual(bp["pending"], False)
        self.assertEqual([(l["function"], l["state"]) for l in bp["locations"]], [("on_third", "installed")])
        cont = find(objs, "continue")
        self.assertEqual((cont["reason"], cont["callback"], cont["phase"]), ("breakpoint", "on_third", "timers"))

    def test_node_runtimers(self):
        # qualified and by its last name, as gdb finds C++ functions
        for pattern in ("node::Environment::RunTimers", "RunTimers"):
            rc, objs, out, err = uvdb([f"break callback {pattern}", "run", "backtrace", "kill"],
                                      node_example("06-timeout-vs-immediate.js"))
            self.assertEqual(rc, 0, err)
            run = find(objs, "run")
            self.assertEqual((run["state"], run["reason"], run["callback"], run["phase"]),
                             ("stopped", "breakpoint", "node::Environment::RunTimers", "timers"))
            frames = [f["function"] for f in find(objs, "backtrace")["frames"]]
            self.assertTrue(frames[0].startswith("node::Environment::RunTimers"), frames)
            self.assertIn("uv__run_timers", frames)

    def test_node_check_immediate_then_finish(self):
        rc, objs, out, err = uvdb(["break callback node::Environment::CheckImmediate", "run", "finish", "delete",
                                   "continue"], node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 0, err)
        run, fin = find(objs, "run"), find(objs, "finish")
        self.assertEqual((run["callback"], run["phase"]), ("node::Environment::CheckImmediate", "check"))
        self.assertEqual((fin["reason"], fin["returned"], fin["phase"]), ("finish", True, "check"))
        self.assertEqual(find(objs, "continue")["exit_code"], 0)
        self.assertIn("from an I/O callback: setImmediate before setTimeout", out)


class Step(unittest.TestCase):
    def test_c_steps_callback_by_callback(self):
        rc, objs, out, err = uvdb(["break phase timers", "run", "delete", "step", "step", "step", "continue"],
                                  [example("06-timers")])
        self.assertEqual(rc, 0, err)
        steps = all_of(objs, "step")
        self.assertEqual([(s["reason"], s["callback"], s["phase"]) for s in steps],
                         [("step", "on_first", "timers"), ("step", "on_repeating", "timers"),
                          ("step", "on_third", "timers")])
        iters = [s["iteration"] for s in steps]
        self.assertEqual(iters, sorted(iters))
        self.assertEqual(find(objs, "continue")["exit_code"], 0)

    def test_node_step_names_node_callbacks(self):
        rc, objs, out, err = uvdb(["start", "step", "step", "step", "step", "kill"],
                                  node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 0, err)
        steps = all_of(objs, "step")
        self.assertEqual(len(steps), 4)
        for s in steps:
            self.assertEqual((s["state"], s["reason"], s["loop"]), ("stopped", "step", 1))
            self.assertTrue(s["callback"], s)
        # what Node gives libuv: its timer, immediate and idle-notifier callbacks
        self.assertTrue(any(s["callback"].startswith("node::") for s in steps), steps)

    def test_step_needs_a_stopped_program(self):
        rc, objs, out, err = uvdb(["step"], [example("06-timers")])
        self.assertNotEqual(rc, 0)
        self.assertIn("not being run", err + "".join(out) + str(objs))


class QueryWhileRunning(unittest.TestCase):
    """`run &` / `continue &`: a view of a running loop is answered at its next
    safepoint, or says what the loop is stuck in."""

    def test_views_of_an_idle_loop_pause_it_for_their_time(self):
        rc, objs, out, err = uvdb(["run &", "info timers", "info handles", "interrupt", "kill"],
                                  ["node", "-e", "setTimeout(() => {}, 3000)"])
        self.assertEqual(rc, 0, err)
        self.assertEqual((find(objs, "run")["state"], find(objs, "run")["background"]), ("running", True))
        timers = find(objs, "info_timers")["timers"]
        self.assertEqual([t["callback"] for t in timers], ["node::Environment::RunTimers(uv_timer_s*)"])
        self.assertGreater(timers[0]["due_in_ms"], 0)
        types = {h["type"] for h in find(objs, "info_handles")["handles"]}
        self.assertTrue({"timer", "check", "idle", "prepare", "async"} <= types, types)
        # the views' pauses were taken back: the stop is the interrupt's own
        self.assertEqual((find(objs, "interrupt")["state"], find(objs, "interrupt")["reason"]),
                         ("stopped", "interrupt"))

    def check_busy(self, program, callback):
        rc, objs, out, err = uvdb(["break callback " + callback.split("(")[0], "run", "delete", "continue &",
                                   "info timers", "kill"], program)
        self.assertEqual(rc, 1)  # the view could not be answered
        busy = find(objs, "loop_busy")
        self.assertEqual((busy["loop"], busy["phase"], busy["callback"]), (1, "timers", callback))
        # busy since it left the breakpoint: longer than the 200 ms waited for a
        # safepoint, give or take the TSC's calibration
        self.assertGreater(busy["busy_ms"], 190)
        self.assertEqual(len(busy["samples"]), 3)
        # a sample taken in a PLT stub may unwind no further; the others name the loop and the callback
        whole = [[f["function"] for f in s] for s in busy["samples"] if any(f["function"] == "uv_run" for f in s)]
        self.assertTrue(whole, busy["samples"])
        for functions in whole:
            self.assertTrue(any(f.startswith(callback) for f in functions), functions)
        self.assertIn("reached no safepoint within 200 ms", find(objs, "error"))
        self.assertEqual(find(objs, "kill")["signal"], "KILL")

    def test_a_c_loop_stuck_in_a_callback(self):
        self.check_busy([os.path.join(PROGRAMS, "busy-callback")], "on_busy")

    def test_a_node_loop_stuck_in_javascript(self):
        self.check_busy(["node", "-e", "setTimeout(() => { const end = Date.now() + 60000; while (Date.now() < end); }, 1)"],
                        "node::Environment::RunTimers")


class BadInput(unittest.TestCase):
    def test_unknown_function_before_run_names_close_ones(self):
        rc, objs, out, err = uvdb(["break callback on_frist"], [example("06-timers")])
        self.assertNotEqual(rc, 0)
        text = err + "\n".join(out) + str(objs)
        self.assertIn('no function matches "on_frist"', text)
        self.assertIn("on_first", text)

    def test_unknown_function_in_a_running_program(self):
        rc, objs, out, err = uvdb(["start", "break callback on_thrid", "info breakpoints", "kill"],
                                  [example("06-timers")])
        self.assertNotEqual(rc, 0)
        text = err + "\n".join(out) + str(objs)
        self.assertIn('no function matches "on_thrid" in process', text)
        self.assertIn("on_third", text)
        self.assertEqual(find(objs, "info_breakpoints"), [])

    def test_the_probe_refuses_its_own_functions_and_libuvs_hooked_ones(self):
        rc, objs, out, err = uvdb(["start", "break callback uv__io_poll", "info breakpoints", "kill"],
                                  [example("06-timers-static")])
        locations = find(objs, "break")["locations"]
        self.assertEqual(len(locations), 1)
        self.assertEqual(locations[0]["state"], "refused")
        self.assertIn("already hooks", locations[0]["reason"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
