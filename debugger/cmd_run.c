/* Running and stopping: run, start, continue, kill, quit. */
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

static void uv__wait_and_report(struct session *s, const char *command) {
  session_wait(s);
  s->stop_generation++;
  if (!breakpoints_silent(s))
    session_report_state(s, command);
  if (s->state == TARGET_STOPPED)
    breakpoints_after_stop(s);
}

static int uv__launch_and_wait(struct session *s, const char *command, int start_paused) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    return uvdb_error("the program is already running (pid %d); `kill` it first", (int)s->pid);
  if (session_launch(s, start_paused) != 0)
    return -1;
  uv__wait_and_report(s, command);
  return 0;
}

int cmd_run(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  return uv__launch_and_wait(s, "run", 0);
}

int cmd_start(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  return uv__launch_and_wait(s, "start", 1);
}

/* continue [N]: as in gdb, N - 1 more hits of the breakpoint stopped at are ignored. */
int cmd_continue(struct session *s, int argc, char **argv) {
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
  uv__wait_and_report(s, "continue");
  return 0;
}

/* finish: run the phase the loop is stopped before and stop where it ends.
 * Phases follow one another, so its end is the next boundary, as for next;
 * the answer names the phase that ran. */
int cmd_finish(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  int phase = s->model.stop.phase;
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

int cmd_kill(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    return uvdb_error("the program is not being run");
  session_kill(s);
  session_report_state(s, "kill");
  return 0;
}

int cmd_quit(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  session_kill(s); /* a launched target dies with its debugger, as in gdb */
  uvdb_quit_requested = 1;
  return 0;
}
