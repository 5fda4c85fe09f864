#!/usr/bin/env python3
"""The manual and the man page against uvdb itself: every command of its
command table (and every subcommand `help` lists) has a heading in
docs/manual.md and an entry in docs/uvdb.1, under the same group; every
option of `uvdb --help` is in both; and groff renders the man page with no
warning.  The commands and options come from the built uvdb, not from its
source, so a command added without its documentation fails here."""
import os
import re
import shutil
import subprocess
import sys
import unittest

SRC = os.environ.get("SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UVDB = os.environ.get("UVDB", os.path.join(SRC, "build", "debugger", "uvdb"))
MANUAL = os.path.join(SRC, "docs", "manual.md")
MAN_PAGE = os.path.join(SRC, "docs", "uvdb.1")
TIMEOUT = 60


def uvdb(*args):
    r = subprocess.run([UVDB, *args], capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"uvdb {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def commands():
    """{command: [subcommand, ...]} as uvdb's `help` gives them."""
    import json
    lines = uvdb("-nx", "--batch", "--json", "-ex", "help").splitlines()
    names = [c["command"] for c in json.loads(lines[-1])["help"] if not c.get("user")]
    # `help CMD` in text lists a command's subcommands, indented by four.
    out = {}
    for name in names:
        text = uvdb("-nx", "--batch", "-ex", f"help {name}")
        subs = [line.split()[1] for line in text.splitlines() if line.startswith("    " + name + " ")]
        out[name] = subs
    return out


def options():
    """Every option word `uvdb --help` shows (-ex, --batch, ... and those of
    uvdb learn, record and report)."""
    text = uvdb("--help")
    found = re.findall(r"(?<![\w/$-])(--?[A-Za-z][\w-]*)", text)
    return sorted(set(found))


def names(span_text, command, sub=None):
    """Does a heading's text (or a man page entry's tag) document command
    (and sub)?  `break phase NAME`, `tbreak ...`, `trace on|off phases`."""
    if sub is None:
        return re.match(re.escape(command) + r"(\s|$)", span_text) is not None
    return re.match(re.escape(command) + r"\s+(\S*\|)?" + re.escape(sub) + r"(\||\s|$)", span_text) is not None


def manual_headings():
    """[(group, [code span, ...])] for each ### heading, group its ## section."""
    out, group = [], None
    with open(MANUAL) as f:
        for line in f:
            if line.startswith("## "):
                group = line[3:].strip()
            elif line.startswith("### "):
                out.append((group, re.findall(r"`([^`]+)`", line)))
    return out


def man_source():
    """The man page's text with roff's escapes for a minus, fonts and
    quotes undone: what a reader sees, line by line."""
    with open(MAN_PAGE) as f:
        text = f.read()
    text = text.replace("\\-", "-").replace("\\(dq", '"').replace("\\(aq", "'").replace("\\e", "\\")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\c", "").replace("\\&", "")


def man_entries():
    """[(group, tag)] for each .TP entry of COMMANDS, group its .SS."""
    out, section, group, tp = [], None, None, False
    for line in man_source().splitlines():
        if line.startswith(".SH "):
            section, group = line[4:].strip().strip('"'), None
        elif line.startswith(".SS "):
            group = line[4:].strip().strip('"')
        elif line.startswith(".TP"):
            tp = True
        elif tp:
            tp = False
            if section == "COMMANDS":
                # ".BI set " SETTING VALUE"" -> 'set SETTING VALUE'
                tag = re.sub(r"^\.(B|BI|BR|I|IR|RB)\s+", "", line).replace('" ', " ").replace('"', "")
                out.append((group, re.sub(r"\s+", " ", tag).strip()))
    return out


class Manual(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.commands = commands()
        cls.options = options()
        cls.headings = manual_headings()
        cls.entries = man_entries()

    def test_uvdb_lists_what_is_checked(self):
        """The lists come from uvdb: a broken help would check nothing."""
        for name in ("run", "break", "info", "profile", "define", "quit"):
            self.assertIn(name, self.commands)
        self.assertIn("threadpool", self.commands["info"])
        self.assertIn("export", self.commands["trace"])
        for opt in ("-ex", "-x", "--batch", "--json", "-nx", "-q", "--version", "--hz", "--format"):
            self.assertIn(opt, self.options)

    def test_every_command_is_a_heading_of_the_manual(self):
        spans = [s for _, ss in self.headings for s in ss]
        for name, subs in self.commands.items():
            self.assertTrue(any(names(s, name) for s in spans), f"docs/manual.md: no ### heading for `{name}`")
            for sub in subs:
                self.assertTrue(any(names(s, name, sub) for s in spans),
                                f"docs/manual.md: no ### heading for `{name} {sub}`")

    def test_every_command_is_an_entry_of_the_man_page(self):
        tags = [t for _, t in self.entries]
        for name, subs in self.commands.items():
            self.assertTrue(any(names(t, name) for t in tags), f"docs/uvdb.1: no COMMANDS entry for {name}")
            for sub in subs:
                self.assertTrue(any(names(t, name, sub) for t in tags),
                                f"docs/uvdb.1: no COMMANDS entry for {name} {sub}")

    def test_the_man_page_groups_commands_as_the_manual(self):
        """A command is first met under the same group in both (Running,
        Breakpoints, Inspecting, ...)."""
        groups = [g for g, _ in self.headings]
        for g, _ in self.entries:
            self.assertIn(g, groups, f"docs/uvdb.1: COMMANDS group {g} is no section of docs/manual.md")
        for name in self.commands:
            in_manual = next(g for g, ss in self.headings if any(names(s, name) for s in ss))
            in_man = next(g for g, t in self.entries if names(t, name))
            self.assertEqual(in_man, in_manual, f"{name}: under {in_man} in uvdb.1, {in_manual} in manual.md")

    def test_every_option_is_in_both(self):
        with open(MANUAL) as f:
            manual = f.read()
        man = man_source()
        for opt in self.options:
            word = r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])"
            self.assertTrue(re.search(word, manual), f"docs/manual.md: option {opt} of `uvdb --help` is missing")
            self.assertTrue(re.search(word, man), f"docs/uvdb.1: option {opt} of `uvdb --help` is missing")

    def test_the_man_page_has_its_sections(self):
        sections = re.findall(r"^\.SH (.+)$", man_source(), re.M)
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "CONVENIENCE VARIABLES",
                     "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
            self.assertIn(name, [s.strip('"') for s in sections])

    def test_groff_renders_it_without_a_warning(self):
        """groff (groff-base, in scripts/setup.sh's packages) is what man
        renders with; -ww turns on every warning."""
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff is not installed (Debian: groff-base; scripts/setup.sh installs it)")
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", MAN_PAGE], capture_output=True, text=True,
                           timeout=TIMEOUT, env=dict(os.environ, LC_ALL="C.UTF-8"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "groff warns about docs/uvdb.1")
        self.assertIn("uvdb - the event-loop debugger", re.sub(r".\x08", "", r.stdout))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
