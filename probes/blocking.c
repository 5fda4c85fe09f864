/* Blocking: each epoll wait of a loop thread (its loop's lag and idle
 * time), the watchdog that samples a loop running too long without a
 * boundary, and file-system calls run on the loop thread itself. */
#define _GNU_SOURCE
#include "../preload/probe.h"
#include "../preload/rawsys.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/epoll.h>
#include <uv.h>

typedef int (*uv__epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*uv__epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
static uv__epoll_wait_fn uv__real_epoll_wait;
static uv__epoll_pwait_fn uv__real_epoll_pwait;
static void (*uv__orig_fs_work)(void *w);

#define MAX_BLOCKED_SAMPLES 4
#define WATCHDOG_SLOTS 4 /* slots 0..3; sync I/O takes 4..6; uvdb's SAMPLE the last */
#define SYNC_IO_SLOT0 4
#define SYNC_IO_SLOTS 3

void uvdb_blocking_init(void) {
  uv__real_epoll_wait = (uv__epoll_wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
  uv__real_epoll_pwait = (uv__epoll_pwait_fn)dlsym(RTLD_NEXT, "epoll_pwait");
}

/* ---- the loop's waits ---- */

/* The loop whose uv__io_poll runs on this thread now, or NULL. */
static inline struct uvdb_run_frame *uv__polling(void) {
  int d = uvdb_self.depth;
  return uvdb_self.in_poll && d > 0 ? &uvdb_self.frames[d - 1] : NULL;
}

/* A stretch the watchdog caught ends where the loop goes to sleep or
 * reaches a boundary: report it (and stop there for `break blocked`).
 * Only the stretch the loop itself began: the agent may have flagged an
 * older one just as it ended. */
void uvdb_blocked_end(struct uvdb_loop *l, uint64_t now, int phase, uint64_t iteration) {
  uint64_t since = atomic_exchange(&l->blocked_since, 0);
  if (!since || since != atomic_load_explicit(&l->busy_since, memory_order_relaxed))
    return;
  uint32_t samples = atomic_load(&l->blocked_samples), at = atomic_load(&l->blocked_phase);
  uvdb_emit_at(since, UVDB_EV_BLOCKED, l, (at & 0xff) | samples << 8, iteration, now);
  uint64_t brk = atomic_load_explicit(&uvdb_probe.break_blocked_ticks, memory_order_relaxed);
  if (brk && now - since >= brk)
    uvdb_park(l, UVDB_STOP_BLOCKED, phase, iteration, NULL, 0);
}

static uint64_t uv__wait_begin(struct uvdb_run_frame *f) {
  uint64_t t = uvdb_now();
  struct uvdb_loop *l = f->loop;
  uvdb_callback_end(f, t); /* uv__io_poll waits again after running callbacks */
  if (uvdb_unlikely(atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed)) &&
      atomic_load_explicit(&l->blocked_since, memory_order_relaxed))
    uvdb_blocked_end(l, t, UVDB_PHASE_POLL, f->iter);
  atomic_store_explicit(&l->busy_since, 0, memory_order_relaxed);
  return t;
}

/* A loop that always has work (idle handles, immediates) polls with no
 * timeout every iteration: such a wait that found nothing and returned
 * less than a millisecond after libuv's clock update says only "no lag,
 * no idle time", and is counted in the next record (a32 >> 17) instead of
 * taking one of its own. */
static void uv__wait_end(struct uvdb_run_frame *f, uint64_t t0, int r) {
  uint64_t t1 = uvdb_now();
  atomic_store_explicit(&f->loop->busy_since, t1, memory_order_relaxed);
  uint32_t first = uvdb_self.in_poll == 1;
  uvdb_self.in_poll = 2;
  uint64_t ms = atomic_load_explicit(&uvdb_probe.ticks_per_ms, memory_order_relaxed);
  if (first && r == 0 && f->poll_timeout == 0 && ms && t1 - f->clock_update < ms && f->quiet_polls < 0x7fff) {
    f->quiet_polls++;
    return;
  }
  uint32_t events = r < 0 ? 0xffffu : r > 0xfffe ? 0xfffeu : (uint32_t)r;
  uvdb_emit_at(t0, UVDB_EV_POLL_WAIT, f->loop, events | first << 16 | f->quiet_polls << 17,
               first ? f->poll_timeout : UINT64_MAX, t1);
  f->quiet_polls = 0;
}

/* libuv's epoll calls, interposed: in every process the probe is loaded
 * into, so anything but a watched loop's poll goes straight through. */
__attribute__((visibility("default"))) int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
  if (uvdb_unlikely(!uv__real_epoll_wait))
    uvdb_blocking_init();
  struct uvdb_run_frame *f = uv__polling();
  if (!f)
    return uv__real_epoll_wait(epfd, ev, max, timeout);
  uint64_t t0 = uv__wait_begin(f);
  int r = uv__real_epoll_wait(epfd, ev, max, timeout);
  uv__wait_end(f, t0, r);
  return r;
}

