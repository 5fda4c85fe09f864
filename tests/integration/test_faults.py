#!/usr/bin/env python3
"""Fault tests: uvdb or its target killed mid-session, targets that fork,
exec, close every descriptor, take our signals, run 64 loop threads or
flood the rings, a disk that fills while exporting; and the security
promises (a private socket directory, peer uid checked, nothing on TCP,
exported files' modes)."""
import ctypes
import json
import os
import queue
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import SRC, UVDB, TIMEOUT, example, find, uvdb  # noqa: E402

PROGRAMS = (os.environ.get("UVDB_TEST_PROGRAMS") or os.environ.get("TEST_PROGRAMS")
            or "build/tests/integration")
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def program(name, *args):
    return [os.path.join(PROGRAMS, name), *args]


# The target is uvdb's child: once uvdb is killed it is reparented, to us
# rather than to init, so that its exit status can still be read.
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Session:
    """uvdb reading commands from a pipe (as from a script on stdin), its
    output read line by line as it comes."""

    def __init__(self, prog, env=None, cwd=None):
        self.p = subprocess.Popen([UVDB, "-nx", "--json", "-q", "--", *prog], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.lines = queue.Queue()
        self.other = []  # the program's own lines and uvdb's non-JSON ones
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    @staticmethod
    def _read(f, q):
        for line in f:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            self.err.append(line)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def expect(self, key, errors=False):
        """The next JSON answer holding key (or an error, if errors); the
        lines before it are kept."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"uvdb ended before {key!r}: {self.other!r} {''.join(self.err)}")
            if line.startswith("{"):
                obj = json.loads(line)
                if key in obj:
                    return obj[key]
                if "error" in obj and errors:
                    return obj
                if "error" in obj:
                    raise AssertionError(f"{key!r}: {obj}")
            else:
                self.other.append(line)

    def until_line(self, text):
        """Read up to the line text (the program's output), answering nothing."""
        if text in self.other:  # it came before the answer read last
            return
        deadline = time.monotonic() + TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"output ended before {text!r}: {self.other!r}")
            if line == text:
                return
            self.other.append(line)

    def rest(self):
        """Every line up to the end of uvdb's output."""
        out = []
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            out.append(line)
        return out

    def command(self, line, key=None):
        self.send(line)
        return self.expect(key or line.split()[0])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=TIMEOUT)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass  # the pipe to a killed uvdb


def bounded():
    """Passes of a loop that waits for a condition: endless only if the
    condition never comes, which TIMEOUT (a safety bound) turns into a failure."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        yield
    raise AssertionError(f"still waiting after {TIMEOUT} s")


def wait_pid(pid):
    """The exit status of a target reparented to us."""
    _, status = os.waitpid(pid, 0)
    return status


def socket_inodes(pid):
    """Every thread's: the probe's agent has a descriptor table of its own."""
    inodes = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        fds = f"/proc/{pid}/task/{task}/fd"
        for fd in os.listdir(fds):
            try:
                link = os.readlink(f"{fds}/{fd}")
            except FileNotFoundError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def zombie(pid):
    """Dead and not yet reaped (by uvdb, its parent)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def net_inodes(table):
    """The socket inodes of /proc/net/TABLE (tcp, tcp6, udp, ..., unix)."""
    column = 6 if table == "unix" else 9
    with open(f"/proc/net/{table}") as f:
        rows = [r.split() for r in f.read().splitlines()[1:]]
    return {r[column] for r in rows if len(r) > column}


