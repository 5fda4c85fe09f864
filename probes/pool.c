/* Thread-pool probes: each job's submission (uv__work_submit, and
 * uv_queue_work, into which libuv may inline it), its start and end on a
 * worker, and its done callback on the loop.  The job's functions are
 * swapped for wrappers at submission, the originals kept in a table keyed
 * by the job, so every worker and done callback passes through the probe. */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <stdlib.h>
#include <uv.h>

typedef void (*uv__work_fn)(void *w);
typedef void (*uv__done_fn)(void *w, int status);

static void (*uv__orig_work_submit)(void *loop, void *w, int kind, uv__work_fn work, uv__done_fn done);
static int (*uv__orig_queue_work)(void *loop, void *req, uv__work_fn work_cb, uv__done_fn after_cb);

/* A job in flight.  Written by the submitting loop thread before libuv
 * queues the job (its mutex orders that before any worker's read); removed
 * by the done callback, after which libuv forgets the job too. */
struct uv__job {
  _Atomic uintptr_t key; /* 0: never used; TOMBSTONE: free again */
  uv__work_fn work;
  uv__done_fn done;
  struct uvdb_loop *loop;
};

#define JOBS 8192u /* power of two */
#define JOB_PROBES 64
#define TOMBSTONE ((uintptr_t)1)

static struct uv__job uv__jobs[JOBS];
static _Atomic uint64_t uv__untracked; /* table full: run unwrapped */
static _Atomic int uv__pool_started;
static _Atomic uint32_t uv__queued; /* submitted, not yet started */
_Atomic uint32_t uvdb_pool_break_depths[UVDB_POOL_BREAKS];
static __thread int uv__in_queue_work __attribute__((tls_model("initial-exec")));

static unsigned uv__slot(uintptr_t key) {
  return (unsigned)(((key >> 4) * 0x9e3779b97f4a7c15ull) >> 51) & (JOBS - 1);
}

static struct uv__job *uv__job_insert(uintptr_t key) {
  unsigned at = uv__slot(key);
  for (int i = 0; i < JOB_PROBES; i++) {
    struct uv__job *j = &uv__jobs[(at + (unsigned)i) & (JOBS - 1)];
    uintptr_t seen = atomic_load_explicit(&j->key, memory_order_relaxed);
    if ((seen == 0 || seen == TOMBSTONE) && atomic_compare_exchange_strong(&j->key, &seen, key))
      return j;
  }
  atomic_fetch_add(&uv__untracked, 1);
  return NULL;
}

static struct uv__job *uv__job_find(uintptr_t key) {
  unsigned at = uv__slot(key);
  for (int i = 0; i < JOB_PROBES; i++) {
    struct uv__job *j = &uv__jobs[(at + (unsigned)i) & (JOBS - 1)];
    uintptr_t seen = atomic_load_explicit(&j->key, memory_order_acquire);
    if (seen == key)
      return j;
    if (seen == 0)
      break;
  }
  return NULL; /* cannot happen for a job whose functions were swapped */
}

static enum uvdb_pool_kind uv__kind_of(uv__work_fn work) {
  static const struct {
    enum uvdb_pool_fn fn;
    enum uvdb_pool_kind kind;
  } kinds[] = {{UVDB_POOL_FS_WORK, UVDB_POOL_KIND_FS},
               {UVDB_POOL_USER_WORK, UVDB_POOL_KIND_WORK},
               {UVDB_POOL_GETADDRINFO_WORK, UVDB_POOL_KIND_GETADDRINFO},
               {UVDB_POOL_GETNAMEINFO_WORK, UVDB_POOL_KIND_GETNAMEINFO},
               {UVDB_POOL_RANDOM_WORK, UVDB_POOL_KIND_RANDOM}};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (uvdb_probe.lib.pool[kinds[i].fn].addr == (uintptr_t)work)
      return kinds[i].kind;
  return UVDB_POOL_KIND_UNKNOWN;
}

/* libuv sizes its pool at the first submission, from UV_THREADPOOL_SIZE
 * (default 4, 0 is 1, at most 1024): read it as libuv is about to. */
