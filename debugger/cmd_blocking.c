/* info blocking: a loop's lag percentiles, utilization, time per phase,
 * the longest stretches the watchdog caught (with the stacks sampled while
 * they blocked) and the file-system calls run on the loop thread. */
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

#define SHOWN_BLOCKED 10
#define SHOWN_FRAMES 24
#define SHOWN_CALLBACKS 3 /* in text: --json has 10 */

static double uv__ms(const struct session *s, uint64_t ticks) {
  return s->shm ? ticks_to_ns(s->shm, ticks) / 1e6 : 0;
}

/* A sampled stack, named; its callback's name (params cut) into cb. */
static int uv__named(struct session *s, const struct stack *st, uint64_t *kept, char (*fn)[512], char *cb,
                     size_t cap) {
  struct symbolizer *sym = session_symbolizer(s);
  int n = stack_frames(sym, st->pcs, st->n, kept, fn, SHOWN_FRAMES);
  int at = stack_callback(sym, kept, fn, n);
  cb[0] = '\0';
  if (at >= 0) {
    snprintf(cb, cap, "%s", fn[at]);
    symbol_strip_params(cb);
    char *plus = strrchr(cb, '+');
    if (plus && strncmp(plus, "+0x", 3) == 0)
      *plus = '\0';
  }
  return n;
}

static int uv__longest_first(const void *a, const void *b) {
  const struct blocked_event *x = *(const struct blocked_event *const *)a, *y = *(const struct blocked_event *const *)b;
  uint64_t dx = x->end - x->since, dy = y->end - y->since;
  return dx < dy ? 1 : dx > dy ? -1 : 0;
}

/* Busy share of the loop in the seconds [from, to) of the TSC clock: -1
 * when the loop did not run all of them. */
static double uv__utilization(const struct loop_blocking *b, uint64_t from, uint64_t to) {
  uint64_t idle = 0;
  for (uint64_t sec = from; sec < to; sec++) {
    unsigned i = (unsigned)(sec % UTIL_WINDOWS);
    if (b->window_second[i] != sec)
      return -1;
    idle += b->window_idle[i];
  }
  double idle_s = (double)idle / 1e9, span = (double)(to - from);
  return span > 0 ? 1 - idle_s / span : -1;
}

void blocking_print_event(struct session *s, struct json *j, const struct blocked_event *e) {
  static uint64_t kept[BLOCKED_SAMPLES][SHOWN_FRAMES];
  static char fn[BLOCKED_SAMPLES][SHOWN_FRAMES][512];
  char cb[512] = "";
  int n[BLOCKED_SAMPLES] = {0};
  for (int k = 0; k < e->nsamples; k++) {
    char this_cb[512];
    n[k] = uv__named(s, &e->samples[k], kept[k], fn[k], this_cb, sizeof(this_cb));
    if (!cb[0])
      snprintf(cb, sizeof(cb), "%s", this_cb);
  }
  double ms = uv__ms(s, e->end - e->since);
  if (j) {
    json_obj(j, NULL);
    json_int(j, "loop", e->loop_id);
    json_str(j, "phase", phase_name(e->phase));
    json_uint(j, "iteration", e->iteration);
    json_num(j, "duration_ms", ms);
    json_str(j, "callback", cb[0] ? cb : NULL);
    json_arr(j, "samples");
    for (int k = 0; k < e->nsamples; k++) {
      json_arr(j, NULL);
      stack_print(j, kept[k], fn[k], n[k]);
      json_close(j);
    }
    json_close(j);
    json_close(j);
    return;
  }
  printf("  %.3f ms in %s%s%s (iteration %llu), %d stack%s sampled while it blocked\n", ms, phase_name(e->phase),
         cb[0] ? ", callback " : "", cb, (unsigned long long)e->iteration, e->nsamples, e->nsamples == 1 ? "" : "s");
  if (e->nsamples) /* the first sample; the others are in --json */
    stack_print(NULL, kept[0], fn[0], n[0]);
}

