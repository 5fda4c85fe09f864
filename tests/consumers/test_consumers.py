#!/usr/bin/env python3
"""uvdb's exports opened by their real consumers: speedscope (the npm
package, served on loopback) and the SVG flamegraph in Debian's headless
Chromium, pprof files decoded by pprof-format.  What each consumer shows
(consumers.mjs reads it) must be what uvdb itself reports."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from test_loop import NODE, PHASES, example, find, node_example, uvdb  # noqa: E402
from test_record import check_chrome_trace, record, report  # noqa: E402

PROGRAMS = os.environ.get("CONSUMER_PROGRAMS", "build/tests/consumers")
# consumers.mjs bounds each browser step to 60 s; this bounds the whole run.
CONSUMER_TIMEOUT = 600
HZ = 999
HIGHLIGHT = "rgb(230,0,230)"  # the SVG's search colour
SVG_WIDTH = 1200


def consumer(*args):
    """Run consumers.mjs; its JSON answer."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "speedscope")):
        raise AssertionError("tests/consumers/node_modules is missing: run scripts/setup.sh --consumers")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if args[0] != "pprof" and not os.path.exists(chromium):
        raise AssertionError(f"no {chromium}: run scripts/setup.sh --consumers")
    p = subprocess.run([NODE, os.path.join(HERE, "consumers.mjs"), *args], capture_output=True, text=True,
                       timeout=CONSUMER_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"consumers.mjs {' '.join(args)}: exit {p.returncode}\n{p.stderr}")
    return json.loads(p.stdout)


def count(text):
    """A sample count as speedscope prints it ("1,234 (56%)")."""
    return int(text.split(" (")[0].replace(",", ""))


SCALE = {"ns": 1e-3, "µs": 1.0, "ms": 1e3, "s": 1e6}


def microseconds(text):
    """A time as speedscope prints it ("10.12ms (2.1%)", "1:05"): (value in
    us, half its last printed digit in us)."""
    t = text.split(" (")[0]
    if ":" in t:
        m, s = t.split(":")
        return (int(m) * 60 + int(s)) * 1e6, 0.5e6
    v, unit = re.fullmatch(r"([0-9.]+)(ns|µs|ms|s)", t).groups()
    return float(v) * SCALE[unit], 0.005 * SCALE[unit]


def page_problems(seen, prompts=0):
    """What the page said that a working consumer does not: uncaught errors,
    dialogs other than the prompts the test answered, console errors and
    warnings (less Chromium's own notes on its software WebGL, which are
    about the machine, not the file); the first five of each, and how many."""
    said = [m["text"] for m in seen["console"] if m["type"] in ("error", "warning") and
            not m["text"].startswith("[.WebGL-")]
    dialogs = [d for d in seen["dialogs"] if d["type"] != "prompt"]
    problems = {"page_errors": seen["page_errors"], "dialogs": dialogs, "console": said}
    if sum(d["type"] == "prompt" for d in seen["dialogs"]) != prompts:
        problems["prompts"] = seen["dialogs"]
    return {k: (v[:5] + [f"... {len(v)} in all"] if len(v) > 5 else v) for k, v in problems.items()}


def no_problems():
    return {"page_errors": [], "dialogs": [], "console": []}


def profile_run(test, commands, program):
    """uvdb with commands; (its profile report, the functions by name)."""
    rc, objs, out, err = uvdb(commands, program)
    test.assertEqual(rc, 0, err)
    rep = find(objs, "profile_report")
    test.assertGreater(rep["samples"], 0)
    functions = {f["function"]: (f["total"], f["self"]) for f in rep["functions"]}
    test.assertEqual(len(functions), len(rep["functions"]), "one entry per function")
    return rep, functions


def exports(directory):
    """The commands that report every function and write the three formats
    into directory (the SVG split by phase)."""
    return ["profile report --top 1000000",
            f"profile export {directory}/p.speedscope.json --format speedscope",
            f"profile export {directory}/p.svg --format svg --phase-roots",
            f"profile export {directory}/p.pb.gz --format pprof"]


