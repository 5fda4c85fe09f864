/* The command table: a command is one entry here plus one function in its
 * family's file.  Unambiguous prefixes work; `help` reads the same table. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const struct uvdb_command uv__commands[] = {
    {"run", cmd_run, "run [&]", "Start the program under the probe; runs until it stops or exits (`&`: in the "
     "background, while commands are read; a view then pauses the loop for its time).", NULL},
    {"start", cmd_start, "start", "Start the program and stop its main loop before its first phase.", NULL},
    {"continue", cmd_continue, "continue [N] [&]",
     "Let a stopped loop run on (N: ignore this breakpoint N-1 times; `&`: in the background); a program "
     "running in the background (attached, `run &`): wait for it to stop.", NULL},
    {"next", cmd_next, "next", "Run the stopped loop to its next phase boundary; Enter repeats it.", NULL},
    {"step", cmd_step, "step", "Run the stopped loop to the next callback it calls; Enter repeats it.", NULL},
    {"finish", cmd_finish, "finish",
     "Run the callback the loop is stopped in to its return, or the phase it is stopped before to its end.", NULL},
    {"break", cmd_break,
     "break phase NAME | callback FUNCTION | threadpool queue N | blocked MS | microtasks [loop N|any] [if COND]",
     "Stop the main loop (or loop N, or any) before a phase; entering a callback (a glob over function names: "
     "on_timer, node::Environment::RunTimers, *Immediate*); when N thread-pool jobs wait; at the end of a "
     "callback that blocked the loop MS milliseconds; or as a microtask checkpoint begins (node).",
     NULL},
    {"tbreak", cmd_tbreak, "tbreak phase NAME | callback FUNCTION ...", "A breakpoint deleted when it first stops.",
     NULL},
    {"delete", cmd_delete, "delete [N...]", "Delete breakpoints (all with no number).", NULL},
    {"enable", cmd_enable, "enable [N...]", "Enable breakpoints.", NULL},
    {"disable", cmd_disable, "disable [N...]", "Disable breakpoints.", NULL},
    {"ignore", cmd_ignore, "ignore N COUNT", "Do not stop at breakpoint N for its next COUNT hits.", NULL},
    {"condition", cmd_condition, "condition N [COND]", "Set or remove breakpoint N's condition.", NULL},
    {"commands", cmd_commands, "commands [N] ... end",
     "Commands to run when breakpoint N stops (`silent` first: no stop report; `continue` goes on).", NULL},
    {"interrupt", cmd_interrupt, "interrupt", "Stop a program running in the background (`run &`) at its main "
     "loop's next safepoint, as Ctrl-C does in the foreground.", NULL},
    {"profile", cmd_profile, "profile start|stop|report|export ...",
     "The sampling profiler: stacks of the loops (and pool), by function and by phase; folded, SVG flamegraph "
     "and speedscope exports.", NULL},
    {"top", cmd_top, "top [-d SECONDS] [-n COUNT]",
     "A live view of each loop (iterations/s, busy share, lag, time per phase), the thread pool and the longest "
     "blocking stretches; q quits, the program runs on.", NULL},
    {"kill", cmd_kill, "kill", "Kill the program being debugged.", NULL},
    {"attach", cmd_attach, "attach PID",
     "Load the probe into a running libuv or Node process (ptrace) and follow it; it runs on while commands are "
     "read.", NULL},
    {"sleep", cmd_sleep, "sleep SECONDS",
     "Let a running program run for SECONDS while uvdb takes its events (scripts: attach, profile start, "
     "sleep 2, profile stop).", NULL},
    {"inferior", cmd_inferior, "inferior N",
     "Act on another process of the session (`info inferiors`): a child the program started, followed.", NULL},
    {"detach", cmd_detach, "detach",
     "Leave the process: a stopped loop resumes, the probe's hooks come out, its code is as it was.", NULL},
    {"info", cmd_info, "info WHAT",
     "What the probe sees: probe, loops, loop, breakpoints, timers, handles, requests, pending, closing, watchers, "
     "processes.",
     uvdb_info_commands},
    {"trace", cmd_trace, "trace on|off phases|processes [loop N]",
     "Print each phase as it runs, or each spawn, exit and signal.", uvdb_trace_commands},
    {"backtrace", cmd_backtrace, "backtrace", "The stopped loop thread's stack, innermost first (bt, where).", NULL},
    {"source", cmd_source, "source FILE", "Run the commands in FILE (as -x does).", NULL},
    {"echo", cmd_echo, "echo TEXT", "Print TEXT ({\"echo\": TEXT} in JSON).", NULL},
    {"printf", cmd_printf, "printf \"FORMAT\", EXPR...",
     "Print values formatted as C's printf: %d %u %x %s %f %%, escapes \\n \\t \\\" \\\\.", NULL},
    {"print", cmd_print, "print EXPR", "Print the value of an expression: $iteration, $phase == \"poll\", $n + 1.",
     NULL},
    {"output", cmd_output, "output EXPR", "Print the value of an expression, with no newline.", NULL},
    {"set", cmd_set, "set $NAME = EXPR | SETTING VALUE",
     "Set a convenience variable (a number or a string), or a setting: blocking-threshold MS, js-names 0|1|2.",
     NULL},
    {"show", cmd_show, "show user [NAME]|convenience", "The user commands, or the convenience variables.",
     uvdb_show_commands},
    {"if", cmd_if, "if EXPR ... [else ...] end", "Run the lines up to else (or end) if EXPR is true, else the others.",
     NULL},
    {"while", cmd_while, "while EXPR ... end", "Run the lines up to end while EXPR is true.", NULL},
    {"define", cmd_define, "define NAME ... end", "Define a command; its arguments are $arg0...$arg9, $argc.",
     NULL},
    {"document", cmd_document, "document NAME ... end", "The help text of a user command (help NAME).", NULL},
    {"help", cmd_help, "help [COMMAND]", "List commands, or explain one.", NULL},
    {"quit", cmd_quit, "quit", "Leave uvdb; a program it launched is killed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Exact name first, then a unique prefix.  Aliases as in gdb: c, r, q, i. */
