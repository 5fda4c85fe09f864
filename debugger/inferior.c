/* Inferiors: the program and the children it starts that have libuv
 * (follow-children), each a session of its own.  Commands act on the
 * session itself; `inferior N` swaps another in from the list here. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct session *uv__others[INFERIOR_MAX];
static int uv__nothers, uv__next_id = 2;

int inferior_count(void) {
  return uv__nothers;
}

struct session *inferior_at(int i) {
  return i >= 0 && i < uv__nothers ? uv__others[i] : NULL;
}

struct session *inferior_by_pid(pid_t pid) {
  for (int i = 0; i < uv__nothers; i++)
    if (uv__others[i]->pid == pid)
      return uv__others[i];
  return NULL;
}

/* A child's session: a fresh model, no breakpoints of its own yet, the
 * profiler on if the current one profiles (from the start, or now).  It
 * becomes an inferior once its probe has met uvdb (inferior_register). */
/* Room for one more: the oldest inferior that ended goes, if need be. */
static int uv__room(void) {
  if (uv__nothers < INFERIOR_MAX)
    return 1;
  for (int i = 0; i < uv__nothers; i++)
    if (uv__others[i]->state != TARGET_RUNNING && uv__others[i]->state != TARGET_STOPPED) {
      session_release(uv__others[i]);
      free(uv__others[i]);
      memmove(&uv__others[i], &uv__others[i + 1], (size_t)(uv__nothers - i - 1) * sizeof(uv__others[0]));
      uv__nothers--;
      return 1;
    }
  return 0;
}

struct session *inferior_new(struct session *current, pid_t pid, pid_t ppid) {
  if (!uv__room())
    return NULL;
  struct session *o = calloc(1, sizeof(*o));
  if (!o)
    return NULL;
  o->listen_fd = o->ctl_fd = -1;
  o->exit_code = o->term_signal = -1;
  o->model.stop.phase = -1; /* zeroed as model_reset leaves it; not model_reset: it empties the timeline all share */
  snprintf(o->sock_path, sizeof(o->sock_path), "%s", current->sock_path);
  o->batch = current->batch;
  o->pid = pid;
  o->parent_pid = ppid > 0 ? ppid : current->pid;
  o->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  o->state = TARGET_RUNNING;
  o->background = 1;
  const struct profile *p = &current->profile;
  if (p->active || p->armed) {
    o->profile.armed = 1;
    o->profile.period_ns = p->period_ns;
    o->profile.wall = p->wall;
    o->profile.threads = p->threads;
  }
  return o;
}

void inferior_register(struct session *o, int met) {
  if (!met) {
    session_release(o);
    free(o);
    return;
  }
  o->inferior_id = uv__next_id++;
  uv__others[uv__nothers++] = o;
  inferior_announce(o, "new");
}

void inferior_announce(const struct session *o, const char *what) {
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "inferior");
    json_str(j, "event", what);
    json_int(j, "id", o->inferior_id);
    json_int(j, "pid", o->pid);
    json_int(j, "parent", o->parent_pid);
    json_end(j);
  } else if (!strcmp(what, "new")) {
    printf("[New inferior %d (process %d, started by %d)]\n", o->inferior_id, (int)o->pid, (int)o->parent_pid);
  } else if (!strcmp(what, "stopped")) {
    printf("[Inferior %d (process %d) stopped at a breakpoint: `inferior %d` to see it]\n", o->inferior_id,
           (int)o->pid, o->inferior_id);
  } else {
    printf("[Inferior %d (process %d) %s]\n", o->inferior_id, (int)o->pid, what);
  }
  fflush(stdout);
}

/* Swap the session's contents with another inferior's; what is uvdb's own
 * (the socket it listens on, the batch flag, a pending Ctrl-C) stays. */
static int uv__swap(struct session *s, struct session *o) {
  struct session *tmp = malloc(sizeof(*tmp));
  if (!tmp)
    return -1;
  *tmp = *s;
  *s = *o;
  *o = *tmp;
  s->listen_fd = tmp->listen_fd, o->listen_fd = -1;
  s->batch = tmp->batch;
  s->interrupted = tmp->interrupted;
  free(tmp);
  return 0;
}