static void uv__sync_io(struct session *s, struct json *j, int loop_id) {
  const struct blocking_model *b = &s->model.blocking;
  const struct loop_blocking *lb = &s->model.loops[loop_id - 1].blocking;
  if (j) {
    json_obj(j, "sync_io");
    json_uint(j, "calls", lb->sync_count);
    json_num(j, "total_ms", uv__ms(s, lb->sync_ticks));
    json_arr(j, "calls_seen");
  } else {
    printf("File-system calls on the loop thread (sync I/O): %llu, %.3f ms in all\n",
           (unsigned long long)lb->sync_count, uv__ms(s, lb->sync_ticks));
  }
  int shown = 0;
  for (int i = 0; i < b->nsync; i++) {
    const struct sync_io_event *e = &b->sync_io[i];
    if (e->loop_id != loop_id)
      continue;
    static uint64_t kept[SHOWN_FRAMES];
    static char fn[SHOWN_FRAMES][512];
    char cb[512];
    int n = e->sampled ? uv__named(s, &e->stack, kept, fn, cb, sizeof(cb)) : 0;
    if (j) {
      json_obj(j, NULL);
      json_str(j, "op", pool_fs_op_name(e->fs_type == 0xff ? -1 : e->fs_type));
      json_num(j, "duration_ms", uv__ms(s, e->end - e->begin));
      json_arr(j, "stack");
      stack_print(j, kept, fn, n);
      json_close(j);
      json_close(j);
    } else if (shown < 5) {
      printf("  fs %s, %.3f ms%s\n", pool_fs_op_name(e->fs_type == 0xff ? -1 : e->fs_type),
             uv__ms(s, e->end - e->begin), n ? ", called from:" : "");
      if (n)
        stack_print(NULL, kept, fn, n < 8 ? n : 8);
    }
    shown++;
  }
  if (j) {
    json_close(j);
    json_close(j);
  }
}

static int uv__slowest_first(const void *a, const void *b) {
  const struct callback_event *x = a, *y = b;
  uint64_t dx = x->end - x->begin, dy = y->end - y->begin;
  return dx < dy ? 1 : dx > dy ? -1 : 0;
}

static int uv__busiest_first(const void *a, const void *b) {
  const struct callback_stat *x = a, *y = b;
  return x->ticks < y->ticks ? 1 : x->ticks > y->ticks ? -1 : 0;
}

const char *callback_name(struct session *s, uint64_t fn, char *buf, size_t cap) {
  symbolize(session_symbolizer(s), fn, buf, cap);
  symbol_strip_params(buf);
  return buf;
}

/* The loop's callbacks: the slowest runs, and the functions that took the
 * most time (what `top` calls the busiest). */
int blocking_busiest(const struct blocking_model *b, int loop_id, struct callback_stat *out, int max) {
  int n = 0;
  for (int i = 0; i < CALLBACK_STATS; i++)
    if (b->by_fn[i].count && b->by_fn[i].loop_id == loop_id)
      out[n++] = b->by_fn[i];
  qsort(out, (size_t)n, sizeof(*out), uv__busiest_first);
  return n < max ? n : max;
}

