#!/usr/bin/env python3
"""Integration tests of the thread-pool probes: real examples (Node's
crypto, a C pool of uv_queue_work jobs, file system requests) under
`uvdb --batch --json`, checking `info threadpool`, `info requests` and
`break threadpool queue N`."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE, UVDB, example, find, node_example, uvdb  # noqa: E402


def pool_env(size, program):
    # env(1) execs the program: the probe stays quiet in env and meets it
    return ["env", f"UV_THREADPOOL_SIZE={size}", *program]


class NodeCrypto(unittest.TestCase):
    """Eight pbkdf2 calls on a pool of two."""

    def test_queue_while_stopped_then_distributions(self):
        # Stopped before the first poll, only the loop thread is held: the
        # workers go on, so the script waits for both to be busy.
        rc, objs, out, err = uvdb(["break phase poll", "run", "while $pool_running < 2", "end", "info threadpool",
                                   "delete", "continue", "info threadpool"],
                                  pool_env(2, node_example("07-threadpool.js")))
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["phase"], run["iteration"]), ("poll", 1))
        first, last = [o["info_threadpool"] for o in objs if "info_threadpool" in o]
        self.assertEqual((first["started"], first["size"], first["submitted"]), (True, 2, 8))
        busy = [w for w in first["workers"] if w["state"] == "busy"]
        self.assertEqual(len(busy), 2)
        for w in busy:
            self.assertEqual((w["job"]["kind"], w["job"]["name"]), ("work", "crypto pbkdf2"))
        self.assertEqual((first["running"], first["queued"]), (2, 6))
        self.assertEqual(first["queue"]["by_class"], {"cpu": 6, "fast_io": 0, "slow_io": 0})
        self.assertEqual(first["queue"]["oldest"]["name"], "crypto pbkdf2")
        # after the program ran to its end
        self.assertIn("8 pbkdf2 calls done", out)
        self.assertEqual((last["done"], last["cancelled"], last["running"], last["queued"]), (8, 0, 0, 0))
        self.assertEqual(sum(w["jobs"] for w in last["workers"]), 8)
        # the last jobs waited for three runs of the two workers
        self.assertGreaterEqual(last["wait_ms"]["p99"], 3 * last["run_ms"]["p50"])
        self.assertEqual({r["callback_phase"] for r in last["recent"]}, {"poll"})

    def test_break_on_queue_depth(self):
        # eight submissions on two workers: six wait at the end, so the
        # queue passes through every depth up to six on the way
        rc, objs, out, err = uvdb(["break threadpool queue 6", "run", "info threadpool", "info breakpoints", "kill"],
                                  pool_env(2, node_example("07-threadpool.js")))
        self.assertEqual(rc, 0, err)
        bp = find(objs, "break")
        self.assertEqual((bp["type"], bp["depth"]), ("threadpool_queue", 6))
        run = find(objs, "run")
        self.assertEqual((run["state"], run["reason"], run["breakpoint"], run["pool_queued"]),
                         ("stopped", "breakpoint", 1, 6))
        self.assertEqual(find(objs, "info_breakpoints")[0]["hits"], 1)


class CQueueWork(unittest.TestCase):
    """Eight uv_queue_work jobs of 50 ms on libuv's default pool of four."""

    def check(self, program):
        rc, objs, out, err = uvdb(["run", "info threadpool", "info probe"], [program])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ["8 jobs done"])
        pool = find(objs, "info_threadpool")
        self.assertEqual((pool["size"], pool["submitted"], pool["done"], pool["cancelled"]), (4, 8, 8, 0))
        self.assertEqual(len(pool["workers"]), 4)
        self.assertEqual(sorted(w["jobs"] for w in pool["workers"]), [2, 2, 2, 2])
        recent = pool["recent"]
        self.assertEqual(len(recent), 8)
        for job in recent:
            self.assertEqual((job["kind"], job["name"], job["class"]), ("work", "work on_work", "cpu"))
            self.assertGreaterEqual(job["run_ms"], 50)  # the job sleeps 50 ms
            self.assertLess(job["run_ms"], 100)
        # four start at once; four wait for one of them to end
        waits = sorted(job["wait_ms"] for job in recent)
        self.assertTrue(all(w < 25 for w in waits[:4]), waits)
        self.assertTrue(all(45 <= w < 100 for w in waits[4:]), waits)
        return find(objs, "info_probe")

    def test_c_shared(self):
        probe = self.check(example("07-threadpool"))
        self.assertTrue(probe["threadpool"].startswith("uv_queue_work jobs only"), probe["threadpool"])

    def test_c_static(self):
        probe = self.check(example("07-threadpool-static"))
        self.assertTrue(probe["threadpool"].startswith("every job"), probe["threadpool"])

    def test_break_on_queue_depth(self):
        # four workers, eight jobs: the fourth waiting one comes at the latest
        # with the eighth submission, from main, before the loop runs
        rc, objs, out, err = uvdb(["break threadpool queue 4", "run", "backtrace", "delete", "continue"],
                                  [example("07-threadpool")])
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual((run["reason"], run["pool_queued"], run["phase"]), ("breakpoint", 4, "none"))
        self.assertEqual(find(objs, "backtrace")["frames"][0]["function"], "main")
        self.assertEqual(find(objs, "continue")["exit_code"], 0)


