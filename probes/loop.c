/* Loop phases: hooks on uv_run and the phase functions, and the state
 * machine that places the phases libuv inlines (pending, closing) between
 * their hooked neighbours and cuts the run into iterations. */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <unistd.h>

enum anchor_kind {
  ANCHOR_RUN_ENTRY, /* uv_run just began */
  ANCHOR_EXIT,      /* a phase ended at `anchor` */
  ANCHOR_DEFERRED,  /* a phase ended; the next boundary's time is its end */
};

#define UV__HOT static inline __attribute__((always_inline))

static int (*uv__orig_run)(void *loop, int mode);
static void (*uv__orig_run_timers)(void *loop);
static void (*uv__orig_run_idle)(void *loop);
static void (*uv__orig_run_prepare)(void *loop);
static void (*uv__orig_io_poll)(void *loop, int timeout);
static void (*uv__orig_run_check)(void *loop);

UV__HOT uint64_t uv__frame_iteration(const struct uvdb_run_frame *f) {
  return f->in_iter ? f->iter : atomic_load_explicit(&f->loop->iterations, memory_order_relaxed);
}

UV__HOT void uv__emit_phase(struct uvdb_run_frame *f, int phase, uint64_t begin, uint64_t end) {
  uint64_t iter = uv__frame_iteration(f);
  uvdb_emit_at(begin, UVDB_EV_PHASE, f->loop, (uint32_t)phase | (f->in_iter ? UVDB_PHASE_IN_ITERATION : 0), iter,
               end);
}

UV__HOT void uv__iter_boundary(struct uvdb_run_frame *f, uint64_t ts) {
  if (f->in_iter)
    uvdb_emit_at(f->iter_begin, UVDB_EV_ITERATION, f->loop, 0, f->iter, ts);
  f->in_iter = 1;
  /* only this loop's thread counts its iterations: no locked add */
  f->iter = atomic_load_explicit(&f->loop->iterations, memory_order_relaxed) + 1;
  atomic_store_explicit(&f->loop->iterations, f->iter, memory_order_relaxed);
  f->iter_begin = ts;
}

/* At a boundary at time t: end a deferred phase, and the closing handles,
 * which run from uv__run_check's return to the next boundary. */
UV__HOT void uv__settle(struct uvdb_run_frame *f, uint64_t t) {
  if (f->anchor_kind == ANCHOR_DEFERRED) {
    uv__emit_phase(f, f->anchor_phase, f->phase_begin, t);
    f->anchor_kind = ANCHOR_EXIT;
    f->anchor = t;
  } else if (f->anchor_kind == ANCHOR_EXIT && f->anchor_phase == UVDB_PHASE_CHECK) {
    uv__emit_phase(f, UVDB_PHASE_CLOSING, f->anchor, t);
    f->anchor_phase = UVDB_PHASE_CLOSING;
    f->anchor = t;
  }
}

/* A frame for this loop; hooks installed while uv_run was already running
 * (attach) find none and start one. */
static struct uvdb_run_frame *uv__frame_new(void *loop) {
  struct uvdb_loop *l = uvdb_loop_get(loop);
  if (!l || uvdb_self.depth >= UVDB_MAX_NESTED_RUNS)
    return NULL;
  struct uvdb_run_frame *f = &uvdb_self.frames[uvdb_self.depth++];
  *f = (struct uvdb_run_frame){.uv_loop = loop, .loop = l, .anchor = uvdb_now()};
  return f;
}

UV__HOT struct uvdb_run_frame *uv__frame(void *loop) {
  int d = uvdb_self.depth;
  if (uvdb_likely(d > 0 && uvdb_self.frames[d - 1].uv_loop == loop))
    return &uvdb_self.frames[d - 1];
  return uv__frame_new(loop);
}

/* Out of line: one copy shared by the five hooks stays in the i-cache of a
 * target with a large code footprint (Node), at no cost measured in C. */
static __attribute__((noinline)) struct uvdb_run_frame *uv__phase_enter(void *loop, int phase) {
  struct uvdb_run_frame *f = uv__frame(loop);
  if (!f)
    return NULL;
  if (uvdb_unlikely(uvdb_self.in_poll)) { /* the poll an attach adopted has returned */
    uvdb_self.in_poll = 0;
    atomic_store_explicit(&f->loop->phase, -1, memory_order_relaxed);
  }
  uint64_t t = uvdb_now();
  uvdb_callback_end(f, t);
  uv__settle(f, t);
  if (phase == UVDB_PHASE_IDLE) {
    /* pending ran inline between the last boundary and here */
    if (uvdb_probe.pending_first)
      uv__iter_boundary(f, f->anchor);
    uv__emit_phase(f, UVDB_PHASE_PENDING, f->anchor, t);
  } else if (phase == UVDB_PHASE_TIMERS && !uvdb_probe.pending_first) {
    if (!f->in_iter || f->mode == 0)
      uv__iter_boundary(f, t);
    else
      f->trailing_timers = 1; /* 1.44's UV_RUN_ONCE runs timers again at the end: same iteration */
  }
  if (uvdb_safepoint_wanted(f->loop, phase) && uvdb_safepoint_slow(f->loop, phase, uv__frame_iteration(f)))
    t = uvdb_now(); /* time parked belongs to no phase */
  f->phase_begin = t;
  f->cur_phase = (uint8_t)phase;
  if (phase == UVDB_PHASE_TIMERS)
    f->clock_update = t; /* libuv updates its clock just before */
  uvdb_mark_busy(f->loop, t, phase);
  return f;
}

