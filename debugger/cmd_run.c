/* Running and stopping: run, start, attach, detach, continue, kill, quit. */
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void uv__wait_and_report(struct session *s, const char *command) {
  session_wait(s);
  s->stop_generation++;
  if (!breakpoints_silent(s))
    session_report_state(s, command);
  if (s->state == TARGET_STOPPED)
    breakpoints_after_stop(s);
}

/* A trailing `&` (gdb's background execution): run while commands are read. */
static int uv__background(int *argc, char **argv) {
  if (*argc > 1 && strcmp(argv[*argc - 1], "&") == 0) {
    argv[--*argc] = NULL;
    return 1;
  }
  return 0;
}

static void uv__report_background(struct session *s, const char *command) {
  session_background(s);
  if (s->state != TARGET_RUNNING) { /* it ended, or stopped, before the answer */
    uv__wait_and_report(s, command);
    return;
  }
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, command);
    json_int(j, "pid", s->pid);
    json_str(j, "state", "running");
    json_bool(j, "background", 1);
    json_end(j);
  } else {
    printf("Running pid %d in the background; `interrupt` stops it.\n", (int)s->pid);
  }
}

static int uv__launch_and_wait(struct session *s, const char *command, int start_paused, int background) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    return uvdb_error("the program is already running (pid %d); `kill` it first", (int)s->pid);
  if (session_launch(s, start_paused) != 0)
    return -1;
  if (background)
    uv__report_background(s, command);
  else
    uv__wait_and_report(s, command);
  return 0;
}

int cmd_run(struct session *s, int argc, char **argv) {
  int background = uv__background(&argc, argv);
  if (argc > 1)
    return uvdb_error("run takes no arguments (give the program's after --), only `&`");
  return uv__launch_and_wait(s, "run", 0, background);
}

/* interrupt: stop a program running in the background, as Ctrl-C would. */
int cmd_interrupt(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_RUNNING)
    return uvdb_error(s->state == TARGET_STOPPED ? "the program is already stopped" : "the program is not being run");
  s->interrupted = 0;
  struct uvdb_msg_pause pause = {0, UVDB_STOP_INTERRUPT};
  if (session_send(s, UVDB_MSG_PAUSE, &pause, sizeof(pause)) != 0)
    return -1;
  uv__wait_and_report(s, "interrupt");
  return 0;
}

int cmd_start(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  return uv__launch_and_wait(s, "start", 1, 0);
}

/* continue [N]: as in gdb, N - 1 more hits of the breakpoint stopped at are ignored. */
int cmd_continue(struct session *s, int argc, char **argv) {
  int background = uv__background(&argc, argv);
  if (s->state == TARGET_RUNNING && s->background && !background && argc == 1) {
    /* running on its own (attached, `run &`): follow it until it stops, as
     * gdb's continue after an attach does */
    uv__wait_and_report(s, "continue");
    return 0;
  }
  if (s->state != TARGET_STOPPED)
    return uvdb_error(s->state == TARGET_RUNNING ? "the program is running, not stopped"
                                                 : "the program is not being run");
  if (argc > 1) {
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n < 1)
      return uvdb_error("continue takes a count of 1 or more, not \"%s\"", argv[1]);
    for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
      if (s->bp[i].id && s->bp[i].id == s->model.stop.bp_id)
        s->bp[i].ignore = (uint64_t)(n - 1);
  }
  if (session_resume(s) != 0)
    return -1;
  if (background)
    uv__report_background(s, "continue");
  else
    uv__wait_and_report(s, "continue");
  return 0;
}

/* finish: in a callback, run it to its return; at a phase boundary, run the
 * phase the loop is stopped before, whose end is the next boundary, as for
 * next (the answer names the phase that ran). */
int cmd_finish(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  const struct stop_info *st = &s->model.stop;
  if (s->state == TARGET_STOPPED && st->callback && st->reason != UVDB_STOP_FINISH) {
    char name[512];
    session_callback_name(s, st->callback, name, sizeof(name));
    struct uvdb_msg_pause p = {s->model.loops[st->loop_id - 1].tid, UVDB_STOP_FINISH | UVDB_PAUSE_AT_CALLBACK};
    if (session_send(s, UVDB_MSG_PAUSE, &p, sizeof(p)) != 0 || session_resume(s) != 0)
      return -1;
    if (!uvdb_json_mode)
      printf("Run till exit from %s\n", name);
    uv__wait_and_report(s, "finish");
    return 0;
  }
  int phase = st->phase;
  if (session_step(s) != 0)
    return -1;
  if (!uvdb_json_mode)
    printf("Run till the end of %s\n", phase_name(phase));
  uv__wait_and_report(s, "finish");
  return 0;
}

