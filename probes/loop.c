/* Loop phases: hooks on uv_run and the phase functions, and the state
 * machine that places the phases libuv inlines (pending, closing) between
 * their hooked neighbours and cuts the run into iterations. */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <unistd.h>

#define MAX_NESTED_RUNS 4

enum anchor_kind { ANCHOR_RUN_ENTRY, ANCHOR_PHASE_EXIT };

/* One uv_run call in progress on this thread. */
struct run_frame {
  struct uvdb_loop *loop;
  int mode; /* uv_run_mode: 0 default, 1 once, 2 nowait */
  int in_iter;
  int anchor_kind;
  int anchor_phase;
  uint64_t anchor; /* time of the last hooked boundary */
  uint64_t iter;
};

static __thread struct run_frame uv__frames[MAX_NESTED_RUNS] __attribute__((tls_model("initial-exec")));
static __thread int uv__depth __attribute__((tls_model("initial-exec")));

static int (*uv__orig_run)(void *loop, int mode);
static void (*uv__orig_run_timers)(void *loop);
static void (*uv__orig_run_idle)(void *loop);
static void (*uv__orig_run_prepare)(void *loop);
static void (*uv__orig_io_poll)(void *loop, int timeout);
static void (*uv__orig_run_check)(void *loop);

/* libuv 1.45 moved timers to the end of the iteration: pending opens it. */
static int uv__pending_first(void) {
  return uvdb_probe.lib.version >= 0x012d00;
}

static uint64_t uv__iteration(const struct run_frame *f) {
  return f->in_iter ? f->iter : atomic_load_explicit(&f->loop->iterations, memory_order_relaxed);
}

static void uv__iter_begin(struct run_frame *f, uint64_t ts) {
  if (f->in_iter)
    uvdb_emit_at(ts, UVDB_EV_ITER_END, f->loop, 0, f->iter);
  f->in_iter = 1;
  f->iter = atomic_fetch_add_explicit(&f->loop->iterations, 1, memory_order_relaxed) + 1;
  uvdb_emit_at(ts, UVDB_EV_ITER_BEGIN, f->loop, 0, f->iter);
}

static void uv__inferred_phase(struct run_frame *f, int phase, uint64_t begin, uint64_t end) {
  uvdb_emit_at(begin, UVDB_EV_PHASE_BEGIN, f->loop, (uint32_t)phase, f->iter);
  uvdb_emit_at(end, UVDB_EV_PHASE_END, f->loop, (uint32_t)phase, f->iter);
}

/* The closing handles run right after uv__run_check returns, up to the next
 * hooked boundary. */
static void uv__close_closing(struct run_frame *f, uint64_t now) {
  if (f->anchor_kind == ANCHOR_PHASE_EXIT && f->anchor_phase == UVDB_PHASE_CHECK) {
    uv__inferred_phase(f, UVDB_PHASE_CLOSING, f->anchor, now);
    f->anchor_kind = ANCHOR_RUN_ENTRY; /* consumed */
  }
}

/* A frame for this loop; hooks installed while uv_run was already running
 * (attach) find none and start one. */
static struct run_frame *uv__frame(void *loop) {
  if (uvdb_likely(uv__depth > 0 && atomic_load_explicit(&uv__frames[uv__depth - 1].loop->loop,
                                                         memory_order_relaxed) == loop))
    return &uv__frames[uv__depth - 1];
  struct uvdb_loop *l = uvdb_loop_get(loop);
  if (!l || uv__depth >= MAX_NESTED_RUNS)
    return NULL;
  struct run_frame *f = &uv__frames[uv__depth++];
  *f = (struct run_frame){.loop = l, .anchor = uvdb_now()};
  return f;
}

static struct run_frame *uv__phase_enter(void *loop, int phase) {
  struct run_frame *f = uv__frame(loop);
  if (!f)
    return NULL;
  uint64_t t = uvdb_now();
  uv__close_closing(f, t);
  if (phase == UVDB_PHASE_IDLE) {
    if (uv__pending_first())
      uv__iter_begin(f, f->anchor);
    uv__inferred_phase(f, UVDB_PHASE_PENDING, f->anchor, t);
  } else if (phase == UVDB_PHASE_TIMERS && !uv__pending_first() && (!f->in_iter || f->mode == 0)) {
    uv__iter_begin(f, t); /* 1.44's UV_RUN_ONCE runs timers again at the end: same iteration */
  }
  atomic_store_explicit(&f->loop->phase, phase, memory_order_relaxed);
  if (uvdb_unlikely(atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed))) {
    uvdb_safepoint_slow(f->loop);
    t = uvdb_now(); /* time parked belongs to no phase */
  }
  uvdb_emit_at(t, UVDB_EV_PHASE_BEGIN, f->loop, (uint32_t)phase, uv__iteration(f));
  return f;
}