class Requests(unittest.TestCase):
    def test_node_thread_pool_requests_by_kind(self):
        script = ("const fs = require('fs'); fs.stat(__filename, () => {}); "
                  "require('crypto').pbkdf2('a', 'b', 200000, 64, 'sha512', () => {}); "
                  "require('dns').lookup('localhost', () => {});")
        rc, objs, out, err = uvdb(["break phase poll", "run", "info requests", "kill"], [NODE, "-e", script])
        self.assertEqual(rc, 0, err)
        reqs = find(objs, "info_requests")
        pool = {r["type"]: r for r in reqs["threadpool"]}
        self.assertEqual(set(pool), {"fs", "work", "getaddrinfo"})
        self.assertTrue(pool["fs"]["name"].startswith("fs stat "), pool["fs"])
        self.assertTrue(pool["fs"]["name"].endswith("[eval]"), pool["fs"])
        self.assertEqual(pool["work"]["name"], "crypto pbkdf2")
        for r in pool.values():
            self.assertIn(r["state"], ("queued", "running", "callback due"))
            self.assertGreaterEqual(r["pending_ms"], 0)
        self.assertEqual(reqs["active_requests"], 3)

    def test_c_static_file_system_jobs(self):
        rc, objs, out, err = uvdb(["run", "info threadpool"], [example("03-loop-phases-static")])
        self.assertEqual(rc, 0, err)
        pool = find(objs, "info_threadpool")
        self.assertGreaterEqual(pool["done"], 1)
        self.assertIn(("fs", "fs stat", "fast_io"), {(r["kind"], r["name"], r["class"]) for r in pool["recent"]})


class BadInput(unittest.TestCase):
    def test_before_the_pool_starts(self):
        rc, objs, out, err = uvdb(["start", "info threadpool", "kill"], [example("06-timers")])
        self.assertEqual(rc, 0, err)
        pool = find(objs, "info_threadpool")
        self.assertEqual((pool["started"], pool["size"], pool["submitted"]), (False, None, 0))

    def test_said_in_words(self):
        p = subprocess.run([UVDB, "-nx", "--batch", "-ex", "start", "-ex", "info threadpool", "-ex", "kill", "--",
                            example("06-timers")], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("The thread pool has not started: libuv starts it at the first job", p.stdout)

    def test_bad_depth(self):
        for bad in ("break threadpool queue 0", "break threadpool queue x", "break threadpool depth 3"):
            rc, objs, out, err = uvdb([bad], [example("07-threadpool")])
            self.assertEqual(rc, 1, bad)
            self.assertIn("usage: break threadpool queue DEPTH", find(objs, "error"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