const struct uvdb_command *uvdb_lookup(const struct uvdb_command *table, const char *word, int *ambiguous) {
  static const struct {
    const char *alias, *name;
  } aliases[] = {{"c", "continue"}, {"r", "run"}, {"q", "quit"}, {"i", "info"}, {"exit", "quit"},
                 {"n", "next"},     {"s", "step"},   {"p", "print"}, {"b", "break"}, {"d", "delete"},
                 {"bt", "backtrace"}, {"where", "backtrace"}};
  *ambiguous = 0;
  if (table == uv__commands)
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
      if (strcmp(word, aliases[i].alias) == 0)
        word = aliases[i].name;
  const struct uvdb_command *found = NULL;
  size_t len = strlen(word);
  for (const struct uvdb_command *c = table; c->name; c++) {
    if (strcmp(c->name, word) == 0)
      return c;
    if (strncmp(c->name, word, len) == 0) {
      if (found)
        *ambiguous = 1;
      found = c;
    }
  }
  return *ambiguous ? NULL : found;
}

int uvdb_dispatch(struct session *s, const struct uvdb_command *table, const char *what, int argc, char **argv) {
  if (argc == 0) {
    char names[256] = "";
    for (const struct uvdb_command *c = table; c->name; c++)
      snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", names[0] ? "|" : "", c->name);
    return uvdb_error("%s needs one of: %s", what, names);
  }
  int ambiguous;
  const struct uvdb_command *c = uvdb_lookup(table, argv[0], &ambiguous);
  if (!c)
    return uvdb_error(ambiguous ? "ambiguous %s%s\"%s\"; try `help`" : "undefined %s%scommand: \"%s\"; try `help`",
                      what, *what ? " " : "", argv[0]);
  return c->fn(s, argc, argv);
}

const struct uvdb_command *uvdb_command_named(const char *word) {
  int ambiguous;
  return uvdb_lookup(uv__commands, word, &ambiguous);
}

/* Split on blanks; double quotes group words. */
static int uv__split(char *line, char **argv, int max) {
  int argc = 0;
  char *p = line;
  while (*p && argc < max - 1) {
    while (isspace((unsigned char)*p))
      p++;
    if (!*p)
      break;
    if (*p == '"') {
      argv[argc++] = ++p;
      while (*p && *p != '"')
        p++;
    } else {
      argv[argc++] = p;
      while (*p && !isspace((unsigned char)*p))
        p++;
    }
    if (*p)
      *p++ = '\0';
  }
  argv[argc] = NULL;
  return argc;
}

