#!/usr/bin/env python3
"""Integration tests of `uvdb learn`: the chapter list, and chapters 6 and 8
run end to end from their Markdown (their explanations printed before each
command, the commands run, and what the chapters claim visible in the output)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import EXAMPLES, SRC, UVDB, example, find, uvdb  # noqa: E402

LEARN = os.path.join(SRC, "docs", "learn")
TIMEOUT = 300


def learn(*args, stdin=""):
    p = subprocess.run([UVDB, "learn", *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT,
                       env=dict(os.environ, UVDB_LEARN_ROOT=SRC))
    return p.returncode, p.stdout, p.stderr


def commands(chapter):
    """The `$ ` commands of the chapter's uvdb-session blocks, read here independently of uvdb."""
    name = next(f for f in os.listdir(LEARN) if f.startswith(f"{chapter:02d}-"))
    out, inside = [], False
    with open(os.path.join(LEARN, name)) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() == "```uvdb-session":
                inside = True
            elif inside and line.strip() == "```":
                inside = False
            elif inside and line.startswith("$ "):
                out.append(line[2:])
    return out


class List(unittest.TestCase):
    def test_lists_written_chapters(self):
        rc, out, err = learn()
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("  6. libuv's phases in depth: setTimeout against setImmediate", lines)
        self.assertIn("  8. Streams and backpressure", lines)
        self.assertIn("  9. Networking: one TCP connection, from the kernel to your callback", lines)
        self.assertLess(lines.index("  8. Streams and backpressure"), lines.index("  10. Performance habits: keeping the loop free"))

    def test_unwritten_chapter_is_an_error(self):
        rc, out, err = learn("99")
        self.assertEqual(rc, 1)
        self.assertIn("chapter 99 is not written yet", err + out)

    def test_bad_argument(self):
        rc, out, err = learn("six")
        self.assertEqual(rc, 2)
        self.assertIn("usage: uvdb learn", err)


class Chapter6(unittest.TestCase):
    """Every session of chapter 6, unattended."""

    @classmethod
    def setUpClass(cls):
        cls.rc, cls.out, cls.err = learn("6", "--batch")

    def test_every_command_runs_in_order_after_its_explanation(self):
        self.assertEqual(self.rc, 0, self.err)
        cmds = commands(6)
        self.assertGreaterEqual(len(cmds), 6)
        self.assertIn(f": {len(cmds)} steps)", self.out.splitlines()[1])
        pos = 0
        for i, c in enumerate(cmds, 1):
            step = self.out.index(f"──── step {i} of {len(cmds)} ────", pos)
            pos = self.out.index("$ " + c + "\n", step)
        # the first step explains before it runs: the chapter's idea comes first
        first = self.out.index("──── step 1 of")
        self.assertLess(first, self.out.index("An event loop is a `while` loop around one system call"))
        self.assertLess(self.out.index("An event loop is a `while` loop"), self.out.index("$ " + cmds[0]))
        self.assertIn("## What to notice", self.out[pos:])

    def test_shows_node_phase_order(self):
        # chapter 6's first session: libuv 1.46 walks pending ... closing, then timers
        lines = self.out.splitlines()
        start = lines.index("Loop 1 stopped before timers (iteration 0, start)")
        walked = [re.match(r"Loop 1 stopped before (\w+) \(iteration 1, step\)", l).group(1)
                  for l in lines[start + 1:start + 8]]
        self.assertEqual(walked, ["pending", "idle", "prepare", "poll", "check", "closing", "timers"])

    def test_shows_run_once_and_the_timer_heap(self):
        self.assertIn("3 iterations, idle callback ran 2 times, loop done", self.out)
        self.assertIn("  order: timers pending idle prepare poll check closing timers", self.out)
        steps = re.findall(r"Loop 1 in callback (on_\w+) \(timers", self.out)
        self.assertEqual(steps, ["on_first", "on_repeating", "on_third"])


