/* info probe|loops|loop: what the probe found and what the loops did. */
#define _GNU_SOURCE
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

static int info_probe(struct session *s, int argc, char **argv);
static int info_loops(struct session *s, int argc, char **argv);
static int info_loop(struct session *s, int argc, char **argv);

const struct uvdb_command uvdb_info_commands[] = {
    {"probe", info_probe, "info probe", "The probe: version, target, libuv and how it was found, every hook.", NULL},
    {"loops", info_loops, "info loops", "Every loop seen: id, address, thread, iterations, state.", NULL},
    {"inferiors", cmd_info_inferiors, "info inferiors",
     "The processes of the session: the program and the children it started with libuv (follow-children), "
     "each with its state and loops; * marks the one commands act on.", NULL},
    {"breakpoints", cmd_info_breakpoints, "info breakpoints", "Every breakpoint: what, enabled, hits, condition.",
     NULL},
    {"handles", cmd_info_handles, "info handles [N]",
     "Every handle of the stopped loop: type, flags (Active Ref Closing Internal), fd, callback.", NULL},
    {"requests", cmd_info_requests, "info requests [N]",
     "The stopped loop's requests: stream ones (connect, write, shutdown) and thread-pool ones (fs with its "
     "operation and path, DNS, work), each with how long it has been pending.", NULL},
    {"pending", cmd_info_pending, "info pending [N]", "I/O watchers queued for the pending phase.", NULL},
    {"closing", cmd_info_closing, "info closing [N]", "Handles closing, with the close callbacks to run.", NULL},
    {"watchers", cmd_info_watchers, "info watchers [N]", "Every fd the loop polls: events wanted and polled.",
     NULL},
    {"timers", cmd_info_timers, "info timers [N]",
     "The stopped loop's timers in due order: handle, due in ms, repeat, flags, callback.", NULL},
    {"blocking", cmd_info_blocking, "info blocking [N]",
     "What blocked the loop: lag percentiles, utilization, time per phase, the longest blocking stretches "
     "with their stacks, sync I/O on the loop thread.", NULL},
    {"gc", cmd_info_gc, "info gc [N]",
     "V8's garbage collections on the loop's thread (node): kinds, how long they held the loop, the longest; "
     "microtask checkpoints.", NULL},
    {"threadpool", cmd_info_threadpool, "info threadpool",
     "The thread pool: size, each worker and its job, the queue by kind, wait/run/callback-delay percentiles.",
     NULL},
    {"processes", cmd_info_processes, "info processes",
     "The children the loops spawned (pid, command, state, exit status or signal, lifetime) and the signals "
     "their uv_signal_t handles were given (count, last).", NULL},
    {"loop", info_loop, "info loop [N]", "One loop (default: the main loop): iterations and time per phase, in the order run.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_info(struct session *s, int argc, char **argv) {
  return uvdb_dispatch(s, uvdb_info_commands, "info", argc - 1, argv + 1);
}

static int uv__need_data(struct session *s) {
  if (s->state == TARGET_NONE && !s->probe_info[0])
    return uvdb_error("the program has not run yet: use `run` or `start`");
  session_drain(s);
  return 0;
}

/* hook=NAME\tSTATUS\tADDR\tHOW\tREASON */
static int uv__hook_fields(const char *line, char f[5][200]) {
  int n = 0;
  const char *p = line, *eol = line + strcspn(line, "\n");
  while (n < 5) {
    const char *t = memchr(p, '\t', (size_t)(eol - p));
    size_t len = t ? (size_t)(t - p) : (size_t)(eol - p);
    snprintf(f[n++], 200, "%.*s", (int)len, p);
    if (!t)
      break;
    p = t + 1;
  }
  return n;
}

/* callsite=FUNCTION[+OFFSET]\tSTATUS\tMODE\tREASON: the calls by which
 * libuv runs callbacks, each timed through a stub (how it was patched). */
int probe_callsites_installed(const struct session *s, int *total) {
  int installed = 0;
  *total = 0;
  for (const char *p = strstr(s->probe_info, "callsite="); p; p = strstr(p + 1, "\ncallsite=")) {
    const char *eol = strchr(p + 1, '\n'), *at = strstr(p, "\tinstalled\t");
    (*total)++, installed += at && (!eol || at < eol);
  }
  return installed;
}

static void uv__callsites(struct session *s, struct json *j) {
  int total, installed = probe_callsites_installed(s, &total);
  if (j)
    json_arr(j, "callsites");
  else if (total)
    printf("callback call sites (timed): %d installed\n", installed);
  for (const char *p = s->probe_info; p && *p;) {
    char f[5][200];
    if (strncmp(p, "callsite=", 9) == 0 && uv__hook_fields(p + 9, f) == 4) {
      if (j) {
        json_obj(j, NULL);
        json_str(j, "site", f[0]);
        json_str(j, "status", f[1]);
        json_str(j, "patch", strcmp(f[2], "-") ? f[2] : NULL);
        json_str(j, "reason", strcmp(f[3], "-") ? f[3] : NULL);
        json_close(j);
      } else {
        printf("  %-26s %-9s %-9s %s\n", f[0], f[1], f[2], strcmp(f[3], "-") ? f[3] : "");
      }
    }
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  if (j)
    json_close(j);
}

static int info_probe(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (uv__need_data(s))
    return -1;
  static const char *const keys[] = {"probe_version", "pid", "exe", "libuv", "libuv_version", "libuv_path",
                                     "libuv_how", "threadpool", "processes", "clock", "kick_signal"};
  char v[1024];
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_probe");
  }
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const char *val = probe_info_get(s, keys[i], v, sizeof(v));
    if (j && val && (strcmp(keys[i], "pid") == 0 || strcmp(keys[i], "kick_signal") == 0))
      json_int(j, keys[i], atoll(val));
    else if (j)
      json_str(j, keys[i], val);
    else if (val)
      printf("%-14s %s\n", keys[i], val);
  }
  if (j)
    json_arr(j, "hooks");
  else
    printf("hooks:\n");
  for (const char *p = s->probe_info; p && *p;) {
    if (strncmp(p, "hook=", 5) == 0) {
      char f[5][200], name[300];
      if (uv__hook_fields(p + 5, f) == 5) {
        symbol_demangle(f[0], name, sizeof(name));
        if (j) {
          json_obj(j, NULL);
          json_str(j, "function", name);
          json_str(j, "status", f[1]);
          json_str(j, "address", f[2]);
          json_str(j, "found_by", f[3]);
          json_str(j, "reason", strcmp(f[4], "-") ? f[4] : NULL);
          json_close(j);
        } else {
          printf("  %-16s %-9s %-12s %s%s%s\n", name, f[1], f[2], f[3], strcmp(f[4], "-") ? ": " : "",
                 strcmp(f[4], "-") ? f[4] : "");
        }
      }
    }
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  if (j)
    json_close(j);
  uv__callsites(s, j);
  if (j) {
    json_uint(j, "events", s->model.events);
    json_uint(j, "dropped", s->model.dropped);
    json_end(j);
  } else {
    printf("events %llu, dropped %llu\n", (unsigned long long)s->model.events, (unsigned long long)s->model.dropped);
  }
  return 0;
}

/* What a loop is, told by the function its first uv_run returns to (the
 * probe sends that address; named here, never in the target).  Node runs
 * every Environment's loop from node::SpinEventLoop: on the main thread,
 * the main loop; on any other, a Worker's.  Its own loops run from the
 * platform's delayed-task scheduler, the inspector's I/O thread and the
 * tracing agent (whose destructor turns its loop once more, on the main
 * thread, at exit).  Thread names do not help: Node 20 names no thread. */
static int uv__kind(struct session *s, const struct loop_model *l, int main_id) {
  char name[512] = "";
  struct symbolizer *sym = l->caller ? session_symbolizer(s) : NULL;
  if (sym)
    symbolize(sym, l->caller, name, sizeof(name));
  if (strstr(name, "node::SpinEventLoop"))
    return l->id == main_id || l->tid == (uint32_t)s->pid ? LOOP_KIND_MAIN : LOOP_KIND_WORKER;
  if (strstr(name, "DelayedTaskScheduler") || strstr(name, "node::NodePlatform") ||
      strstr(name, "node::WorkerThreadsTaskRunner"))
    return LOOP_KIND_PLATFORM;
  if (strstr(name, "node::inspector"))
    return LOOP_KIND_INSPECTOR;
  if (strstr(name, "node::tracing"))
    return LOOP_KIND_TRACING;
  if (!sym && l->caller)
    return LOOP_KIND_UNKNOWN; /* not named yet: try again later */
  return l->id == main_id ? LOOP_KIND_MAIN : LOOP_KIND_OTHER;
}

const char *loop_kind_name(int kind) {
  static const char *const names[] = {[LOOP_KIND_UNKNOWN] = "unknown", [LOOP_KIND_MAIN] = "main",
                                      [LOOP_KIND_WORKER] = "worker",   [LOOP_KIND_PLATFORM] = "platform",
                                      [LOOP_KIND_INSPECTOR] = "inspector", [LOOP_KIND_TRACING] = "tracing",
                                      [LOOP_KIND_OTHER] = "other"};
  return kind >= 0 && kind <= LOOP_KIND_OTHER ? names[kind] : "unknown";
}

const char *loop_label(struct session *s, int id, char *buf, size_t cap, int *kind_out, int *worker_out) {
  int main_id = model_main_loop(&s->model), worker = 0, kind = LOOP_KIND_UNKNOWN;
  for (int i = 0; i < 64 && i < id; i++) { /* Workers are numbered in the order their loops first ran */
    struct loop_model *l = &s->model.loops[i];
    if (!l->seen)
      continue;
    if (!l->kind && l->caller)
      l->kind = uv__kind(s, l, main_id);
    kind = l->kind ? l->kind : uv__kind(s, l, main_id);
    worker += kind == LOOP_KIND_WORKER;
  }
  static const char *const labels[] = {[LOOP_KIND_UNKNOWN] = "-",
                                       [LOOP_KIND_MAIN] = "main",
                                       [LOOP_KIND_PLATFORM] = "node platform",
                                       [LOOP_KIND_INSPECTOR] = "node inspector",
                                       [LOOP_KIND_TRACING] = "node tracing",
                                       [LOOP_KIND_OTHER] = "thread"};
  if (kind == LOOP_KIND_WORKER)
    snprintf(buf, cap, "worker %d", worker);
  else
    snprintf(buf, cap, "%s", labels[kind]);
  if (kind_out)
    *kind_out = kind;
  if (worker_out)
    *worker_out = kind == LOOP_KIND_WORKER ? worker : 0;
  return buf;
}

/* A Worker's loop ends with its thread: said as it happens, as gdb says a
 * thread exited.  Node's own loops end only at exit: `info loops` says so. */
void loop_report_end(int id) {
  struct session *s = &uvdb_session;
  int kind;
  char label[32];
  loop_label(s, id, label, sizeof(label), &kind, NULL);
  if (kind != LOOP_KIND_WORKER)
    return;
  const struct loop_model *l = &s->model.loops[id - 1];
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "loop_ended");
    json_int(j, "id", id);
    json_str(j, "label", label);
    json_uint(j, "tid", l->tid);
    json_uint(j, "iterations", l->iterations);
    json_end(j);
  } else {
    printf("[loop %d (%s, thread %u) ended after %llu iterations]\n", id, label, l->tid,
           (unsigned long long)l->iterations);
    fflush(stdout);
  }
}