/* A safepoint before a phase libuv runs inline (pending, closing): the
 * boundary before it is the end of the hooked phase before it. */
static void uv__inline_safepoint(struct uvdb_run_frame *f, int phase) {
  if (!uvdb_safepoint_wanted(f->loop, phase))
    return;
  uint64_t iter = phase == UVDB_PHASE_PENDING && uvdb_probe.pending_first
                      ? atomic_load_explicit(&f->loop->iterations, memory_order_relaxed) + 1
                      : uv__frame_iteration(f);
  if (uvdb_safepoint_slow(f->loop, phase, iter))
    f->anchor = uvdb_now(); /* the inlined phase begins when the loop goes on */
}

/* Phases followed by an inlined one (timers: pending; check: closing) end on
 * their own clock.  The others end where the next phase begins, whose
 * timestamp serves for both (a TSC read is 11.5 ns on an EPYC under KVM):
 * idle and prepare a few instructions before it, poll after the pending
 * callbacks libuv runs right after polling (I/O completions, such as write
 * callbacks), which are counted in poll. */
static __attribute__((noinline)) void uv__phase_exit(struct uvdb_run_frame *f, int phase, int timed) {
  if (!f)
    return;
  f->anchor_phase = (uint8_t)phase;
  if (!timed) {
    f->anchor_kind = ANCHOR_DEFERRED;
    return;
  }
  uint64_t t = uvdb_now();
  uvdb_callback_end(f, t);
  uv__emit_phase(f, phase, f->phase_begin, t);
  f->anchor = t;
  f->anchor_kind = ANCHOR_EXIT;
  f->cur_phase = phase == UVDB_PHASE_CHECK ? UVDB_PHASE_CLOSING : UVDB_PHASE_PENDING;
  if (uvdb_unlikely(atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed)) && !f->trailing_timers)
    uv__inline_safepoint(f, f->cur_phase); /* a stretch the watchdog caught ends here too */
  uvdb_mark_busy(f->loop, f->anchor, f->cur_phase); /* the anchor moved if it parked */
}

static int uv__hook_run(void *loop, int mode) {
  struct uvdb_loop *l = uvdb_loop_get(loop);
  if (!l || uvdb_self.depth >= UVDB_MAX_NESTED_RUNS)
    return uv__orig_run(loop, mode);
  struct uvdb_run_frame *f = &uvdb_self.frames[uvdb_self.depth++];
  *f = (struct uvdb_run_frame){.uv_loop = loop, .loop = l, .mode = (uint8_t)mode, .anchor = uvdb_now(),
                               .cur_phase = uvdb_probe.pending_first ? UVDB_PHASE_PENDING : UVDB_PHASE_TIMERS};
  /* the patched entry jumps here: our return address is uv_run's own */
  uvdb_emit_at(f->anchor, UVDB_EV_RUN_BEGIN, l, (uint32_t)mode, (uint64_t)(uintptr_t)__builtin_return_address(0), 0);
  /* From 1.45 a run without the opening timers (once, nowait) opens with pending. */
  if (uvdb_unlikely(atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed)) &&
      uvdb_probe.pending_first && mode != 0)
    uv__inline_safepoint(f, UVDB_PHASE_PENDING);
  int r = uv__orig_run(loop, mode);
  uint64_t t = uvdb_now();
  f = &uvdb_self.frames[uvdb_self.depth - 1];
  uvdb_callback_end(f, t);
  uv__settle(f, t);
  if (f->in_iter)
    uvdb_emit_at(f->iter_begin, UVDB_EV_ITERATION, l, 0, f->iter, t);
  uvdb_emit_at(t, UVDB_EV_RUN_END, l, (uint32_t)r, 0, 0);
  uvdb_self.depth--;
  return r;
}

#define UV__PHASE_HOOK(fn, phase, timed)                \
  static void uv__hook_##fn(void *loop) {               \
    struct uvdb_run_frame *f = uv__phase_enter(loop, phase); \
    uv__orig_##fn(loop);                                \
    uv__phase_exit(f, phase, timed);                    \
  }

UV__PHASE_HOOK(run_timers, UVDB_PHASE_TIMERS, 1)
UV__PHASE_HOOK(run_idle, UVDB_PHASE_IDLE, 0)
UV__PHASE_HOOK(run_prepare, UVDB_PHASE_PREPARE, 0)
UV__PHASE_HOOK(run_check, UVDB_PHASE_CHECK, 1)

