/* The thread-pool model: the probe's pool events (submit, start, end,
 * done) turned into jobs in flight, workers, and distributions. */
#include "pool.h"

#include "../probes/wire.h"
#include <stdlib.h>
#include <string.h>

/* ---- jobs by key: an open-addressing map to each key's oldest job ---- */

static unsigned uv__hash(uint64_t key, unsigned cap) {
  return (unsigned)(((key >> 3) * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static unsigned uv__map_find(const struct pool_model *p, uint64_t key) {
  unsigned i = uv__hash(key, p->map_cap);
  while (p->map[i] >= 0 && p->jobs[p->map[i]].key != key)
    i = (i + 1) & (p->map_cap - 1);
  return i;
}

static void uv__map_grow(struct pool_model *p) {
  unsigned old_cap = p->map_cap;
  int *old = p->map;
  p->map_cap = old_cap ? old_cap * 2 : 1024;
  p->map = malloc(sizeof(int) * p->map_cap);
  memset(p->map, 0xff, sizeof(int) * p->map_cap);
  for (unsigned i = 0; i < old_cap; i++)
    if (old[i] >= 0)
      p->map[uv__map_find(p, p->jobs[old[i]].key)] = old[i];
  free(old);
}

/* Linear probing's deletion: shift later entries of the run back. */
static void uv__map_delete(struct pool_model *p, unsigned i) {
  unsigned mask = p->map_cap - 1;
  p->map[i] = -1;
  for (unsigned j = (i + 1) & mask; p->map[j] >= 0; j = (j + 1) & mask) {
    unsigned home = uv__hash(p->jobs[p->map[j]].key, p->map_cap);
    /* does home lie cyclically in (i, j]?  Then the entry stays. */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      p->map[i] = p->map[j];
      p->map[j] = -1;
      i = j;
    }
  }
}

static int uv__job_new(struct pool_model *p, uint64_t key) {
  if (!p->nfree) {
    int cap = p->cap ? p->cap * 2 : 1024;
    p->jobs = realloc(p->jobs, sizeof(*p->jobs) * (size_t)cap);
    memset(p->jobs + p->cap, 0, sizeof(*p->jobs) * (size_t)(cap - p->cap)); /* free slots: key 0 */
    p->free_list = realloc(p->free_list, sizeof(int) * (size_t)cap);
    for (int i = cap - 1; i >= p->cap; i--)
      p->free_list[p->nfree++] = i;
    p->cap = cap;
  }
  if ((p->active + 1) * 2 > p->map_cap)
    uv__map_grow(p);
  int idx = p->free_list[--p->nfree];
  struct pool_job *j = &p->jobs[idx];
  memset(j, 0, sizeof(*j));
  j->key = key;
  j->next = -1;
  j->tail = idx;
  unsigned at = uv__map_find(p, key);
  if (p->map[at] < 0) {
    p->map[at] = idx;
  } else { /* at the chain's end, which its first job keeps */
    struct pool_job *head = &p->jobs[p->map[at]];
    p->jobs[head->tail].next = idx;
    head->tail = idx;
  }
  p->active++;
  return idx;
}

/* The oldest job of this key still missing the event `field` tells of.
 * A submission starts a new job unless one was made by an event that came
 * before it (the rings are read in any order): the common case walks no
 * chain. */
#define UV__FIELD(f) offsetof(struct pool_job, f)
static struct pool_job *uv__job_waiting(struct pool_model *p, uint64_t key, size_t field, int create) {
  if (p->map_cap && (field != UV__FIELD(submitted) || p->unsubmitted)) {
    unsigned at = uv__map_find(p, key);
    for (int t = p->map[at]; t >= 0; t = p->jobs[t].next) {
      struct pool_job *j = &p->jobs[t];
      if (!*(uint64_t *)((char *)j + field) && !(j->cancelled && field != UV__FIELD(submitted)))
        return j;
    }
  }
  if (!create)
    return NULL;
  int idx = uv__job_new(p, key); /* may move the jobs */
  if (field != UV__FIELD(submitted))
    p->unsubmitted++;
  return &p->jobs[idx];
}

static void uv__job_free(struct pool_model *p, struct pool_job *j) {
  int idx = (int)(j - p->jobs);
  unsigned at = uv__map_find(p, j->key);
  if (p->map[at] == idx) {
    if (j->next >= 0) {
      p->jobs[j->next].tail = j->tail; /* the new first job keeps the end */
      p->map[at] = j->next;
    } else {
      uv__map_delete(p, at);
    }
  } else {
    struct pool_job *head = &p->jobs[p->map[at]];
    int t = p->map[at];
    while (p->jobs[t].next != idx)
      t = p->jobs[t].next;
    p->jobs[t].next = j->next;
    if (head->tail == idx)
      head->tail = t;
  }
  j->key = 0;
  p->free_list[p->nfree++] = idx;
  p->active--;
}

/* ---- the model ---- */

void pool_reset(struct pool_model *p) {
  free(p->jobs);
  free(p->free_list);
  free(p->map);
  memset(p, 0, sizeof(*p));
}

struct pool_worker *pool_worker(struct pool_model *p, uint32_t tid) {
  for (int i = 0; i < p->nworkers; i++)
    if (p->workers[i].tid == tid)
      return &p->workers[i];
  if (p->nworkers == POOL_MAX_WORKERS)
    return NULL;
  struct pool_worker *w = &p->workers[p->nworkers++];
  memset(w, 0, sizeof(*w));
  w->tid = tid;
  return w;
}

/* Every event of the job is in: count it and let it go. */
static void uv__settle(struct pool_model *p, struct pool_job *j) {
  if (!j->submitted || !j->done_end || (!j->cancelled && (!j->started || !j->ended)))
    return;
  p->done++;
  if (j->cancelled) {
    p->cancelled++;
  } else {
    histogram_add(&p->wait, j->started > j->submitted ? j->started - j->submitted : 0);
    histogram_add(&p->run, j->ended > j->started ? j->ended - j->started : 0);
    histogram_add(&p->delay, j->done_begin > j->ended ? j->done_begin - j->ended : 0);
  }
  if (j->kind < POOL_KINDS)
    p->done_by_kind[j->kind]++;
  p->recent[(p->recent_at + p->nrecent) % POOL_RECENT] = *j;
  if (p->nrecent < POOL_RECENT)
    p->nrecent++;
  else
    p->recent_at = (p->recent_at + 1) % POOL_RECENT;
  uv__job_free(p, j);
}

void pool_apply(struct pool_model *p, const struct uvdb_record *r, const struct uvdb_ring *ring) {
  struct pool_job *j;
  switch (r->type) {
  case UVDB_EV_POOL_INIT:
    p->started = 1;
    p->size = r->a32;
    break;
  case UVDB_EV_POOL_SUBMIT:
    p->submitted++;
    j = uv__job_waiting(p, r->x, UV__FIELD(submitted), 1);
    if (j->started || j->ended || j->done_end) /* made by an earlier event: now submitted */
      p->unsubmitted--;
    j->submitted = r->ts;
    j->work_fn = r->y;
    j->cls = r->a32 & 0xf;
    j->kind = (r->a32 >> 4) & 0xf;
    j->fs_type = (r->a32 >> 8) & 0xff;
    j->loop_id = r->loop_id;
    uv__settle(p, j);
    break;
  case UVDB_EV_POOL_START: {
    j = uv__job_waiting(p, r->x, UV__FIELD(started), 1);
    j->started = r->ts;
    j->worker_tid = ring->tid;
    struct pool_worker *w = pool_worker(p, ring->tid);
    if (w)
      w->job = r->x, w->since = r->ts;
    uv__settle(p, j);
    break;
  }
  case UVDB_EV_POOL_END: {
    j = uv__job_waiting(p, r->x, UV__FIELD(ended), 1);
    j->ended = r->ts;
    struct pool_worker *w = pool_worker(p, ring->tid);
    if (w) {
      w->jobs++;
      w->busy += r->ts > w->since ? r->ts - w->since : 0;
      w->job = 0, w->since = r->ts;
    }
    uv__settle(p, j);
    break;
  }
  case UVDB_EV_POOL_DONE:
    j = uv__job_waiting(p, r->x, UV__FIELD(done_end), 1);
    j->done_begin = r->ts;
    j->done_end = r->y ? r->y : r->ts;
    j->done_phase = r->a32 & 0xff;
    j->cancelled = (r->a32 >> 8) & 1;
    uv__settle(p, j);
    break;
  default:
    break;
  }
}

void pool_each_active(const struct pool_model *p, void (*fn)(const struct pool_job *j, void *arg), void *arg) {
  for (int i = 0; i < p->cap; i++)
    if (p->jobs[i].key && p->jobs[i].submitted && !p->jobs[i].done_end)
      fn(&p->jobs[i], arg);
}

const char *pool_kind_name(int kind) {
  static const char *const names[POOL_KINDS] = {"job", "fs", "work", "getaddrinfo", "getnameinfo", "random"};
  return kind >= 0 && kind < POOL_KINDS ? names[kind] : "job";
}

const char *pool_class_name(int cls) {
  static const char *const names[] = {"cpu", "fast_io", "slow_io"};
  return cls >= 0 && cls < 3 ? names[cls] : "unknown";
}

/* uv_fs_type's values, as uv.h numbers them (1.44 to 1.46). */
const char *pool_fs_op_name(int fs_type) {
  static const char *const names[] = {
      "unknown", "custom",    "open",    "close",   "read",     "write",    "sendfile", "stat",
      "lstat",   "fstat",     "ftruncate", "utime", "futime",   "access",   "chmod",    "fchmod",
      "fsync",   "fdatasync", "unlink",  "rmdir",   "mkdir",    "mkdtemp",  "rename",   "scandir",
      "link",    "symlink",   "readlink", "chown",  "fchown",   "realpath", "copyfile", "lchown",
      "opendir", "readdir",   "closedir", "statfs", "mkstemp",  "lutime"};
  int i = fs_type + 1; /* UV_FS_UNKNOWN is -1 */
  return i >= 0 && i < (int)(sizeof(names) / sizeof(names[0])) ? names[i] : "fs";
}
