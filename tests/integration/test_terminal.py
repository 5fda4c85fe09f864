#!/usr/bin/env python3
"""uvdb on a terminal and off it: under a pseudo-terminal errors are red,
warnings yellow and table headers bold, and long work shows a progress line
that is erased when done; through a pipe, with --batch, --json or NO_COLOR
there is no escape at all, and no progress."""
import os
import re
import pty
import select
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import TIMEOUT, UVDB, example  # noqa: E402

RED, YELLOW, BOLD = b"\x1b[31m", b"\x1b[33m", b"\x1b[1m"
ESC = b"\x1b["


def clean_env(**extra):
    """The environment of a colour terminal, whoever runs the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def on_pty(args, env=None, stderr_pipe=False):
    """Run uvdb with stdin, stdout (and stderr) on a pseudo-terminal; what
    the terminal showed, and what went to a piped stderr."""
    master, slave = pty.openpty()
    p = subprocess.Popen([UVDB, *args], stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE if stderr_pipe else slave, env=env or clean_env(), close_fds=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if p.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every slave end is closed, uvdb has exited
            break
        if not data:
            break
        out += data
    err = b""
    if stderr_pipe:
        err = p.stderr.read()
        p.stderr.close()
    p.wait(timeout=TIMEOUT)
    os.close(master)
    return out, err


def run_in_background_on_pty(program, done):
    """`uvdb -ex 'run &' -- program` on a pseudo-terminal, readline at its
    prompt and nothing typed, until done(what the terminal shows) or the
    timeout; what it showed, escape sequences removed, carriage returns kept."""
    master, slave = pty.openpty()
    p = subprocess.Popen([UVDB, "-nx", "-q", "-ex", "run &", "--", *program], stdin=slave, stdout=slave,
                         stderr=slave, env=clean_env(), close_fds=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + TIMEOUT
    shown = lambda: re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", out)
    try:
        while not done(shown()) and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                out += os.read(master, 65536)
    finally:
        p.kill()
        p.wait(timeout=TIMEOUT)
        os.close(master)
    return shown()


def on_pipe(args, env=None):
    r = subprocess.run([UVDB, *args], capture_output=True, timeout=TIMEOUT, env=env or clean_env(),
                       stdin=subprocess.DEVNULL)
    return r.stdout + r.stderr


BAD = ["-nx", "-q", "-ex", "frobnicate", "-ex", "quit"]  # an error, then out before the prompt


def chunk(kind, payload):
    return struct.pack("<IHHII", 0x4B4E4843, kind, 0, len(payload), zlib.crc32(payload)) + payload


def large_recording(path, samples, depth=40):
    """A valid recording (docs/recording.md, version 1) of one loop thread's
    profile: `samples` stacks of depth+2 named frames under uv_run and main,
    as a long `uvdb record --hz 999` of a busy program holds."""
    with open(path, "wb") as f:
        f.write(b"UVDBREC\0" + struct.pack("<HHIIIQ", 1, 32, 32, 0, 0, 0))
        f.write(chunk(1, b"record_pid=4242\nrecord_argv0=synthetic\nrecord_hz=999\n"))
        base = [0x400000 + 0x100 * k for k in range(depth)] + [0x500000, 0x500100]
        names = [(a, (f"fn_{k}" if k < depth else ("uv_run", "main")[k - depth]).encode()) for k, a in enumerate(base)]
        f.write(chunk(6, b"".join(struct.pack("<QHH", a, len(n), 9) + n + b"synthetic" for a, n in names)))
        pcs = [base[0]] + [a + 1 for a in base[1:]]  # the outer frames are return addresses
        body = struct.pack(f"<{len(pcs)}Q", *pcs)
        for i in range(samples):
            f.write(chunk(4, struct.pack("<QIHBBBBHI", i, 4242, 1, 0, 1, 0, 0, len(pcs), 0) + body))
        f.write(chunk(10, struct.pack("<QQQQiiII", 0, 0, 0, 10**9, 0, -1, 1, 0)))


class Colour(unittest.TestCase):
    def test_an_error_is_red_on_a_terminal(self):
        out, _ = on_pty(BAD)
        self.assertIn(RED + b'error: undefined command: "frobnicate"', out)
        self.assertIn(b"\x1b[0m", out, "the colour is reset after the error")

    def test_no_colour_through_a_pipe(self):
        out = on_pipe(BAD)
        self.assertIn(b'error: undefined command: "frobnicate"', out)
        self.assertNotIn(ESC, out)

    def test_no_colour_with_no_color(self):
        out, _ = on_pty(BAD, clean_env(NO_COLOR="1"))
        self.assertIn(b'error: undefined command: "frobnicate"', out)
        self.assertNotIn(ESC, out)

    def test_an_empty_no_color_is_not_set(self):
        """no-color.org: NO_COLOR counts when it is present and not empty."""
        out, _ = on_pty(BAD, clean_env(NO_COLOR=""))
        self.assertIn(RED, out)

    def test_no_colour_with_batch_or_json(self):
        out, _ = on_pty(["-nx", "--batch", "-ex", "frobnicate"])
        self.assertIn(b'error: undefined command: "frobnicate"', out)
        self.assertNotIn(ESC, out)
        out, _ = on_pty(["-nx", "--json", "-ex", "frobnicate", "-ex", "quit"])
        self.assertIn(b'{"error":"undefined command: \\"frobnicate\\"; try `help`"}', out)
        self.assertNotIn(ESC, out)

    def test_a_warning_is_yellow(self):
        out, _ = on_pty(["-nx", "-q", "-ex", "quit", "--", "/nonexistent/program"])
        self.assertIn(YELLOW + b"warning: /nonexistent/program: no such program", out)

    def test_a_table_header_is_bold_on_a_terminal_only(self):
        args = ["-nx", "-q", "-ex", "run", "-ex", "info loops", "-ex", "quit", "--", example("06-timers")]
        out, _ = on_pty(args)
        self.assertIn(BOLD + b"id   what", out)
        out = on_pipe(args)
        self.assertIn(b"\nid   what", out)
        self.assertNotIn(ESC, out)


class Prompt(unittest.TestCase):
    def test_a_child_met_at_the_prompt_gets_a_line_and_the_prompt_back(self):
        """`run &` and readline waiting: the cluster's workers are announced
        as they start, each on a line of its own, and the prompt redrawn."""
        cluster = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "node",
                               "12-cluster.js")
        shown = run_in_background_on_pty(["node", cluster], lambda shown: b"primary: both workers done" in shown)
        # each at the start of a line (the prompt's line cleared for the first)
        news = re.findall(rb"(?<=[\r\n])\[New inferior (\d) \(process \d+, started by \d+\)\]\r\n", shown)
        self.assertEqual(sorted(news), [b"2", b"3"], shown)
        after = shown[shown.rindex(b"[New inferior"):]
        self.assertIn(b"\n(uvdb) ", after)  # the prompt, redrawn under the announcements

    def test_a_background_program_ending_at_the_prompt_is_said_then_the_prompt(self):
        """`run &` and readline waiting, nothing typed: the program's end is
        said as it happens, on a line of its own, and the prompt redrawn."""
        ended = re.compile(rb"\[process \d+ exited with code 0\]\r\n.*\(uvdb\) ", re.S)
        shown = run_in_background_on_pty([example("06-timers")], ended.search)
        self.assertRegex(shown, rb"(?<=[\r\n])\[process \d+ exited with code 0\]\r\n\(uvdb\) ")
        self.assertIn(b"third, after the repeating timer fired 1 time", shown)


class Progress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.rec = os.path.join(cls.tmp.name, "large.uvrec")
        large_recording(cls.rec, 250000)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_symbolizing_a_large_profile_shows_progress_then_erases_it(self):
        out, _ = on_pty(["report", self.rec])
        self.assertIn(b"250000 profile samples", out)
        shown = out.find(b"\rsymbolizing ")
        self.assertGreaterEqual(shown, 0, "no progress line while naming 250000 stacks")
        self.assertRegex(out, rb"\rsymbolizing \d+/250000 stacks")
        # each pass (the top callbacks', then the profile's) draws its line and erases it before the report goes on
        erases = [m.start() for m in re.finditer(rb"\r {10,}\r", out)]
        top = out.find(b"Top callbacks")
        self.assertTrue(any(shown < e < top for e in erases), "the progress line is erased before the report goes on")
        last = out.rfind(b"\rsymbolizing ")
        self.assertTrue(any(e > last for e in erases), "the last progress line is erased too")

    def test_no_progress_through_a_pipe_or_with_json(self):
        out, err = on_pty(["report", self.rec], stderr_pipe=True)
        self.assertIn(b"Top callbacks", out)
        self.assertNotIn(b"symbolizing", out + err)
        out, _ = on_pty(["report", self.rec, "--json"])
        self.assertIn(b'"report_callbacks"', out)
        self.assertNotIn(b"symbolizing", out)
        self.assertNotIn(ESC, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