class DebuggerKilled(unittest.TestCase):
    def test_target_resumes_and_finishes_when_uvdb_is_killed_at_a_breakpoint(self):
        s = Session([example("06-timers")])
        try:
            s.command("break phase timers", "break")
            run = s.command("run")
            self.assertEqual(run["state"], "stopped")
            self.assertEqual(run["reason"], "breakpoint")
            pid = run["pid"]
            os.kill(s.p.pid, signal.SIGKILL)
            s.p.wait(timeout=TIMEOUT)
            # The probe sees its socket close, releases the parked loop and
            # goes quiet: the program runs to its normal end.
            status = wait_pid(pid)
            self.assertTrue(os.WIFEXITED(status), status)
            self.assertEqual(os.WEXITSTATUS(status), 0)
            self.assertEqual(s.rest(), ["first", "third, after the repeating timer fired 1 time"])
        finally:
            s.close()


class TargetKilled(unittest.TestCase):
    def test_killed_target_is_reported_and_its_profile_still_exports(self):
        d = tempfile.mkdtemp(prefix="uvdb-faults-")
        s = Session(program("busy-callback"))
        try:
            s.command("profile start --hz 999 --clock wall", "profile_start")
            run = s.command("run &", "run")
            self.assertEqual(run["state"], "running")
            pid = run["pid"]
            for _ in bounded():  # until the profiler has samples of the spinning callback
                s.send("profile report")
                report = s.expect("profile_report", errors=True)
                if "error" in report:
                    self.assertEqual(report["error"], "no samples yet")
                elif any(f["function"] == "on_busy" for f in report["functions"]):
                    break
            self.assertEqual(len(s.command("info loops", "info_loops")), 1)
            os.kill(pid, signal.SIGKILL)
            gone = s.expect("exited")  # said as it happens, while uvdb waits for a line
            self.assertEqual(gone["signal"], "KILL")
            self.assertIsNone(gone["exit_code"])
            out = os.path.join(d, "p.folded")
            export = s.command(f"profile export {out} --format folded", "profile_export")
            self.assertGreater(export["samples"], 0)
            with open(out) as f:
                lines = f.read().splitlines()
            self.assertEqual(sum(int(line.rsplit(" ", 1)[1]) for line in lines), export["samples"])
            self.assertTrue(any("on_busy" in line for line in lines), lines[:5])
            s.send("quit")
            self.assertEqual(s.p.wait(timeout=TIMEOUT), 0)
        finally:
            s.close()
            shutil.rmtree(d)