static int uv__select(struct session *s, int id) {
  for (int i = 0; i < uv__nothers; i++)
    if (uv__others[i]->inferior_id == id)
      return uv__swap(s, uv__others[i]);
  return -1;
}

/* Quitting: back to inferior 1 (what session_leave then detaches or
 * kills), and every child followed still running killed, its perf map gone. */
void inferior_end_others(struct session *s) {
  if (s->inferior_id != 1)
    uv__select(s, 1);
  for (int i = 0; i < uv__nothers; i++) {
    struct session *o = uv__others[i];
    if (o->state == TARGET_RUNNING || o->state == TARGET_STOPPED)
      session_kill(o);
    session_release(o);
    free(o);
  }
  uv__nothers = 0;
}

static void uv__row(struct json *j, const struct session *o, int current) {
  char exe[600] = "";
  probe_info_get(o, "exe", exe, sizeof(exe));
  int loops = 0;
  uint64_t iterations = 0;
  for (size_t i = 0; i < sizeof(o->model.loops) / sizeof(o->model.loops[0]); i++)
    if (o->model.loops[i].seen)
      loops++, iterations += o->model.loops[i].iterations;
  if (j) {
    json_obj(j, NULL);
    json_int(j, "id", o->inferior_id);
    json_bool(j, "current", current);
    json_int(j, "pid", o->pid);
    o->parent_pid ? json_int(j, "parent", o->parent_pid) : json_null(j, "parent");
    json_str(j, "state", session_state_name(o->state));
    json_int(j, "loops", loops);
    json_uint(j, "iterations", iterations);
    json_str(j, "exe", exe);
    json_close(j);
  } else {
    printf("%c %-4d %-8d %-8d %-12s %-6d %-10llu %s\n", current ? '*' : ' ', o->inferior_id, (int)o->pid,
           (int)o->parent_pid, session_state_name(o->state), loops, (unsigned long long)iterations, exe);
  }
}

int cmd_info_inferiors(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state == TARGET_NONE && !uv__nothers)
    return uvdb_error("no program: `run` (or `attach PID`) first");
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    session_drain(s);
  session_poll_others();
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, "info_inferiors");
  } else {
    printf("  %-4s %-8s %-8s %-12s %-6s %-10s %s\n", "id", "pid", "parent", "state", "loops", "iterations", "program");
  }
  /* in id order: the current one among the others */
  for (int id = 1; id < uv__next_id; id++) {
    if (s->inferior_id == id)
      uv__row(j, s, 1);
    for (int i = 0; i < uv__nothers; i++)
      if (uv__others[i]->inferior_id == id)
        uv__row(j, uv__others[i], 0);
  }
  if (j)
    json_end(j);
  return 0;
}

int cmd_inferior(struct session *s, int argc, char **argv) {
  char *end = NULL;
  long id = argc == 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc != 2 || *end || id < 1)
    return uvdb_error("usage: inferior N (a number from `info inferiors`)");
  if (id != s->inferior_id && uv__select(s, (int)id) != 0)
    return uvdb_error("no inferior %ld; `info inferiors` lists them", id);
  session_js_names(s);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "inferior");
    json_int(j, "id", s->inferior_id);
    json_int(j, "pid", s->pid);
    json_str(j, "state", session_state_name(s->state));
    json_end(j);
  } else {
    printf("[Switching to inferior %d (process %d), %s]\n", s->inferior_id, (int)s->pid, session_state_name(s->state));
  }
  return 0;
}

/* A new run or attach: the last one's children go, once none runs. */
int inferior_forget_all(struct session *s) {
  for (int i = 0; i < uv__nothers; i++)
    if (uv__others[i]->state == TARGET_RUNNING || uv__others[i]->state == TARGET_STOPPED)
      return uvdb_error("inferior %d (process %d) still runs: `inferior %d` and `kill` it first",
                        uv__others[i]->inferior_id, (int)uv__others[i]->pid, uv__others[i]->inferior_id);
  inferior_end_others(s);
  uv__next_id = 2;
  return 0;
}
