/* info threadpool: the pool's size, each worker and what it runs, the
 * queue, and the distributions of wait, run and callback delay; and the
 * description of a pool job that `info requests` shares. */
#include "loopstate.h"
#include "symbolize.h"
#include "uvdb.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

static double uv__ms(const struct session *s, uint64_t ticks) {
  return s->shm ? ticks_to_ns(s->shm, ticks) / 1e6 : 0;
}

/* Node runs crypto, zlib and its other C++ jobs through one pair of
 * lambdas of ThreadPoolWork, whose object holds the uv_work_t after its
 * vtable and Environment pointer: the vtable names the job. */
static int uv__node_job(struct session *s, uint64_t req, char *out, size_t cap) {
  uint64_t vtable = 0;
  if (target_read(s->pid, req - 16, &vtable, sizeof(vtable)) != 0 || !vtable)
    return -1;
  char name[512];
  symbolize(session_symbolizer(s), vtable, name, sizeof(name));
  if (strncmp(name, "vtable for ", 11) != 0)
    return -1;
  static const struct {
    const char *needle, *shown;
  } known[] = {{"PBKDF2", "crypto pbkdf2"}, {"Scrypt", "crypto scrypt"},   {"RandomBytes", "crypto randomBytes"},
               {"Random", "crypto random"}, {"KeyGen", "crypto keygen"},   {"Hash", "crypto hash"},
               {"Cipher", "crypto cipher"}, {"Sign", "crypto sign"},      {"Zlib", "zlib"},
               {"Compression", "zlib"},     {"Brotli", "zlib brotli"}};
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strstr(name + 11, known[i].needle)) {
      snprintf(out, cap, "%s", known[i].shown);
      return 0;
    }
  char *plus = strrchr(name, '+');
  if (plus)
    *plus = '\0';
  snprintf(out, cap, "%s", name + 11);
  return 0;
}

/* "fs stat /etc/hosts", "work on_job", "crypto pbkdf2": what a job is.  A
 * job in flight still has its request, read for the path. */
const char *pool_job_describe(struct session *s, const struct pool_job *j, int in_flight, char *out, size_t cap) {
  char detail[320] = "";
  if (j->kind == UVDB_POOL_KIND_FS) {
    snprintf(out, cap, "fs %s", pool_fs_op_name(j->fs_type == 0xff ? -1 : j->fs_type));
    uint64_t path = 0;
    uint64_t req = j->key - offsetof(uv_fs_t, work_req);
    if (in_flight && target_read(s->pid, req + offsetof(uv_fs_t, path), &path, sizeof(path)) == 0 && path &&
        target_read(s->pid, path, detail, sizeof(detail) - 1) == 0) {
      detail[sizeof(detail) - 1] = '\0';
      size_t len = strlen(out);
      snprintf(out + len, cap - len, " %s", detail);
    }
    return out;
  }
  if (j->kind == UVDB_POOL_KIND_WORK) {
    if (in_flight && uv__node_job(s, j->key, out, cap) == 0)
      return out;
    char fn[512];
    symbol_strip_params((char *)symbolize(session_symbolizer(s), j->work_fn, fn, sizeof(fn)));
    snprintf(out, cap, "work %s", fn);
    return out;
  }
  snprintf(out, cap, "%s", pool_kind_name(j->kind));
  return out;
}

static void uv__quantiles(struct session *s, struct json *j, const char *key, const struct histogram *h) {
  static const double q[] = {0.5, 0.9, 0.99};
  static const char *const names[] = {"p50", "p90", "p99"};
  if (j) {
    json_obj(j, key);
    for (int i = 0; i < 3; i++)
      json_num(j, names[i], uv__ms(s, histogram_quantile(h, q[i])));
    json_num(j, "max", uv__ms(s, h->max));
    json_close(j);
    return;
  }
  printf("  %-16s p50 %9.3f  p90 %9.3f  p99 %9.3f  max %9.3f ms\n", key, uv__ms(s, histogram_quantile(h, 0.5)),
         uv__ms(s, histogram_quantile(h, 0.9)), uv__ms(s, histogram_quantile(h, 0.99)), uv__ms(s, h->max));
}