static const char *uv__loop_state(const struct session *s, const struct loop_model *l) {
  if (l->ended) /* closed by the program, before it exited if it did */
    return "ended";
  if (s->state == TARGET_EXITED)
    return "exited";
  if (s->state == TARGET_STOPPED && s->model.stop.loop_id == l->id)
    return "stopped";
  return l->running ? "running" : "idle";
}

static int info_loops(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (uv__need_data(s))
    return -1;
  struct json *j = NULL;
  int main_id = model_main_loop(&s->model);
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, "info_loops");
  } else {
    printf("%s%-4s %-14s %-18s %-8s %-10s %s%s\n", out_style(OUT_HEADER), "id", "what", "address", "tid", "iterations",
           "state", out_reset());
  }
  for (int i = 0; i < 64; i++) {
    const struct loop_model *l = &s->model.loops[i];
    if (!l->seen)
      continue;
    char addr[32], label[32], caller[512] = "";
    snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)l->addr);
    int kind, worker;
    loop_label(s, l->id, label, sizeof(label), &kind, &worker);
    if (j) {
      struct symbolizer *sym = l->caller ? session_symbolizer(s) : NULL;
      char *plus = sym ? strrchr(symbolize(sym, l->caller, caller, sizeof(caller)), '+') : NULL;
      if (plus && strncmp(plus, "+0x", 3) == 0) /* the function, not the return address in it */
        *plus = '\0';
      symbol_strip_params(caller);
      json_obj(j, NULL);
      json_int(j, "id", l->id);
      json_str(j, "label", label);
      json_str(j, "kind", loop_kind_name(kind));
      if (worker)
        json_int(j, "worker", worker);
      else
        json_null(j, "worker");
      json_str(j, "caller", caller[0] ? caller : NULL);
      json_str(j, "address", addr);
      json_uint(j, "tid", l->tid);
      json_str(j, "thread", l->thread);
      json_bool(j, "main", l->id == main_id);
      json_bool(j, "ended", l->ended);
      json_uint(j, "iterations", l->iterations);
      json_str(j, "state", uv__loop_state(s, l));
      json_close(j);
    } else {
      printf("%-4d %-14s %-18s %-8u %-10llu %s\n", l->id, label, addr, l->tid, (unsigned long long)l->iterations,
             uv__loop_state(s, l));
    }
  }
  if (j)
    json_end(j);
  return 0;
}