static void uv__phase_exit(struct run_frame *f, int phase) {
  if (!f)
    return;
  uint64_t t = uvdb_now();
  uvdb_emit_at(t, UVDB_EV_PHASE_END, f->loop, (uint32_t)phase, uv__iteration(f));
  atomic_store_explicit(&f->loop->phase, -1, memory_order_relaxed);
  f->anchor = t;
  f->anchor_kind = ANCHOR_PHASE_EXIT;
  f->anchor_phase = phase;
}

static int uv__hook_run(void *loop, int mode) {
  struct uvdb_loop *l = uvdb_loop_get(loop);
  if (!l || uv__depth >= MAX_NESTED_RUNS)
    return uv__orig_run(loop, mode);
  struct run_frame *f = &uv__frames[uv__depth++];
  *f = (struct run_frame){.loop = l, .mode = mode, .anchor = uvdb_now()};
  uvdb_emit_at(f->anchor, UVDB_EV_RUN_BEGIN, l, (uint32_t)mode, 0);
  int r = uv__orig_run(loop, mode);
  uint64_t t = uvdb_now();
  f = &uv__frames[uv__depth - 1];
  uv__close_closing(f, t);
  if (f->in_iter)
    uvdb_emit_at(t, UVDB_EV_ITER_END, l, 0, f->iter);
  uvdb_emit_at(t, UVDB_EV_RUN_END, l, (uint32_t)r, 0);
  uv__depth--;
  return r;
}

#define UV__PHASE_HOOK(fn, phase)                    \
  static void uv__hook_##fn(void *loop) {            \
    struct run_frame *f = uv__phase_enter(loop, phase); \
    uv__orig_##fn(loop);                             \
    uv__phase_exit(f, phase);                        \
  }

UV__PHASE_HOOK(run_timers, UVDB_PHASE_TIMERS)
UV__PHASE_HOOK(run_idle, UVDB_PHASE_IDLE)
UV__PHASE_HOOK(run_prepare, UVDB_PHASE_PREPARE)
UV__PHASE_HOOK(run_check, UVDB_PHASE_CHECK)

static void uv__hook_io_poll(void *loop, int timeout) {
  struct run_frame *f = uv__phase_enter(loop, UVDB_PHASE_POLL);
  uvdb_self.in_poll = 1;
  uv__orig_io_poll(loop, timeout);
  uvdb_self.in_poll = 0;
  uv__phase_exit(f, UVDB_PHASE_POLL);
}

static struct uvdb_hook uv__hooks[UVDB_FN_COUNT] = {
    [UVDB_FN_UV_RUN] = {.replacement = (void *)uv__hook_run, .original = (void **)&uv__orig_run},
    [UVDB_FN_RUN_TIMERS] = {.replacement = (void *)uv__hook_run_timers, .original = (void **)&uv__orig_run_timers},
    [UVDB_FN_RUN_IDLE] = {.replacement = (void *)uv__hook_run_idle, .original = (void **)&uv__orig_run_idle},
    [UVDB_FN_RUN_PREPARE] = {.replacement = (void *)uv__hook_run_prepare, .original = (void **)&uv__orig_run_prepare},
    [UVDB_FN_IO_POLL] = {.replacement = (void *)uv__hook_io_poll, .original = (void **)&uv__orig_io_poll},
    [UVDB_FN_RUN_CHECK] = {.replacement = (void *)uv__hook_run_check, .original = (void **)&uv__orig_run_check},
};

struct uvdb_hook *uvdb_loop_hooks(size_t *n) {
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *fn = &uvdb_probe.lib.fn[i];
    uv__hooks[i].name = fn->name;
    uv__hooks[i].target = (uint8_t *)fn->addr;
    uv__hooks[i].size = fn->size;
  }
  *n = UVDB_FN_COUNT;
  return uv__hooks;
}