class Chapter8(unittest.TestCase):
    """Chapter 8's sessions: backpressure keeps the queue and memory small."""

    @classmethod
    def setUpClass(cls):
        cls.rc, cls.out, cls.err = learn("8", "--batch")

    def test_runs_every_step(self):
        self.assertEqual(self.rc, 0, self.err)
        n = len(commands(8))
        self.assertIn(f"──── step {n} of {n} ────", self.out)
        self.assertEqual(self.out.count("──── step "), n)

    def test_write_queue_small_with_backpressure_large_without(self):
        # the two `info handles` stops: the producer's write queue, the consumer paused
        queues = [int(q) for q in re.findall(r"\(not reading, write queue (\d+) bytes\)", self.out)]
        self.assertGreaterEqual(len(queues), 2)
        with_bp, without = queues[0], queues[1]
        self.assertLessEqual(with_bp, 256 * 1024 + 64 * 1024)
        self.assertGreater(without, 4 * 1024 * 1024)
        self.assertGreaterEqual(len(re.findall(r"  - \(not reading\)$", self.out, re.M)), 2)

    def test_memory_flat_with_backpressure_growing_without(self):
        peaks = {m.group(1): float(m.group(2)) for m in
                 re.finditer(r"backpressure (on|off): 32 MiB sent, 32 MiB received\npeak write queue: ([\d.]+) MiB",
                             self.out)}
        self.assertLess(peaks["on"], 1.0)
        self.assertGreater(peaks["off"], 4.0)
        held = [float(x) for x in re.findall(r"peak memory held by writes: ([\d.]+) MiB", self.out)]
        self.assertEqual(held[1], 32.0)
        self.assertLess(held[0], held[1] / 2)
        node = [float(x) for x in re.findall(r"peak memory held in buffers: ([\d.]+) MiB", self.out)]
        self.assertEqual(len(node), 2)
        self.assertLess(node[0] * 4, node[1])

    def test_paused_socket_leaves_epoll(self):
        # the consumer's fd is not watched while paused: only the producer's is, for output
        self.assertRegex(self.out, r"\n +\d+ +out +out +uv__stream_io\n")
        self.assertNotRegex(self.out, r"\n +\d+ +in +in +uv__stream_io\n")


class Interactive(unittest.TestCase):
    def test_enter_runs_steps_q_quits(self):
        # two Enters run the first two steps (the Node program's two runs), q stops before the third
        rc, out, err = learn("8", stdin="\n\nq\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("[Enter runs it, q quits]"), 3)
        self.assertIn("backpressure on: 32.0 MiB received", out)
        self.assertIn("backpressure off: 32.0 MiB received", out)
        self.assertIn("──── step 3 of", out)
        self.assertNotIn("Breakpoint 1", out)
        self.assertNotIn("end of the sessions", out)


class StreamReading(unittest.TestCase):
    """`info handles` says whether a stream reads (libuv's UV_HANDLE_READING)."""

    def streams(self, commands, program):
        rc, objs, out, err = uvdb(commands, program)
        self.assertEqual(rc, 0, err)
        return [h for h in find(objs, "info_handles")["handles"] if h["type"] == "tcp"]

    def test_connected_streams_read(self):
        tcp = self.streams(["break callback on_server_read", "run", "info handles", "kill"],
                           [example("09-tcp-echo-static")])
        listening = [h for h in tcp if h["connection_callback"]]
        connected = [h for h in tcp if not h["connection_callback"]]
        self.assertEqual(len(listening), 1)
        self.assertEqual(sorted(h["callback"] for h in connected), ["on_client_read", "on_server_read"])
        self.assertTrue(all(h["reading"] for h in connected))

    def test_paused_consumer_does_not_read(self):
        # in on_resume the consumer has stopped reading; the producer never reads
        tcp = self.streams(["break callback on_resume", "ignore 1 30", "run", "info handles", "kill"],
                           [example("08-backpressure"), "--no-backpressure"])
        connected = [h for h in tcp if not h["connection_callback"]]
        self.assertEqual(len(connected), 2)
        self.assertEqual([h["reading"] for h in connected], [False, False])
        self.assertEqual(sum(h["write_queue_size"] > 0 for h in connected), 1)


class Installed(unittest.TestCase):
    """After `meson install`, uvdb finds the chapters, the examples and the probe relative to itself."""

    def test_learn_from_an_installed_copy(self):
        build = os.path.dirname(EXAMPLES)
        dest = tempfile.mkdtemp(prefix="uvdb-install-")
        try:
            subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"],
                           check=True, capture_output=True, timeout=TIMEOUT)
            exe = next(os.path.join(d, "uvdb") for d, _, files in os.walk(dest)
                       if "uvdb" in files and d.endswith("/bin"))
            env = {k: v for k, v in os.environ.items() if k not in ("UVDB_PROBE", "UVDB_EXAMPLES", "UVDB_LEARN_ROOT")}
            p = subprocess.run([exe, "learn", "9", "--batch"], capture_output=True, text=True, timeout=TIMEOUT,
                               env=env, cwd=dest)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(dest, p.stdout.splitlines()[1])  # the installed chapter, not the source tree's
            stops = re.findall(r"^Breakpoint 1, loop 1 in callback (on_\w+) \((\w+),", p.stdout, re.M)
            self.assertEqual(stops[:10], [("on_connection", "poll"), ("on_connect", "poll"),
                                          ("on_hello_written", "poll"), ("on_server_read", "poll"),
                                          ("on_echo_written", "poll"), ("on_client_read", "poll"),
                                          ("on_close", "closing"), ("on_server_read", "poll"),
                                          ("on_close", "closing"), ("on_close", "closing")])
            self.assertIn("in node::LibuvStreamWrap::OnUvRead(long, uv_buf_t const*)", p.stdout)
        finally:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