static int info_loop(struct session *s, int argc, char **argv) {
  if (uv__need_data(s))
    return -1;
  int id = model_main_loop(&s->model);
  if (argc > 1) {
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (*end || v < 1 || v > 64)
      return uvdb_error("no loop %s: loops are numbered from 1 (see `info loops`)", argv[1]);
    id = (int)v;
  }
  if (id == 0)
    return uvdb_error("no loop has run yet");
  const struct loop_model *l = &s->model.loops[id - 1];
  if (!l->seen)
    return uvdb_error("no loop %d (see `info loops`)", id);
  char addr[32];
  snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)l->addr);
  const struct uvdb_shm_header *shm = s->shm;
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_loop");
    json_int(j, "id", l->id);
    json_str(j, "address", addr);
    json_uint(j, "tid", l->tid);
    json_str(j, "thread", l->thread);
    json_uint(j, "iterations", l->iterations);
    json_uint(j, "runs", l->runs);
    json_str(j, "state", uv__loop_state(s, l));
    json_arr(j, "order");
    for (int k = 0; k < l->nlast; k++)
      json_str(j, NULL, phase_name(l->last_order[k]));
    json_close(j);
    json_arr(j, "phases");
  } else {
    printf("Loop %d at %s, thread %u (%s): %llu iterations in %llu uv_run calls, %s\n", l->id, addr, l->tid, l->thread,
           (unsigned long long)l->iterations, (unsigned long long)l->runs, uv__loop_state(s, l));
    printf("  %s%-8s %10s %12s %10s %10s%s\n", out_style(OUT_HEADER), "phase", "count", "total_ms", "mean_us", "max_us",
           out_reset());
  }
  /* phases in the order they ran, then any that ran outside that order */
  int shown[UVDB_PHASE_COUNT] = {0}, list[UVDB_PHASE_COUNT], n = 0;
  for (int k = 0; k < l->nlast; k++)
    if (!shown[l->last_order[k]])
      shown[l->last_order[k]] = 1, list[n++] = l->last_order[k];
  for (int p = 0; p < UVDB_PHASE_COUNT; p++)
    if (!shown[p] && l->phase[p].count)
      list[n++] = p;
  for (int k = 0; k < n; k++) {
    const struct phase_stats *ps = &l->phase[list[k]];
    double total = shm ? ticks_to_ns(shm, ps->total) : 0, max = shm ? ticks_to_ns(shm, ps->max) : 0;
    double mean = ps->count ? total / (double)ps->count : 0;
    if (j) {
      json_obj(j, NULL);
      json_str(j, "phase", phase_name(list[k]));
      json_uint(j, "count", ps->count);
      json_num(j, "total_ms", total / 1e6);
      json_num(j, "mean_us", mean / 1e3);
      json_num(j, "max_us", max / 1e3);
      json_close(j);
    } else {
      printf("  %-8s %10llu %12.3f %10.3f %10.3f\n", phase_name(list[k]), (unsigned long long)ps->count, total / 1e6,
             mean / 1e3, max / 1e3);
    }
  }
  if (j) {
    json_end(j);
  } else {
    printf("  order:");
    for (int k = 0; k < l->nlast; k++)
      printf(" %s", phase_name(l->last_order[k]));
    printf("%s\n", l->nlast ? "" : " (no complete iteration yet)");
  }
  return 0;
}
