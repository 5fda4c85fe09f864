#!/usr/bin/env python3
"""Integration tests of the sampling profiler: real examples under
`uvdb --batch --json`, its report by function and by phase, and its
exports (folded stacks, SVG flamegraph, speedscope) checked field by field."""
import gzip
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import SRC, example, find, node_example, uvdb  # noqa: E402


def read_varint(data, i):
    """A protobuf varint at data[i]: (value, the index after it)."""
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            return v, i


def protobuf(data):
    """Decode one protobuf message: {field: [values]} (varints as ints, bytes as bytes)."""
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(data, i)
            fields.setdefault(field, []).append(v)
        elif wire == 2:
            n, i = read_varint(data, i)
            fields.setdefault(field, []).append(data[i:i + n])
            i += n
        else:
            raise AssertionError(f"wire type {wire}")
    return fields


def packed(data):
    out, i = [], 0
    while i < len(data):
        v, i = read_varint(data, i)
        out.append(v)
    return out


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
            f"profile export {self.path('p.json')} --format speedscope",
            f"profile export {self.path('p.pb.gz')} --format pprof"], [example("04-blocking-static")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "profile_start"), {"hz": 999, "clock": "wall", "threads": "loop", "from_start": True})
        report = find(objs, "profile_report")
        n = report["samples"]
        self.assertGreater(n, 200)  # about 0.5 s of wall time at 999 Hz
        phases = report["by_phase"]
        self.assertGreater(phases["timers"], 0.25 * n)  # the 200 ms spin
        self.assertGreater(phases["waiting"], 0.25 * n)  # the waits for the ticks
        functions = {f["function"]: f for f in report["functions"]}
        self.assertGreater(functions["on_heavy"]["total"], 0.25 * n)
        self.assertGreater(functions["uv_run"]["total"], 0.9 * n)
        # file:line from the example's DWARF: the line where on_heavy's definition begins
        src = open(os.path.join(SRC, "examples", "c", "04-blocking.c")).read().splitlines()
        line = next(i + 1 for i, l in enumerate(src) if l.startswith("static void on_heavy("))
        self.assertEqual(functions["on_heavy"]["source"], f"04-blocking.c:{line}")
        # the probe's own frames never show
        self.assertFalse([f for f in functions if f.startswith("uv__hook") or "uvdb" in f], functions)
        # folded: every sample once, each stack under its phase
        lines = open(self.path("p.folded")).read().splitlines()
        self.assertEqual(sum(int(l.rsplit(" ", 1)[1]) for l in lines), n)
        roots = {l.split(";", 1)[0] for l in lines}
        self.assertTrue({"[timers]", "[waiting]"} <= roots, roots)
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
        # pprof: gzip'd profile.proto, decoded here field by field
        pb = protobuf(gzip.decompress(open(self.path("p.pb.gz"), "rb").read()))
        strings = [b.decode() for b in pb[6]]
        self.assertEqual(strings[0], "")
        types = [protobuf(t) for t in pb[1]]
        self.assertEqual([(strings[t[1][0]], strings[t[2][0]]) for t in types],
                         [("samples", "count"), ("wall", "nanoseconds")])
        samples = [protobuf(x) for x in pb[2]]
        self.assertEqual(sum(packed(x[2][0])[0] for x in samples), n)
        functions = {protobuf(f)[1][0]: strings[protobuf(f)[2][0]] for f in pb[5]}
        locations = {protobuf(l)[1][0] for l in pb[4]}
        self.assertIn("on_heavy", functions.values())
        for x in samples:  # every location a sample names is defined, leaf first
            self.assertTrue(set(packed(x[1][0])) <= locations)
        self.assertEqual(pb[12][0], 1000000000 // 999)

    def test_cpu_clock_samples_only_work(self):
        rc, objs, out, err = uvdb(["profile start --hz 999", "run", "profile report"], [example("04-blocking")])
        self.assertEqual(rc, 0, err)
        report = find(objs, "profile_report")
        # a thread waiting uses no CPU: only the system call's own time in epoll is "waiting"
        self.assertLessEqual(report["by_phase"].get("waiting", 0), 0.05 * report["samples"])
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
    def test_every_thread(self):
        # --threads all: the loop, the pool's workers, and the threads the probe never met as
        # either (V8's platform workers, which wait on a futex), found in /proc/self/task
        with tempfile.TemporaryDirectory() as d:
            folded = os.path.join(d, "all.folded")
            rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall --threads all", "run",
                                       "profile report --top 200",
                                       f"profile export {folded} --format folded --phase-roots"],
                                      node_example("07-threadpool.js"))
            self.assertEqual(rc, 0, err)
            self.assertEqual(find(objs, "profile_start")["threads"], "all")
            report = find(objs, "profile_report")
            by_phase = report["by_phase"]
            for part in ("threadpool", "other threads", "waiting"):
                self.assertGreater(by_phase.get(part, 0), 0, by_phase)
            functions = {f["function"] for f in report["functions"]}
            self.assertIn("sha512_block_data_order_avx2", functions)  # pbkdf2 on the pool's workers
            with open(folded) as f:
                lines = [l.rsplit(" ", 1) for l in f.read().splitlines()]
            other = [(stack, int(n)) for stack, n in lines if stack.startswith("[other threads];")]
            self.assertEqual(sum(n for _, n in other), by_phase["other threads"])
            # their stacks, copied up to the end of an unknown stack's mapping, unwind to the thread's start:
            # a thread's start_thread (or clone3), or _start for the main thread sampled while node starts,
            # before its loop runs and the probe meets it as the loop's
            whole = sum(n for stack, n in other
                        if "start_thread" in stack or "clone3" in stack or stack.startswith("[other threads];_start;"))
            self.assertGreater(whole, 0.8 * by_phase["other threads"])

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
        # every frame is named: V8's builtins too, run from the copy V8 maps beside its JIT code
        names = [f["function"] for f in report["functions"]]
        self.assertNotIn("node", names)
        self.assertTrue(any(n.startswith("Builtins_") for n in names), names)


