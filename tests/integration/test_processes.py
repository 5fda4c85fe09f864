#!/usr/bin/env python3
"""Integration tests of the process probes: the 12-processes examples (Node,
C with Debian's libuv.so.1, C with libuv linked statically) spawn
/bin/true, `/bin/sh -c 'exit 3'`, a /bin/sleep they kill with SIGTERM and a
file that does not exist, and raise a signal at themselves twice; under
`uvdb --batch --json`, `info processes`, `trace on processes` and the
timeline must tell the pids the programs print, how each child ended, and
the signals' counts.  Then the same probes in a node attached to."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, TIMEOUT, UVDB, example, find, node_example, uvdb  # noqa: E402

SIGTERM = 15


def values(objs, key):
    return [o[key] for o in objs if key in o]


def printed(out):
    """{what: pid} from `spawned true: pid N`, and the failed spawns' errors."""
    pids = {m.group(1): int(m.group(2)) for m in (re.match(r"spawned (\w+): pid (\d+)$", l) for l in out) if m}
    errors = {m.group(1): m.group(2) for m in (re.match(r"spawn (\w+) failed: (\w+)$", l) for l in out) if m}
    return pids, errors


class Examples(unittest.TestCase):
    """One program each way, its own output compared with a run without uvdb
    (pids aside), and every field of what uvdb says about it."""

    def check(self, program, user_signal, signal_hook):
        plain = subprocess.run(program, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        tmp = tempfile.mkdtemp()
        try:
            trace = os.path.join(tmp, "trace.json")
            rc, objs, out, err = uvdb(["set follow-children off", "trace on processes", "run", "info processes",
                                       "info probe", f"trace export {trace}"], program)
            with open(trace) as f:
                timeline = json.load(f)["traceEvents"]
        finally:
            shutil.rmtree(tmp)
        self.assertEqual(rc, 0, err)
        mask = lambda lines: [re.sub(r"pid \d+", "pid N", l) for l in lines]  # noqa: E731
        self.assertEqual(mask(out), mask(plain.stdout.splitlines()))
        run = find(objs, "run")
        self.assertEqual((run["state"], run["exit_code"], run["dropped"]), ("exited", 0, 0))
        pids, errors = printed(out)
        self.assertEqual(sorted(pids), ["exit3", "sleep", "true"])
        self.assertEqual(errors, {"missing": "ENOENT"})
        # what the exit callbacks got, as the program prints it
        ended = {int(m.group(1)): (int(m.group(2)), m.group(3))
                 for m in (re.match(r"pid (\d+) ended: exit status (\d+), signal (\w+)$", l) for l in out) if m}
        self.assertEqual(set(ended), set(pids.values()))
        self.assertIn(f"{user_signal} came 2 times", out)

        info = find(objs, "info_processes")
        self.assertEqual({k: info[k] for k in ("spawned", "failed", "exited", "killed", "running")},
                         {"spawned": 3, "failed": 1, "exited": 2, "killed": 1, "running": 0})
        children = {c["pid"]: c for c in info["children"]}
        self.assertEqual(set(children), {pids["true"], pids["exit3"], pids["sleep"], None})
        expect = {pids["true"]: ("/bin/true", ["/bin/true"], "exited", 0, 0, None),
                  pids["exit3"]: ("/bin/sh", ["/bin/sh", "-c", "exit 3"], "exited", 3, 0, None),
                  pids["sleep"]: ("/bin/sleep", ["/bin/sleep", "10"], "killed", 0, SIGTERM, "SIGTERM"),
                  None: ("/nonexistent/program", ["/nonexistent/program"], "failed", None, None, None)}
        for pid, (file, args, state, status, term, name) in expect.items():
            c = children[pid]
            if pid is not None:  # as the program's own exit callback got it (node names the signal)
                self.assertEqual(ended[pid][0], status)
                self.assertIn(ended[pid][1], (str(term), name) if term else ("0",))
            self.assertEqual((c["loop"], c["file"], c["args"], c["state"], c["exit_status"], c["term_signal"],
                              c["signal"]), (1, file, args, state, status, term, name), c)
            if pid is None:
                self.assertEqual((c["error"], c["lifetime_ms"]), ("ENOENT", None))
            else:
                self.assertIsNone(c["error"])
                self.assertGreater(c["lifetime_ms"], 0)
            self.assertGreater(c["started_ms"], 0)
        # in the order spawned
        self.assertEqual([c["pid"] for c in info["children"]], [pids["true"], pids["exit3"], pids["sleep"], None])

        signals = {(s["signal"], s["internal"]): s for s in info["signals"]}
        self.assertEqual(set(signals), {(user_signal, False), ("SIGCHLD", True)})
        self.assertEqual((signals[(user_signal, False)]["count"], signals[(user_signal, False)]["loop"]), (2, 1))
        # one SIGCHLD a child (the failed spawn's forked one too), fewer when the kernel merged them
        self.assertIn(signals[("SIGCHLD", True)]["count"], range(1, 5))

        # trace on processes: the same, as it came
        traced = values(objs, "process")
        spawns = [(e["pid"], e["file"], e["error"]) for e in traced if e["event"] == "spawn"]
        self.assertEqual(spawns, [(pids["true"], "/bin/true", None), (pids["exit3"], "/bin/sh", None),
                                  (pids["sleep"], "/bin/sleep", None), (None, "/nonexistent/program", "ENOENT")])
        exits = {e["pid"]: (e["exit_status"], e["term_signal"], e["signal"]) for e in traced if e["event"] == "exit"}
        self.assertEqual(exits, {pids["true"]: (0, 0, None), pids["exit3"]: (3, 0, None),
                                 pids["sleep"]: (0, SIGTERM, "SIGTERM")})
        delivered = [s for s in values(objs, "signal") if s["signal"] == user_signal]
        self.assertEqual(sum(s["count"] for s in delivered), 2)

        probe = find(objs, "info_probe")
        self.assertEqual(probe["processes"], "spawns, exits, signals")
        hooks = {h["function"]: h for h in probe["hooks"]}
        for name, found_by in (("uv_spawn", None), ("wait4", ".dynsym of libc.so.6"),
                               ("uv__signal_event", signal_hook)):
            self.assertEqual(hooks[name]["status"], "installed", hooks[name])
            if found_by:
                self.assertEqual(hooks[name]["found_by"], found_by)

        # the timeline: instant events on the loop's track
        marks = [e for e in timeline if e.get("cat") == "process"]
        self.assertTrue(all(e["ph"] == "i" and e["tid"] == run["pid"] for e in marks), marks)
        names = [e["name"] for e in marks]
        for what in ("true", "exit3", "sleep"):
            self.assertIn(f"spawn pid {pids[what]}", names)
        self.assertIn("spawn failed", names)
        self.assertIn(f"pid {pids['exit3']} exited 3", names)
        self.assertIn(f"pid {pids['sleep']} killed by SIGTERM", names)
        self.assertEqual(sum(e["args"]["count"] for e in marks if e["name"] == user_signal), 2)
        files = {e["name"]: e["args"]["file"] for e in marks if e["name"].startswith("spawn")}
        self.assertEqual(files[f"spawn pid {pids['exit3']}"], "/bin/sh")

    def test_node(self):
        self.check(node_example("12-processes.js"), "SIGUSR2", ".symtab")

    def test_c_shared_libuv(self):
        # uv__signal_event is unnamed in the stripped library: what uv_signal_init loads
        self.check([example("12-processes")], "SIGUSR1", "loaded by uv_signal_init (libuv 1.44 pattern)")

    def test_c_static_libuv(self):
        self.check([example("12-processes-static")], "SIGUSR1", ".symtab")

    def test_text(self):
        p = subprocess.run([UVDB, "-nx", "--batch", "-ex", "set follow-children off", "-ex", "run", "-ex",
                            "info processes", "--", example("12-processes")], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        pids, _ = printed(p.stdout.splitlines())
        text = p.stdout
        self.assertIn("Children: 3 spawned (0 running, 2 exited, 1 killed), 1 failed to spawn", text)
        self.assertRegex(text, rf"\n  {pids['sleep']} +1 +[\d.]+ +killed by SIGTERM +[\d.]+ +/bin/sleep 10\n")
        self.assertRegex(text, rf"\n  {pids['exit3']} +1 +[\d.]+ +exited 3 +[\d.]+ +/bin/sh -c exit 3\n")
        self.assertRegex(text, r"\n  - +1 +[\d.]+ +failed: ENOENT +- +/nonexistent/program\n")
        self.assertRegex(text, r"\n  SIGUSR1 +1 +2 +[\d.]+\n")
        self.assertRegex(text, r"\n  SIGCHLD +1 +\d +[\d.]+  \(libuv's child watcher\)\n")

    def test_refusals(self):
        rc, objs, out, err = uvdb(["info processes"], None)
        self.assertEqual(rc, 1)
        self.assertIn("the program has not run yet", find(objs, "error"))
        rc, objs, out, err = uvdb(["set follow-children off", "run", "info processes 2"], [example("12-processes")])
        self.assertEqual(rc, 1)
        self.assertIn("usage: info processes", find(objs, "error"))
        rc, objs, out, err = uvdb(["trace on children"], None)
        self.assertIn("only `phases` and `processes` can be traced", find(objs, "error"))


# On SIGUSR2: a child that exits with 5, its pid printed.
ATTACHED = ("const { spawn } = require('child_process');"
            "process.on('SIGUSR2', () => { const c = spawn('/bin/sh', ['-c', 'exit 5']);"
            " console.log(`pid ${c.pid}`); });"
            "setInterval(() => {}, 1000); console.log('ready');")


class Attached(unittest.TestCase):
    """The hooks placed in a running node (wait4 in libc, uv_spawn and
    uv__signal_event in node) see what happens after the attach."""

    def test_spawn_exit_and_signal_after_attach(self):
        target = subprocess.Popen([NODE, "-e", ATTACHED], stdout=subprocess.PIPE, text=True)
        dbg = None
        try:
            self.assertEqual(target.stdout.readline().strip(), "ready")
            dbg = subprocess.Popen([UVDB, "-nx", "--batch", "--json", "-p", str(target.pid), "-ex", "sleep 2",
                                    "-ex", "info processes", "-ex", "info probe", "-ex", "detach"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            first = dbg.stdout.readline()  # the attach's answer: the hooks are in
            self.assertIn('"attach"', first)
            target.send_signal(signal.SIGUSR2)
            ready, _, _ = select.select([target.stdout], [], [], TIMEOUT)
            self.assertTrue(ready)
            pid = int(target.stdout.readline().split()[1])
            rest, err = dbg.communicate(timeout=TIMEOUT)
            self.assertEqual(dbg.returncode, 0, err)
            objs = [json.loads(l) for l in [first] + rest.splitlines() if l.startswith("{")]
            info = find(objs, "info_processes")
            self.assertEqual([(c["pid"], c["file"], c["state"], c["exit_status"]) for c in info["children"]],
                             [(pid, "/bin/sh", "exited", 5)])
            self.assertEqual([(s["signal"], s["count"]) for s in info["signals"] if not s["internal"]],
                             [("SIGUSR2", 1)])
            self.assertEqual(find(objs, "info_probe")["processes"], "spawns, exits, signals")
            self.assertTrue(find(objs, "detach")["code_restored"])
            self.assertIsNone(target.poll())  # it runs on, as it was
        finally:
            if dbg and dbg.poll() is None:
                dbg.kill()
                dbg.wait()
            target.kill()
            target.wait()
            target.stdout.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
