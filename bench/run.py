#!/usr/bin/env python3
"""uvdb's benchmarks, each side by side with its baseline in one run: rounds
alternate (baseline, probed, baseline, ...) and medians are reported.
Prints the table and rewrites docs/performance.md with the method, the
machine and the figures.

  bench/run.py [--build build] [--rounds 9] [--out docs/performance.md]
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_ns(text, key="ns_per_iteration"):
    m = re.search(key + r"=([0-9.]+)", text)
    if not m:
        raise RuntimeError(f"no {key} in output:\n{text}")
    return float(m.group(1))


# The target runs on CPU 1 in both cases and uvdb on CPU 0, so that what is
# measured is the probe's cost in the target, not two processes sharing a core.
PIN = os.cpu_count() >= 2 and shutil.which("taskset")
TARGET_CPU = ["taskset", "-c", "1"] if PIN else []
DEBUGGER_CPU = ["taskset", "-c", "0"] if PIN else []


def run_plain(cmd):
    return parse_ns(subprocess.run(TARGET_CPU + cmd, capture_output=True, text=True, check=True).stdout)


def run_probed(uvdb, cmd):
    p = subprocess.run(DEBUGGER_CPU + [uvdb, "--batch", "--json", "-ex", "run", "-ex", "info loop", "--",
                                       *TARGET_CPU, *cmd],
                       capture_output=True, text=True, check=True)
    run = next(json.loads(l)["run"] for l in p.stdout.splitlines() if l.startswith('{"run"'))
    loop = next(json.loads(l)["info_loop"] for l in p.stdout.splitlines() if l.startswith('{"info_loop"'))
    events = sum(ph["count"] for ph in loop["phases"]) + loop["iterations"]
    return parse_ns(p.stdout), run["dropped"], events


def loop_bound(name, uvdb, cmd, rounds, budget_ratio):
    base, probed, dropped, events = [], [], 0, 0
    for _ in range(rounds):
        base.append(run_plain(cmd))
        ns, d, ev = run_probed(uvdb, cmd)
        probed.append(ns)
        dropped += d
        events = ev
    b, p = statistics.median(base), statistics.median(probed)
    ratio = b / p
    return {
        "figure": name,
        "baseline": f"{b:.1f} ns/iteration",
        "uvdb": f"{p:.1f} ns/iteration",
        "ratio": f"{ratio * 100:.1f}% of unprobed speed",
        "budget": f">= {budget_ratio * 100:.0f}%",
        "pass": ratio >= budget_ratio and dropped == 0,
        "note": f"{events} phase and iteration records per run, {dropped} dropped in {rounds} runs; "
                f"+{p - b:.1f} ns per iteration",
    }


def breakdown(name, build, uvdb, cmd, rounds):
    """Where a probed iteration's extra time goes: the full probe against
    variants without the TSC read, without the ring write, and with neither
    (hooks and state machine alone), each beside the unprobed program."""
    variants = {"full": os.path.join(build, "preload", "libuvdb-probe.so")}
    for v in ("no-tsc", "no-ring", "hooks-only"):
        variants[v] = os.path.join(build, "bench", f"libuvdb-probe-{v}.so")
    times = {"base": [], **{v: [] for v in variants}}
    for _ in range(rounds):
        times["base"].append(run_plain(cmd))
        for v, path in variants.items():
            p = subprocess.run(DEBUGGER_CPU + [uvdb, "--batch", "-ex", "run", "--", *TARGET_CPU, *cmd],
                               capture_output=True, text=True, check=True, env=dict(os.environ, UVDB_PROBE=path))
            times[v].append(parse_ns(p.stdout))
    m = {k: statistics.median(v) for k, v in times.items()}
    return {
        "program": name,
        "baseline": m["base"],
        "total": m["full"] - m["base"],
        "hooks": m["hooks-only"] - m["base"],
        "tsc": m["full"] - m["no-tsc"],
        "ring": m["full"] - m["no-ring"],
    }


def armed_not_hit(build, uvdb, rounds):
    """A breakpoint on a loop that never runs arms every safepoint's slow path;
    the C idle loop passes 7 safepoints an iteration."""
    cmd = [os.path.join(build, "bench", "idle_loop"), "2000000"]
    plain, armed = [], []
    for _ in range(rounds):
        for args, out in (([], plain), (["-ex", "break phase poll loop 63"], armed)):
            p = subprocess.run(DEBUGGER_CPU + [uvdb, "--batch", *args, "-ex", "run", "--", *TARGET_CPU, *cmd],
                               capture_output=True, text=True, check=True)
            out.append(parse_ns(p.stdout))
    per_phase = (statistics.median(armed) - statistics.median(plain)) / 7
    return {
        "figure": "breakpoint armed but not hit, C idle loop",
        "baseline": f"{statistics.median(plain):.1f} ns/iteration",
        "uvdb": f"{statistics.median(armed):.1f} ns/iteration",
        "ratio": f"{per_phase:+.2f} ns per phase",
        "budget": "<= 5 ns per phase",
        "pass": per_phase <= 5,
        "note": "probed with and without `break phase poll loop 63`; 7 safepoints an iteration",
    }


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t0


def per_hit(make, rounds, lo=1000, hi=3000):
    """Microseconds per breakpoint hit: the slope between runs of lo and of
    hi hits, so that start-up and the handshake drop out."""
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(make(lo)))
        b.append(timed(make(hi)))
    return (statistics.median(b) - statistics.median(a)) / (hi - lo) * 1e6


def hit_cost(build, uvdb, rounds):
    """Stop, run the commands (silent, continue), go on: uvdb's `break phase
    poll` against gdb's breakpoint on uv__io_poll, same program, same hits.
    The slope between two hit counts leaves start-up out."""
    prog = os.path.join(build, "examples", "06-run-once-static")
    gdb = shutil.which("gdb")
    script = os.path.join(build, "bench", "hit.gdb")
    with open(script, "w") as f:
        f.write("set pagination off\nset confirm off\nbreak uv__io_poll\ncommands 1\nsilent\ncontinue\nend\nrun\n")

    u = per_hit(lambda n: [uvdb, "--batch", "-ex", "break phase poll", "-ex", "commands", "-ex", "silent",
                           "-ex", "continue", "-ex", "end", "-ex", "run", "--", prog, str(n)], rounds)
    g = per_hit(lambda n: [gdb, "-q", "-batch", "-nx", "-x", script, "--args", prog, str(n)],
                rounds) if gdb else float("nan")
    return {
        "figure": "breakpoint hit in batch mode: stop, commands (silent, continue), go on",
        "baseline": f"gdb: {g:.0f} us/hit" if gdb else "gdb: not installed",
        "uvdb": f"{u:.0f} us/hit",
        "ratio": f"{g / u:.1f}x faster than gdb" if gdb else "-",
        "budget": "<= 1000 us",
        "pass": u <= 1000,
        "note": "libuv linked statically (gdb needs uv__io_poll's name); slope between 1000 and 3000 hits",
    }


def callback_probe_disarmed(build, uvdb, rounds):
    """A function probe left in place, disarmed: `break callback on_tick`
    then `delete` (as after `step`, or a deleted callback breakpoint), against
    the same session without it.  64 idle handles share on_tick, so that the
    loop's own per-iteration probe cost, and its noise, is spread over 64
    calls (with 16, medians of 7 rounds ranged from +4 to +35 ns)."""
    cmd = [os.path.join(build, "bench", "callback_loop"), "4000000", "64"]
    plain, disarmed = [], []
    for _ in range(rounds):
        for args, out in (([], plain), (["-ex", "break callback on_tick", "-ex", "delete"], disarmed)):
            p = subprocess.run(DEBUGGER_CPU + [uvdb, "--batch", "-ex", "start", *args, "-ex", "continue", "--",
                                               *TARGET_CPU, *cmd],
                               capture_output=True, text=True, check=True)
            out.append(parse_ns(p.stdout, "ns_per_call"))
    b, d = statistics.median(plain), statistics.median(disarmed)
    return {
        "figure": "callback probe installed but disarmed, per call",
        "baseline": f"{b:.1f} ns/call",
        "uvdb": f"{d:.1f} ns/call",
        "ratio": f"{d - b:+.2f} ns per call",
        "budget": "<= 10 ns per call",
        "pass": d - b <= 10,
        "note": "C, 4M calls of on_tick from 64 idle handles; `start`, `break callback on_tick`, `delete`, "
                "`continue` against `start`, `continue`; both probed",
    }


def callback_hit_cost(build, uvdb, rounds):
    """A callback breakpoint's hit in batch mode: uvdb's `break callback
    on_tick` with `silent`, `continue` beside gdb's `break on_tick` with the
    same commands, one call of on_tick per iteration.  A condition that never
    holds costs the same: uvdb parks the loop and decides on the stop (the
    note's third figure).  The rounds alternate between the three."""
    prog = os.path.join(build, "bench", "callback_loop")
    gdb = shutil.which("gdb")
    script = os.path.join(build, "bench", "callback-hit.gdb")
    with open(script, "w") as f:
        f.write("set pagination off\nset confirm off\nbreak on_tick\ncommands 1\nsilent\ncontinue\nend\nrun\n")
    sessions = {
        "uvdb": lambda n: [uvdb, "--batch", "-ex", "break callback on_tick", "-ex", "commands", "-ex", "silent",
                           "-ex", "continue", "-ex", "end", "-ex", "run", "--", prog, str(n), "1"],
        "uvdb-if": lambda n: [uvdb, "--batch", "-ex", "break callback on_tick if iteration < 0", "-ex", "run",
                              "--", prog, str(n), "1"],
    }
    if gdb:
        sessions["gdb"] = lambda n: [gdb, "-q", "-batch", "-nx", "-x", script, "--args", prog, str(n), "1"]
    lo, hi = 1000, 3000
    times = {(k, n): [] for k in sessions for n in (lo, hi)}
    for _ in range(rounds):
        for k, make in sessions.items():
            for n in (lo, hi):
                times[k, n].append(timed(make(n)))
    us = {k: (statistics.median(times[k, hi]) - statistics.median(times[k, lo])) / (hi - lo) * 1e6
          for k in sessions}
    g = us.get("gdb", float("nan"))
    return {
        "figure": "callback breakpoint hit in batch mode: stop, commands (silent, continue), go on",
        "baseline": f"gdb: {g:.0f} us/hit" if gdb else "gdb: not installed",
        "uvdb": f"{us['uvdb']:.0f} us/hit",
        "ratio": f"{g / us['uvdb']:.1f}x faster than gdb" if gdb else "-",
        "budget": "<= 1000 us",
        "pass": us["uvdb"] <= 1000,
        "note": f"C (bench/callback_loop.c), one on_tick a loop iteration; slope between {lo} and {hi} hits; "
                f"`break callback on_tick if iteration < 0` (never true): {us['uvdb-if']:.0f} us/hit",
    }


def emit_cost(build):
    out = subprocess.run([os.path.join(build, "bench", "emit_cost")], capture_output=True, text=True,
                         check=True).stdout
    f = dict(kv.split("=") for kv in out.split())
    ns = float(f["event_ns"])
    return {
        "figure": "cost of one recorded event (timestamp + ring push), reader draining",
        "baseline": f"{float(f['baseline_ns']):.2f} ns/call",
        "uvdb": f"{float(f['recorded_ns']):.2f} ns/call",
        "ratio": f"+{ns:.2f} ns/event",
        "budget": "<= 25 ns",
        "pass": ns <= 25,
        "note": f"median of 7 alternating rounds of 20M calls; {f['dropped']} of {f['events']} dropped",
    }


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pin = "target pinned to CPU 1 and uvdb to CPU 0" if PIN else "no pinning"
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, node {node}; {pin}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    a = ap.parse_args()
    uvdb = os.path.join(a.build, "debugger", "uvdb")
    rows = [
        emit_cost(a.build),
        loop_bound("Node: 1M setImmediate turns, every phase recorded", uvdb,
                   ["node", os.path.join(ROOT, "bench", "immediate_loop.js"), "1000000"], a.rounds, 0.90),
        loop_bound("C: 2M idle-handle iterations (libuv.so.1), every phase recorded", uvdb,
                   [os.path.join(a.build, "bench", "idle_loop"), "2000000"], a.rounds, 0.90),
        armed_not_hit(a.build, uvdb, a.rounds),
        hit_cost(a.build, uvdb, 5),
        callback_probe_disarmed(a.build, uvdb, a.rounds),
        callback_hit_cost(a.build, uvdb, 5),
    ]
    parts = [
        breakdown("Node setImmediate turn", a.build, uvdb,
                  ["node", os.path.join(ROOT, "bench", "immediate_loop.js"), "1000000"], a.rounds),
        breakdown("C idle-handle iteration", a.build, uvdb,
                  [os.path.join(a.build, "bench", "idle_loop"), "2000000"], a.rounds),
    ]
    split = ["| program | unprobed | probe's cost | hooks and state machine | TSC reads | ring writes |",
             "|---|---|---|---|---|---|"]
    for b in parts:
        split.append(f"| {b['program']} | {b['baseline']:.0f} ns | +{b['total']:.0f} ns | +{b['hooks']:.0f} ns | "
                     f"+{b['tsc']:.0f} ns | +{b['ring']:.0f} ns |")
    table = ["| figure | baseline | uvdb | ratio | budget | pass | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['figure']} | {r['baseline']} | {r['uvdb']} | {r['ratio']} | {r['budget']} | "
                     f"{'pass' if r['pass'] else 'FAIL'} | {r['note']} |")
    print("\n".join(table))
    print()
    print("\n".join(split))
    with open(os.path.join(ROOT, "bench", "performance.md.in")) as f:
        doc = f.read()
    doc = doc.replace("@MACHINE@", machine()).replace("@ROUNDS@", str(a.rounds)) \
             .replace("@TABLE@", "\n".join(table)).replace("@SPLIT@", "\n".join(split))
    with open(a.out, "w") as f:
        f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
