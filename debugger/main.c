/* uvdb: options, scripted commands (-x, -ex, --batch) and the readline prompt. */
#define _GNU_SOURCE
#include "record.h"
#include "uvdb.h"

#include <errno.h>
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void uv__usage(FILE *f) {
  fprintf(f,
          "usage: uvdb [options] [--] PROGRAM [ARGS...]\n"
          "       uvdb [options] -p PID\n"
          "  -p PID       attach to a running libuv or Node process (--pid); `detach` leaves it as it was\n"
          "  -ex CMD      run CMD (repeatable; with -x, in the order given)\n"
          "  -x FILE      run the commands in FILE\n"
          "  --batch      exit after the commands (status 1 if one failed); kills a launched program\n"
          "  -nx          do not run the init file ($XDG_CONFIG_HOME/uvdb/init, ~/.config/uvdb/init)\n"
          "  --json       answer every command with one JSON object per line\n"
          "  -q           no banner\n"
          "  --version    print the version\n"
          "  -h, --help   this help\n"
          "       uvdb learn [N [--batch]]   the learning path: list the chapters, or run chapter N's sessions\n"
          "       uvdb record -o FILE [--hz N] [--duration S] [--events LIST] (-- PROGRAM [ARGS...] | -p PID)\n"
          "                                  record headless into FILE (docs/recording.md)\n"
          "       uvdb report FILE [--format text|chrome|folded|svg|speedscope|pprof] [-o OUT] [--phase-roots] [--json]\n"
          "                                  a recording, offline\n"
          "Inside, `help` lists the commands: run, start, next, continue, break, info, backtrace, ...\n");
}

/* As execvp will look for it: a path as given, a bare name along $PATH. */
static int uv__program_exists(const char *prog) {
  if (strchr(prog, '/'))
    return access(prog, F_OK) == 0;
  const char *path = getenv("PATH");
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    size_t len = strcspn(p, ":");
    char full[4096];
    snprintf(full, sizeof(full), "%.*s/%s", (int)len, len ? p : ".", prog);
    if (access(full, X_OK) == 0)
      return 1;
    p += len + (p[len] == ':');
  }
  return 0;
}

static void uv__on_sigint(int sig) {
  (void)sig;
  uvdb_session.interrupted = 1;
}

static const char *uv__line_before;
static char *uv__generator(const char *text, int state) {
  return uvdb_complete(text, state, uv__line_before);
}

static char **uv__complete(const char *text, int start, int end) {
  (void)end;
  static char before[512];
  snprintf(before, sizeof(before), "%.*s", start, rl_line_buffer);
  uv__line_before = before;
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, uv__generator);
}


static char *uv__read_prompt_line(void *ctx) {
  (void)ctx;
  if (isatty(STDIN_FILENO))
    return readline(">");
  return uvdb_read_file_line(stdin);
}

/* readline's idle hook, while uvdb waits for a command: a followed child's
 * hello answered (its probe waits for the answer before the child runs on),
 * background programs followed.  session_idle's output is caught, and
 * printed (on lines of its own, the prompt redrawn after) only if any. */
static int uv__idle_at_prompt(void) {
  int timeout = session_idle_timeout(&uvdb_session);
  rl_set_keyboard_input_timeout(timeout < 0 ? 100 * 1000 : timeout * 1000);
  if (timeout < 0 && !session_hello_waiting(&uvdb_session))
    return 0;
  char *said = NULL;
  size_t len = 0;
  FILE *tty = stdout, *caught = open_memstream(&said, &len);
  if (!caught)
    return 0;
  fflush(tty);
  stdout = caught;
  session_idle(&uvdb_session);
  fclose(caught);
  stdout = tty;
  if (len) {
    rl_clear_visible_line();
    fwrite(said, 1, len, stdout);
    fflush(stdout);
    char prompt[128];
    rl_set_prompt(session_prompt(&uvdb_session, prompt, sizeof(prompt)));
    rl_forced_update_display();
  }
  free(said);
  return 0;
}

