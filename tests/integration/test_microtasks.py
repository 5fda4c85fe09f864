#!/usr/bin/env python3
"""Integration tests of microtasks: the order chapter 2 claims (sync code,
process.nextTick, promises, setTimeout, setImmediate, an I/O callback),
checked on Node's own output and on where uvdb stops the loop with
`break microtasks`; and the checkpoints on the timeline (`trace export`)."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import UVDB, find, node_example, uvdb  # noqa: E402
import test_profile  # noqa: E402  (its TraceExport.export, not its tests)

ORDERING = node_example("02-ordering.js")


def numbers(lines):
    return [int(line.split()[0]) for line in lines if line[:1].isdigit()]


def stdout_segments(program_and_json):
    """The program's lines between uvdb's answers: [[lines], answer, [lines], ...]."""
    segments, current = [], []
    for line in program_and_json:
        if line.startswith("{"):
            segments += [current, json.loads(line)]
            current = []
        else:
            current.append(line)
    return segments + [current]


class Ordering(unittest.TestCase):
    def test_the_order_the_chapter_gives(self):
        rc, objs, out, err = uvdb(["run"], ORDERING)
        self.assertEqual(rc, 0, err)
        # labels are numbered in the order the chapter says Node runs them
        self.assertEqual(numbers(out), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        kinds = {int(line.split()[0]): line.split()[1] for line in out if line[:1].isdigit()}
        self.assertEqual(kinds[1], "sync:")
        self.assertTrue(all(kinds[n] == "microtask:" for n in (2, 3, 5, 6, 8, 10)), kinds)
        self.assertTrue(all(kinds[n] == "macrotask:" for n in (4, 7, 9, 11, 12)), kinds)

    def test_break_microtasks_stops_at_each_checkpoint_in_its_callback(self):
        args = [UVDB, "-nx", "--batch", "--json", "-ex", "break microtasks", "-ex", "run", "-ex", "continue",
                "-ex", "continue", "-ex", "info breakpoints", "-ex", "continue", "--", *ORDERING]
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        seg = stdout_segments(p.stdout.splitlines())
        answers = [s for s in seg if isinstance(s, dict)]
        printed = [numbers(s) for s in seg if isinstance(s, list)]
        self.assertEqual(answers[0]["break"]["type"], "microtasks")
        stops = [a.get("run") or a.get("continue") for a in answers if "run" in a or "continue" in a]
        # three checkpoints with microtasks queued on the loop: after each timer, after the I/O callback
        # (the main code's run before the loop starts: no loop to stop)
        self.assertEqual([(s["state"], s["phase"], s["callback"], s["breakpoint"]) for s in stops[:3]],
                         [("stopped", "timers", "node::Environment::RunTimers", 1)] * 2 +
                         [("stopped", "poll", "node::MakeLibuvRequestCallback<uv_fs_s, void (*)(uv_fs_s*)>::Wrapper",
                           1)])
        self.assertEqual((stops[3]["state"], stops[3]["exit_code"]), ("exited", 0))
        # what had run at each stop: nextTicks run before the checkpoint, promises in it
        self.assertEqual(printed[0], [])                 # before `break`'s answer
        self.assertEqual(printed[1], [1, 1, 2, 3, 4, 5])  # the first timer ran, and its nextTick: not its promise
        self.assertEqual(printed[2], [6, 7])             # its promise; the second timer
        self.assertEqual(printed[3], [8, 9])             # its promise; the I/O callback
        self.assertEqual(find(answers, "info_breakpoints")[0]["hits"], 3)
        self.assertEqual(sum(printed, []), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])


class Timeline(unittest.TestCase):
    def checkpoints(self, program):
        events = test_profile.TraceExport.export(self, program)  # run, export, load
        slices = [e for e in events if e.get("ph") == "X"]
        phases = [e for e in slices if e["cat"] == "phase"]
        found = []
        for m in (e for e in slices if e["name"] == "microtasks"):
            around = [p for p in phases if p["tid"] == m["tid"] and p["ts"] <= m["ts"] and
                      m["ts"] + m["dur"] <= p["ts"] + p["dur"] + 0.002]
            self.assertEqual(len(around), 1, m)
            found.append((around[0]["name"], around[0]["args"]["iteration"], m["args"]["microtasks"]))
        return found

    def test_a_checkpoint_after_each_timer_callback(self):
        found = self.checkpoints(ORDERING)
        # both timers run in one timers phase, each followed by its own checkpoint; then the I/O callback's
        self.assertEqual([(name, n) for name, _, n in found], [("timers", 1), ("timers", 1), ("poll", 1)])
        self.assertEqual(found[0][1], found[1][1])

    def test_every_tick_of_an_interval_has_its_checkpoint(self):
        found = self.checkpoints(node_example("13-allocate.js"))  # 20 ticks of a 5 ms interval
        self.assertEqual([(name, n) for name, _, n in found], [("timers", 1)] * 20)
        self.assertEqual(len({it for _, it, _ in found}), 20)  # one tick an iteration


if __name__ == "__main__":
    unittest.main(verbosity=2)
