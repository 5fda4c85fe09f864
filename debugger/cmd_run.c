/* Running and stopping: run, start, continue, kill, quit. */
#include "uvdb.h"

#include <string.h>

static int uv__launch_and_wait(struct session *s, const char *command, int start_paused) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    return uvdb_error("the program is already running (pid %d); `kill` it first", (int)s->pid);
  if (session_launch(s, start_paused) != 0)
    return -1;
  session_wait(s);
  session_report_state(s, command);
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

int cmd_continue(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_STOPPED)
    return uvdb_error(s->state == TARGET_RUNNING ? "the program is running, not stopped"
                                                 : "the program is not being run");
  if (session_resume(s) != 0)
    return -1;
  session_wait(s);
  session_report_state(s, "continue");
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
