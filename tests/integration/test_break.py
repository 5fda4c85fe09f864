#!/usr/bin/env python3
"""Integration tests of breakpoints and stepping: real examples under
`uvdb --batch --json`, on Node and on C with Debian's libuv.so.1 and static."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, NODE_UV, ORDER_144, ORDER_146, example, find, node_example, uvdb  # noqa: E402


def stops(objs, key):
    return [o[key] for o in objs if key in o]


class Next(unittest.TestCase):
    """`next` through one whole iteration stops at each phase in the order it ran."""

    def walk(self, program, order):
        # start stops before the first phase; seven `next` visit the others
        # and return to where the iteration began
        cmds = ["start"] + ["next"] * len(order) + ["kill"]
        rc, objs, out, err = uvdb(cmds, program)
        self.assertEqual(rc, 0, err)
        start = find(objs, "start")
        nexts = stops(objs, "next")
        seen = [start] + nexts
        for s in seen:
            self.assertEqual(s["state"], "stopped")
            self.assertEqual(s["loop"], 1)
        self.assertEqual(start["reason"], "start")
        self.assertEqual({n["reason"] for n in nexts}, {"step"})
        return [s["phase"] for s in seen], [s["iteration"] for s in seen]

    def test_c_shared(self):
        phases, iters = self.walk([example("03-loop-phases")], ORDER_144)
        self.assertEqual(phases, ORDER_144 + ["timers"])
        self.assertEqual(iters, [1] * 7 + [2])

    def test_c_static(self):
        phases, iters = self.walk([example("03-loop-phases-static")], ORDER_144)
        self.assertEqual(phases, ORDER_144 + ["timers"])

    def test_node(self):
        order = ORDER_146 if NODE_UV >= (1, 45) else ORDER_144
        phases, iters = self.walk(node_example("03-loop-phases.js"), order)
        if NODE_UV >= (1, 45):
            # UV_RUN_DEFAULT runs timers once before its first iteration
            self.assertEqual(phases, ["timers"] + ORDER_146)
            self.assertEqual(iters, [0] + [1] * 7)
        else:
            self.assertEqual(phases, ORDER_144 + ["timers"])


class Finish(unittest.TestCase):
    def test_finish_runs_the_phase_and_stops_at_its_end(self):
        rc, objs, out, err = uvdb(["break phase poll", "run", "finish", "kill"], [example("06-run-once"), "3"])
        self.assertEqual(rc, 0, err)
        fin = find(objs, "finish")
        self.assertEqual((fin["state"], fin["phase"], fin["iteration"], fin["reason"]),
                         ("stopped", "check", 1, "step"))


class Breakpoints(unittest.TestCase):
    def test_condition_and_hits(self):
        rc, objs, out, err = uvdb(["break phase poll if iteration >= 3", "run", "continue", "info breakpoints",
                                   "delete", "continue"], [example("06-run-once"), "5"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "break")["condition"], "iteration >= 3")
        run, cont = find(objs, "run"), stops(objs, "continue")
        self.assertEqual((run["state"], run["reason"], run["breakpoint"], run["phase"], run["iteration"]),
                         ("stopped", "breakpoint", 1, "poll", 3))
        self.assertEqual((cont[0]["phase"], cont[0]["iteration"]), ("poll", 4))
        self.assertEqual(find(objs, "info_breakpoints")[0]["hits"], 2)
        self.assertEqual(cont[1]["state"], "exited")

    def test_duration_condition(self):
        # the previous pass of poll blocked for the 5 ms timer: over 1000 us
        script = "let n = 0; const t = setInterval(() => { if (++n === 4) clearInterval(t); }, 5);"
        rc, objs, out, err = uvdb(["break phase poll loop 1 if duration_us > 1000", "run", "kill"],
                                  [NODE, "-e", script])
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["state"], run["phase"], run["loop"]), ("stopped", "poll", 1))
        self.assertGreater(run["iteration"], 1)

    def test_ignore_and_continue_n(self):
        rc, objs, out, err = uvdb(["break phase check", "ignore 1 2", "run", "continue 2", "continue"],
                                  [example("06-run-once-static"), "6"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "ignore")["ignore"], 2)
        self.assertEqual(find(objs, "run")["iteration"], 3)  # hits 1 and 2 ignored
        cont = stops(objs, "continue")
        self.assertEqual(cont[0]["iteration"], 5)  # continue 2: one more ignored
        self.assertEqual(cont[1]["iteration"], 6)

    def test_tbreak_is_deleted_after_stopping(self):
        rc, objs, out, err = uvdb(["tbreak phase idle", "run", "info breakpoints", "continue"],
                                  [example("06-run-once"), "3"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(find(objs, "break")["temporary"])
        self.assertEqual(find(objs, "run")["breakpoint"], 1)
        self.assertEqual(find(objs, "info_breakpoints"), [])
        self.assertEqual(find(objs, "continue")["state"], "exited")

    def test_disabled_breakpoint_does_not_stop(self):
        rc, objs, out, err = uvdb(["break phase timers", "disable 1", "run", "info breakpoints", "enable",
                                   "run"], [example("06-run-once"), "2"])
        self.assertEqual(rc, 0, err)
        runs = stops(objs, "run")
        self.assertEqual(runs[0]["state"], "exited")
        self.assertEqual(find(objs, "info_breakpoints")[0]["hits"], 0)
        self.assertEqual((runs[1]["state"], runs[1]["phase"]), ("stopped", "timers"))

    def test_inlined_phases_stop_before_they_run(self):
        rc, objs, out, err = uvdb(["break phase closing", "break phase pending", "run", "continue", "continue"],
                                  [example("06-run-once"), "3"])
        self.assertEqual(rc, 0, err)
        seen = [(s["phase"], s["breakpoint"], s["iteration"]) for s in [find(objs, "run")] + stops(objs, "continue")]
        self.assertEqual(seen, [("pending", 2, 1), ("closing", 1, 1), ("pending", 2, 2)])

    def test_any_loop(self):
        rc, objs, out, err = uvdb(["break phase timers loop any", "info breakpoints", "run", "kill"],
                                  [example("06-run-once"), "2"])
        self.assertEqual(rc, 0, err)
        self.assertIsNone(find(objs, "info_breakpoints")[0]["loop"])
        self.assertEqual(find(objs, "run")["phase"], "timers")

    def test_node_main_loop_is_loop_1(self):
        rc, objs, out, err = uvdb(["break phase check loop 1", "run", "info loops", "kill"],
                                  node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["state"], run["loop"], run["phase"]), ("stopped", 1, "check"))
        main = [l for l in find(objs, "info_loops") if l["main"]][0]
        self.assertEqual((main["id"], main["state"]), (1, "stopped"))


class Commands(unittest.TestCase):
    def test_silent_commands_over_100_iterations(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "watch.uvdb")
            with open(script, "w") as f:
                f.write("break phase check\ncommands\n  silent\n  info loops\n  continue\nend\nrun\n"
                        "info breakpoints\n")
            rc, objs, out, err = uvdb([], [example("06-run-once"), "100"], extra=("-x", script))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "commands")["lines"], ["silent", "info loops", "continue"])
        seen = [o["info_loops"][0]["iterations"] for o in objs if "info_loops" in o]
        self.assertEqual(seen, list(range(100)))  # asked at each hit, before check of iteration n + 1
        self.assertEqual(stops(objs, "run"), [])  # silent: no stop reports
        self.assertEqual([c["state"] for c in stops(objs, "continue")], ["exited"])
        bp = find(objs, "info_breakpoints")[0]
        self.assertEqual((bp["hits"], bp["commands"]), (100, ["silent", "info loops", "continue"]))

    def test_commands_from_ex_and_a_list_that_stays_stopped(self):
        rc, objs, out, err = uvdb(["tbreak phase idle", "commands", "info breakpoints", "end", "run", "continue"],
                                  [example("06-run-once"), "2"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "run")["phase"], "idle")  # not silent: reported
        self.assertEqual(find(objs, "info_breakpoints"), [])  # tbreak already gone when its commands run
        self.assertEqual(find(objs, "continue")["state"], "exited")

    def test_commands_without_end(self):
        rc, objs, out, err = uvdb(["break phase idle", "commands", "info loop"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("without `end`", find(objs, "error"))


class Timers(unittest.TestCase):
    """info timers: the timer heap in due order, read while the loop is parked."""

    def check_c(self, name):
        rc, objs, out, err = uvdb(["break phase timers", "run", "info timers", "kill"], [example(name)])
        self.assertEqual(rc, 0, err)
        t = find(objs, "info_timers")
        self.assertEqual(t["loop"], 1)
        timers = t["timers"]
        self.assertEqual([x["callback"] for x in timers], ["on_first", "on_repeating", "on_third"])
        self.assertEqual([x["repeat_ms"] for x in timers], [0, 20, 0])
        due = [x["due_in_ms"] for x in timers]
        self.assertEqual(due, sorted(due))
        # started at one loop time (uv_now does not move between the starts): 10, 20 and 30 ms after it
        timeouts = [x["timeout_ms"] for x in timers]
        self.assertEqual([t - timeouts[0] for t in timeouts], [0, 10, 20])
        self.assertLessEqual(due[0], 10)
        self.assertEqual([x["timeout_ms"] - t["now_ms"] for x in timers], due)
        self.assertTrue(all(x["active"] and x["ref"] for x in timers))

    def test_c_shared(self):
        self.check_c("06-timers")

    def test_c_static(self):
        self.check_c("06-timers-static")

    def test_node_has_one_timer_for_all_js_timers(self):
        script = "setTimeout(() => {}, 500); setInterval(() => {}, 100);"
        rc, objs, out, err = uvdb(["break phase poll", "run", "info timers", "kill"], [NODE, "-e", script])
        self.assertEqual(rc, 0, err)
        timers = find(objs, "info_timers")["timers"]
        self.assertEqual(len(timers), 1)
        self.assertEqual(timers[0]["callback"], "node::Environment::RunTimers(uv_timer_s*)")
        self.assertLessEqual(timers[0]["due_in_ms"], 100)

    def test_only_a_stopped_loop_is_read(self):
        rc, objs, out, err = uvdb(["info timers"], [example("06-timers")])
        self.assertIn("not being run", find(objs, "error"))
        rc, objs, out, err = uvdb(["break phase poll", "run", "info loops", "info timers 2", "kill"],
                                  node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 1)
        if len(find(objs, "info_loops")) > 1:
            self.assertIn("loop 2 is running", find(objs, "error"))
        else:
            self.assertIn("no loop 2", find(objs, "error"))


class Handles(unittest.TestCase):
    def test_c_every_kind_of_handle(self):
        for name in ("03-loop-phases", "03-loop-phases-static"):
            rc, objs, out, err = uvdb(["break phase check", "run", "info handles", "kill"], [example(name)])
            self.assertEqual(rc, 0, err)
            handles = find(objs, "info_handles")["handles"]
            by_cb = {h["callback"]: h for h in handles if h["callback"]}
            for cb, kind in (("on_timer", "timer"), ("on_idle", "idle"), ("on_prepare", "prepare"),
                             ("on_check", "check")):
                self.assertEqual(by_cb[cb]["type"], kind)
            self.assertFalse(by_cb["on_prepare"]["ref"])  # the example unrefs its watchers
            tcp = [h for h in handles if h["type"] == "tcp"]
            listening = [h for h in tcp if h["connection_callback"] == "on_connection"]
            self.assertEqual(len(listening), 1)
            self.assertEqual(len(tcp), 3)  # listener, client, accepted
            fds = [h["fd"] for h in tcp]
            self.assertTrue(all(isinstance(fd, int) and fd > 2 for fd in fds) and len(set(fds)) == 3, fds)

    def test_closing_and_watchers(self):
        rc, objs, out, err = uvdb(["break phase closing if iteration == 3", "run", "info closing", "kill"],
                                  [example("06-run-once"), "3"])
        self.assertEqual(rc, 0, err)
        closing = find(objs, "info_closing")["closing"]
        self.assertEqual([(c["type"], c["close_callback"]) for c in closing], [("idle", "on_close")])
        rc, objs, out, err = uvdb(["break phase check", "run", "info handles", "info watchers", "kill"],
                                  [example("03-loop-phases-static")])
        self.assertEqual(rc, 0, err)
        tcp_fds = {h["fd"] for h in find(objs, "info_handles")["handles"] if h["type"] == "tcp"}
        watched = {w["fd"]: w for w in find(objs, "info_watchers")["watchers"]}
        self.assertTrue(tcp_fds <= set(watched), (tcp_fds, watched))
        self.assertTrue(all("in" in watched[fd]["wanted"] for fd in tcp_fds))

    def test_requests_of_streams_and_the_count_of_all(self):
        for name in ("03-loop-phases", "03-loop-phases-static"):
            rc, objs, out, err = uvdb(["break phase poll", "run", "info handles", "info requests", "kill"],
                                      [example(name)])
            self.assertEqual(rc, 0, err)
            req = find(objs, "info_requests")
            # before the first poll: the client's connect, and the stat in the thread pool
            self.assertEqual(req["active_requests"], 2)
            self.assertEqual([(r["type"], r["callback"]) for r in req["requests"]], [("connect", "on_connect")])
            client = [h for h in find(objs, "info_handles")["handles"] if h["handle"] == req["requests"][0]["handle"]]
            self.assertEqual((client[0]["type"], client[0]["fd"]), ("tcp", req["requests"][0]["fd"]))

    def test_node_http_server_stopped_in_poll(self):
        import json, subprocess
        from test_loop import UVDB, TIMEOUT, in_epoll_wait
        p = subprocess.Popen([UVDB, "--batch", "--json", "-ex", "run", "-ex", "info handles", "-ex", "kill", "--",
                              *node_example("09-http-server.js"), "--hold"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline(), "response: hello from /loop\n")
            pid = int(p.stdout.readline().split("pid ")[1].rstrip(")\n"))
            while not in_epoll_wait(pid):  # a condition, not a delay
                os.sched_yield()
            p.send_signal(2)
            rest, err = p.communicate(timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
        objs = [json.loads(l) for l in rest.splitlines() if l.startswith("{")]
        self.assertEqual(find(objs, "run")["phase"], "poll")
        handles = find(objs, "info_handles")["handles"]
        tcp = [h for h in handles if h["type"] == "tcp"]
        listening = [h for h in tcp if h["connection_callback"]]
        self.assertEqual(len(listening), 1)
        self.assertIn("OnConnection", listening[0]["connection_callback"])
        connections = [h for h in tcp if not h["connection_callback"]]
        self.assertEqual(len(connections), 2)  # the server's side and the client's
        self.assertTrue(all(h["fd"] > 2 for h in tcp))
        self.assertEqual(len({h["fd"] for h in tcp}), 3)
        kinds = {h["callback"]: h["type"] for h in handles if h["callback"]}
        self.assertEqual(kinds.get("node::Environment::CheckImmediate(uv_check_s*)"), "check")
        self.assertIn("idle", {h["type"] for h in handles})  # setImmediate's idle handle
        self.assertEqual(kinds.get("node::Environment::RunTimers(uv_timer_s*)"), "timer")


class Backtrace(unittest.TestCase):
    def functions(self, objs):
        return [f["function"] for f in find(objs, "backtrace")["frames"]]

    def test_c(self):
        for name in ("06-timers", "06-timers-static"):
            rc, objs, out, err = uvdb(["break phase timers", "run", "backtrace", "kill"], [example(name)])
            self.assertEqual(rc, 0, err)
            fns = self.functions(objs)
            self.assertEqual(fns[:2], ["uv_run", "main"])  # the probe's own frames are left out
            self.assertEqual([f["level"] for f in find(objs, "backtrace")["frames"]], list(range(len(fns))))

    def test_node(self):
        rc, objs, out, err = uvdb(["break phase check", "run", "bt", "kill"], node_example("06-timeout-vs-immediate.js"))
        self.assertEqual(rc, 0, err)
        fns = self.functions(objs)
        self.assertEqual(fns[0], "uv_run")
        self.assertIn("node::SpinEventLoopInternal(node::Environment*)", fns)
        self.assertIn("node::Start(int, char**)", fns)
        self.assertFalse([f for f in fns if "uvdb" in f or f.startswith("uv__hook")])

    def test_not_stopped(self):
        rc, objs, out, err = uvdb(["backtrace"], [example("06-timers")])
        self.assertEqual(rc, 1)
        self.assertIn("not being run", find(objs, "error"))


class TargetIntact(unittest.TestCase):
    """What the safety review found, kept fixed."""

    def test_stop_and_backtrace_leave_the_fd_table_alone(self):
        import json, signal, subprocess
        from test_loop import UVDB, TIMEOUT, in_epoll_wait
        script = "setInterval(() => {}, 60000); setTimeout(() => console.log(process.pid), 1);"
        p = subprocess.Popen([UVDB, "--json", "-q", "-ex", "run", "--", NODE, "-e", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            pid = int(p.stdout.readline())
            while not in_epoll_wait(pid):
                os.sched_yield()
            before = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
            p.send_signal(signal.SIGINT)
            self.assertEqual(json.loads(p.stdout.readline())["run"]["state"], "stopped")
            p.stdin.write("backtrace\n")
            p.stdin.flush()
            frames = json.loads(p.stdout.readline())["backtrace"]["frames"]
            self.assertIn("uv__io_poll", [f["function"] for f in frames])
            self.assertEqual(sorted(os.listdir(f"/proc/{pid}/fd"), key=int), before)
            agents = [t for t in os.listdir(f"/proc/{pid}/task")
                      if open(f"/proc/{pid}/task/{t}/comm").read().strip() == "uvdb-agent"]
            self.assertEqual(len(agents), 1)
            status = open(f"/proc/{pid}/task/{agents[0]}/status").read()
            self.assertIn("CapEff:\t0000000000000000", status)  # the agent holds no privilege
            self.assertEqual(len(os.listdir(f"/proc/{pid}/task/{agents[0]}/fd")), 1)  # its socket alone
            p.communicate("kill\nquit\n", timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()

    def test_small_file_size_limit_is_not_fatal(self):
        import resource, subprocess, json
        from test_loop import UVDB, TIMEOUT
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 1024 * 1024, 100 * 1024 * 1024))
        p = subprocess.run([UVDB, "--batch", "--json", "-ex", "run", "--", example("06-run-once"), "2"],
                           capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limit)
        objs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        self.assertEqual(find(objs, "run")["exit_code"], 0)  # not killed by SIGXFSZ
        self.assertIn("no ring memory: RLIMIT_FSIZE", find(objs, "warning"))


class Prompt(unittest.TestCase):
    def test_enter_repeats_next(self):
        import json, subprocess
        from test_loop import UVDB, TIMEOUT
        p = subprocess.run([UVDB, "--json", "-q", "--", example("06-run-once"), "3"],
                           input="break phase idle\nrun\nnext\n\n\nquit\n", capture_output=True, text=True,
                           timeout=TIMEOUT)
        objs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([n["phase"] for n in stops(objs, "next")], ["prepare", "poll", "check"])


class TargetGone(unittest.TestCase):
    def test_killed_while_stopped_is_reported_not_hung_on(self):
        import json, signal, subprocess
        from test_loop import UVDB, TIMEOUT
        p = subprocess.Popen([UVDB, "--json", "-q", "-ex", "start", "--", example("06-run-once"), "3"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        start = json.loads(p.stdout.readline())["start"]
        os.kill(start["pid"], signal.SIGKILL)
        while open(f"/proc/{start['pid']}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            os.sched_yield()  # a condition, not a delay: dead, not yet reaped by uvdb
        out, err = p.communicate("continue\ninfo loop\nquit\n", timeout=TIMEOUT)
        objs = [json.loads(l) for l in out.splitlines()]
        exited = find(objs, "exited")
        self.assertEqual((exited["state"], exited["signal"]), ("exited", "KILL"))
        self.assertIn("not being run", find(objs, "error"))  # continue: nothing to continue
        self.assertEqual(find(objs, "info_loop")["state"], "exited")  # the data stays


class BadInput(unittest.TestCase):
    def test_unknown_phase_names_the_valid_ones(self):
        rc, objs, out, err = uvdb(["break phase tiemrs"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn('no phase "tiemrs": the phases are timers, pending, idle, prepare, poll, check, closing',
                      find(objs, "error"))

    def test_bad_condition(self):
        rc, objs, out, err = uvdb(["break phase poll if iteraton > 2"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("unknown variable", find(objs, "error"))
        rc, objs, out, err = uvdb(["break phase poll if iteration >"], [example("06-run-once")])
        self.assertIn("expected a number or a variable at the end", find(objs, "error"))

    def test_no_such_breakpoint(self):
        rc, objs, out, err = uvdb(["delete 9"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("no breakpoint 9", find(objs, "error"))

    def test_next_without_a_process(self):
        rc, objs, out, err = uvdb(["next"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn("not being run", find(objs, "error"))

    def test_break_on_something_else(self):
        rc, objs, out, err = uvdb(["break watch x"], [example("06-run-once")])
        self.assertEqual(rc, 1)
        self.assertIn('cannot break on "watch": break on a `phase NAME`, a `callback FUNCTION`, '
                      '`threadpool queue DEPTH`, `blocked MS` or `microtasks`', find(objs, "error"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