static void uv__callbacks(struct session *s, struct json *j, const struct loop_model *l) {
  const struct blocking_model *b = &s->model.blocking;
  struct callback_event slow[SLOWEST_KEPT];
  int ns = 0;
  for (int i = 0; i < b->nslowest; i++)
    if (b->slowest[i].loop_id == l->id)
      slow[ns++] = b->slowest[i];
  qsort(slow, (size_t)ns, sizeof(slow[0]), uv__slowest_first);
  static struct callback_stat busy[CALLBACK_STATS];
  int nb = blocking_busiest(b, l->id, busy, SHOWN_BLOCKED);
  char name[512];
  int sites, timed = probe_callsites_installed(s, &sites) > 0;
  if (j) {
    json_obj(j, "callbacks");
    json_bool(j, "timed", timed);
    json_uint(j, "count", l->blocking.callbacks);
    json_num(j, "total_ms", uv__ms(s, l->blocking.callback_ticks));
    json_arr(j, "slowest");
    for (int i = 0; i < ns && i < SHOWN_BLOCKED; i++) {
      json_obj(j, NULL);
      json_str(j, "function", callback_name(s, slow[i].fn, name, sizeof(name)));
      json_str(j, "phase", phase_name(slow[i].phase));
      json_uint(j, "iteration", slow[i].iteration);
      json_num(j, "duration_ms", uv__ms(s, slow[i].end - slow[i].begin));
      json_close(j);
    }
    json_close(j);
    json_arr(j, "by_function");
    for (int i = 0; i < nb; i++) {
      json_obj(j, NULL);
      json_str(j, "function", callback_name(s, busy[i].fn, name, sizeof(name)));
      json_str(j, "phase", phase_name(busy[i].phase));
      json_uint(j, "count", busy[i].count);
      json_num(j, "total_ms", uv__ms(s, busy[i].ticks));
      json_num(j, "mean_ms", uv__ms(s, busy[i].ticks) / (double)busy[i].count);
      json_num(j, "max_ms", uv__ms(s, busy[i].max));
      json_close(j);
    }
    json_close(j);
    json_close(j);
    return;
  }
  if (!timed) {
    printf("Callbacks: not timed (%s)\n", sites ? "callback-timing is off" : "libuv calls none through a site uvdb could patch");
    return;
  }
  printf("Callbacks: %llu run, %.3f ms in all%s\n", (unsigned long long)l->blocking.callbacks,
         uv__ms(s, l->blocking.callback_ticks), ns ? "; the slowest:" : "");
  for (int i = 0; i < ns && i < SHOWN_CALLBACKS; i++)
    printf("  %10.3f ms  %-8s %s (iteration %llu)\n", uv__ms(s, slow[i].end - slow[i].begin),
           phase_name(slow[i].phase), callback_name(s, slow[i].fn, name, sizeof(name)),
           (unsigned long long)slow[i].iteration);
  if (nb)
    printf("By function, the most time first:\n");
  for (int i = 0; i < nb && i < SHOWN_CALLBACKS; i++)
    printf("  %10.3f ms  %-8s %s: %llu call%s, max %.3f ms\n", uv__ms(s, busy[i].ticks), phase_name(busy[i].phase),
           callback_name(s, busy[i].fn, name, sizeof(name)), (unsigned long long)busy[i].count,
           busy[i].count == 1 ? "" : "s", uv__ms(s, busy[i].max));
}

/* The loop asked for (N, or the main loop), with data to show. */
static const struct loop_model *uv__loop_arg(struct session *s, int argc, char **argv) {
  if (s->state == TARGET_NONE && !s->probe_info[0]) {
    uvdb_error("the program has not run yet: use `run` or `start`");
    return NULL;
  }
  session_drain(s);
  int id = model_main_loop(&s->model);
  if (argc > 1) {
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n < 1 || n > 64 || !s->model.loops[n - 1].seen) {
      uvdb_error("no loop %s (see `info loops`)", argv[1]);
      return NULL;
    }
    id = (int)n;
  }
  if (!id || !s->shm) {
    uvdb_error("no loop has run yet");
    return NULL;
  }
  return &s->model.loops[id - 1];
}

/* info gc [N]: V8's garbage collections on the loop's thread (node only):
 * how many of each kind, how long they held the loop, the longest; and the
 * microtask checkpoints run between callbacks. */
