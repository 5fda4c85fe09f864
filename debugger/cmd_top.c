/* top: a live view of each loop, as top(1) shows processes: iterations per
 * second, utilization, time per phase and lag over the last interval, the
 * thread pool's queue, the busiest callbacks and the longest blocking
 * stretches; q quits and
 * leaves the program running. */
#include "uvdb.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct loop_snapshot {
  uint64_t iterations, idle, phase_total[UVDB_PHASE_COUNT], lag_count;
  uint64_t lag_bucket_sum; /* to tell new lag values */
};

static struct loop_snapshot uv__before[64];
static double uv__before_s;
static uint64_t uv__before_cb[CALLBACK_STATS]; /* each callback function's time, by its slot */

static uint64_t uv__cb_delta[CALLBACK_STATS];

/* The callback functions that took the most time in the interval (slots
 * of the model's table, which never move): up to 5 into top[], their time
 * in uv__cb_delta; the next interval starts. */
static int uv__busiest(const struct blocking_model *bm, int *top) {
  int n = 0;
  for (int i = 0; i < CALLBACK_STATS; i++) {
    uint64_t d = uv__cb_delta[i] = bm->by_fn[i].ticks - uv__before_cb[i];
    uv__before_cb[i] = bm->by_fn[i].ticks;
    if (!d)
      continue;
    int k = n < 5 ? n++ : 5;
    while (k > 0 && uv__cb_delta[top[k - 1]] < d) {
      if (k < 5)
        top[k] = top[k - 1];
      k--;
    }
    if (k < 5)
      top[k] = i;
  }
  return n;
}

static double uv__now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct uv__pool_now {
  uint64_t queued, running;
};

static void uv__pool_count(const struct pool_job *j, void *arg) {
  struct uv__pool_now *p = arg;
  if (!j->started)
    p->queued++;
  else if (!j->ended)
    p->running++;
}

static double uv__ms(const struct session *s, uint64_t ticks) {
  return ticks_to_ns(s->shm, ticks) / 1e6;
}

/* One screen (or one JSON object): each loop over the interval since the last. */
static void uv__show(struct session *s, int tty) {
  double now = uv__now_s(), span = uv__before_s > 0 ? now - uv__before_s : 0;
  struct uv__pool_now pool = {0, 0};
  pool_each_active(&s->model.pool, uv__pool_count, &pool);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "top");
    json_int(j, "pid", s->pid);
    json_num(j, "interval_s", span);
    json_arr(j, "loops");
  } else {
    if (tty)
      printf("\033[H\033[2J"); /* home, clear */
    printf("uvdb top - pid %d, every %.1f s; q quits (the program runs on)\n\n", (int)s->pid, span);
    printf("%-5s %10s %6s %9s %9s  %s\n", "loop", "iter/s", "busy%", "lag_p99", "lag_max", "time per phase (ms in the interval)");
  }
  for (int i = 0; i < 64; i++) {
    const struct loop_model *l = &s->model.loops[i];
    if (!l->seen)
      continue;
    struct loop_snapshot *b = &uv__before[i];
    double iters = span > 0 ? (double)(l->iterations - b->iterations) / span : 0;
    double idle_ms = uv__ms(s, l->blocking.idle - b->idle);
    /* a wait still going on is in no record yet: a loop waiting now that
     * finished no wait in the interval waited all of it */
    if (!idle_ms && l->iterations == b->iterations && l->id < 65 && !atomic_load(&s->shm->loop_busy_since[l->id]))
      idle_ms = span * 1e3;
    double busy = span > 0 ? 1 - idle_ms / (span * 1e3) : 0;
    busy = busy < 0 ? 0 : busy;
    double p99 = (double)histogram_quantile(&l->blocking.lag, 0.99) / 1e6, max = (double)l->blocking.lag.max / 1e6;
    if (j) {
      json_obj(j, NULL);
      json_int(j, "loop", l->id);
      json_num(j, "iterations_per_s", iters);
      json_num(j, "utilization", busy);
      json_num(j, "lag_p99_ms", p99);
      json_num(j, "lag_max_ms", max);
      json_obj(j, "phase_ms");
      for (int p = 0; p < UVDB_PHASE_COUNT; p++)
        json_num(j, phase_name(p), uv__ms(s, l->phase[p].total - b->phase_total[p]));
      json_close(j);
      json_close(j);
    } else {
      printf("%-5d %10.0f %5.1f%% %9.3f %9.3f ", l->id, iters, busy * 100, p99, max);
      for (int p = 0; p < UVDB_PHASE_COUNT; p++)
        printf(" %s %.1f", phase_name(p), uv__ms(s, l->phase[p].total - b->phase_total[p]));
      printf("\n");
    }
    b->iterations = l->iterations, b->idle = l->blocking.idle;
    for (int p = 0; p < UVDB_PHASE_COUNT; p++)
      b->phase_total[p] = l->phase[p].total;
  }
  uv__before_s = now;
  /* the longest stretches the watchdog caught so far */
  const struct blocking_model *bm = &s->model.blocking;
  int order[3] = {-1, -1, -1};
  for (int i = 0; i < bm->nblocked; i++) {
    uint64_t d = bm->blocked[i].end - bm->blocked[i].since;
    for (int k = 0; k < 3; k++)
      if (order[k] < 0 || d > bm->blocked[order[k]].end - bm->blocked[order[k]].since) {
        memmove(&order[k + 1], &order[k], sizeof(int) * (size_t)(2 - k));
        order[k] = i;
        break;
      }
  }
  int busiest[5], nbusy = uv__busiest(bm, busiest);
  if (j) {
    json_close(j);
    json_arr(j, "busiest_callbacks");
    for (int k = 0; k < nbusy; k++) {
      const struct callback_stat *c = &bm->by_fn[busiest[k]];
      char name[512];
      json_obj(j, NULL);
      json_str(j, "function", callback_name(s, c->fn, name, sizeof(name)));
      json_int(j, "loop", c->loop_id);
      json_str(j, "phase", phase_name(c->phase));
      json_num(j, "ms", uv__ms(s, uv__cb_delta[busiest[k]]));
      json_close(j);
    }
    json_close(j);
    json_obj(j, "threadpool");
    json_uint(j, "queued", pool.queued);
    json_uint(j, "running", pool.running);
    json_uint(j, "done", s->model.pool.done);
    json_close(j);
    json_uint(j, "blocked_count", bm->blocked_total);
    json_end(j);
    return;
  }
  printf("\nthread pool: %llu queued, %llu running, %llu done\n", (unsigned long long)pool.queued,
         (unsigned long long)pool.running, (unsigned long long)s->model.pool.done);
  printf("blocked the loop over %ld ms: %llu time%s\n", settings_blocking_threshold_ms(),
         (unsigned long long)bm->blocked_total, bm->blocked_total == 1 ? "" : "s");
  for (int k = 0; k < 3 && order[k] >= 0; k++)
    printf("  %.1f ms in %s (loop %d)\n", uv__ms(s, bm->blocked[order[k]].end - bm->blocked[order[k]].since),
           phase_name(bm->blocked[order[k]].phase), bm->blocked[order[k]].loop_id);
  printf("busiest callbacks in the interval:%s\n", nbusy ? "" : " none");
  for (int k = 0; k < nbusy; k++) {
    const struct callback_stat *c = &bm->by_fn[busiest[k]];
    char name[512];
    printf("  %9.1f ms  loop %d %-8s %s\n", uv__ms(s, uv__cb_delta[busiest[k]]), c->loop_id,
           phase_name(c->phase), callback_name(s, c->fn, name, sizeof(name)));
  }
  fflush(stdout);
}