struct uv__queue_stats {
  uint64_t queued, running, callback_due, by_kind[POOL_KINDS], by_class[3];
  const struct pool_job *oldest;
};

static void uv__count(const struct pool_job *j, void *arg) {
  struct uv__queue_stats *q = arg;
  if (j->ended) { /* its done callback waits for the loop */
    q->callback_due++;
    return;
  }
  if (j->started) {
    q->running++;
    return;
  }
  q->queued++;
  if (j->kind < POOL_KINDS)
    q->by_kind[j->kind]++;
  if (j->cls < 3)
    q->by_class[j->cls]++;
  if (!q->oldest || j->submitted < q->oldest->submitted)
    q->oldest = j;
}

static const struct pool_job *uv__running(const struct pool_model *p, uint64_t key) {
  for (int i = 0; i < p->cap; i++)
    if (p->jobs[i].key == key && p->jobs[i].started && !p->jobs[i].ended)
      return &p->jobs[i];
  return NULL;
}

static void uv__workers(struct session *s, struct json *j, uint64_t now) {
  const struct pool_model *p = &s->model.pool;
  if (j)
    json_arr(j, "workers");
  else
    printf("Workers (%d seen):\n  %s%-8s %-5s %-40s %9s %6s %10s%s\n", p->nworkers, out_style(OUT_HEADER), "tid", "state",
           "job", "for_ms", "jobs", "busy_ms", out_reset());
  for (int i = 0; i < p->nworkers; i++) {
    const struct pool_worker *w = &p->workers[i];
    const struct pool_job *job = w->job ? uv__running(p, w->job) : NULL;
    char what[400] = "-";
    if (job)
      pool_job_describe(s, job, 1, what, sizeof(what));
    double for_ms = job && now > w->since ? uv__ms(s, now - w->since) : 0;
    if (j) {
      json_obj(j, NULL);
      json_uint(j, "tid", w->tid);
      json_str(j, "state", job ? "busy" : "idle");
      if (job) {
        json_obj(j, "job");
        json_str(j, "kind", pool_kind_name(job->kind));
        json_str(j, "name", what);
        json_num(j, "for_ms", for_ms);
        json_close(j);
      } else {
        json_null(j, "job");
      }
      json_uint(j, "jobs", w->jobs);
      json_num(j, "busy_ms", uv__ms(s, w->busy));
      json_close(j);
    } else {
      printf("  %-8u %-5s %-40.40s %9.3f %6llu %10.3f\n", w->tid, job ? "busy" : "idle", what, for_ms,
             (unsigned long long)w->jobs, uv__ms(s, w->busy));
    }
  }
  if (j)
    json_close(j);
}

static void uv__queue(struct session *s, struct json *j, const struct uv__queue_stats *q, uint64_t now) {
  char oldest[400] = "";
  double waiting = q->oldest && now > q->oldest->submitted ? uv__ms(s, now - q->oldest->submitted) : 0;
  if (q->oldest)
    pool_job_describe(s, q->oldest, 1, oldest, sizeof(oldest));
  if (!j) {
    printf("Queue: %llu waiting (cpu %llu, fast I/O %llu, slow I/O %llu)", (unsigned long long)q->queued,
           (unsigned long long)q->by_class[0], (unsigned long long)q->by_class[1],
           (unsigned long long)q->by_class[2]);
    if (q->oldest)
      printf("; oldest: %s, waiting %.3f ms", oldest, waiting);
    printf("\n");
    return;
  }
  json_obj(j, "queue");
  json_uint(j, "depth", q->queued);
  json_obj(j, "by_kind");
  for (int k = 0; k < POOL_KINDS; k++)
    if (q->by_kind[k])
      json_uint(j, pool_kind_name(k), q->by_kind[k]);
  json_close(j);
  json_obj(j, "by_class");
  for (int c = 0; c < 3; c++)
    json_uint(j, pool_class_name(c), q->by_class[c]);
  json_close(j);
  if (q->oldest) {
    json_obj(j, "oldest");
    json_str(j, "name", oldest);
    json_num(j, "waiting_ms", waiting);
    json_close(j);
  } else {
    json_null(j, "oldest");
  }
  json_close(j);
}