/* A line from a pipe: until one comes (stdio's buffer empty, nothing on the
 * descriptor), hellos are answered and background programs followed. */
static char *uv__pipe_line(char *buf, int cap) {
  while (stdin->_IO_read_ptr >= stdin->_IO_read_end && uvdb_session.listen_fd >= 0) {
    struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {uvdb_session.listen_fd, POLLIN, 0}};
    int r = poll(p, 2, session_idle_timeout(&uvdb_session));
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0 && p[0].revents)
      break;
    session_idle(&uvdb_session);
    fflush(stdout);
  }
  return fgets(buf, cap, stdin);
}

static void uv__interactive(struct session *s) {
  int tty = isatty(STDIN_FILENO);
  uvdb_reader = uv__read_prompt_line, uvdb_reader_ctx = NULL, uvdb_reader_is_tty = tty;
  char hist[4096] = "";
  if (tty) {
    rl_readline_name = "uvdb";
    rl_attempted_completion_function = uv__complete;
    rl_event_hook = uv__idle_at_prompt; /* called when no key came within the keyboard timeout */
    const char *home = getenv("HOME");
    if (home) {
      snprintf(hist, sizeof(hist), "%s/.uvdb_history", home);
      read_history(hist);
    }
  }
  char last[4096] = "";
  for (;;) {
    char *line;
    if (tty) {
      char prompt[128];
      line = readline(session_prompt(s, prompt, sizeof(prompt)));
    } else {
      static char buf[4096];
      fflush(stdout); /* what a script driving uvdb through a pipe waits for */
      line = uv__pipe_line(buf, sizeof(buf)) ? strdup(buf) : NULL;
      if (line)
        line[strcspn(line, "\n")] = '\0';
    }
    if (!line) {
      if (tty)
        putchar('\n');
      break;
    }
    if (tty && *line)
      add_history(line);
    if (!*line && uvdb_repeatable(last)) { /* Enter repeats `next`, as in gdb */
      free(line);
      line = strdup(last);
    }
    if (*line)
      snprintf(last, sizeof(last), "%s", line);
    s->interrupted = 0; /* a Ctrl-C at the prompt is not for this command (a while loop ends at one) */
    int r = uvdb_execute(s, line);
    free(line);
    if (r == 1)
      break;
  }
  if (tty && hist[0])
    write_history(hist);
}

/* The init file, run before -x and -ex: $XDG_CONFIG_HOME/uvdb/init, or
 * ~/.config/uvdb/init, as the XDG base directories say.  Empty: none. */
static void uv__init_file(char *path, size_t cap) {
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  path[0] = '\0';
  if (xdg && xdg[0] == '/') /* a relative one is invalid: ignored, as the spec says */
    snprintf(path, cap, "%s/uvdb/init", xdg);
  else if (home && home[0])
    snprintf(path, cap, "%s/.config/uvdb/init", home);
}

struct todo {
  char kind; /* 'e' command, 'x' file */
  const char *arg;
};

/* The body of `commands` given with -ex: the -ex arguments that follow. */
struct ex_reader {
  const struct todo *todo;
  int ntodo, next;
};

static char *uv__read_ex_line(void *ctx) {
  struct ex_reader *r = ctx;
  if (r->next >= r->ntodo || r->todo[r->next].kind != 'e')
    return NULL;
  return strdup(r->todo[r->next++].arg);
}