/* The loop's phase is published only around poll: the agent's kick needs
 * to know a loop may be blocked in epoll_wait. */
static void uv__hook_io_poll(void *loop, int timeout) {
  struct uvdb_run_frame *f = uv__phase_enter(loop, UVDB_PHASE_POLL);
  if (f) {
    atomic_store_explicit(&f->loop->phase, UVDB_PHASE_POLL, memory_order_relaxed);
    /* how long the loop may sleep: lag is how much later its wait returns */
    f->poll_timeout = timeout >= 0 ? (uint64_t)timeout : UINT64_MAX;
  }
  uvdb_self.in_poll = 1;
  uv__orig_io_poll(loop, timeout);
  uvdb_self.in_poll = 0;
  if (f)
    atomic_store_explicit(&f->loop->phase, -1, memory_order_relaxed);
  uv__phase_exit(f, UVDB_PHASE_POLL, 0);
}

/* A phase function is about to call fn (its call site's stub): the
 * callback before it ends here.  Pending callbacks of libuv >= 1.45 belong
 * to the iteration they open. */
void uvdb_callback_enter(uint64_t fn) {
  int d = uvdb_self.depth;
  if (uvdb_unlikely(d == 0))
    return;
  struct uvdb_run_frame *f = &uvdb_self.frames[d - 1];
  uint64_t t = uvdb_now();
  uvdb_callback_end(f, t);
  uint64_t iter = uv__frame_iteration(f) + (f->cur_phase == UVDB_PHASE_PENDING && uvdb_probe.pending_first);
  f->cb_fn = fn;
  f->cb_begin = t;
  f->cb_a32 = f->cur_phase | (uint32_t)(iter & 0xffffff) << 8;
}

/* Not hot: once per loop.  Reported after the close succeeded (UV_EBUSY:
 * handles still open, the loop lives on). */
static int (*uv__orig_loop_close)(void *loop);
static int uv__hook_loop_close(void *loop) {
  int r = uv__orig_loop_close(loop);
  if (r == 0)
    uvdb_loop_closed(loop);
  return r;
}

static struct uvdb_hook uv__loop_close = {.replacement = (void *)uv__hook_loop_close,
                                          .original = (void **)&uv__orig_loop_close};

struct uvdb_hook *uvdb_loop_close_hook(const struct uvdb_located_fn **located) {
  const struct uvdb_located_fn *fn = &uvdb_probe.lib.pool[UVDB_LOOP_CLOSE];
  if (!fn->addr)
    return NULL;
  uv__loop_close.name = fn->name;
  uv__loop_close.target = (uint8_t *)fn->addr;
  uv__loop_close.size = fn->size;
  *located = fn;
  return &uv__loop_close;
}

static struct uvdb_hook uv__hooks[UVDB_FN_COUNT] = {
    [UVDB_FN_UV_RUN] = {.replacement = (void *)uv__hook_run, .original = (void **)&uv__orig_run},
    [UVDB_FN_RUN_TIMERS] = {.replacement = (void *)uv__hook_run_timers, .original = (void **)&uv__orig_run_timers},
    [UVDB_FN_RUN_IDLE] = {.replacement = (void *)uv__hook_run_idle, .original = (void **)&uv__orig_run_idle},
    [UVDB_FN_RUN_PREPARE] = {.replacement = (void *)uv__hook_run_prepare, .original = (void **)&uv__orig_run_prepare},
    [UVDB_FN_IO_POLL] = {.replacement = (void *)uv__hook_io_poll, .original = (void **)&uv__orig_io_poll},
    [UVDB_FN_RUN_CHECK] = {.replacement = (void *)uv__hook_run_check, .original = (void **)&uv__orig_run_check},
};

/* Attach found this thread waiting in epoll for `loop`, inside a uv__io_poll
 * whose hook it never entered: take that wait as the poll phase, so that
 * a kick parks the loop there as in any poll. */
void uvdb_loop_adopt_polling(void *loop) {
  struct uvdb_run_frame *f = uv__frame(loop);
  if (!f)
    return;
  f->cur_phase = UVDB_PHASE_POLL;
  f->phase_begin = f->anchor = uvdb_now();
  f->poll_timeout = UINT64_MAX;
  atomic_store_explicit(&f->loop->phase, UVDB_PHASE_POLL, memory_order_relaxed);
  uvdb_self.in_poll = 2;
}

const struct uvdb_hook *uvdb_loop_hooks_installed(size_t *n) {
  *n = UVDB_FN_COUNT;
  return uv__hooks;
}

struct uvdb_hook *uvdb_loop_hooks(size_t *n) {
  /* libuv 1.45 moved timers to the end of the iteration: pending opens it. */
  uvdb_probe.pending_first = uvdb_probe.lib.version >= 0x012d00;
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *fn = &uvdb_probe.lib.fn[i];
    uv__hooks[i].name = fn->name;
    uv__hooks[i].target = (uint8_t *)fn->addr;
    uv__hooks[i].size = fn->size;
  }
  *n = UVDB_FN_COUNT;
  return uv__hooks;
}
