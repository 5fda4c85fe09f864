#!/usr/bin/env python3
"""Integration tests of `uvdb record` and `uvdb report`: real examples
recorded headless, replayed offline into every format (checked field by
field, the Chrome Trace against the format's rules, as is the live `trace
export`), truncated and corrupt recordings, Ctrl-C, and the scripted
session of docs/examples/session.uvdb."""
import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import xml.dom.minidom
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, SRC, TIMEOUT, UVDB, example, find, node_example, uvdb  # noqa: E402

FOREVER = [NODE, "-e", "setInterval(() => {}, 5)"]


def record(path, program, *options):
    p = subprocess.run([UVDB, "record", "-o", path, *options, "--", *program], capture_output=True, text=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stderr


def report(path, *options):
    """uvdb report FILE OPTIONS --json: (exit status, JSON objects, stderr)."""
    p = subprocess.run([UVDB, "report", path, *options, "--json"], capture_output=True, text=True, timeout=TIMEOUT)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")], p.stderr


def chunks(path):
    """The recording's chunks as (offset, type, length), by its documented framing."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    at = int.from_bytes(data[10:12], "little")  # header_size
    while at + 16 <= len(data):
        sync, kind, _, length = (int.from_bytes(data[at:at + 4], "little"), int.from_bytes(data[at + 4:at + 6], "little"),
                                 0, int.from_bytes(data[at + 8:at + 12], "little"))
        assert sync == 0x4b4e4843, f"no sync word at {at}"
        out.append((at, kind, length))
        at += 16 + length
    assert at == len(data), "the chunks do not end where the file ends"
    return out


def check_chrome_trace(test, path):
    """The Chrome Trace Event format's rules: valid JSON closed by its
    bracket, numeric microsecond timestamps, X slices (and B/E pairs)
    properly nested on each thread, every flow's finish paired with its
    start.  Returns the events."""
    with open(path) as f:
        text = f.read()
    test.assertTrue(text.rstrip().endswith("]}"), "the trace's array and object are closed")
    doc = json.loads(text)
    events = doc["traceEvents"]
    test.assertIsInstance(events, list)
    test.assertGreater(len(events), 10)
    per_thread, open_b, flows = {}, {}, {}
    for e in events:
        test.assertIn("ph", e)
        test.assertIn("pid", e)
        if e["ph"] == "M":
            test.assertIn(e["name"], ("process_name", "thread_name"))
            continue
        test.assertIsInstance(e["ts"], (int, float))
        test.assertGreaterEqual(e["ts"], 0)
        key = (e["pid"], e.get("tid"))
        if e["ph"] == "X":
            test.assertGreaterEqual(e["dur"], 0)
            per_thread.setdefault(key, []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif e["ph"] == "B":
            open_b.setdefault(key, []).append(e)
        elif e["ph"] == "E":
            test.assertTrue(open_b.get(key), f"an E with no B on {key}")
            begin = open_b[key].pop()
            test.assertLessEqual(begin["ts"], e["ts"])
        elif e["ph"] in ("s", "t", "f"):
            flows.setdefault(e["id"], []).append(e)
        else:
            test.assertIn(e["ph"], ("C", "i"))
    for key, stack in open_b.items():
        test.assertEqual(stack, [], f"B without E on {key}")
    eps = 0.002  # timestamps are printed to the nanosecond, in microseconds
    for key, slices in per_thread.items():
        slices.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        stack = []
        for begin, end, name in slices:
            while stack and begin >= stack[-1][1] - eps:
                stack.pop()
            if stack:
                test.assertLessEqual(end, stack[-1][1] + eps,
                                     f"{name} [{begin}, {end}] overlaps {stack[-1][2]} [{stack[-1][0]}, "
                                     f"{stack[-1][1]}] on {key} without nesting in it")
            stack.append((begin, end, name))
    for fid, steps in flows.items():
        phases = [s["ph"] for s in steps]
        test.assertEqual(phases.count("s"), 1, f"flow {fid}: {phases}")
        test.assertLessEqual(phases.count("f"), 1, f"flow {fid}: {phases}")
        start = next(s for s in steps if s["ph"] == "s")
        for s in steps:
            test.assertGreaterEqual(s["ts"] + eps, start["ts"], f"flow {fid} steps before it starts")
    return events


class Record(unittest.TestCase):
    def setUp(self):
        self.dir = self.enterContext(tempfile.TemporaryDirectory())

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_c_record_then_every_format(self):
        rec = self.path("blocking.uvrec")
        rc, err = record(rec, [example("04-blocking-static")], "--hz", "999")
        self.assertEqual(rc, 0, err)
        self.assertIn("the program exited", err)
        self.assertEqual(stat.S_IMODE(os.stat(rec).st_mode), 0o600)
        kinds = [k for _, k, _ in chunks(rec)]
        self.assertEqual(kinds[-1], 10)  # the end chunk closes it
        for needed in (1, 2, 3, 4, 5, 6, 7, 8):  # info, clock, events, samples, stacks, names, maps, modules
            self.assertIn(needed, kinds)

        rc, objs, err = report(rec)
        self.assertEqual(rc, 0, err)
        head = find(objs, "report")
        self.assertEqual(head["ended"], "program exited")
        self.assertEqual(head["exit_code"], 0)
        self.assertGreater(head["events"], 0)
        self.assertEqual(head["dropped"], 0)
        self.assertGreater(head["profile_samples"], 0)
        self.assertGreater(head["modules"], 0)
        loop = find(objs, "info_loop")
        self.assertGreater(loop["iterations"], 30)  # 30 ticks, each an iteration at least
        self.assertEqual(loop["order"], ["timers", "pending", "idle", "prepare", "poll", "check", "closing"])
        timers = next(p for p in loop["phases"] if p["phase"] == "timers")
        self.assertGreater(timers["max_us"], 199000)  # on_heavy spins 200 ms by libuv's clock
        blocking = find(objs, "info_blocking")
        self.assertTrue(any(b["callback"] == "on_heavy" and b["duration_ms"] > 199 for b in blocking["blocked"]),
                        blocking)
        callbacks = find(objs, "report_callbacks")
        self.assertEqual(callbacks[0]["callback"], "on_heavy")
        functions = {f["function"] for f in find(objs, "profile_report")["functions"]}
        self.assertIn("on_heavy", functions)
        stacks = find(objs, "report_stacks")
        self.assertTrue(stacks[0]["stack"].startswith("[timers];"))
        self.assertIn(";on_heavy;", stacks[0]["stack"])

        outs = {}
        for fmt in ("chrome", "folded", "svg", "speedscope", "pprof"):
            outs[fmt] = self.path(f"out.{fmt}")
            rc, _, err = report(rec, "--format", fmt, "-o", outs[fmt])
            self.assertEqual(rc, 0, f"{fmt}: {err}")
        events = check_chrome_trace(self, outs["chrome"])
        phases = [e for e in events if e.get("cat") == "phase" and e["name"] == "timers"]
        self.assertGreater(max(e["dur"] for e in phases), 199000)  # microseconds
        blocked = [e for e in events if e["ph"] == "X" and e["name"] == "blocked"]
        self.assertEqual(len(blocked), 1)
        self.assertGreater(blocked[0]["dur"], 199000)  # the 200 ms stretch, within its timers phase
        # the callbacks, named offline from the recording's names
        callbacks = [e for e in events if e.get("cat") == "callback"]
        self.assertEqual(sorted({e["name"] for e in callbacks}), ["on_heavy", "on_tick"])
        self.assertEqual(sum(e["name"] == "on_tick" for e in callbacks), 30)
        self.assertGreater(max(e["dur"] for e in callbacks if e["name"] == "on_heavy"), 199000)
        with open(outs["folded"]) as f:
            folded = f.read().splitlines()
        self.assertTrue(all(l.rsplit(" ", 1)[1].isdigit() for l in folded))
        self.assertEqual(sum(int(l.rsplit(" ", 1)[1]) for l in folded), head["profile_samples"])
        self.assertTrue(any(";on_heavy;" in l for l in folded))
        svg = xml.dom.minidom.parse(outs["svg"])
        self.assertIn("on_heavy", "".join(t.firstChild.data for t in svg.getElementsByTagName("title")))
        with open(outs["speedscope"]) as f:
            speedscope = json.load(f)
        self.assertEqual(sum(speedscope["profiles"][0]["weights"]), head["profile_samples"])
        with gzip.open(outs["pprof"]) as f:
            self.assertIn(b"on_heavy", f.read())
        rc, objs, err = report(rec, "--format", "text", "-o", self.path("summary.txt"))
        self.assertEqual(rc, 0, err)
        with open(self.path("summary.txt")) as f:
            self.assertIn('"callback":"on_heavy"', f.read())

    def test_node_js_names_and_perf_map(self):
        rec = self.path("node.uvrec")
        rc, err = record(rec, node_example("04-blocking.js"), "--hz", "999")
        self.assertEqual(rc, 0, err)
        rc, objs, err = report(rec)
        self.assertEqual(rc, 0, err)
        head = find(objs, "report")
        self.assertGreater(head["perfmap_bytes"], 0)
        self.assertEqual(head["libuv_version"].split(".")[0], "1")
        stacks = find(objs, "report_stacks")
        self.assertTrue(any("JS:*blockFor200ms" in s["stack"] or "JS:^blockFor200ms" in s["stack"]
                            or "JS:blockFor200ms" in s["stack"] for s in stacks), stacks)

    def test_events_choose_what_is_written(self):
        rec = self.path("phases.uvrec")
        rc, err = record(rec, [example("07-threadpool")], "--events", "phases")
        self.assertEqual(rc, 0, err)
        kinds = {k for _, k, _ in chunks(rec)}
        self.assertNotIn(4, kinds)  # no profile samples
        rc, objs, err = report(rec)
        self.assertEqual(rc, 0, err)
        self.assertGreater(find(objs, "info_loop")["iterations"], 0)
        self.assertFalse(any("info_threadpool" in o for o in objs))  # no pool events were kept
        full = self.path("all.uvrec")
        rc, err = record(full, [example("07-threadpool")])
        self.assertEqual(rc, 0, err)
        rc, objs, err = report(full)
        self.assertEqual(rc, 0, err)
        self.assertGreater(find(objs, "info_threadpool")["done"], 0)
        check_chrome_trace(self, self.report_chrome(full))

    def report_chrome(self, rec):
        out = rec + ".chrome.json"
        rc, _, err = report(rec, "--format", "chrome", "-o", out)
        self.assertEqual(rc, 0, err)
        return out

    def test_truncated_and_corrupt_recordings(self):
        rec = self.path("whole.uvrec")
        rc, err = record(rec, [example("04-blocking-static")], "--hz", "999")
        self.assertEqual(rc, 0, err)
        rc, objs, _ = report(rec)
        whole_events = find(objs, "report")["events"]
        table = chunks(rec)
        events_at = [at for at, kind, _ in table if kind == 3]
        cut_at = events_at[len(events_at) // 2] + 20  # inside an events chunk's header
        with open(rec, "rb") as f:
            data = f.read()
        cut = self.path("cut.uvrec")
        with open(cut, "wb") as f:
            f.write(data[:cut_at])
        rc, objs, err = report(cut)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"stopped at byte offset {events_at[len(events_at) // 2]}", err)
        self.assertIn("truncated", err)
        partial = find(objs, "report")  # what came before is reported
        self.assertGreater(partial["events"], 0)
        self.assertLess(partial["events"], whole_events)
        self.assertEqual(partial["ended"], "no end chunk")

        bad = bytearray(data)
        at, _, length = table[2]
        bad[at + 16 + length // 2] ^= 0xff
        corrupt = self.path("corrupt.uvrec")
        with open(corrupt, "wb") as f:
            f.write(bad)
        rc, objs, err = report(corrupt, "--format", "chrome", "-o", self.path("c.json"))
        self.assertNotEqual(rc, 0)
        self.assertIn(f"stopped at byte offset {at}", err)
        self.assertIn("checksum", err)

        # a frame that holds (its checksum right) around a payload that does not
        at, _, length = next(c for c in table if c[1] == 3)
        lying = bytearray(data)
        count = int.from_bytes(lying[at + 20:at + 24], "little")
        lying[at + 20:at + 24] = (count + 1).to_bytes(4, "little")
        lying[at + 12:at + 16] = zlib.crc32(bytes(lying[at + 16:at + 16 + length])).to_bytes(4, "little")
        with open(self.path("lying.uvrec"), "wb") as f:
            f.write(lying)
        rc, objs, err = report(self.path("lying.uvrec"))
        self.assertNotEqual(rc, 0)
        self.assertIn(f"stopped at byte offset {at}: a chunk of type events is malformed", err)

        rc, objs, err = report(self.path("none.uvrec"))
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot open", err)
        with open(self.path("text.uvrec"), "w") as f:
            f.write("hello, this is not a recording\n")
        rc, objs, err = report(self.path("text.uvrec"))
        self.assertNotEqual(rc, 0)
        self.assertIn("not a uvdb recording", err)
        self.assertIn("byte offset 0", err)

    def test_ctrl_c_and_duration_end_a_valid_recording(self):
        rec = self.path("server.uvrec")
        # a program that runs until stopped: Ctrl-C (SIGINT to uvdb) ends the recording
        p = subprocess.Popen([UVDB, "record", "-o", rec, "--", *FOREVER],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(400):  # until the probe's hello is in the file
                if os.path.exists(rec) and any(k == 1 for _, k, _ in self.safe_chunks(rec)):
                    break
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("interrupted", err)
        rc, objs, err = report(rec)
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "report")["ended"], "interrupted")
        self.assertGreater(find(objs, "info_loop")["iterations"], 0)

        rc, err = record(self.path("timed.uvrec"), FOREVER, "--duration", "0.5")
        self.assertEqual(rc, 0, err)
        rc, objs, err = report(self.path("timed.uvrec"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "report")["ended"], "duration ran out")

    def safe_chunks(self, path):
        """The chunks of a recording being written: those complete so far."""
        try:
            return chunks(path)
        except AssertionError:
            return []

    def test_attach_records_a_running_program(self):
        target = subprocess.Popen(FOREVER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # node up and in its loop (attach waits for the loop anyway)
            rec = self.path("attached.uvrec")
            p = subprocess.run([UVDB, "record", "-o", rec, "--duration", "1", "-p", str(target.pid)],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIsNone(target.poll(), "the attached program runs on after the recording")
            rc, objs, err = report(rec)
            self.assertEqual(rc, 0, err)
            head = find(objs, "report")
            self.assertEqual(head["pid"], target.pid)
            self.assertEqual(head["ended"], "duration ran out")
            self.assertGreater(find(objs, "info_loop")["iterations"], 0)
        finally:
            target.kill()
            target.wait()

    def test_bad_arguments(self):
        cases = [
            (["record", "--", example("06-timers")], "usage"),
            (["record", "-o", self.path("x"), "--events", "phases,bogus", "--", example("06-timers")],
             'no event class "bogus"'),
            (["record", "-o", self.path("x"), "--hz", "0", "--", example("06-timers")], "--hz"),
            (["record", "-o", self.path("x"), "-p", "abc"], "-p takes a process id"),
            (["report", self.path("x"), "--format", "html"], 'no format "html"'),
            (["report", self.path("x"), "--format", "svg"], "-o OUT"),
        ]
        for args, said in cases:
            p = subprocess.run([UVDB, *args], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(said, p.stderr, args)
        rc, err = record(os.path.join(self.path("no-such-dir"), "r.uvrec"), [example("06-timers")])
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot write", err)


class LiveTrace(unittest.TestCase):
    """`trace export` of a live session by the same rules."""

    def test_trace_export_follows_the_format(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "live.json")
            rc, objs, _, err = uvdb(["run", f"trace export {out}"], [example("07-threadpool")])
            self.assertEqual(rc, 0, err)
            events = check_chrome_trace(self, out)
            self.assertTrue(any(e["ph"] == "f" for e in events))  # jobs done: flows end
            self.assertTrue(any(e.get("cat") == "phase" for e in events))

    def test_node_callbacks_nest_with_gc_and_microtasks(self):
        # callbacks end at the loop's next boundary: inside their phase, around the
        # microtask checkpoints, GC and pool done callbacks they hold
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "node.json")
            rc, objs, _, err = uvdb(["run", f"trace export {out}"], node_example("02-ordering.js"))
            self.assertEqual(rc, 0, err)
            events = check_chrome_trace(self, out)
            callbacks = {e["name"] for e in events if e.get("cat") == "callback"}
            self.assertTrue({"node::Environment::RunTimers", "node::Environment::CheckImmediate"} <= callbacks,
                            callbacks)
            self.assertTrue(any(e.get("cat") == "microtasks" for e in events))


class ExampleScript(unittest.TestCase):
    """docs/examples/session.uvdb, as docs/manual.md shows it."""

    def test_session_script(self):
        script = os.path.join(SRC, "docs", "examples", "session.uvdb")
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([UVDB, "-nx", "--batch", "--json", "-x", script, "--", example("04-blocking")],
                               capture_output=True, text=True, timeout=TIMEOUT, cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            objs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
            self.assertEqual(find(objs, "break")["phase"], "timers")
            run = find(objs, "run")
            self.assertEqual((run["state"], run["phase"], run["reason"]), ("stopped", "timers", "breakpoint"))
            timers = find(objs, "info_timers")["timers"]
            self.assertEqual(sorted(t["callback"] for t in timers), ["on_heavy", "on_tick"])
            self.assertEqual(find(objs, "profile_start")["clock"], "wall")
            self.assertEqual(find(objs, "continue")["state"], "exited")
            exported = find(objs, "profile_export")
            self.assertEqual((exported["file"], exported["format"]), ("session.svg", "svg"))
            self.assertGreater(exported["samples"], 0)
            self.assertEqual(find(objs, "trace_export")["file"], "session.trace.json")
            svg = xml.dom.minidom.parse(os.path.join(d, "session.svg"))
            self.assertIn("on_heavy", "".join(t.firstChild.data for t in svg.getElementsByTagName("title")))
            events = check_chrome_trace(self, os.path.join(d, "session.trace.json"))
            self.assertTrue(any(e.get("cat") == "phase" and e["name"] == "timers" for e in events))


if __name__ == "__main__":
    unittest.main()
