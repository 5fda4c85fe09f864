/* info processes: the children the program's loops spawned, each with its
 * state and lifetime, and the signals its loops' handles were given. */
#include "uvdb.h"

#include <string.h>

static double uv__ms(const struct session *s, uint64_t ticks) {
  return s->shm ? ticks_to_ns(s->shm, ticks) / 1e6 : 0;
}

/* Since the probe met the program: its clock's first reference point. */
static double uv__since_start_ms(const struct session *s, uint64_t tsc) {
  return s->shm && tsc > s->shm->clock.tsc0 ? uv__ms(s, tsc - s->shm->clock.tsc0) : 0;
}

static const char *uv__state(const struct process_child *c) {
  return c->result ? "failed" : !c->exited ? "running" : c->term_signal ? "killed" : "exited";
}

/* How long it lived, or has lived so far (now 0: the program has ended, and
 * with it what uvdb can know of a child it did not reap); -1 when unknown. */
static double uv__lifetime_ms(const struct session *s, const struct process_child *c, uint64_t now) {
  if (c->result || !c->spawned || (!c->exited && !now))
    return -1;
  uint64_t end = c->exited ? c->ended : now;
  return end > c->spawned ? uv__ms(s, end - c->spawned) : 0;
}

static void uv__child_json(struct session *s, struct json *j, const struct process_child *c, uint64_t now) {
  char buf[PROCESS_TEXT + 1];
  json_obj(j, NULL);
  if (c->pid)
    json_int(j, "pid", c->pid);
  else
    json_null(j, "pid");
  json_int(j, "loop", c->loop_id);
  json_str(j, "file", process_file(c));
  process_args_json(j, c);
  if (c->spawned)
    json_num(j, "started_ms", uv__since_start_ms(s, c->spawned));
  else
    json_null(j, "started_ms");
  json_str(j, "state", uv__state(c));
  if (c->result)
    json_str(j, "error", process_error_name(c->result, buf, sizeof(buf)));
  else
    json_null(j, "error");
  if (c->exited) {
    json_int(j, "exit_status", c->exit_status);
    json_int(j, "term_signal", c->term_signal);
  } else {
    json_null(j, "exit_status");
    json_null(j, "term_signal");
  }
  if (c->exited && c->term_signal)
    json_str(j, "signal", process_signal_name(c->term_signal, buf, sizeof(buf)));
  else
    json_null(j, "signal");
  double life = uv__lifetime_ms(s, c, now);
  if (life >= 0)
    json_num(j, "lifetime_ms", life);
  else
    json_null(j, "lifetime_ms");
  json_close(j);
}

static void uv__child_text(struct session *s, const struct process_child *c, uint64_t now) {
  char state[48], cmd[PROCESS_TEXT + 1], name[32], pid[16] = "-", started[16] = "-", life[16] = "-";
  if (c->result)
    snprintf(state, sizeof(state), "failed: %s", process_error_name(c->result, name, sizeof(name)));
  else if (!c->exited)
    snprintf(state, sizeof(state), "running");
  else if (c->term_signal)
    snprintf(state, sizeof(state), "killed by %s", process_signal_name(c->term_signal, name, sizeof(name)));
  else
    snprintf(state, sizeof(state), "exited %d", c->exit_status);
  if (c->pid)
    snprintf(pid, sizeof(pid), "%d", c->pid);
  if (c->spawned)
    snprintf(started, sizeof(started), "%.3f", uv__since_start_ms(s, c->spawned));
  double ms = uv__lifetime_ms(s, c, now);
  if (ms >= 0)
    snprintf(life, sizeof(life), "%.3f", ms);
  printf("  %-8s %-5u %11s  %-22s %11s  %s\n", pid, c->loop_id, started, state, life,
         process_command(c, cmd, sizeof(cmd)));
}

static void uv__signal_json(struct session *s, struct json *j, const struct process_signal *g) {
  char name[32];
  json_obj(j, NULL);
  json_str(j, "signal", process_signal_name(g->signum, name, sizeof(name)));
  json_int(j, "signum", g->signum);
  json_int(j, "loop", g->loop_id);
  json_bool(j, "internal", g->internal);
  json_uint(j, "count", g->count);
  json_num(j, "last_ms", uv__since_start_ms(s, g->last));
  json_close(j);
}

static void uv__signal_text(struct session *s, const struct process_signal *g) {
  char name[32];
  printf("  %-10s %-5u %8llu %11.3f%s\n", process_signal_name(g->signum, name, sizeof(name)), g->loop_id,
         (unsigned long long)g->count, uv__since_start_ms(s, g->last),
         g->internal ? "  (libuv's child watcher)" : "");
}

int cmd_info_processes(struct session *s, int argc, char **argv) {
  (void)argv;
  if (argc > 1)
    return uvdb_error("usage: info processes");
  if (s->state == TARGET_NONE && !s->probe_info[0])
    return uvdb_error("the program has not run yet: use `run` or `start`");
  session_drain(s);
  const struct process_model *p = &s->model.processes;
  uint64_t now = s->state == TARGET_EXITED ? 0 : __builtin_ia32_rdtsc();
  unsigned running = 0;
  for (unsigned i = 0; i < p->n; i++)
    running += !process_child_at(p, i)->result && !process_child_at(p, i)->exited;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "info_processes");
    json_uint(j, "spawned", p->spawned);
    json_uint(j, "failed", p->failed);
    json_uint(j, "exited", p->exited);
    json_uint(j, "killed", p->killed);
    json_uint(j, "running", running);
    json_arr(j, "children");
    for (unsigned i = 0; i < p->n; i++)
      uv__child_json(s, j, process_child_at(p, i), now);
    json_close(j);
    json_arr(j, "signals");
    for (unsigned i = 0; i < p->nsignals; i++)
      uv__signal_json(s, j, &p->signal[i]);
    json_close(j);
    json_end(j);
    return 0;
  }
  if (!p->n) {
    printf("No child process spawned by the program's loops.\n");
  } else {
    printf("Children: %llu spawned (%u running, %llu exited, %llu killed), %llu failed to spawn%s\n",
           (unsigned long long)p->spawned, running, (unsigned long long)p->exited, (unsigned long long)p->killed,
           (unsigned long long)p->failed, p->spawned + p->failed > p->n ? "; the last ones:" : "");
    printf("  %s%-8s %-5s %11s  %-22s %11s  %s%s\n", out_style(OUT_HEADER), "pid", "loop", "started_ms", "state",
           "lifetime_ms", "command", out_reset());
    for (unsigned i = 0; i < p->n; i++)
      uv__child_text(s, process_child_at(p, i), now);
  }
  if (!p->nsignals) {
    printf("No signal delivered to a uv_signal_t handle.\n");
    return 0;
  }
  printf("Signals delivered:\n  %s%-10s %-5s %8s %11s%s\n", out_style(OUT_HEADER), "signal", "loop", "count",
         "last_ms", out_reset());
  for (unsigned i = 0; i < p->nsignals; i++)
    uv__signal_text(s, &p->signal[i]);
  return 0;
}