class TargetBehaviour(unittest.TestCase):
    def test_fork_without_exec(self):
        """The child runs its own loop unprobed; the parent's session goes on."""
        rc, objs, out, err = uvdb(["break phase poll", "run", "info loop", "delete", "continue", "info loops"],
                                  program("fork-loop", "4"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "run")["state"], "stopped")
        self.assertEqual(find(objs, "continue")["exit_code"], 0)
        self.assertEqual(out, ["parent ran 4 iterations, child exited with 0"])
        loops = find(objs, "info_loops")
        self.assertEqual(len(loops), 1)  # the child's loop never reached this session
        self.assertEqual(loops[0]["iterations"], 4)

    def test_exec(self):
        """The image after exec says hello again: its loop is seen, the run ends normally."""
        rc, objs, out, err = uvdb(["run", "info probe", "info loop"], program("exec-loop", example("06-run-once"), "3"))
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["state"], run["exit_code"]), ("exited", 0))
        self.assertEqual(out, [f"exec-loop: 3 idle callbacks, now exec {example('06-run-once')}",
                               "3 iterations, idle callback ran 2 times, loop done"])
        self.assertEqual(find(objs, "info_probe")["exe"], os.path.realpath(example("06-run-once")))
        # Both images' events: exec-loop's one uv_run of 3 iterations, then
        # 06-run-once's 3 of one each.  The old image's last records must be
        # read before its ring memory is let go at the new image's hello (or
        # be counted as dropped), never lost unsaid.
        loop = find(objs, "info_loop")
        self.assertEqual((loop["runs"], loop["iterations"], run["dropped"]), (4, 6, 0))

    def test_exec_of_a_program_without_libuv(self):
        rc, objs, out, err = uvdb(["run"], program("exec-loop", "/bin/echo", "echoed"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "run")["exit_code"], 0)
        self.assertEqual(out, ["exec-loop: 3 idle callbacks, now exec /bin/echo", "echoed"])

    def test_target_closes_every_descriptor(self):
        """Our socket closed under the probe: the program's file, opened on
        its number, gets the program's lines and nothing of ours."""
        d = tempfile.mkdtemp(prefix="uvdb-faults-")
        try:
            path = os.path.join(d, "ticks")
            rc, objs, out, err = uvdb(["run", "info loop"], program("close-fds", path))
            self.assertEqual(rc, 0, err)
            self.assertEqual(find(objs, "run")["exit_code"], 0)
            self.assertEqual(out, ["close-fds: 5 ticks written to fd 3"])
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"".join(b"tick %d\n" % i for i in range(1, 6)))
        finally:
            shutil.rmtree(d)

    def test_target_takes_our_signals(self):
        """The program installs its own handlers on every realtime signal,
        the kick's and the profiler's included: none may reach it from the
        probe, and its own signal works."""
        rc, objs, out, err = uvdb(["profile start --hz 999", "run", "info probe"],
                                  program("own-signals"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "run")["exit_code"], 0)
        self.assertEqual(out, ["own-signals: 40 ticks, 0 signals not sent by the program, own signal received"])

    def test_interrupt_after_target_took_the_kick_signal(self):
        """No kick to send: the loop parks at its next safepoint (its timer's)."""
        s = Session(program("own-signals"))
        try:
            self.assertEqual(s.command("run &", "run")["state"], "running")
            s.send("interrupt")
            answer = s.expect("interrupt")
            self.assertEqual(answer["state"], "stopped")
            s.send("continue")
            self.assertEqual(s.expect("continue")["exit_code"], 0)
            self.assertIn("own-signals: 40 ticks, 0 signals not sent by the program, own signal received", s.other)
        finally:
            s.close()

    def test_64_loop_threads(self):
        rc, objs, out, err = uvdb(["run", "info loops"], program("threads64"))
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual(run["exit_code"], 0)
        self.assertEqual(out, ["threads64: 65 loops ran 195 timer ticks"])
        loops = find(objs, "info_loops")
        # 65 loop threads, 64 rings: a thread that finds none loses its
        # events, and they are counted as dropped.
        self.assertEqual(len(loops) == 65, run["dropped"] == 0, (len(loops), run["dropped"]))
        self.assertTrue(all(l["iterations"] >= 3 for l in loops), loops)

    def test_event_flood_overflows_the_rings_without_stalling(self):
        """uvdb stopped (SIGSTOP) while the program floods its ring, as a
        reader that cannot keep up: the records beyond the ring are dropped
        and counted, and the program runs to its end regardless."""
        n = 1000000
        gate = os.path.join(tempfile.mkdtemp(prefix="uvdb-flood-"), "gate")
        s = Session(program("flood", str(n), gate))  # it ends once gate exists
        try:
            run = s.command("run &", "run")
            self.assertEqual(run["state"], "running")
            os.kill(s.p.pid, signal.SIGSTOP)
            try:
                s.until_line(f"flood: {n} iterations done")  # its output is not uvdb's to hold
            finally:
                os.kill(s.p.pid, signal.SIGCONT)
            open(gate, "w").close()
            gone = s.expect("exited")  # said as it happens, no command sent
            self.assertEqual(gone["exit_code"], 0)
            self.assertGreater(gone["dropped"], 0)
            loop = s.command("info loop", "info_loop")
            self.assertLess(loop["iterations"], n)
            self.assertGreater(loop["iterations"], 0)
            self.assertEqual(s.command("print $dropped", "print"), gone["dropped"])
        finally:
            s.close()
            shutil.rmtree(os.path.dirname(gate), ignore_errors=True)

    def test_background_program_followed_at_the_prompt(self):
        """`run &`, then no command: uvdb reads the rings while it waits for
        a line (a ring holds 131072 records; the flood writes thirty
        million), and says the program's end as it happens."""
        n = 3000000
        gate = os.path.join(tempfile.mkdtemp(prefix="uvdb-flood-"), "gate")
        s = Session(program("flood", str(n), gate))  # it ends once gate exists: running at the answer
        try:
            run = s.command("run &", "run")
            self.assertEqual(run["state"], "running")
            s.until_line(f"flood: {n} iterations done")  # not one command sent meanwhile
            open(gate, "w").close()
            gone = s.expect("exited")
            self.assertEqual(gone["exit_code"], 0)
            # unread, the ring would keep 131072 records and drop the rest;
            # a sanitized uvdb, slower, drops some
            self.assertGreater(gone["events"], 4 * 131072)
        finally:
            s.close()
            shutil.rmtree(os.path.dirname(gate), ignore_errors=True)