static void uv__pool_init(struct uvdb_loop *l) {
  if (atomic_exchange(&uv__pool_started, 1))
    return;
  const char *val = getenv("UV_THREADPOOL_SIZE");
  unsigned n = val ? (unsigned)atoi(val) : 4; /* libuv's is unsigned: -1 is the most */
  n = n == 0 ? 1 : n > 1024 ? 1024 : n;
  uvdb_emit_at(uvdb_now(), UVDB_EV_POOL_INIT, l, (uint32_t)n, 0, 0);
}

/* A submission's event.  Returns the queue's depth when it reached the
 * depth of `break threadpool queue N` on a loop thread (0 otherwise): the
 * caller parks there once the job is queued. */
static uint32_t uv__submitted(struct uvdb_loop *l, uintptr_t key, uint32_t class_kind, uv__work_fn shown) {
  uv__pool_init(l);
  uvdb_emit_at(uvdb_now(), UVDB_EV_POOL_SUBMIT, l, class_kind, key, (uint64_t)(uintptr_t)shown);
  uint32_t depth = atomic_fetch_add(&uv__queued, 1) + 1;
  for (unsigned i = 0; i < UVDB_POOL_BREAKS; i++) {
    uint32_t want = atomic_load_explicit(&uvdb_pool_break_depths[i], memory_order_relaxed);
    if (uvdb_unlikely(want) && depth == want)
      return depth;
  }
  return 0;
}

/* Stop the submitting thread (the loop's: uvdb_loop_get made it so), in
 * its phase, or before its loop runs (a program's main code). */
static void uv__park_queued(struct uvdb_loop *l, uint32_t depth) {
  int d = uvdb_self.depth;
  const struct uvdb_run_frame *f = d > 0 && uvdb_self.frames[d - 1].loop == l ? &uvdb_self.frames[d - 1] : NULL;
  uvdb_park(l, UVDB_STOP_POOL_QUEUE | (depth < 0xffff ? depth : 0xffff) << 16, f ? f->cur_phase : -1,
            f && f->in_iter ? f->iter : atomic_load(&l->iterations), NULL, 0);
}

static void uv__started(const struct uv__job *j, uintptr_t key) {
  uvdb_profile_thread(UVDB_ROLE_POOL);
  atomic_fetch_sub(&uv__queued, 1);
  uvdb_emit_at(uvdb_now(), UVDB_EV_POOL_START, j->loop, 0, key, 0);
}

/* POOL_DONE's a32: the phase the done callback ran in, and 1 << 8 if the
 * job was cancelled (it never ran). */
static void uv__done_event(struct uvdb_loop *l, uintptr_t key, uint64_t begin, int status) {
  int d = uvdb_self.depth;
  uint32_t phase = d > 0 ? uvdb_self.frames[d - 1].cur_phase : UVDB_PHASE_POLL;
  uvdb_emit_at(begin, UVDB_EV_POOL_DONE, l, phase | (status ? 1u << 8 : 0), key, uvdb_now());
}

/* uv__work_submit's jobs: the wrappers get the struct uv__work. */
static void uv__work_wrapper(void *w) {
  struct uv__job *j = uv__job_find((uintptr_t)w);
  if (uvdb_unlikely(!j))
    abort(); /* the original is lost: nothing sane to run */
  uv__started(j, (uintptr_t)w);
  j->work(w);
  uvdb_emit_at(uvdb_now(), UVDB_EV_POOL_END, j->loop, 0, (uintptr_t)w, 0);
}

static void uv__done_wrapper(void *w, int status) {
  struct uv__job *j = uv__job_find((uintptr_t)w);
  if (uvdb_unlikely(!j))
    abort();
  uv__done_fn done = j->done;
  struct uvdb_loop *l = j->loop;
  atomic_store_explicit(&j->key, TOMBSTONE, memory_order_release); /* done may free or reuse w */
  if (uvdb_unlikely(status != 0)) /* cancelled while queued */
    atomic_fetch_sub(&uv__queued, 1);
  uint64_t begin = uvdb_now();
  done(w, status);
  uv__done_event(l, (uintptr_t)w, begin, status);
}

