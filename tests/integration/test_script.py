#!/usr/bin/env python3
"""Integration tests of scripting: define, document, if/else, while, printf,
print, set and convenience variables, breakpoint commands that loop, the init
file and --batch's exit status, on real examples under `uvdb --batch --json`."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loop import NODE_UV, ORDER_144, ORDER_146, TIMEOUT, UVDB, example, find, node_example, uvdb  # noqa: E402

NX = ("-nx",)  # the tests never read the init file of whoever runs them


def values(objs, key):
    return [o[key] for o in objs if key in o]


def errors(objs):
    return values(objs, "error")


def script_file(tmp, text, name="script.uvdb"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Scripts(unittest.TestCase):
    def test_c_timers_define_commands_if_while(self):
        """A breakpoint's commands call a user command and continue until the
        third hit; a while loop at the top level takes over from there."""
        text = """\
define report
  printf "stop %s %d %d\\n", $phase, $iteration, $hits
end
document report
Prints where the loop stopped.
end
set $stops = 0
break phase timers
commands
  silent
  set $stops = $stops + 1
  report
  if $hits < 3
    continue
  else
    printf "held at hit %d\\n", $hits
  end
end
run
printf "%s %d\\n", $state, $iteration
while $state == "stopped"
  continue
end
printf "done %d %d %d\\n", $exit_code, $stops, $events > 0
help report
"""
        with tempfile.TemporaryDirectory() as tmp:
            rc, objs, out, err = uvdb([], [example("06-timers")], extra=NX + ("-x", script_file(tmp, text)))
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "define"), {"name": "report", "lines": [
            'printf "stop %s %d %d\\n", $phase, $iteration, $hits']})
        self.assertEqual(find(objs, "commands")["lines"][:3], ["silent", "set $stops = $stops + 1", "report"])
        printed = values(objs, "printf")
        stops = [p.split() for p in printed if p.startswith("stop ")]
        self.assertGreaterEqual(len(stops), 4)  # three timers, one repeating: several iterations
        self.assertEqual({s[1] for s in stops}, {"timers"})
        self.assertEqual([int(s[3]) for s in stops], list(range(1, len(stops) + 1)))  # $hits: 1, 2, 3, ...
        iterations = [int(s[2]) for s in stops]
        self.assertEqual(iterations, list(range(iterations[0], iterations[0] + len(stops))))  # one hit each
        # the list continued twice, then left the program stopped at the third hit
        self.assertEqual(printed[3], "held at hit 3\n")
        self.assertEqual(printed[4], f"stopped {iterations[2]}\n")
        self.assertEqual(printed[-1], f"done 0 {len(stops)} 1\n")
        self.assertEqual(values(objs, "run"), [])  # silent: the stops are not reported
        self.assertEqual([c["state"] for c in values(objs, "continue")], ["exited"])
        self.assertEqual(find(objs, "help"), {"command": "report", "usage": "report",
                                              "help": "Prints where the loop stopped.", "user": True})

    def test_node_walk_one_iteration_with_a_user_command(self):
        """`walk N` steps N phases with a while loop; from poll, seven steps
        come back to poll, through the phases in the order this libuv runs them."""
        order = ORDER_146 if NODE_UV >= (1, 45) else ORDER_144
        after_poll = order[order.index("poll") + 1:] + order[:order.index("poll") + 1]
        rc, objs, out, err = uvdb([
            "define walk", "set $left = $arg0", "while $left > 0", "next",
            'printf "%s %d\\n", $phase, $iteration', "set $left = $left - 1", "end", "end",
            "break phase poll", "run", "delete", "walk 7", "print $phase", "output $iteration", "kill"],
            node_example("03-loop-phases.js"), extra=NX)
        self.assertEqual(rc, 0, err)
        run = find(objs, "run")
        self.assertEqual(run["phase"], "poll")
        walked = [p.split() for p in values(objs, "printf")]
        self.assertEqual([w[0] for w in walked], after_poll)
        self.assertEqual([int(w[1]) for w in walked], [n["iteration"] for n in values(objs, "next")])
        self.assertEqual(int(walked[-1][1]), run["iteration"] + 1)
        self.assertEqual(find(objs, "print"), "poll")
        self.assertEqual(find(objs, "output"), run["iteration"] + 1)

    def test_continue_inside_while_in_commands(self):
        """Each `continue` ends the list (gdb's rule); the next stop runs it
        again from breakpoints_after_stop's loop, so 40 hits need no recursion."""
        rc, objs, out, err = uvdb([
            "break phase check", "commands", "silent", "while $iteration < 40", 'printf "%d\\n", $iteration',
            "continue", "end", "end", "run", "print $iteration", "print $hits", "info breakpoints", "kill"],
            [example("06-run-once"), "50"], extra=NX)
        self.assertEqual(rc, 0, err)
        self.assertEqual(values(objs, "printf"), [f"{i}\n" for i in range(1, 40)])
        self.assertEqual(values(objs, "print"), [40, 40])
        self.assertEqual(find(objs, "info_breakpoints")[0]["commands"],
                         ["silent", "while $iteration < 40", 'printf "%d\\n", $iteration', "continue", "end"])

    def test_convenience_variables_follow_the_program(self):
        rc, objs, out, err = uvdb([
            "show convenience", "set $min = 3", 'set $label = "poll stop"',
            "break phase poll if $iteration >= $min", "run", "show convenience", "kill", "show convenience"],
            [example("06-run-once"), "5"], extra=NX)
        self.assertEqual(rc, 0, err)
        before, stopped, killed = [{v["name"]: v["value"] for v in s} for s in values(objs, "show_convenience")]
        self.assertEqual((before["state"], before["iteration"], before["pid"], before["events"]), ("none", None, None, 0))
        run = find(objs, "run")
        self.assertEqual(run["iteration"], 3)  # the condition read the user's $min
        self.assertEqual({k: stopped[k] for k in ("state", "phase", "iteration", "loop", "hits", "breakpoint", "pid",
                                                    "exit_code", "min", "label")},
                         {"state": "stopped", "phase": "poll", "iteration": 3, "loop": 1, "hits": 1,
                          "breakpoint": 1, "pid": run["pid"], "exit_code": None, "min": 3, "label": "poll stop"})
        self.assertGreater(stopped["events"], 0)
        self.assertIsInstance(stopped["duration_us"], (int, float))
        self.assertEqual((killed["state"], killed["signal"], killed["exit_code"], killed["iteration"]),
                         ("exited", "KILL", None, None))
        builtin = {v["name"] for v in values(objs, "show_convenience")[0] if v["builtin"]}
        self.assertTrue({"iteration", "phase", "loop", "hits", "pid", "exit_code", "events"} <= builtin)

    def test_show_user_and_help(self):
        rc, objs, out, err = uvdb(["define hello", 'if $argc == 0', "echo nobody", "else", 'printf "hi %s\\n", $arg0',
                                   "end", "end", "document hello", "Greets someone.", "Or nobody.", "end",
                                   "hello", 'hello "you there"', "show user", "show user hello", "help"], [], extra=NX)
        self.assertEqual(rc, 0, err)
        self.assertEqual(find(objs, "echo"), "nobody")
        self.assertEqual(find(objs, "printf"), "hi you there\n")
        every, one = values(objs, "show_user")
        self.assertEqual(every, one)
        self.assertEqual(one, [{"name": "hello", "lines": ["if $argc == 0", "echo nobody", "else",
                                                           'printf "hi %s\\n", $arg0', "end"],
                                "doc": "Greets someone.\nOr nobody."}])
        listed = {h["command"]: h for h in find(objs, "help")}
        self.assertEqual((listed["hello"]["help"], listed["hello"]["user"]), ("Greets someone.", True))
        for name in ("printf", "print", "output", "set", "show", "if", "while", "define", "document"):
            self.assertIn(name, listed)

    def test_human_output(self):
        p = subprocess.run([UVDB, "--batch", "-nx", "-ex", "set $n = 2", "-ex", 'printf "%d-%s|", $n, "x"',
                            "-ex", "output $n * 3", "-ex", "print \"q\\\"\"", "-ex", "define dd", "-ex", "if 1",
                            "-ex", "echo in", "-ex", "end", "-ex", "end", "-ex", "show user dd"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, '2-x|6"q\\""\nUser command "dd":\n  if 1\n    echo in\n  end\n')


class InitFile(unittest.TestCase):
    INIT = "define hello\n  echo hello from init\nend\nset $from_init = 7\n"

    def run_with(self, env_changes, args):
        env = dict(os.environ, **env_changes)
        p = subprocess.run([UVDB, "--batch", "--json", *args], capture_output=True, text=True, timeout=TIMEOUT,
                           env=env)
        return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]

    def test_xdg_config_home_then_home_and_nx(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "xdg", "uvdb"))
            script_file(os.path.join(tmp, "xdg", "uvdb"), self.INIT, "init")
            os.makedirs(os.path.join(tmp, "home", ".config", "uvdb"))
            script_file(os.path.join(tmp, "home", ".config", "uvdb"), "set $from_home = 1\n", "init")
            env = {"XDG_CONFIG_HOME": os.path.join(tmp, "xdg"), "HOME": os.path.join(tmp, "home")}
            rc, objs = self.run_with(env, ["-ex", "hello", "-ex", "print $from_init"])
            self.assertEqual(rc, 0)
            self.assertEqual((find(objs, "echo"), find(objs, "print")), ("hello from init", 7))
            rc, objs = self.run_with(env, ["-nx", "-ex", "hello"])  # skipped
            self.assertEqual(rc, 1)
            self.assertIn('undefined command: "hello"', find(objs, "error"))
            env["XDG_CONFIG_HOME"] = ""  # unset: ~/.config
            rc, objs = self.run_with(env, ["-ex", "print $from_home"])
            self.assertEqual((rc, find(objs, "print")), (0, 1))

    def test_a_failing_init_file_is_named_and_fails_the_batch(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "uvdb"))
            init = script_file(os.path.join(tmp, "uvdb"), "echo one\nfrobnicate\necho never\n", "init")
            rc, objs = self.run_with({"XDG_CONFIG_HOME": tmp}, ["-ex", "echo after"])
            self.assertEqual(rc, 1)
            self.assertEqual(values(objs, "echo"), ["one", "after"])
            self.assertEqual(errors(objs)[1], f"{init}:2: stopped the script here")