static void uv__recent(struct session *s, struct json *j) {
  const struct pool_model *p = &s->model.pool;
  json_arr(j, "recent");
  for (unsigned i = 0; i < p->nrecent; i++) {
    const struct pool_job *r = &p->recent[(p->recent_at + i) % POOL_RECENT];
    char what[400];
    json_obj(j, NULL);
    json_str(j, "kind", pool_kind_name(r->kind));
    json_str(j, "name", pool_job_describe(s, r, 0, what, sizeof(what)));
    json_str(j, "class", pool_class_name(r->cls));
    json_bool(j, "cancelled", r->cancelled);
    json_uint(j, "worker", r->worker_tid);
    json_num(j, "wait_ms", r->started ? uv__ms(s, r->started - r->submitted) : 0);
    json_num(j, "run_ms", r->started ? uv__ms(s, r->ended - r->started) : 0);
    json_num(j, "callback_delay_ms", r->ended && r->done_begin > r->ended ? uv__ms(s, r->done_begin - r->ended) : 0);
    json_str(j, "callback_phase", phase_name(r->done_phase));
    json_close(j);
  }
  json_close(j);
}

int cmd_info_threadpool(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state == TARGET_NONE && !s->probe_info[0])
    return uvdb_error("the program has not run yet: use `run` or `start`");
  session_drain(s);
  const struct pool_model *p = &s->model.pool;
  struct uv__queue_stats q = {0};
  pool_each_active(p, uv__count, &q);
  uint64_t now = s->state == TARGET_EXITED ? 0 : __builtin_ia32_rdtsc();
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_threadpool");
    json_bool(j, "started", p->started);
    if (p->started)
      json_uint(j, "size", p->size);
    else
      json_null(j, "size");
    json_uint(j, "submitted", p->submitted);
    json_uint(j, "done", p->done);
    json_uint(j, "cancelled", p->cancelled);
    json_uint(j, "running", q.running);
    json_uint(j, "queued", q.queued);
    json_uint(j, "callback_due", q.callback_due);
  } else if (!p->started) {
    printf("The thread pool has not started: libuv starts it at the first job submitted (file system, DNS, "
           "uv_queue_work).\n");
    return 0;
  } else {
    printf("Thread pool: %u thread%s; %llu jobs submitted, %llu done (%llu cancelled), %llu running, %llu queued",
           p->size, p->size == 1 ? "" : "s", (unsigned long long)p->submitted, (unsigned long long)p->done,
           (unsigned long long)p->cancelled, (unsigned long long)q.running, (unsigned long long)q.queued);
    if (q.callback_due)
      printf(", %llu ended with their callback due", (unsigned long long)q.callback_due);
    printf("\n");
  }
  uv__workers(s, j, now);
  uv__queue(s, j, &q, now);
  if (j) {
    uv__quantiles(s, j, "wait_ms", &p->wait);
    uv__quantiles(s, j, "run_ms", &p->run);
    uv__quantiles(s, j, "callback_delay_ms", &p->delay);
    uv__recent(s, j);
    json_end(j);
  } else if (p->done) {
    printf("Done jobs:\n");
    uv__quantiles(s, NULL, "queue wait", &p->wait);
    uv__quantiles(s, NULL, "run", &p->run);
    uv__quantiles(s, NULL, "callback delay", &p->delay);
  }
  return 0;
}