static void uv__hook_work_submit(void *loop, void *w, int kind, uv__work_fn work, uv__done_fn done) {
  struct uvdb_loop *l;
  struct uv__job *j;
  if (uv__in_queue_work || !atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed) ||
      !(l = uvdb_loop_get(loop)) || !(j = uv__job_insert((uintptr_t)w))) {
    uv__orig_work_submit(loop, w, kind, work, done); /* uv_queue_work's own: already wrapped */
    return;
  }
  j->work = work, j->done = done, j->loop = l;
  enum uvdb_pool_kind k = uv__kind_of(work);
  uint32_t fs_type = 0;
  if (k == UVDB_POOL_KIND_FS) /* the request around the job says which operation */
    fs_type = (uint32_t)((const uv_fs_t *)((const char *)w - offsetof(uv_fs_t, work_req)))->fs_type & 0xff;
  uint32_t hit = uv__submitted(l, (uintptr_t)w, ((uint32_t)kind & 0xf) | (uint32_t)k << 4 | fs_type << 8, work);
  uv__orig_work_submit(loop, w, kind, uv__work_wrapper, uv__done_wrapper);
  if (hit)
    uv__park_queued(l, hit);
}

/* uv_queue_work's jobs: its own callbacks are wrapped, keyed by the
 * request, since libuv may have inlined the submission. */
static void uv__work_cb_wrapper(void *req) {
  struct uv__job *j = uv__job_find((uintptr_t)req);
  if (uvdb_unlikely(!j))
    abort();
  uv__started(j, (uintptr_t)req);
  j->work(req);
  uvdb_emit_at(uvdb_now(), UVDB_EV_POOL_END, j->loop, 0, (uintptr_t)req, 0);
}

static void uv__after_work_cb_wrapper(void *req, int status) {
  struct uv__job *j = uv__job_find((uintptr_t)req);
  if (uvdb_unlikely(!j))
    abort();
  uv__done_fn after = j->done;
  struct uvdb_loop *l = j->loop;
  atomic_store_explicit(&j->key, TOMBSTONE, memory_order_release);
  if (uvdb_unlikely(status != 0))
    atomic_fetch_sub(&uv__queued, 1);
  uint64_t begin = uvdb_now();
  if (after)
    after(req, status);
  uv__done_event(l, (uintptr_t)req, begin, status);
}

static int uv__hook_queue_work(void *loop, void *req, uv__work_fn work_cb, uv__done_fn after_cb) {
  struct uvdb_loop *l;
  struct uv__job *j;
  if (!work_cb || !atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed) || !(l = uvdb_loop_get(loop)) ||
      !(j = uv__job_insert((uintptr_t)req)))
    return uv__orig_queue_work(loop, req, work_cb, after_cb);
  j->work = work_cb, j->done = after_cb, j->loop = l;
  uint32_t hit = uv__submitted(l, (uintptr_t)req, 0 /* cpu */ | UVDB_POOL_KIND_WORK << 4, work_cb);
  uv__in_queue_work = 1;
  int r = uv__orig_queue_work(loop, req, uv__work_cb_wrapper, uv__after_work_cb_wrapper);
  uv__in_queue_work = 0;
  if (r != 0) { /* refused: never queued */
    atomic_fetch_sub(&uv__queued, 1);
    atomic_store_explicit(&j->key, TOMBSTONE, memory_order_release);
  } else if (hit) {
    uv__park_queued(l, hit);
  }
  return r;
}

static struct uvdb_hook uv__pool_hooks[2] = {
    {.replacement = (void *)uv__hook_work_submit, .original = (void **)&uv__orig_work_submit},
    {.replacement = (void *)uv__hook_queue_work, .original = (void **)&uv__orig_queue_work},
};

struct uvdb_hook *uvdb_pool_hooks(size_t *n, const struct uvdb_located_fn **located) {
  static const struct uvdb_located_fn *fns[2];
  fns[0] = &uvdb_probe.lib.pool[UVDB_POOL_WORK_SUBMIT];
  fns[1] = &uvdb_probe.lib.pool[UVDB_POOL_QUEUE_WORK];
  for (int i = 0; i < 2; i++) {
    uv__pool_hooks[i].name = fns[i]->name;
    uv__pool_hooks[i].target = (uint8_t *)fns[i]->addr;
    uv__pool_hooks[i].size = fns[i]->size;
    located[i] = fns[i];
  }
  *n = 2;
  return uv__pool_hooks;
}

uint64_t uvdb_pool_untracked(void) {
  return atomic_load(&uv__untracked);
}