class BadInput(unittest.TestCase):
    def test_unknown_variable(self):
        rc, objs, out, err = uvdb(["print $nosuch", "echo next"], [example("06-run-once")], extra=NX)
        self.assertEqual(rc, 1)
        self.assertIn("unknown variable $nosuch", find(objs, "error"))
        self.assertEqual(find(objs, "echo"), "next")  # later -ex still run, as gdb does

    def test_unterminated_blocks_run_nothing(self):
        for block in ("if 1", "while 1", "define x", "document x", "commands"):
            rc, objs, out, err = uvdb(["break phase poll", "define x", "end", block, "echo inside"],
                                      [example("06-run-once")], extra=NX)
            self.assertEqual(rc, 1, block)
            self.assertIn(f"`{block.split()[0]}` ended without `end`", find(objs, "error"))
            self.assertEqual(values(objs, "echo"), [], block)

    def test_nested_blocks_end_at_their_own_end(self):
        rc, objs, out, err = uvdb(["if 0", "while 1", "echo never", "end", "else", "echo else", "end",
                                   "echo after"], [], extra=NX)
        self.assertEqual(rc, 0, err)
        self.assertEqual(values(objs, "echo"), ["else", "after"])

    def test_bad_printf_formats(self):
        for fmt, message in (('printf "%d\\n"', "more conversions than the 0 arguments"),
                             ('printf "%q", 1', "unknown conversion %q"),
                             ('printf "%d", "s"', "%d needs a number"),
                             ('printf "abc', "no closing quote"),
                             ('printf "%d", $iteration', "argument 1 is void"),
                             ("printf 3", "quoted string")):
            rc, objs, out, err = uvdb([fmt], [example("06-run-once")], extra=NX)
            self.assertEqual(rc, 1, fmt)
            self.assertIn(message, find(objs, "error"), fmt)

    def test_bad_expressions_and_names(self):
        for command, message in (("print 1 / 0", "division by zero"), ('print "a" + 1', "arithmetic needs numbers"),
                                 ("set $pid = 1", "uvdb's own"), ("print $arg0", "user commands only"),
                                 ("set x = 1", "usage: set $NAME = EXPRESSION")):
            rc, objs, out, err = uvdb([command], [], extra=NX)
            self.assertEqual(rc, 1, command)
            self.assertIn(message, find(objs, "error"), command)
        for block, message in (("if 1 +", "if: bad expression"), ("while $phase > 1", "cannot order void"),
                               ("define run", "built-in command run"), ("document nosuch", "no user command")):
            rc, objs, out, err = uvdb([block, "echo body", "end"], [], extra=NX)
            self.assertEqual(rc, 1, block)
            self.assertIn(message, find(objs, "error"), block)
            self.assertEqual(values(objs, "echo"), [], block)  # a block's body never runs after a bad head

    def test_unknown_command_in_a_block_names_the_file_and_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = script_file(tmp, "echo start\nif 1\n  echo in\n  frobnicate\n  echo never\nend\necho never\n")
            rc, objs, out, err = uvdb([], [], extra=NX + ("-x", path))
        self.assertEqual(rc, 1)
        self.assertEqual(values(objs, "echo"), ["start", "in"])
        self.assertEqual(errors(objs), ['undefined command: "frobnicate"; try `help`',
                                        f"{path}:2: stopped the script here"])

    def test_a_failing_breakpoint_command_fails_the_batch(self):
        rc, objs, out, err = uvdb(["break phase check", "commands", "print $nosuch", "end", "run", "kill"],
                                  [example("06-run-once"), "2"], extra=NX)
        self.assertEqual(rc, 1)
        self.assertIn("unknown variable $nosuch", find(objs, "error"))
        self.assertEqual(find(objs, "kill")["state"], "exited")  # the session went on

    def test_runaway_while_and_recursion_are_stopped(self):
        rc, objs, out, err = uvdb(["while 1", "end", "echo after"], [], extra=NX)
        self.assertEqual(rc, 1)
        self.assertIn("stopped after 1000000 passes", find(objs, "error"))
        self.assertEqual(find(objs, "echo"), "after")
        rc, objs, out, err = uvdb(["define again", "again", "end", "again"], [], extra=NX)
        self.assertEqual(rc, 1)
        self.assertIn("nested too deep (64)", errors(objs)[0])

    def test_missing_argument_of_a_user_command(self):
        rc, objs, out, err = uvdb(["define two", 'printf "%s %s\\n", $arg0, $arg1', "end", "two a"], [], extra=NX)
        self.assertEqual(rc, 1)
        self.assertIn("two: no argument 1 ($arg1): it was given 1", find(objs, "error"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