int uvdb_quit_requested;
const char *uvdb_command_args = "";
unsigned uvdb_commands_failed;

/* Does an empty line repeat this command line?  (next, as in gdb) */
int uvdb_repeatable(const char *line) {
  char first[64];
  int ambiguous;
  if (sscanf(line, "%63s", first) != 1)
    return 0;
  const struct uvdb_command *c = uvdb_lookup(uv__commands, first, &ambiguous);
  return c && (c->fn == cmd_next || c->fn == cmd_step);
}

int uvdb_execute(struct session *s, const char *line) {
  char buf[4096], *argv[64];
  snprintf(buf, sizeof(buf), "%s", line);
  char *hash = buf;
  while (isspace((unsigned char)*hash))
    hash++;
  if (*hash == '#')
    return 0; /* a comment in a script */
  int argc = uv__split(buf, argv, 64);
  if (argc == 0)
    return 0;
  session_check(s);
  session_poll(s);
  /* printf, if, define's arguments... need the text as typed, quotes kept. */
  const char *saved_args = uvdb_command_args;
  const char *args = line + strspn(line, " \t");
  args += strcspn(args, " \t");
  uvdb_command_args = args + strspn(args, " \t");
  int r = script_is_user_command(argv[0]) ? script_call_user(s, argv[0], uvdb_command_args)
                                          : uvdb_dispatch(s, uv__commands, "", argc, argv);
  uvdb_command_args = saved_args;
  session_after_command(s);
  uvdb_commands_failed += r < 0;
  fflush(stdout); /* each answer is out before the program writes again */
  if (uvdb_quit_requested)
    return 1;
  return r < 0 ? -1 : 0;
}

static void uv__help_line(const struct uvdb_command *c) {
  if (strlen(c->usage) > 22)
    printf("  %s\n  %-22s %s\n", c->usage, "", c->help);
  else
    printf("  %-22s %s\n", c->usage, c->help);
}

int cmd_help(struct session *s, int argc, char **argv) {
  (void)s;
  if (argc < 2) {
    if (uvdb_json_mode) {
      struct json *j = json_begin();
      json_arr(j, "help");
      for (const struct uvdb_command *c = uv__commands; c->name; c++) {
        json_obj(j, NULL);
        json_str(j, "command", c->name);
        json_str(j, "usage", c->usage);
        json_str(j, "help", c->help);
        json_close(j);
      }
      script_help_user_list(j);
      json_end(j);
      return 0;
    }
    printf("Commands (unambiguous prefixes work):\n");
    for (const struct uvdb_command *c = uv__commands; c->name; c++)
      uv__help_line(c);
    script_help_user_list(NULL);
    return 0;
  }
  if (script_help_user(argv[1]) == 0)
    return 0;
  int ambiguous;
  const struct uvdb_command *c = uvdb_lookup(uv__commands, argv[1], &ambiguous);
  if (!c)
    return uvdb_error("no command \"%s\"; try `help`", argv[1]);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "help");
    json_str(j, "command", c->name);
    json_str(j, "usage", c->usage);
    json_str(j, "help", c->help);
    json_end(j);
    return 0;
  }
  uv__help_line(c);
  if (c->sub)
    for (const struct uvdb_command *sc = c->sub; sc->name; sc++)
      printf("    %-20s %s\n", sc->usage, sc->help);
  return 0;
}

/* Readline completion: the first word from the table, the second from the
 * command's subcommand table. */
char *uvdb_complete(const char *text, int state, const char *line_before) {
  static const struct uvdb_command *table;
  static const struct uvdb_command *cur;
  static size_t len;
  if (state == 0) {
    table = uv__commands;
    char first[64];
    if (sscanf(line_before, "%63s", first) == 1 && strchr(line_before, ' ')) {
      int amb;
      const struct uvdb_command *c = uvdb_lookup(uv__commands, first, &amb);
      table = c ? c->sub : NULL;
    }
    cur = table;
    len = strlen(text);
  }
  while (cur && cur->name) {
    const struct uvdb_command *c = cur++;
    if (strncmp(c->name, text, len) == 0)
      return strdup(c->name);
  }
  return NULL;
}