class TraceExport(unittest.TestCase):
    """trace export: the timeline as Chrome Trace Event JSON (Perfetto, speedscope)."""

    def export(self, program):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "trace.json")
            rc, objs, out, err = uvdb(["run", f"trace export {path}"], program)
            self.assertEqual(rc, 0, err)
            self.assertEqual(find(objs, "trace_export")["dropped_oldest"], 0)
            return json.load(open(path))["traceEvents"]

    def test_thread_pool_jobs_on_worker_tracks_with_flows(self):
        events = self.export([example("07-threadpool-static")])
        names = {e["args"]["name"] for e in events if e["ph"] == "M"}
        self.assertTrue(any(n.startswith("loop 1 (thread ") for n in names), names)
        self.assertEqual(sum(n.startswith("thread-pool worker") for n in names), 4)
        jobs = [e for e in events if e["ph"] == "X" and e["name"] == "job"]
        self.assertEqual(len(jobs), 8)
        self.assertEqual(len({j["tid"] for j in jobs}), 4)
        for j in jobs:
            self.assertGreaterEqual(j["dur"], 50000)  # each job sleeps 50 ms (us here)
        flows = {ph: sorted(e["id"] for e in events if e["ph"] == ph) for ph in "stf"}
        self.assertEqual(flows["s"], list(range(1, 9)))
        self.assertEqual(flows["t"], flows["s"])  # submit -> run -> done callback, every job
        self.assertEqual(flows["f"], flows["s"])
        phases = {e["name"] for e in events if e["ph"] == "X" and e.get("cat") == "phase"}
        self.assertEqual(phases, {"timers", "pending", "idle", "prepare", "poll", "check", "closing"})
        depth = [e["args"]["jobs"] for e in events if e["ph"] == "C"]
        # eight submitted from main at once; the four workers start as they can
        self.assertGreaterEqual(max(depth), 4)
        self.assertEqual(depth[-1], 0)

    def test_a_blocking_stretch_is_a_slice(self):
        events = self.export([example("04-blocking")])
        blocked = [e for e in events if e["ph"] == "X" and e["name"] == "blocked"]
        self.assertEqual(len(blocked), 1)
        self.assertGreaterEqual(blocked[0]["dur"], 190000)
        timers = [e for e in events if e["ph"] == "X" and e["name"] == "timers" and e["dur"] >= 190000]
        self.assertEqual(len(timers), 1)  # inside the timers phase that held it
        self.assertLessEqual(timers[0]["ts"], blocked[0]["ts"])
        # the callback that held it, a slice inside that phase (the trace's nesting is checked in test_record)
        heavy = [e for e in events if e["ph"] == "X" and e.get("cat") == "callback" and e["name"] == "on_heavy"]
        self.assertEqual(len(heavy), 1)
        self.assertGreaterEqual(heavy[0]["dur"], 198000)
        self.assertEqual(heavy[0]["args"]["phase"], "timers")
        self.assertLessEqual(timers[0]["ts"], heavy[0]["ts"])
        self.assertLessEqual(heavy[0]["ts"] + heavy[0]["dur"], timers[0]["ts"] + timers[0]["dur"] + 0.002)
        ticks = [e for e in events if e["ph"] == "X" and e.get("cat") == "callback" and e["name"] == "on_tick"]
        self.assertEqual(len(ticks), 30)


class BadInput(unittest.TestCase):
    def test_options(self):
        for bad, message in (("profile start --hz 0", "--hz takes 1 to 10000"),
                             ("profile start --clock sun", "--clock is cpu"),
                             ("profile start --threads some", "--threads is loop, pool or all"),
                             ("profile start --fast", "usage: profile start"),
                             ("profile stop", "the profiler is not running"),
                             ("profile report", "no profile"),
                             ("profile export /tmp/x --format folded", "no samples to export"),
                             ("profile export /tmp/x --format png", 'no format "png": folded, svg, speedscope or pprof'),
                             ("trace export", "usage: trace export FILE"),
                             ("trace export /tmp/x.json", "no events to export")):
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