int cmd_learn_main(int argc, char **argv); /* cmd_learn.c */

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "learn") == 0) /* a subcommand: `uvdb -- learn` runs a program named learn */
    return cmd_learn_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "record") == 0) /* headless recording (cmd_record.c) */
    return cmd_record_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "report") == 0) /* a recording, offline (cmd_report.c) */
    return cmd_report_main(argc - 1, argv + 1);
  struct session *s = &uvdb_session;
  struct todo todo[256];
  int ntodo = 0, batch = 0, quiet = 0, failed = 0, init = 1;
  const char *attach_pid = NULL;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-')
      break;
    if (strcmp(a, "-ex") == 0 || strcmp(a, "-x") == 0 || strcmp(a, "--eval-command") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "uvdb: %s needs an argument\n", a);
        return 2;
      }
      if (ntodo < 256)
        todo[ntodo].kind = strcmp(a, "-x") == 0 ? 'x' : 'e', todo[ntodo++].arg = argv[++i];
    } else if (strcmp(a, "--batch") == 0 || strcmp(a, "-batch") == 0) {
      batch = quiet = 1;
    } else if (strcmp(a, "-nx") == 0 || strcmp(a, "--nx") == 0 || strcmp(a, "-n") == 0) {
      init = 0;
    } else if (strcmp(a, "--json") == 0) {
      uvdb_json_mode = 1;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      quiet = 1;
    } else if (strcmp(a, "--version") == 0) {
      printf("uvdb %s (protocol %d)\n", UVDB_VERSION_STRING, UVDB_PROTOCOL_VERSION);
      return 0;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      uv__usage(stdout);
      return 0;
    } else if (strcmp(a, "-p") == 0 || strcmp(a, "--pid") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "uvdb: %s needs a process id\n", a);
        return 2;
      }
      attach_pid = argv[++i]; /* attached before the -ex commands run, as gdb -p does */
    } else {
      fprintf(stderr, "uvdb: unknown option %s\n", a);
      uv__usage(stderr);
      return 2;
    }
  }
  if (attach_pid && i < argc) {
    fprintf(stderr, "uvdb: -p attaches to a running process; give no program to run with it\n");
    return 2;
  }
  s->argv = i < argc ? argv + i : NULL;
  s->argc = argc - i;
  s->batch = batch; /* before any message: no colour in batch mode */
  if (s->argv && !uv__program_exists(s->argv[0]))
    uvdb_message("warning", "%s: no such program (`run` will fail)", s->argv[0]);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = uv__on_sigint;
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (!quiet && !uvdb_json_mode)
    printf("uvdb %s, the event-loop debugger. Type `help` for commands.\n", UVDB_VERSION_STRING);
  if (batch && ntodo == 0)
    fprintf(stderr, "uvdb: --batch with no -ex or -x: nothing to do\n");

  cond_set_lookup(convenience_lookup, s); /* breakpoint conditions see $variables too */
  int quit = 0;
  char init_path[4096];
  uv__init_file(init_path, sizeof(init_path));
  if (init && init_path[0] && access(init_path, F_OK) == 0) {
    int r = uvdb_source(s, init_path);
    failed = r < 0, quit = r == 1;
  }
  if (attach_pid && !quit) {
    char line[64];
    snprintf(line, sizeof(line), "attach %.40s", attach_pid);
    if (uvdb_execute(s, line) < 0) {
      failed = 1;
      if (batch)
        quit = 1; /* nothing to run the commands on */
    }
  }
  struct ex_reader exr = {todo, ntodo, 0};
  for (int k = 0; k < ntodo && !quit; k = exr.next) {
    exr.next = k + 1;
    uvdb_reader = uv__read_ex_line, uvdb_reader_ctx = &exr, uvdb_reader_is_tty = 0;
    int r = todo[k].kind == 'x' ? uvdb_source(s, todo[k].arg) : uvdb_execute(s, todo[k].arg);
    if (r < 0)
      failed = 1;
    if (r == 1)
      quit = 1;
    s->interrupted = 0; /* Ctrl-C in batch mode ends the wait; the next command runs */
  }
  /* Any command that failed, at any depth (a breakpoint's commands, a
   * user command, the init file), makes the status 1. */
  failed |= uvdb_commands_failed > 0;
  if (!batch && !quit)
    uv__interactive(s);
  session_leave(s);
  session_unlisten(s);
  return failed ? 1 : 0;
}