class DiskFull(unittest.TestCase):
    """Exports to a full file system fail with an error and leave no file."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="uvdb-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", cls.dir], check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", cls.dir], check=True)
        os.rmdir(cls.dir)

    def fill(self):
        fd = os.open(os.path.join(self.dir, "filler"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 512)
        except OSError as e:
            self.assertEqual(e.errno, 28)  # ENOSPC: full to the last block
        finally:
            os.close(fd)

    def test_profile_and_trace_exports_on_a_full_disk(self):
        self.fill()
        names = ["p.svg", "p.folded", "p.json", "p.pb.gz", "t.json"]
        cmds = ["profile start --hz 999 --clock wall", "run"]
        cmds += [f"profile export {os.path.join(self.dir, n)} --format {f}"
                 for n, f in zip(names, ["svg", "folded", "speedscope", "pprof"])]
        cmds += [f"trace export {os.path.join(self.dir, 't.json')}"]
        rc, objs, out, err = uvdb(cmds, [example("04-blocking-static")])
        self.assertEqual(rc, 1)  # the exports failed
        errors = [o["error"] for o in objs if "error" in o]
        self.assertEqual(len(errors), 5, objs)
        for n, e in zip(names, errors):
            self.assertIn(f"cannot write {os.path.join(self.dir, n)}: No space left on device", e)
        self.assertEqual(os.listdir(self.dir), ["filler"])  # no file, no .tmp


class Security(unittest.TestCase):
    def test_socket_directory_peer_uid_and_no_tcp(self):
        s = Session(program("busy-callback"))
        children, pid = [], None
        try:
            run = s.command("run &", "run")
            pid = run["pid"]
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            sock = env[b"UVDB_SOCK"].decode()
            st = os.lstat(os.path.dirname(sock))
            self.assertTrue(stat.S_ISDIR(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
            self.assertEqual(st.st_uid, os.getuid())
            self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode))

            # Nothing on TCP, UDP or raw IP: every socket of both processes
            # is a Unix one.
            ip = set()
            for t in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
                ip |= net_inodes(t)
            unix = net_inodes("unix")
            for p in (pid, s.p.pid):
                mine = socket_inodes(p)
                self.assertTrue(mine, p)
                self.assertEqual(mine & ip, set(), p)
                self.assertLessEqual(mine, unix, p)

            # A second HELLO on the socket: from our uid it is answered (a
            # REFUSE: it brings no ring memory); from another uid that can
            # reach the socket (the directory override kept, all else
            # dropped) it is closed unanswered: uvdb checks the peer's uid,
            # not only the directory's mode.
            children = [in_child(hello_exchange, sock), in_child(connect_as_other_uid, sock)]
            verdicts = {}
            for _ in bounded():  # uvdb accepts at once, at its prompt too; the commands pace the look
                if len(verdicts) == 2:
                    break
                s.command("info breakpoints", "info_breakpoints")
                for i, (cpid, r) in enumerate(children):
                    if i not in verdicts and select.select([r], [], [], 0.01)[0]:
                        verdicts[i] = os.read(r, 200).decode()
            self.assertEqual(verdicts[0], "answered 3: no libuv")
            self.assertEqual(verdicts[1], "closed without an answer")
            s.command("kill")
        finally:
            for cpid, r in children:
                os.close(r)
                os.waitpid(cpid, 0)
            s.close()
            if pid and os.path.exists(f"/proc/{pid}") and not zombie(pid):
                os.kill(pid, signal.SIGKILL)  # orphaned by a failure: reparented to us
                os.waitpid(pid, 0)

    def test_exported_files_respect_the_umask(self):
        """Decided: exports are files the user asked for by name, made as
        the shell's redirections make them, 0666 less the umask (077 makes
        them private)."""
        d = tempfile.mkdtemp(prefix="uvdb-umask-")
        try:
            for umask, mode in ((0o077, 0o600), (0o022, 0o644)):
                prof, trace = os.path.join(d, f"p{umask:o}.folded"), os.path.join(d, f"t{umask:o}.json")
                old = os.umask(umask)
                try:
                    rc, objs, out, err = uvdb(["profile start --hz 999 --clock wall", "run",
                                               f"profile export {prof} --format folded", f"trace export {trace}"],
                                              [example("04-blocking-static")])
                finally:
                    os.umask(old)
                self.assertEqual(rc, 0, err)
                for path in (prof, trace):
                    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode, path)
        finally:
            shutil.rmtree(d)


class RecordingMode(unittest.TestCase):
    def test_recordings_are_private_whatever_the_umask(self):
        """Decided (record.c): a recording holds the program's stacks,
        symbols and maps, and is made 0600 even under umask 022."""
        d = tempfile.mkdtemp(prefix="uvdb-record-")
        try:
            path = os.path.join(d, "r.uvdbrec")
            old = os.umask(0o022)
            try:
                p = subprocess.run([UVDB, "record", "-o", path, "--", example("06-timers")], capture_output=True,
                                   text=True, timeout=TIMEOUT)
            finally:
                os.umask(old)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        finally:
            shutil.rmtree(d)


def in_child(fn, *args):
    """fn(*args) in a forked child; its pid, and a pipe that gets its result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, fn(*args).encode())
        finally:
            os._exit(0)
    os.close(w)
    return pid, r


