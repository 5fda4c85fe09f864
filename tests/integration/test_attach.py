#!/usr/bin/env python3
"""Integration tests of attach and detach (`uvdb -p PID`): servers that were
running before uvdb came (Node's http, a C echo server on Debian's
libuv.so.1) keep serving real load from bench/loadgen while uvdb attaches,
profiles, breaks and detaches, and are left as they were."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, PROBE, SRC, TIMEOUT, UVDB, find, uvdb  # noqa: E402

BENCH = os.environ.get("UVDB_BENCH") or os.environ.get("BENCH_DEFAULT") or "build/bench"
LOADGEN = os.path.join(BENCH, "loadgen")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc):
    for _ in range(500):  # bounded: 500 connection attempts
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}) before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on port {port}")


def load(mode, port, requests, connections=8, hold=False):
    """Load on the server; held, it lasts until load_done, however long uvdb's session takes."""
    p = subprocess.Popen([LOADGEN, "--mode", mode, "--port", str(port), "--connections", str(connections),
                          "--requests", str(requests), "--slices", str(min(20, requests // 100)), "--timeout", "100",
                          "--hold", "1" if hold else "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.held = hold
    return p


def load_done(test, p):
    if p.held and p.poll() is None:
        p.send_signal(signal.SIGUSR1)
    out, err = p.communicate(timeout=TIMEOUT)
    test.assertEqual(p.returncode, 0, err)  # loadgen fails on any error, short answer or timeout
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    return fields


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass  # a thread that just ended
    return names


def probe_mappings(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if "libuvdb-probe" in line}


class Server:
    """A server process started by the test, ended by PID."""

    def __init__(self, argv, port):
        self.port = port
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_listening(port, self.proc)
        self.pid = self.proc.pid

    def end(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        return self.proc.returncode


class AttachCase(unittest.TestCase):
    def start_node(self):
        port = free_port()
        self.server = Server([NODE, os.path.join(SRC, "bench", "http_server.js"), str(port)], port)
        return self.server

    def start_echo(self):
        port = free_port()
        self.server = Server([os.path.join(BENCH, "echo_server"), str(port)], port)
        return self.server

    def tearDown(self):
        if getattr(self, "server", None):
            self.server.end()

    def assert_left_as_found(self, srv, mode):
        """No tracer, no agent thread, no perf map of ours, and it serves."""
        self.assertIsNone(srv.proc.poll(), "the server died")
        self.assertEqual(status(srv.pid)["TracerPid"], "0")
        for _ in range(100):  # the agent thread ends as it sees uvdb leave
            if "uvdb-agent" not in thread_names(srv.pid):
                break
            time.sleep(0.02)
        self.assertNotIn("uvdb-agent", thread_names(srv.pid))
        self.assertFalse(os.path.exists(f"/tmp/perf-{srv.pid}.map"))
        after = load_done(self, load(mode, srv.port, 2000))
        self.assertEqual(after["requests"], "2000")


class AttachNode(AttachCase):
    def test_attach_profile_under_load_detach(self):
        srv = self.start_node()
        threads_before = len(thread_names(srv.pid))
        # an earlier process's map under this PID: not this one's names, removed
        stale = f"/tmp/perf-{srv.pid}.map"
        with open(stale, "w") as f:
            f.write("1000 10 stale\n")
        os.utime(stale, (time.time() - 3600, time.time() - 3600))
        lg = load("http", srv.port, 40000, hold=True)
        rc, objs, out, err = uvdb(["info loops", "profile start --hz 499", "sleep 2", "profile stop",
                                   "profile report --top 1000", "info threadpool", "info handles", "detach"],
                                  None, extra=("-p", str(srv.pid)))
        fields = load_done(self, lg)
        self.assertEqual(rc, 0, err)
        self.assertEqual(fields["requests"], "40000")  # every request answered while uvdb came and went
        attach = find(objs, "attach")
        self.assertEqual((attach["pid"], attach["state"]), (srv.pid, "running"))
        self.assertGreaterEqual(attach["loops"], 1)
        loops = find(objs, "info_loops")
        self.assertEqual((loops[0]["tid"], loops[0]["main"]), (srv.pid, True))  # node's main loop runs on its main thread
        report = find(objs, "profile_report")
        self.assertGreater(report["samples"], 20)
        names = [f["function"] for f in report["functions"]]
        self.assertIn("uv_run", names)
        # JavaScript named by V8 itself, asked through the injected probe (no --perf-basic-prof given)
        js = [n for n in names if n.startswith("JS:")]
        self.assertTrue(any("node:_http" in n or "node:internal/streams" in n or "node:net" in n for n in js), js)
        self.assertTrue(any("bench/http_server.js:" in n for n in js), js)  # the server's own request handler
        self.assertNotIn("stale", names)
        # V8 runs node's builtins from a copy it maps beside its JIT code: named as in node, and the JIT
        # code beside it named by V8, never taken for node's (the map's lines for node are not one module)
        self.assertNotIn("node", names)
        self.assertTrue(any(n.startswith("Builtins_") for n in names), names)
        tcp = [h for h in find(objs, "info_handles")["handles"] if h["type"] == "tcp"]
        self.assertTrue(any(h["connection_callback"] and "OnConnection" in h["connection_callback"] for h in tcp), tcp)
        self.assertFalse(find(objs, "info_threadpool")["started"])  # serving http needs no pool, nor does attaching
        self.assertEqual(find(objs, "detach"), {"pid": srv.pid, "code_restored": True})
        self.assert_left_as_found(srv, "http")
        self.assertEqual(len(thread_names(srv.pid)), threads_before)

    def test_attach_detach_cycles(self):
        srv = self.start_node()
        threads_before = len(thread_names(srv.pid))
        for i in range(50):
            rc, objs, out, err = uvdb(["detach"], None, extra=("-p", str(srv.pid)))
            self.assertEqual(rc, 0, f"cycle {i}: {err}")
            self.assertTrue(find(objs, "detach")["code_restored"], f"cycle {i}")
        self.assertEqual(len(probe_mappings(srv.pid)), 1)  # loaded once, found again by the later attaches
        self.assertEqual(len(thread_names(srv.pid)), threads_before)
        self.assert_left_as_found(srv, "http")

    def test_callback_timing_off_leaves_the_sites(self):
        srv = self.start_node()
        rc, objs, out, err = uvdb(["set callback-timing off", f"attach {srv.pid}", "info probe", "info blocking",
                                   "detach"], None)
        self.assertEqual(rc, 0, err)
        self.assertEqual({c["status"] for c in find(objs, "info_probe")["callsites"]}, {"off"})
        self.assertEqual(find(objs, "info_blocking")["callbacks"]["timed"], False)
        self.assertTrue(find(objs, "detach")["code_restored"])
        self.assert_left_as_found(srv, "http")

    def test_break_then_uvdb_killed(self):
        # uvdb dies (SIGKILL) while the loop is stopped at a breakpoint: the loop runs on
        srv = self.start_node()
        dbg = subprocess.Popen([UVDB, "-nx", "-p", str(srv.pid), "-ex", "break phase poll", "-ex", "continue"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lg = load("http", srv.port, 1000, connections=2, hold=True)  # wakes the poll phase
        seen = ""
        for line in dbg.stdout:
            seen += line
            if line.startswith("Breakpoint 1,"):
                break
        self.assertIn("Breakpoint 1, loop 1 stopped before poll", seen)
        dbg.kill()
        dbg.communicate()
        self.assertEqual(load_done(self, lg)["requests"], "1000")
        self.assertEqual(status(srv.pid)["TracerPid"], "0")
        # another uvdb can come and leave after the first died
        rc, objs, out, err = uvdb(["info loops", "detach"], None, extra=("-p", str(srv.pid)))
        self.assertEqual(rc, 0, err)
        self.assertTrue(find(objs, "detach")["code_restored"])
        self.assert_left_as_found(srv, "http")

    def test_detach_while_stopped_resumes(self):
        srv = self.start_node()
        lg = load("http", srv.port, 3000, connections=2, hold=True)
        rc, objs, out, err = uvdb(["break phase poll", "continue", "info handles", "detach"], None,
                                  extra=("-p", str(srv.pid)))
        self.assertEqual(rc, 0, err)
        stop = find(objs, "continue")
        self.assertEqual((stop["state"], stop["reason"], stop["phase"]), ("stopped", "breakpoint", "poll"))
        types = {h["type"] for h in find(objs, "info_handles")["handles"]}
        self.assertIn("tcp", types)  # the listener and the load's connections
        self.assertEqual(load_done(self, lg)["requests"], "3000")
        self.assert_left_as_found(srv, "http")

    def test_second_uvdb_refused(self):
        srv = self.start_node()
        first = subprocess.Popen([UVDB, "-nx", "-p", str(srv.pid)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        self.assertTrue(first.stdout.readline().startswith("uvdb "))   # the banner
        self.assertIn("Attached to process", first.stdout.readline())
        rc, objs, out, err = uvdb(["info loops"], None, extra=("-p", str(srv.pid)))
        self.assertEqual(rc, 1)
        self.assertIn("another uvdb is attached", find(objs, "error"))
        out, err = first.communicate("detach\nquit\n", timeout=TIMEOUT)
        self.assertEqual(first.returncode, 0, err)
        self.assertIn("Detached from process", out)
        self.assert_left_as_found(srv, "http")


class AttachC(AttachCase):
    def test_echo_server_on_shared_libuv(self):
        srv = self.start_echo()
        lg = load("echo", srv.port, 40000, hold=True)
        rc, objs, out, err = uvdb(["info probe", "info loops", "profile start --hz 499", "sleep 2", "profile stop",
                                   "profile report --top 1000", "info threadpool", "info handles", "info blocking", "detach"],
                                  None, extra=("-p", str(srv.pid)))
        fields = load_done(self, lg)
        self.assertEqual(rc, 0, err)
        self.assertEqual(fields["requests"], "40000")
        lag = find(objs, "info_blocking")["lag_ms"]
        self.assertEqual((lag["measured"], lag["polls"]), (False, 0))  # epoll_wait was bound before the probe came
        report = find(objs, "profile_report")
        self.assertGreater(report["samples"], 20)
        names = [f["function"] for f in report["functions"]]
        self.assertIn("on_read", names)  # the echo server's own read callback, named from its symbols
        self.assertFalse(find(objs, "info_threadpool")["started"])  # an echo server submits no pool work
        callbacks = find(objs, "info_blocking")["callbacks"]  # the call sites patched at the attach, too
        self.assertTrue(callbacks["timed"])
        self.assertGreater(callbacks["count"], 0)
        probe = find(objs, "info_probe")
        self.assertEqual({c["status"] for c in probe["callsites"]}, {"installed"})
        self.assertTrue(probe["libuv_path"].endswith(".so.1") or "libuv.so" in probe["libuv_path"], probe)
        tcp = [h for h in find(objs, "info_handles")["handles"] if h["type"] == "tcp"]
        self.assertTrue(any(h["connection_callback"] == "on_connection" for h in tcp), tcp)
        self.assertTrue(find(objs, "detach")["code_restored"])
        self.assert_left_as_found(srv, "echo")


class Refusals(unittest.TestCase):
    def refused(self, args, message, commands=("info loops",)):
        rc, objs, out, err = uvdb(list(commands), None, extra=args)
        self.assertEqual(rc, 1, err)
        self.assertIn(message, find(objs, "error"))

    def test_not_a_pid(self):
        self.refused(("-p", "abc"), "usage: attach PID")
        self.refused(("-p", "0"), "usage: attach PID")

    def test_no_such_process(self):
        pid = 4194304 + 1  # above Linux's pid_max: never a process
        self.refused(("-p", str(pid)), f"no process with PID {pid}")

    def test_process_without_libuv(self):
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            self.refused(("-p", str(sleeper.pid)), "does not use libuv")
            self.assertIsNone(sleeper.poll())  # untouched
            self.assertEqual(status(sleeper.pid)["TracerPid"], "0")
        finally:
            sleeper.kill()
            sleeper.wait()

    def test_no_permission(self):
        # another user's process: as root, uvdb runs as nobody against root's child; else against init
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            as_other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
            target = sleeper.pid if os.getuid() == 0 else 1
            with tempfile.TemporaryDirectory() as d:  # a uvdb that nobody may run, wherever the build is
                os.chmod(d, 0o755)
                exe = shutil.copy(UVDB, d)
                shutil.copy(PROBE, d)  # found beside uvdb
                p = subprocess.run(as_other + [exe, "-nx", "--batch", "-p", str(target), "-ex", "info loops"],
                                   capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(f"cannot trace process {target}: permission denied", p.stderr)
            self.assertIn("run uvdb as the same user", p.stderr)
        finally:
            sleeper.kill()
            sleeper.wait()

    def test_pid_and_program(self):
        p = subprocess.run([UVDB, "-nx", "--batch", "-p", "1", "-ex", "info loops", "--", "/bin/true"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("give no program", p.stderr)

    def test_zombie(self):
        child = subprocess.Popen(["true"])
        for _ in range(500):
            if status(child.pid)["State"].startswith("Z"):
                break
            time.sleep(0.01)
        try:
            self.refused(("-p", str(child.pid)), "zombie")
        finally:
            child.wait()


if __name__ == "__main__":
    unittest.main(verbosity=2)
