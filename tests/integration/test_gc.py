#!/usr/bin/env python3
"""Integration tests of GC pauses: uvdb's count and total of V8's garbage
collections on the loop (`info gc`) against what `node --trace-gc` prints
for the same run.  Both count the same thing, the pause inside
Heap::CollectGarbage (--trace-gc's first figure); neither counts
incremental marking steps, which --trace-gc gives apart ("+ N ms in M
steps"), so the test checks that they are left out of both."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, SRC, find, uvdb  # noqa: E402

# "[pid:0xisolate]  1904 ms: Mark-Compact 263.9 (290.8) -> 213.8 (250.0) MB, 18.58 / 0.01 ms  (+ 65.2 ms in 80 steps ..."
LINE = re.compile(r"^\[(\d+):(0x[0-9a-f]+)\]\s+[\d.]+ ms: (Scavenge|Mark-Compact|Minor Mark-Compact)\b.*?MB, "
                  r"([\d.]+) / [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in \d+ steps)?")


def trace_gc(lines):
    """Node's own lines, of the main isolate (the first to collect): (kind, pause ms, incremental ms)."""
    found = [m.groups() for m in map(LINE.match, lines) if m]
    main = found[0][1] if found else None
    return [(kind, float(pause), float(steps or 0)) for _, isolate, kind, pause, steps in found if isolate == main]


class GcPauses(unittest.TestCase):
    def compare(self, script, ticks):
        program = [NODE, "--trace-gc", os.path.join(SRC, "examples", "node", script), str(ticks)]
        rc, objs, out, err = uvdb(["run", "info gc"], program)
        self.assertEqual(rc, 0, err)
        node = trace_gc(out)
        gc = find(objs, "info_gc")
        self.assertGreater(len(node), 5, out)
        # the same collections: as many of each kind
        self.assertEqual(gc["scavenges"], sum(1 for k, _, _ in node if k == "Scavenge"), (gc, node))
        self.assertEqual(gc["full"], sum(1 for k, _, _ in node if k != "Scavenge"), (gc, node))
        # and the same time, within 20%: uvdb times the call around the pause V8 times inside it
        total = sum(p for _, p, _ in node)
        self.assertGreater(gc["total_ms"], total * 0.8, (gc, total))
        self.assertLess(gc["total_ms"], total * 1.2, (gc, total))
        return gc, node

    def test_a_growing_leak(self):
        gc, node = self.compare("13-leak.js", 60)
        self.assertGreaterEqual(gc["full"], 1)  # the old generation grew: marked and compacted
        steps = sum(s for _, _, s in node)
        # incremental marking ran on the loop thread too, in allocations: counted by neither side
        self.assertGreater(steps, 0)
        self.assertLess(gc["total_ms"], sum(p for _, p, _ in node) * 1.2)

    def test_short_lived_garbage(self):
        gc, node = self.compare("13-allocate.js", 20)
        self.assertGreater(gc["scavenges"], gc["full"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