def protocol_version():
    """UVDB_PROTOCOL_VERSION, as probes/wire.h defines it."""
    with open(os.path.join(SRC, "probes", "wire.h")) as f:
        return int(re.search(r"#define UVDB_PROTOCOL_VERSION (\d+)", f.read()).group(1))


PROTOCOL = protocol_version()


def hello_exchange(path):
    """Connect, send a HELLO (no ring memory), say what came back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
        try:
            c.connect(path)
        except OSError as e:
            return f"connect: {e}"
        hello = f"protocol={PROTOCOL}\nlibuv=found\n".encode()
        try:
            c.send((1).to_bytes(4, "little") + len(hello).to_bytes(4, "little") + hello)
        except (BrokenPipeError, ConnectionResetError):
            return "closed without an answer"  # uvdb accepted and closed before our hello went out
        c.settimeout(TIMEOUT)
        try:
            data = c.recv(65536)
        except ConnectionResetError:
            data = b""  # closed with our hello unread
        except OSError as e:
            return f"recv: {e}"
    if not data:
        return "closed without an answer"
    return f"answered {int.from_bytes(data[:4], 'little')}: {data[8:].decode(errors='replace')}"


def connect_as_other_uid(path):
    """Become uid 65534 keeping only CAP_DAC_OVERRIDE (to pass the 0700
    directory), then the HELLO exchange."""
    PR_SET_KEEPCAPS = 8
    libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    dac_override = 1 << 1
    data = (Data * 2)(Data(dac_override, dac_override, 0), Data(0, 0, 0))
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:
        return "capset failed"
    return hello_exchange(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
