#!/usr/bin/env python3
"""Integration tests: real examples (Node, C with Debian's libuv.so.1, C with
libuv linked statically) under `uvdb --batch --json`, asserting fields."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

UVDB = os.environ.get("UVDB", "build/debugger/uvdb")
EXAMPLES = os.environ.get("UVDB_EXAMPLES") or os.environ.get("EXAMPLES_DEFAULT", "build/examples")
SRC = os.environ.get("SRC", ".")
NODE = os.environ.get("NODE") or shutil.which("node")
PROBE = os.environ.get("UVDB_PROBE") or os.environ.get("UVDB_PROBE_DEFAULT", "build/preload/libuvdb-probe.so")
# Node's own word on its libuv, independent of uvdb: 1.45 moved timers last.
NODE_UV = tuple(int(x) for x in subprocess.run([NODE, "-p", "process.versions.uv"], capture_output=True,
                                               text=True, check=True).stdout.strip().split("."))
TIMEOUT = 120

ORDER_146 = ["pending", "idle", "prepare", "poll", "check", "closing", "timers"]
ORDER_144 = ["timers", "pending", "idle", "prepare", "poll", "check", "closing"]
PHASES = set(ORDER_144)


def uvdb(commands, program, extra=()):
    """Run uvdb --batch --json; return (exit status, JSON objects, other lines, stderr)."""
    args = [UVDB, "-nx", "--batch", "--json", *extra]  # no developer's init file
    for c in commands:
        args += ["-ex", c]
    args += ["--", *program] if program else []
    p = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
    objs, other = [], []
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            objs.append(json.loads(line))
        else:
            other.append(line)
    return p.returncode, objs, other, p.stderr


def find(objs, key):
    found = [o[key] for o in objs if key in o]
    if not found:
        raise AssertionError(f"no {key!r} in {objs!r}")
    return found[0]


def in_epoll_wait(pid):
    with open(f"/proc/{pid}/syscall") as f:
        nr = f.read().split()[0]
    return nr in ("232", "281", "441")  # epoll_wait, epoll_pwait, epoll_pwait2


def example(name):
    return os.path.join(EXAMPLES, name)


def node_example(name):
    return [NODE, os.path.join(SRC, "examples", "node", name)]


class PhaseOrder(unittest.TestCase):
    """Phases in the order each libuv version runs them, on all three targets."""

    def check_loop(self, program, order, version_prefix, found_by):
        rc, objs, out, err = uvdb(["run", "info loop", "info probe"], program)
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual(run["state"], "exited")
        self.assertEqual(run["exit_code"], 0)
        self.assertEqual(run["dropped"], 0)
        loop = find(objs, "info_loop")
        self.assertGreater(loop["iterations"], 0)
        self.assertEqual(loop["order"], order)
        counts = {p["phase"]: p["count"] for p in loop["phases"]}
        self.assertEqual(set(counts), PHASES)
        for phase in PHASES - {"timers"}:
            self.assertEqual(counts[phase], loop["iterations"], phase)
        self.assertGreaterEqual(counts["timers"], loop["iterations"])
        for p in loop["phases"]:
            self.assertGreaterEqual(p["max_us"], p["mean_us"])
        probe = find(objs, "info_probe")
        self.assertEqual(probe["libuv"], "found")
        self.assertTrue(probe["libuv_version"].startswith(version_prefix), probe["libuv_version"])
        hooks = {h["function"]: h for h in probe["hooks"]}
        loop_hooks = {"uv_run", "uv__run_timers", "uv__run_idle", "uv__run_prepare", "uv__io_poll", "uv__run_check"}
        v8 = {"v8::internal::Heap::CollectGarbage", "v8::internal::MicrotaskQueue::RunMicrotasks"}  # node only
        self.assertEqual(set(hooks) - v8, loop_hooks | {"uv__work_submit", "uv_queue_work", "uv__fs_work", "uv_loop_close",
                                                        "uv_spawn", "wait4", "uv__signal_event"})
        for name in loop_hooks | {"uv_queue_work"}:  # uv_queue_work: public, found everywhere
            self.assertEqual(hooks[name]["status"], "installed", hooks[name])
            self.assertIsNone(hooks[name]["reason"])
        self.assertIn(found_by, hooks["uv__io_poll"]["found_by"])
        # each phase function (and uv_run, which inlines pending and closing) runs its
        # callbacks through call sites uvdb times
        sites = probe["callsites"]
        self.assertEqual({c["status"] for c in sites}, {"installed"}, sites)
        self.assertEqual({c["site"].split("+")[0] for c in sites}, loop_hooks)
        return loop, probe, out

    def test_node(self):
        order = ORDER_146 if NODE_UV >= (1, 45) else ORDER_144
        version = ".".join(map(str, NODE_UV))
        loop, probe, out = self.check_loop(node_example("03-loop-phases.js"), order, version, "")
        self.assertEqual(probe["libuv_version"], version)
        if probe["libuv_path"] == os.path.realpath(NODE):  # libuv inside node: named in .symtab
            hooks = probe["hooks"]  # and libc's wait4 (test_processes.py)
            self.assertEqual({h["found_by"] for h in hooks if h["function"] != "wait4"}, {".symtab"})
            self.assertEqual({h["status"] for h in hooks}, {"installed"})
            self.assertTrue({"v8::internal::Heap::CollectGarbage", "v8::internal::MicrotaskQueue::RunMicrotasks"}
                            <= {h["function"] for h in hooks})
            self.assertTrue(probe["threadpool"].startswith("every job"), probe["threadpool"])
        self.assertIn("echo: hello, loop", out)
        self.assertIn("echo: hello, loop", out)

    def test_c_shared_libuv_runs_timers_first(self):
        loop, probe, out = self.check_loop([example("03-loop-phases")], ORDER_144, "1.44.", "uv_run")
        self.assertIn("libuv.so.1", probe["libuv_path"])
        self.assertIn("timer fired 3 times, idle ran 10 times, echo received", out)
        # stripped, with uv__work_submit inlined: only the public entry is seen, and it says so
        self.assertEqual({h["function"] for h in probe["hooks"] if h["status"] != "installed"},
                         {"uv__work_submit", "uv__fs_work"})
        self.assertTrue(probe["threadpool"].startswith("uv_queue_work jobs only"), probe["threadpool"])

    def test_c_static_libuv_runs_timers_first(self):
        loop, probe, out = self.check_loop([example("03-loop-phases-static")], ORDER_144, "<=1.44", ".symtab")
        self.assertTrue(probe["libuv_path"].endswith("03-loop-phases-static"))

    def test_node_timeout_vs_immediate(self):
        rc, objs, out, err = uvdb(["run", "info loop"], node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "info_loop")["order"], ORDER_146 if NODE_UV >= (1, 45) else ORDER_144)
        # inside an I/O callback, check (setImmediate) comes before timers; from
        # the main module it is a race
        self.assertIn(out[0], ("from the main module: setTimeout before setImmediate",
                               "from the main module: setImmediate before setTimeout"))
        self.assertEqual(out[1], "from an I/O callback: setImmediate before setTimeout")


class RunOnce(unittest.TestCase):
    """N calls of uv_run(UV_RUN_ONCE) are N iterations."""

    def check(self, name, n):
        rc, objs, out, err = uvdb(["run", "info loop"], [example(name), str(n)])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [f"{n} iterations, idle callback ran {n - 1} times, loop done"])
        loop = find(objs, "info_loop")
        self.assertEqual(loop["iterations"], n)
        self.assertEqual(loop["runs"], n)
        counts = {p["phase"]: p["count"] for p in loop["phases"]}
        for phase in PHASES - {"timers"}:
            self.assertEqual(counts[phase], n, phase)
        # libuv 1.44's UV_RUN_ONCE runs the timers again after closing, in the
        # same iteration, to promise forward progress: 2 per iteration.
        self.assertEqual(counts["timers"], 2 * n)
        self.assertEqual(loop["order"], ORDER_144 + ["timers"])

    def test_shared(self):
        self.check("06-run-once", 7)

    def test_static(self):
        self.check("06-run-once-static", 4)

    def test_trace_prints_every_phase(self):
        n = 3
        rc, objs, out, err = uvdb(["trace on phases", "run"], [example("06-run-once"), str(n)])
        self.assertEqual(rc, 0, err)
        phases = [o["phase"] for o in objs if "phase" in o]
        self.assertEqual(len(phases), n * 8)
        self.assertEqual([p["phase"] for p in phases if p["iteration"] == 2], ORDER_144 + ["timers"])
        self.assertEqual(sorted({p["iteration"] for p in phases}), [1, 2, 3])
        begins = [p["begin_ns"] for p in phases]
        self.assertEqual(begins, sorted(begins))


class TraceFilter(unittest.TestCase):
    def test_trace_one_loop(self):
        rc, objs, out, err = uvdb(["trace on phases loop 1", "run"], node_example("03-loop-phases.js"))
        self.assertEqual(rc, 0, err)
        loops = {o["phase"]["loop"] for o in objs if "phase" in o}
        self.assertEqual(loops, {1})
        rc, objs, out, err = uvdb(["trace on phases loop x"], [example("06-run-once")])
        self.assertIn("usage: trace on phases [loop N]", find(objs, "error"))


class Control(unittest.TestCase):
    def test_start_stops_before_first_phase_then_continue(self):
        rc, objs, out, err = uvdb(["start", "info loop", "continue", "info loop"], [example("06-run-once"), "3"])
        self.assertEqual(rc, 0, err)
        start = find(objs, "start")
        self.assertEqual(start["state"], "stopped")
        self.assertEqual(start["reason"], "start")
        self.assertEqual(start["phase"], "timers")
        self.assertEqual(start["iteration"], 1)  # stopped as iteration 1 began
        loops = [o["info_loop"] for o in objs if "info_loop" in o]
        self.assertEqual(loops[0]["iterations"], 0)  # none completed yet
        self.assertEqual(loops[0]["phases"], [])
        self.assertEqual(find(objs, "continue")["state"], "exited")
        self.assertEqual(loops[1]["iterations"], 3)

    def test_interrupt_pauses_a_loop_blocked_in_poll(self):
        script = "setInterval(() => {}, 60000); setTimeout(() => console.log(process.pid), 1);"
        args = [UVDB, "--batch", "--json", "-ex", "run", "-ex", "info loops", "-ex", "kill",
                "--", NODE, "-e", script]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            pid = int(p.stdout.readline())
            while not in_epoll_wait(pid):  # a condition, not a delay: the loop is parked
                os.sched_yield()
            p.send_signal(signal.SIGINT)
            rest, err = p.communicate(timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
        self.assertEqual(p.returncode, 0, err)
        objs = [json.loads(l) for l in rest.splitlines() if l.startswith("{")]
        run = find(objs, "run")
        self.assertEqual(run["state"], "stopped")
        self.assertEqual(run["reason"], "interrupt")
        self.assertEqual(run["phase"], "poll")
        self.assertTrue(run["in_poll"])
        main = [l for l in find(objs, "info_loops") if l["main"]]
        self.assertEqual(main[0]["id"], run["loop"])
        self.assertEqual(main[0]["state"], "stopped")
        self.assertEqual(find(objs, "kill")["signal"], "KILL")

    def test_target_runs_on_when_the_debugger_dies(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = os.path.join(tmp, "done")
            script = ("let n = 0; const t = setInterval(() => { if (++n === 5) { clearInterval(t);"
                      f" require('fs').writeFileSync({marker!r}, 'ticks ' + n); }} }}, 5);")
            p = subprocess.Popen([UVDB, "--json", "-q", "-ex", "start", "--", NODE, "-e", script],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                start = json.loads(p.stdout.readline())["start"]
                self.assertEqual(start["state"], "stopped")
                p.kill()  # SIGKILL: no goodbye to the probe
                p.communicate()
                # The paused loop resumes when the probe sees the socket close; the
                # program then finishes by itself.  The deadline only guards a hang.
                deadline = time.monotonic() + TIMEOUT
                while os.path.exists(f"/proc/{start['pid']}") and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.assertFalse(os.path.exists(f"/proc/{start['pid']}"), "the target is still paused")
                with open(marker) as f:
                    self.assertEqual(f.read(), "ticks 5")
            finally:
                if p.poll() is None:
                    p.kill()

    def test_exit_code_and_signal_are_reported(self):
        rc, objs, out, err = uvdb(["run"], [NODE, "-e", "setTimeout(() => process.exit(3), 1)"])
        self.assertEqual(find(objs, "run")["exit_code"], 3)
        rc, objs, out, err = uvdb(["run"], [NODE, "-e", "setTimeout(() => process.kill(process.pid, 'SIGTERM'), 1)"])
        run = find(objs, "run")
        self.assertEqual(run["signal"], "TERM")
        self.assertIsNone(run["exit_code"])

    def test_data_stays_after_exit_until_next_run(self):
        rc, objs, out, err = uvdb(["run", "info loop", "run", "info loop"], [example("06-run-once"), "2"])
        self.assertEqual(rc, 0, err)
        loops = [o["info_loop"] for o in objs if "info_loop" in o]
        self.assertEqual([l["iterations"] for l in loops], [2, 2])  # not 4: run starts afresh
        self.assertEqual(loops[0]["state"], "ended")  # it closes its loop (uv_loop_close) before it exits


class Scripts(unittest.TestCase):
    def test_x_file_and_ex_run_in_order(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "session.uvdb")
            with open(script, "w") as f:
                f.write("# a comment, then commands\n\ntrace on phases\nrun\n")
            rc, objs, out, err = uvdb(["info loops"], [example("06-run-once"), "2"], extra=("-x", script))
            # -x comes first on the command line, so it runs before -ex
            self.assertEqual(rc, 0, err)
            keys = [next(iter(o)) for o in objs]
            self.assertEqual(keys, ["phase"] * 16 + ["run", "info_loops"])

    def test_source_and_echo(self):
        with tempfile.TemporaryDirectory() as tmp:
            inner = os.path.join(tmp, "inner.uvdb")
            with open(inner, "w") as f:
                f.write("echo from the inner file\nrun\n")
            outer = os.path.join(tmp, "outer.uvdb")
            with open(outer, "w") as f:
                f.write(f"echo before\nsource {inner}\necho after\n")
            rc, objs, out, err = uvdb([f"source {outer}", "info loops"], [example("06-run-once"), "2"])
            self.assertEqual(rc, 0, err)
            self.assertEqual([next(iter(o)) for o in objs], ["echo", "echo", "run", "echo", "info_loops"])
            self.assertEqual([o["echo"] for o in objs if "echo" in o], ["before", "from the inner file", "after"])
            rc, objs, out, err = uvdb([f"source {os.path.join(tmp, 'missing')}"], [example("06-run-once")])
            self.assertEqual(rc, 1)
            self.assertIn("cannot read", find(objs, "error"))

    def test_failing_command_ends_the_script_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "bad.uvdb")
            with open(script, "w") as f:
                f.write("info loop\nrun\n")  # fails: nothing has run yet
            rc, objs, out, err = uvdb(["help run"], [example("06-run-once"), "2"], extra=("-x", script))
            self.assertEqual(rc, 1)
            errors = [o["error"] for o in objs if "error" in o]
            self.assertIn("has not run yet", errors[0])
            self.assertIn("bad.uvdb:1: stopped the script here", errors[1])
            self.assertNotIn("run", [next(iter(o)) for o in objs])  # line 2 never ran
            self.assertEqual(find(objs, "help")["command"], "run")  # later -ex still run


class BadInput(unittest.TestCase):
    def test_no_program(self):
        rc, objs, out, err = uvdb(["run"], [])
        self.assertEqual(rc, 1)
        self.assertIn("no program to run", find(objs, "error"))

    def test_missing_program(self):
        rc, objs, out, err = uvdb(["run"], ["/nonexistent/program"])
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/program: no such program", find(objs, "warning"))  # said at once
        self.assertIn("cannot run /nonexistent/program: No such file or directory", find(objs, "error"))

    def test_program_without_libuv_still_runs(self):
        rc, objs, out, err = uvdb(["run", "info probe"], ["/bin/sh", "-c", "echo plain; exit 4"])
        self.assertEqual(rc, 0, err)
        self.assertIn("no libuv found in", find(objs, "warning"))
        self.assertIn("/bin/", find(objs, "warning"))
        self.assertEqual(out, ["plain"])
        self.assertEqual(find(objs, "run")["exit_code"], 4)
        self.assertEqual(find(objs, "info_probe")["libuv"], "none")

    def test_exec_chain_reaches_libuv_without_warning(self):
        # sh execs node in the same process: the probe in sh finds no libuv,
        # the one in node does; no warning, node's loop is seen.
        rc, objs, out, err = uvdb(["run", "info loop"], ["/bin/sh", "-c", f"exec {NODE} -e 'setTimeout(() => {{}}, 1)'"])
        self.assertEqual(rc, 0, err)
        self.assertEqual([o for o in objs if "warning" in o], [])
        self.assertGreater(find(objs, "info_loop")["iterations"], 0)

    def test_unknown_command(self):
        rc, objs, out, err = uvdb(["frobnicate"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn('undefined command: "frobnicate"', find(objs, "error"))

    def test_ambiguous_and_prefix(self):
        rc, objs, out, err = uvdb(["info lo"], [example("06-run-once")])
        self.assertIn("ambiguous", find(objs, "error"))
        rc, objs, out, err = uvdb(["r", "i loop"], [example("06-run-once"), "2"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "info_loop")["iterations"], 2)

    def test_info_loop_99(self):
        rc, objs, out, err = uvdb(["run", "info loop 99"], [example("06-run-once"), "2"])
        self.assertEqual(rc, 1)
        self.assertIn("no loop 99", find(objs, "error"))

    def test_info_before_run(self):
        rc, objs, out, err = uvdb(["info loop"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("has not run yet", find(objs, "error"))

    def test_continue_when_not_running(self):
        rc, objs, out, err = uvdb(["continue"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("not being run", find(objs, "error"))

    def test_unknown_option(self):
        p = subprocess.run([UVDB, "--frob"], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option --frob", p.stderr)


class Transparency(unittest.TestCase):
    """A process with no libuv, or not the one being debugged, sees nothing."""

    def test_probe_alone_is_silent(self):
        env = dict(os.environ, LD_PRELOAD=os.path.abspath(PROBE))
        for prog in (["/bin/true"], ["/bin/sh", "-c", "echo x; exit 5"]):
            bare = subprocess.run(prog, capture_output=True, text=True)
            probed = subprocess.run(prog, capture_output=True, text=True, env=env)
            self.assertEqual((probed.returncode, probed.stdout, probed.stderr),
                             (bare.returncode, bare.stdout, bare.stderr))

    def test_examples_run_the_same_under_uvdb(self):
        programs = [[example(n)] for n in ("03-loop-phases", "03-loop-phases-static", "06-timers",
                                           "06-timers-static", "06-run-once", "06-run-once-static")]
        # (06-timeout-vs-immediate.js is a race on purpose: its own test checks what is certain)
        programs += [node_example(n) for n in ("03-loop-phases.js", "09-http-server.js")]
        for prog in programs:
            bare = subprocess.run(prog, capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(bare.returncode, 0, (prog, bare.stderr))
            rc, objs, out, err = uvdb(["run"], prog)
            self.assertEqual(find(objs, "run")["exit_code"], 0, prog)
            # sorted: the file read and the TCP echo of 03-loop-phases.js finish in either order
            self.assertEqual(sorted(out), sorted(bare.stdout.splitlines()), prog)

    def test_a_forked_child_with_its_own_loop_stays_quiet(self):
        programs = (os.environ.get("UVDB_TEST_PROGRAMS") or os.environ.get("TEST_PROGRAMS")
                    or os.path.join(os.path.dirname(EXAMPLES), "tests", "integration"))
        rc, objs, out, err = uvdb(["run", "info loops", "info loop"], [os.path.join(programs, "fork-loop"), "4"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ["parent ran 4 iterations, child exited with 0"])
        self.assertEqual(len(find(objs, "info_loops")), 1)  # the child's loop never reached the rings
        loop = find(objs, "info_loop")
        self.assertEqual((loop["iterations"], loop["runs"]), (4, 4))
        self.assertEqual(find(objs, "run")["dropped"], 0)

    def test_children_of_the_target_are_left_alone(self):
        script = "const r = require('child_process').spawnSync('/bin/sh', ['-c', 'echo child; exit 6']);" \
                 "console.log(r.stdout.toString().trim(), r.status, r.stderr.length)"
        rc, objs, out, err = uvdb(["run"], [NODE, "-e", script])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ["child 6 0"])
        self.assertEqual([o for o in objs if "warning" in o], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