/* A key pressed?  q, or the end of the input, quits. */
static int uv__quit_key(void) {
  struct pollfd p = {STDIN_FILENO, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0)
    return 0;
  char c;
  return read(STDIN_FILENO, &c, 1) <= 0 || c == 'q' || c == 'Q';
}

/* top [-d SECONDS] [-n COUNT]: on a terminal, until q; otherwise (scripts,
 * --batch) COUNT views, 1 by default. */
int cmd_top(struct session *s, int argc, char **argv) {
  double delay = 1;
  long count = -1;
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
      delay = strtod(argv[++i], &end);
    else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
      count = strtol(argv[++i], &end, 10);
    else
      return uvdb_error("usage: top [-d SECONDS] [-n COUNT]");
    if (*end || (delay < 0.1 || delay > 60) || count == 0 || count < -1)
      return uvdb_error("top: -d takes 0.1 to 60 seconds, -n a count of 1 or more");
  }
  if (s->state == TARGET_STOPPED && session_resume(s) != 0)
    return -1;
  if (s->state != TARGET_RUNNING)
    return uvdb_error("the program is not being run");
  int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && !uvdb_json_mode;
  if (count < 0)
    count = tty ? -1 : 1;
  struct termios saved, raw;
  if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  session_drain(s);
  memset(uv__before, 0, sizeof(uv__before));
  for (int i = 0; i < CALLBACK_STATS; i++)
    uv__before_cb[i] = s->model.blocking.by_fn[i].ticks;
  for (int i = 0; i < 64; i++) { /* the first interval starts now */
    const struct loop_model *l = &s->model.loops[i];
    uv__before[i].iterations = l->iterations, uv__before[i].idle = l->blocking.idle;
    for (int p = 0; p < UVDB_PHASE_COUNT; p++)
      uv__before[i].phase_total[p] = l->phase[p].total;
  }
  uv__before_s = uv__now_s();
  s->interrupted = 0;
  int r = 0;
  for (long shown = 0; count < 0 || shown < count; shown++) {
    for (double waited = 0; waited < delay && r == 0 && !s->interrupted; waited += 0.1) {
      r = session_run_for(s, 100);
      if (tty && uv__quit_key())
        count = shown; /* this view is the last */
    }
    if (r > 0 || s->interrupted)
      break;
    session_drain(s);
    uv__show(s, tty); /* the last interval too, when the program ended in it */
    if (r < 0)
      break;
  }
  if (tty)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  s->interrupted = 0;
  if (r != 0) { /* it stopped at a breakpoint, or ended */
    s->stop_generation++;
    session_report_state(s, r > 0 ? "stopped" : "exited");
    return 0;
  }
  s->background = 1; /* the program runs on; `interrupt` stops it */
  return 0;
}