class ProfileExports:
    """The checks of one profile's three exports, against uvdb's own report
    (a mixin: each subclass profiles one program)."""

    maxDiff = None
    program = None  # the program to profile, argv
    clock = "wall"
    zoom = None  # part of the name of a hot function: the frame the SVG test clicks and searches

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.dir.cleanup)  # also when profiling fails
        d = cls.dir.name
        cls.report, cls.functions = profile_run(unittest.TestCase(), [f"profile start --hz {HZ} --clock {cls.clock}",
                                                                      "run", *exports(d)], cls.program)
        cls.samples = cls.report["samples"]

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_speedscope_shows_every_function_with_uvdbs_totals(self):
        seen = consumer("speedscope", self.path("p.speedscope.json"))
        self.assertEqual(page_problems(seen), no_problems())
        name = f"uvdb profile of {self.program[0]}"
        self.assertEqual(seen["title"], f"{name} - speedscope")
        self.assertNotIn("Something went wrong", seen["body"])
        self.assertEqual([p["name"] for p in seen["profiles"]], [name])
        table = seen["profiles"][0]["table"]
        shown = {r["name"]: (count(r["total"]), count(r["self"])) for r in table}
        self.assertEqual(len(shown), len(table), "a function on two rows")
        self.assertEqual(shown, self.functions)
        self.assertEqual(sum(s for _, s in shown.values()), self.samples)
        self.assertTrue(any(self.zoom in f for f in shown), self.zoom)

    def test_svg_in_chromium_draws_every_frame_and_its_script_works(self):
        svg_file = self.path("p.svg")
        names = [n for n in self.functions if self.zoom in n]
        self.assertTrue(names, self.zoom)
        seen = consumer("svg", svg_file, names[0], self.zoom, "samples")
        self.assertEqual(page_problems(seen, prompts=2), no_problems())
        self.assertEqual(seen["heading"], f"uvdb profile of {self.program[0]} ({self.samples} samples)")
        frames = seen["frames"]
        tree = svg_tree(self, frames)
        n = self.samples
        self.assertEqual((tree[0]["name"], tree[0]["samples"]), ("all", n))
        # each frame drawn, as wide as its share, labelled with its name as far as it fits
        for f in tree:
            self.assertTrue(f["shown"], f)
            self.assertAlmostEqual(f["width"], SVG_WIDTH * f["samples"] / n, delta=0.01)
            self.assertTrue(f["label"] == f["name"] or (f["label"].endswith("..") and f["name"].startswith(
                f["label"][:-2])) or (f["label"] == "" and f["width"] < 27), f)
            self.assertEqual(f["title"], f"{f['name']} ({f['samples']} samples, {100 * f['samples'] / n:.2f}%)")
        # every function, and every phase root, with uvdb's totals (a frame
        # under itself counted once): every frame is drawn (under 12000
        # samples none is narrower than the 0.1 drawn)
        self.assertLess(n, 12000)
        totals = {}
        for f in tree:
            if not any(tree[a]["name"] == f["name"] for a in f["ancestors"]):
                totals[f["name"]] = totals.get(f["name"], 0) + f["samples"]
        expected = {name: total for name, (total, _) in self.functions.items()}
        expected.update({f"[{phase}]": k for phase, k in self.report["by_phase"].items()})
        expected["all"] = n
        self.assertEqual(totals, expected)
        # hover outlines the frame
        self.assertEqual(seen["hover_stroke"], "rgb(0, 0, 0)")
        # a click zooms: the frame across the whole width, its ancestors
        # too, what it called scaled with it, nothing else
        target = next(i for i, f in enumerate(tree) if f["name"] == names[0])
        zoomed = seen["zoomed"]
        for i, f in enumerate(tree):
            z = zoomed[i]
            if i in tree[target]["ancestors"] or i == target:
                self.assertEqual((z["shown"], round(z["x"], 2), round(z["width"], 2)), (True, 0, SVG_WIDTH), f)
            elif target in f["ancestors"]:
                self.assertTrue(z["shown"], f)
                self.assertAlmostEqual(z["width"], SVG_WIDTH * f["samples"] / tree[target]["samples"], delta=0.05)
                self.assertGreaterEqual(z["x"], -0.05)
                self.assertLessEqual(z["x"] + z["width"], SVG_WIDTH + 0.05)
            else:
                self.assertFalse(z["shown"], f"{f['title']} stays beside the zoomed {names[0]}")
        # a click on the root zooms out; [reset zoom] too
        layout = [(f["shown"], round(f["x"], 2), round(f["width"], 2)) for f in frames]
        self.assertEqual([(f["shown"], round(f["x"], 2), round(f["width"], 2)) for f in seen["zoomed_out"]], layout)
        self.assertEqual([(f["shown"], round(f["x"], 2), round(f["width"], 2)) for f in seen["reset"]], layout)
        # search highlights the frames whose name holds the text, and no other
        for text in (self.zoom, "samples"):
            lit = [f["fill"] == HIGHLIGHT for f in seen["searched"][text]]
            self.assertEqual(lit, [text in f["name"] for f in tree], text)
        self.assertTrue(any(f["fill"] == HIGHLIGHT for f in seen["searched"][self.zoom]))

    def test_pprof_decodes_into_uvdbs_totals(self):
        seen = consumer("pprof", self.path("p.pb.gz"))
        self.assertEqual(seen["undefined_ids"], [])
        self.assertEqual(seen["sample_types"], [["samples", "count"], [self.clock, "nanoseconds"]])
        self.assertEqual(seen["period_type"], [self.clock, "nanoseconds"])
        self.assertEqual(seen["period"], 10**9 // HZ)
        self.assertEqual(seen["samples"], self.samples)
        for v in seen["sample_values"]:
            self.assertEqual(v[1], v[0] * seen["period"])
        shown = {name: (f["total"], f["self"]) for name, f in seen["functions"].items()}
        self.assertEqual(shown, self.functions)


def svg_tree(test, frames):
    """The SVG's frames with name and samples (from the tooltip) and their
    ancestors' indexes: the file lists each frame before its callees."""
    tree, path = [], []
    for i, f in enumerate(frames):
        m = re.fullmatch(r"(.*) \((\d+) samples, [0-9.]+%\)", f["title"], re.S)
        test.assertIsNotNone(m, f["title"])
        d = f["depth"]
        test.assertLessEqual(d, len(path), f"{f['title']} has no parent")
        path = path[:d] + [i]
        tree.append({**f, "name": m.group(1), "samples": int(m.group(2)), "ancestors": path[:-1]})
    return tree


class CProfile(ProfileExports, unittest.TestCase):
    """04-blocking (libuv linked in): its 200 ms spin in on_heavy."""
    program = [example("04-blocking-static")]
    zoom = "on_heavy"


class NodeProfile(ProfileExports, unittest.TestCase):
    """14-hot-path.js: slowHash, named from node's perf map."""
    program = node_example("14-hot-path.js")
    clock = "cpu"
    zoom = "slowHash"


class PprofHeaderNames(unittest.TestCase):
    """Functions named as pprof's own header strings stay functions."""
    maxDiff = None

    def test_functions_named_like_the_sample_types(self):
        with tempfile.TemporaryDirectory() as d:
            rep, functions = profile_run(self, [f"profile start --hz {HZ} --clock wall", "run", *exports(d)],
                                         [os.path.join(PROGRAMS, "header-names")])
            seen = consumer("pprof", os.path.join(d, "p.pb.gz"))
        self.assertEqual(seen["undefined_ids"], [])
        for name in ("samples", "wall", "count", "nanoseconds"):
            self.assertIn(name, seen["functions"])
        self.assertEqual({n: (f["total"], f["self"]) for n, f in seen["functions"].items()}, functions)
        self.assertEqual(seen["samples"], rep["samples"])


def js_json(value):
    """JSON.stringify's text of a decoded JSON value (speedscope names a
    trace's frame by its name and its args so)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{js_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def trace_totals(events):
    """From the trace file itself: per thread, the time (us) spent in each
    frame as speedscope keys them (X slices, and B/E pairs)."""
    totals, open_b = {}, {}
    for e in events:
        if e["ph"] not in "XBE":
            continue
        key = e["name"] + (" " + js_json(e["args"]) if "args" in e else "")
        per = totals.setdefault((e["pid"], e["tid"]), {})
        if e["ph"] == "X":
            per[key] = per.get(key, 0) + e["dur"]
        elif e["ph"] == "B":
            open_b.setdefault((e["pid"], e["tid"]), []).append((key, e["ts"]))
        else:
            k, begin = open_b[(e["pid"], e["tid"])].pop()
            per[k] = per.get(k, 0) + e["ts"] - begin
    return totals


class Timelines(unittest.TestCase):
    """The Chrome Trace Event timeline in speedscope: one profile per
    thread, the loop's phases on its own, each frame as long as the file
    says (which it is only if speedscope nests the slices as uvdb meant)."""
    maxDiff = None

    def check(self, path):
        events = check_chrome_trace(self, path)
        seen = consumer("speedscope", path)
        self.assertEqual(page_problems(seen), no_problems())
        self.assertEqual(seen["title"], f"{os.path.basename(path)} - speedscope")
        names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
        threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
                   if e["ph"] == "M" and e["name"] == "thread_name"}
        expected = trace_totals(events)
        profiles = {p["name"]: p["table"] for p in seen["profiles"]}
        by_thread = {}
        for (pid, tid), per in expected.items():
            # speedscope's own naming of a thread's profile
            name = f"{names[pid]} (pid {pid}), {threads[(pid, tid)]} (tid {tid})"
            self.assertIn(name, profiles)
            shown = {r["name"]: microseconds(r["total"]) for r in profiles[name]}
            self.assertEqual(set(shown), set(per), name)
            for key, us in per.items():
                got, half_digit = shown[key]
                self.assertLessEqual(abs(got - us), half_digit + 1e-6 * us,
                                     f"{name}: speedscope shows {key} for {got} us, the file says {us} us")
            by_thread[threads[(pid, tid)]] = {k.split(" {")[0] for k in per}
        self.assertEqual(len(profiles), len(expected))
        return by_thread

    def test_live_trace_export_of_the_c_thread_pool(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pool.trace.json")
            rc, objs, _, err = uvdb(["run", f"trace export {path}"], [example("07-threadpool")])
            self.assertEqual(rc, 0, err)
            shown = self.check(path)
        loops = [frames for name, frames in shown.items() if name.startswith("loop 1 (thread ")]
        self.assertEqual(len(loops), 1, shown)
        self.assertTrue(PHASES | {"iteration", "epoll wait"} <= loops[0], loops[0])
        workers = [frames for name, frames in shown.items() if name.startswith("thread-pool worker")]
        self.assertEqual(len(workers), 4, shown)
        self.assertTrue(all(frames == {"job"} for frames in workers), workers)

    def test_recorded_node_timeline_through_uvdb_report(self):
        with tempfile.TemporaryDirectory() as d:
            rec, path = os.path.join(d, "pool.uvrec"), os.path.join(d, "node.trace.json")
            rc, err = record(rec, node_example("07-threadpool.js") + ["4"])
            self.assertEqual(rc, 0, err)
            rc, _, err = report(rec, "--format", "chrome", "-o", path)
            self.assertEqual(rc, 0, err)
            shown = self.check(path)
        main = [frames for name, frames in shown.items() if name.startswith("loop 1 (thread ")]
        self.assertEqual(len(main), 1, shown)
        self.assertTrue(PHASES | {"iteration"} <= main[0], main[0])
        self.assertTrue(any(name.startswith("thread-pool worker") and frames == {"job"}
                            for name, frames in shown.items()), shown)


if __name__ == "__main__":
    unittest.main()
