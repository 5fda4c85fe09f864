#!/usr/bin/env python3
"""Re-runs every uvdb session shown in the documentation and compares it.

In a Markdown file, a fenced block whose info string is `uvdb-session` holds
one or more commands, each on a line starting with `$ `, followed by the
output it must print (stdout and stderr together, in order).  In expected
lines, `…` stands for any text (addresses, times, pids); everything else
must match exactly.  Commands run from the source root with `uvdb` meaning
the built debugger and `build/` the build directory.

  check_transcripts.py FILE.md...     exit 0 if every session matches
"""
import os
import re
import shlex
import subprocess
import sys

SRC = os.environ.get("SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UVDB = os.environ.get("UVDB", os.path.join(SRC, "build", "debugger", "uvdb"))
BUILD = os.path.dirname(os.path.dirname(UVDB))
EXAMPLES = os.environ.get("UVDB_EXAMPLES")  # the sanitizer run's examples come from the plain build
TIMEOUT = 120


def sessions(path):
    """(line number, command, expected lines) for each command of each block."""
    out, block, lineno = [], None, 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if block is None:
                if line.strip() == "```uvdb-session":
                    block = []
                continue
            if line.strip() == "```":
                out.extend(block)
                block = None
            elif line.startswith("$ "):
                block.append((n, line[2:], []))
            elif block:
                block[-1][2].append(line)
            else:
                raise SystemExit(f"{path}:{n}: output before any `$ ` command")
    if block is not None:
        raise SystemExit(f"{path}: unterminated uvdb-session block")
    return out


def pattern(expected):
    parts = [re.escape(p) for p in expected.split("…")]
    return re.compile("^" + ".*?".join(parts) + "$")


def run(command):
    args = shlex.split(command)
    if args[0] == "uvdb":
        args[0] = UVDB
    args = [EXAMPLES + a[len("build/examples"):] if EXAMPLES and a.startswith("build/examples/")
            else BUILD + a[len("build"):] if a.startswith("build/") else a for a in args]
    p = subprocess.run(args, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TIMEOUT)
    return p.stdout.splitlines()


def main(files):
    passed = failed = 0
    for path in files:
        for lineno, command, expected in sessions(path):
            got = run(command)
            bad = None
            if len(got) != len(expected):
                bad = f"{len(got)} lines, expected {len(expected)}"
            else:
                for e, g in zip(expected, got):
                    if not pattern(e).match(g):
                        bad = f"expected: {e}\n     got: {g}"
                        break
            name = f"{os.path.relpath(path, SRC)}:{lineno}: {command}"
            if bad:
                failed += 1
                print(f"FAIL {name}\n  {bad}\n  --- output ---\n  " + "\n  ".join(got))
            else:
                passed += 1
                print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