int cmd_info_gc(struct session *s, int argc, char **argv) {
  const struct loop_model *l = uv__loop_arg(s, argc, argv);
  if (!l)
    return -1;
  const struct loop_gc *g = &l->blocking.gc;
  struct gc_event sorted[GC_KEPT];
  memcpy(sorted, g->longest, sizeof(sorted[0]) * (size_t)g->nlongest);
  for (int i = 1; i < g->nlongest; i++) /* longest first: a few dozen, insertion */
    for (int k = i; k > 0 && sorted[k].end - sorted[k].begin > sorted[k - 1].end - sorted[k - 1].begin; k--) {
      struct gc_event t = sorted[k];
      sorted[k] = sorted[k - 1], sorted[k - 1] = t;
    }
  double total = uv__ms(s, g->ticks[0] + g->ticks[1]);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "info_gc");
    json_int(j, "loop", l->id);
    json_uint(j, "scavenges", g->count[0]);
    json_uint(j, "full", g->count[1]);
    json_num(j, "scavenge_ms", uv__ms(s, g->ticks[0]));
    json_num(j, "full_ms", uv__ms(s, g->ticks[1]));
    json_num(j, "total_ms", total);
    json_num(j, "max_ms", uv__ms(s, g->max));
    json_arr(j, "longest");
    for (int i = 0; i < g->nlongest && i < 10; i++) {
      json_obj(j, NULL);
      json_str(j, "kind", sorted[i].space == 1 ? "scavenge" : "mark-compact");
      json_int(j, "reason", sorted[i].reason);
      json_num(j, "duration_ms", uv__ms(s, sorted[i].end - sorted[i].begin));
      json_close(j);
    }
    json_close(j);
    json_obj(j, "microtasks");
    json_uint(j, "checkpoints", g->checkpoints);
    json_uint(j, "run", g->microtasks);
    json_num(j, "total_ms", uv__ms(s, g->microtask_ticks));
    json_num(j, "max_ms", uv__ms(s, g->microtask_max));
    json_close(j);
    json_end(j);
    return 0;
  }
  printf("Loop %d: GC held the loop %.3f ms: %llu scavenges (%.3f ms), %llu full collections (%.3f ms); the longest "
         "%.3f ms\n",
         l->id, total, (unsigned long long)g->count[0], uv__ms(s, g->ticks[0]), (unsigned long long)g->count[1],
         uv__ms(s, g->ticks[1]), uv__ms(s, g->max));
  for (int i = 0; i < g->nlongest && i < 5; i++)
    printf("  %-12s %8.3f ms  (V8's reason %d)\n", sorted[i].space == 1 ? "scavenge" : "mark-compact",
           uv__ms(s, sorted[i].end - sorted[i].begin), sorted[i].reason);
  printf("Microtasks: %llu run in %llu checkpoints, %.3f ms in all, the longest checkpoint %.3f ms\n",
         (unsigned long long)g->microtasks, (unsigned long long)g->checkpoints, uv__ms(s, g->microtask_ticks),
         uv__ms(s, g->microtask_max));
  return 0;
}