__attribute__((visibility("default"))) int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                                                       const sigset_t *mask) {
  if (uvdb_unlikely(!uv__real_epoll_pwait))
    uvdb_blocking_init();
  struct uvdb_run_frame *f = uv__polling();
  if (!f)
    return uv__real_epoll_pwait(epfd, ev, max, timeout, mask);
  uint64_t t0 = uv__wait_begin(f);
  int r = uv__real_epoll_pwait(epfd, ev, max, timeout, mask);
  uv__wait_end(f, t0, r);
  return r;
}

/* ---- the watchdog, on the agent: raw system calls only ---- */

void uvdb_watchdog_tick(void) {
  uint64_t threshold = atomic_load(&uvdb_probe.watchdog_ticks);
  if (!threshold || !uvdb_probe.shm)
    return;
  static unsigned next_slot;
  uint64_t now = uvdb_now();
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    if (!atomic_load(&l->loop))
      continue;
    uint64_t since = atomic_load_explicit(&l->busy_since, memory_order_relaxed);
    if (l->id < 65)
      atomic_store_explicit(&uvdb_probe.shm->loop_busy_since[l->id], since, memory_order_relaxed);
    if (!since || now < since || now - since < threshold)
      continue;
    if (atomic_load(&l->blocked_since) != since) { /* a new stretch */
      atomic_store(&l->blocked_samples, 0);
      atomic_store(&l->blocked_last_sample, 0);
      atomic_store(&l->blocked_phase, (uint32_t)atomic_load(&l->phase_now));
      atomic_store(&l->blocked_since, since);
      atomic_store(&uvdb_probe.attention, UVDB_ATTN_ALL); /* its end is reported at the loop's next boundary */
    }
    uint64_t last = atomic_load(&l->blocked_last_sample);
    if (atomic_load(&l->blocked_samples) < MAX_BLOCKED_SAMPLES && (!last || now - last >= threshold / 2)) {
      atomic_fetch_add(&l->blocked_samples, 1);
      atomic_store(&l->blocked_last_sample, now);
      uvdb_request_sample(atomic_load(&l->tid), next_slot++ % WATCHDOG_SLOTS, UVDB_SAMPLE_BLOCKED, since);
    }
  }
}

int uvdb_watchdog_pending(void) {
  for (int i = 0; i < UVDB_MAX_LOOPS; i++)
    if (atomic_load(&uvdb_probe.loops[i].blocked_since))
      return 1;
  return 0;
}

/* ---- file-system calls on the loop thread ---- */

/* A pool worker runs uv__fs_work through the pool's wrapper; run by a
 * thread inside uv_run, it is a synchronous call (fs.readFileSync, ...). */
static void uv__hook_fs_work(void *w) {
  int d = uvdb_self.depth;
  if (d <= 0 || !atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed)) {
    uv__orig_fs_work(w);
    return;
  }
  struct uvdb_loop *l = uvdb_self.frames[d - 1].loop;
  uint64_t t0 = uvdb_now(), sample = 0;
  uv__orig_fs_work(w);
  uint64_t t1 = uvdb_now();
  /* The stack is still the caller's: sampled after the call, when it is
   * known to be long (a millisecond and more), or 5 ms after the last. */
  static _Atomic uint64_t last_sample;
  static _Atomic unsigned next_slot;
  uint64_t ms = atomic_load_explicit(&uvdb_probe.ticks_per_ms, memory_order_relaxed);
  uint64_t last = atomic_load_explicit(&last_sample, memory_order_relaxed);
  if (t1 - t0 >= ms || !last || t1 - last >= 5 * ms) {
    atomic_store_explicit(&last_sample, t1, memory_order_relaxed);
    struct uvdb_stop_stack regs;
    uvdb_here(&regs);
    uvdb_sample_take(&regs, SYNC_IO_SLOT0 + atomic_fetch_add(&next_slot, 1) % SYNC_IO_SLOTS, UVDB_SAMPLE_SYNC_IO, t0);
    sample = t0;
  }
  uint32_t fs_type = (uint32_t)((const uv_fs_t *)((const char *)w - offsetof(uv_fs_t, work_req)))->fs_type & 0xff;
  uvdb_emit_at(t0, UVDB_EV_SYNC_IO, l, fs_type, sample, t1);
}

static struct uvdb_hook uv__fs_work_hook = {.replacement = (void *)uv__hook_fs_work,
                                           .original = (void **)&uv__orig_fs_work};

struct uvdb_hook *uvdb_blocking_hooks(size_t *n, const struct uvdb_located_fn **located) {
  const struct uvdb_located_fn *fn = &uvdb_probe.lib.pool[UVDB_POOL_FS_WORK];
  uv__fs_work_hook.name = fn->name;
  uv__fs_work_hook.target = (uint8_t *)fn->addr;
  uv__fs_work_hook.size = fn->size;
  located[0] = fn;
  *n = 1;
  return &uv__fs_work_hook;
}