/* next: run to the stopped loop's next phase boundary. */
int cmd_next(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (session_step(s) != 0)
    return -1;
  uv__wait_and_report(s, "next");
  return 0;
}

/* step: run the stopped loop to the next callback it calls, as gdb's step
 * goes into the next function: every callback the loop holds now (its
 * handles', its requests', its close callbacks) gets a probe, armed for
 * this thread and this run only. */
int cmd_step(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_STOPPED)
    return uvdb_error(s->state == TARGET_RUNNING ? "the program is running, not stopped"
                                                 : "the program is not being run");
  static uint64_t cbs[UVDB_FPROBE_SLOTS];
  int n = loop_callbacks(s, cbs, UVDB_FPROBE_SLOTS);
  if (n < 0)
    return -1;
  struct symbolizer *sym = session_symbolizer(s);
  for (int i = 0; i < n; i++) {
    uint64_t size = symbolizer_function_size(sym, cbs[i]);
    if (size)
      fprobe_slot(s, cbs[i], size);
  }
  if (fprobes_install(s) != 0)
    return -1;
  /* Every function probed so far, too: a callback registered by one that
   * runs meanwhile (a close callback, say) is caught once it was seen. */
  uint8_t step[UVDB_FPROBE_SLOTS] = {0};
  int armed = 0;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    step[i] = atomic_load(&uvdb_shm_fprobe(s->shm, i)->state) == UVDB_FPROBE_INSTALLED;
    armed += step[i];
  }
  if (!armed)
    return uvdb_error("loop %d holds no callback uvdb can probe; use `next`", s->model.stop.loop_id);
  fprobes_arm(s, step);
  struct uvdb_msg_pause p = {s->model.loops[s->model.stop.loop_id - 1].tid, UVDB_STOP_STEP | UVDB_PAUSE_AT_CALLBACK};
  if (session_send(s, UVDB_MSG_PAUSE, &p, sizeof(p)) != 0)
    return -1;
  s->step_request = 1;
  if (session_resume(s) != 0)
    return -1;
  uv__wait_and_report(s, "step");
  return 0;
}

int cmd_kill(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    return uvdb_error("the program is not being run");
  session_kill(s);
  session_report_state(s, "kill");
  return 0;
}

/* `sleep SECONDS`: a running program runs on while uvdb takes its events
 * (a script's way to profile an attached process for a while). */
int cmd_sleep(struct session *s, int argc, char **argv) {
  char *end;
  double sec = argc == 2 ? strtod(argv[1], &end) : -1;
  if (argc != 2 || *end || !(sec >= 0 && sec <= 86400))
    return uvdb_error("usage: sleep SECONDS (0 to 86400)");
  if (s->state != TARGET_RUNNING) {
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    nanosleep(&ts, NULL);
    return 0;
  }
  if (session_run_for(s, (unsigned)(sec * 1000)) != 0) { /* it stopped, or ended */
    s->background = 0;
    s->stop_generation++;
    session_report_state(s, s->state == TARGET_EXITED ? "exited" : "stopped");
    if (s->state == TARGET_STOPPED)
      breakpoints_after_stop(s);
  }
  return 0;
}

/* `attach PID`: into a running process; it runs on while commands are read. */
int cmd_attach(struct session *s, int argc, char **argv) {
  char *end;
  long pid = argc == 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc != 2 || *end || pid <= 0 || pid > 0x3fffffff)
    return uvdb_error("usage: attach PID (a process id: a number greater than 0)");
  if (session_attach(s, (pid_t)pid) != 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "attach");
    json_int(j, "pid", s->pid);
    json_str(j, "state", "running");
    json_int(j, "loops", session_loops_known(s));
    json_end(j);
  } else {
    printf("Attached to process %d (%d loops known); it runs on: `interrupt` stops it, `detach` leaves it.\n",
           (int)s->pid, session_loops_known(s));
  }
  return 0;
}

int cmd_detach(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  pid_t pid = s->pid;
  int r = session_detach(s);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "detach");
    json_int(j, "pid", pid);
    json_bool(j, "code_restored", r == 0);
    json_end(j);
  } else if (r == 0) {
    printf("Detached from process %d; its code is as it was, and it runs on.\n", (int)pid);
  }
  return r;
}

int cmd_quit(struct session *s, int argc, char **argv) {
  (void)argc;
  if (s->attached && s->inferior_id == 1 && (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED))
    cmd_detach(s, 1, argv); /* said, as gdb says it detaches */
  session_leave(s);
  uvdb_quit_requested = 1;
  return 0;
}