int cmd_info_blocking(struct session *s, int argc, char **argv) {
  if (s->state == TARGET_NONE && !s->probe_info[0])
    return uvdb_error("the program has not run yet: use `run` or `start`");
  session_drain(s);
  int id = model_main_loop(&s->model);
  if (argc > 1) {
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n < 1 || n > 64 || !s->model.loops[n - 1].seen)
      return uvdb_error("no loop %s (see `info loops`)", argv[1]);
    id = (int)n;
  }
  if (!id || !s->shm)
    return uvdb_error("no loop has run yet");
  const struct loop_model *l = &s->model.loops[id - 1];
  const struct loop_blocking *b = &l->blocking;
  const struct histogram *lag = &b->lag;
  uint64_t span = b->last_ts > b->first_ts ? b->last_ts - b->first_ts : 0;
  double overall = span ? 1 - (double)b->idle / (double)span : -1;
  uint64_t now_s = tsc_to_ns(s->shm, s->state == TARGET_EXITED ? b->last_ts : __builtin_ia32_rdtsc()) / 1000000000u;
  double last1 = uv__utilization(b, now_s - 1, now_s), last10 = uv__utilization(b, now_s - 10, now_s);
  static const double q[] = {0.5, 0.9, 0.99, 0.999};
  static const char *const qn[] = {"p50", "p90", "p99", "p999"};
  uint64_t phase_total = 0;
  for (int p = 0; p < UVDB_PHASE_COUNT; p++)
    phase_total += l->phase[p].total;
  const struct blocked_event *sorted[MAX_BLOCKED];
  int nb = 0;
  for (int i = 0; i < s->model.blocking.nblocked; i++)
    if (s->model.blocking.blocked[i].loop_id == id)
      sorted[nb++] = &s->model.blocking.blocked[i];
  qsort(sorted, (size_t)nb, sizeof(sorted[0]), uv__longest_first);

  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_blocking");
    json_int(j, "loop", id);
    json_int(j, "threshold_ms", settings_blocking_threshold_ms());
    json_obj(j, "lag_ms");
    for (int i = 0; i < 4; i++)
      json_num(j, qn[i], (double)histogram_quantile(lag, q[i]) / 1e6);
    json_num(j, "max", (double)lag->max / 1e6);
    json_uint(j, "polls", lag->count);
    json_bool(j, "measured", !s->attached); /* see below */
    json_close(j);
    json_obj(j, "utilization");
    overall >= 0 ? json_num(j, "overall", overall) : json_null(j, "overall");
    last1 >= 0 ? json_num(j, "last_1s", last1) : json_null(j, "last_1s");
    last10 >= 0 ? json_num(j, "last_10s", last10) : json_null(j, "last_10s");
    json_close(j);
    json_arr(j, "phases");
    for (int p = 0; p < UVDB_PHASE_COUNT; p++) {
      json_obj(j, NULL);
      json_str(j, "phase", phase_name(p));
      json_num(j, "total_ms", uv__ms(s, l->phase[p].total));
      json_num(j, "max_ms", uv__ms(s, l->phase[p].max));
      json_close(j);
    }
    json_close(j);
    json_uint(j, "blocked_count", b->blocked_count);
    json_arr(j, "blocked");
  } else {
    printf("Loop %d: lag over %llu polls, ms:", id, (unsigned long long)lag->count);
    for (int i = 0; i < 4; i++)
      printf(" %s %.3f", qn[i], (double)histogram_quantile(lag, q[i]) / 1e6);
    printf(" max %.3f\n", (double)lag->max / 1e6);
    if (s->attached) /* the probe measures them in epoll_wait, which it preempts only when preloaded */
      printf("(lag and utilization are not measured in a process uvdb attached to: the program bound its "
             "epoll_wait before the probe came; start it under uvdb for them)\n");
    printf("Utilization (busy share): ");
    overall >= 0 ? printf("%.1f%% overall", overall * 100) : printf("- overall");
    if (last1 >= 0)
      printf(", %.1f%% the last second", last1 * 100);
    if (last10 >= 0)
      printf(", %.1f%% the last 10 s", last10 * 100);
    printf("\nTime per phase:");
    for (int p = 0; p < UVDB_PHASE_COUNT; p++)
      if (l->phase[p].total)
        printf(" %s %.3f ms (%.0f%%)", phase_name(p), uv__ms(s, l->phase[p].total),
               phase_total ? 100.0 * (double)l->phase[p].total / (double)phase_total : 0);
    printf("\nBlocked the loop over %ld ms: %llu time%s%s\n", settings_blocking_threshold_ms(),
           (unsigned long long)b->blocked_count, b->blocked_count == 1 ? "" : "s",
           nb ? ", the longest first:" : "");
  }
  for (int i = 0; i < nb && i < SHOWN_BLOCKED; i++)
    blocking_print_event(s, j, sorted[i]);
  if (j)
    json_close(j);
  uv__callbacks(s, j, l);
  uv__sync_io(s, j, id);
  const struct loop_gc *g = &l->blocking.gc;
  if (j) {
    json_obj(j, "gc");
    json_uint(j, "collections", g->count[0] + g->count[1]);
    json_num(j, "total_ms", uv__ms(s, g->ticks[0] + g->ticks[1]));
    json_num(j, "max_ms", uv__ms(s, g->max));
    json_close(j);
    json_end(j);
  } else {
    printf("GC held the loop %.3f ms in %llu collections, the longest %.3f ms (info gc)\n",
           uv__ms(s, g->ticks[0] + g->ticks[1]), (unsigned long long)(g->count[0] + g->count[1]),
           uv__ms(s, g->max));
  }
  return 0;
}
