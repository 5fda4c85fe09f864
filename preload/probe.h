/* The probe's internal surface: global state, hot-path emission, safepoints.
 * Everything here is shared by preload/ (mechanism) and probes/ (hooks). */
#ifndef UVDB_PROBE_H
#define UVDB_PROBE_H

#include "../probes/ring.h"
#include "hook.h"
#include "locate.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define uvdb_likely(x) __builtin_expect(!!(x), 1)
#define uvdb_unlikely(x) __builtin_expect(!!(x), 0)

#define UVDB_MAX_LOOPS 64

/* A loop the probe has seen run, kept for the life of the process. */
struct uvdb_loop {
  _Atomic(void *) loop;
  uint16_t id;                 /* 1-based, in order of first uv_run */
  _Atomic uint32_t tid;        /* thread now running it */
  _Atomic int phase;           /* UVDB_PHASE_POLL while polling, else -1 */
  _Atomic uint64_t iterations; /* completed and current */
  _Atomic uint32_t armed;      /* phases with a breakpoint on this loop (1 << phase) */
  uint64_t stack_hi;           /* the end of its thread's stack, for samples */
  /* For the watchdog: since when the loop runs without a boundary (0: it
   * sleeps in epoll), and in which phase; a stretch it caught, to report. */
  _Alignas(64) _Atomic uint64_t busy_since;
  _Atomic int phase_now;
  _Atomic uint64_t blocked_since, blocked_last_sample;
  _Atomic uint32_t blocked_samples, blocked_phase;
};

struct uvdb_probe_state {
  /* Read by every hook: alone on the first cache line, written rarely. */
  _Alignas(64) _Atomic int active; /* hooks emit only while a debugger listens */
  _Atomic int attention;           /* UVDB_ATTN_*: whether safepoints look further */
  int pending_first;               /* libuv >= 1.45: pending opens an iteration */
  _Alignas(64) _Atomic int pause_req; /* park loops of pause_tid at the next safepoint */
  _Atomic uint32_t pause_tid;
  _Atomic uint32_t pause_reason;
  _Atomic uint32_t resume_seq; /* futex word: bumped to release parked loops */
  _Atomic uint32_t parked;     /* loops parked now */
  _Atomic uint32_t bp_mask[UVDB_BP_SLOTS]; /* armed phases: [0] any loop, [N] loop N */
  _Atomic uint32_t step_tid;   /* `step`: this thread stops at the next armed callback */
  _Atomic uint32_t finish_tid; /* `finish`: this thread, parked in a callback, stops at its return */
  _Atomic int fprobe_work;     /* fprobe slots requested: a loop thread installs them */
  _Atomic int jit_work;        /* UVDB_JIT_NAMES_*: the main loop does it at its next boundary */
  _Atomic uint32_t fork_meet;  /* a forked child followed: it meets uvdb at its next boundary (parent's tid + 1) */
  _Atomic int jit_deferred;    /* a followed child's JS names: started when first looked at (a stop, a profile) */
  /* Samples asked for, one request per slot: the thread `tid` copies its
   * stack there in the kick handler (uvdb's and the watchdog's requests
   * may be in flight at once). */
  struct {
    _Atomic uint32_t tid;
    _Atomic uint32_t kind;
    _Atomic uint64_t episode;
  } sample_req[UVDB_SAMPLE_SLOTS];
  _Atomic uint32_t profile_signal; /* the profiler's realtime signal, 0: none free */
  /* The watchdog (probes/blocking.c), in TSC ticks; 0: off. */
  _Atomic uint64_t watchdog_ticks, break_blocked_ticks, watchdog_period_ns, ticks_per_ms;
  struct uvdb_shm_header *shm;
  int kick_signal;
  struct uvdb_libuv lib;
  struct uvdb_loop loops[UVDB_MAX_LOOPS];
};

extern struct uvdb_probe_state uvdb_probe;

#define UVDB_MAX_NESTED_RUNS 4

/* One uv_run call in progress on a thread (probes/loop.c). */
struct uvdb_run_frame {
  void *uv_loop;
  struct uvdb_loop *loop;
  uint64_t anchor;      /* time of the last timed boundary */
  uint64_t phase_begin; /* of the phase running or deferred */
  uint64_t iter, iter_begin;
  uint8_t mode; /* uv_run_mode: 0 default, 1 once, 2 nowait */
  uint8_t in_iter;
  uint8_t anchor_kind;
  uint8_t anchor_phase;
  uint8_t trailing_timers; /* 1.44's UV_RUN_ONCE: the timers run that ends the run */
  uint8_t cur_phase;       /* the phase running now, for stops in callbacks */
  uint64_t poll_timeout;   /* the poll running's timeout (ms), UINT64_MAX: none */
  uint64_t clock_update;   /* when libuv last updated its clock: the timers phase's start */
  uint32_t quiet_polls;    /* prompt empty waits not recorded since the last record */
  uint64_t cb_fn;          /* the callback running (0: none), since cb_begin */
  uint64_t cb_begin;
  uint32_t cb_a32;         /* its CALLBACK record's a32 */
};

/* Per-thread state, everything a hook touches in two adjacent cache lines
 * (between phases the target's own work evicts scattered data); initial-exec
 * TLS keeps the hot path free of calls. */
struct uvdb_thread {
  struct uvdb_ring *ring;
  int in_emit; /* a signal handler must not write the ring now */
  int in_poll; /* inside uv__io_poll: the kick signal may park here; 2 after its first wait */
  int depth;   /* uv_run calls in progress */
  struct uvdb_run_frame frames[UVDB_MAX_NESTED_RUNS];
} __attribute__((aligned(64)));
extern __thread struct uvdb_thread uvdb_self __attribute__((tls_model("initial-exec")));

struct uvdb_ring *uvdb_ring_claim(void);
/* Every thread forgets its ring (the agent, as a debugger leaves): the next
 * session's threads claim rings of its memory. */
void uvdb_rings_forget(void);

/* UVDB_BENCH_* build only the probe variants bench/run.py compares, to
 * show where the time goes; the probe itself never defines them. */
static inline uint64_t uvdb_now(void) {
#ifdef UVDB_BENCH_NO_TSC
  static __thread uint64_t fake __attribute__((tls_model("initial-exec")));
  return fake += 1000;
#else
  return __builtin_ia32_rdtsc();
#endif
}

static inline void uvdb_emit_at(uint64_t ts, uint16_t type, const struct uvdb_loop *l, uint32_t a32, uint64_t x,
                                uint64_t y) {
  if (uvdb_unlikely(!atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed)))
    return;
  struct uvdb_ring *r = uvdb_self.ring;
  if (uvdb_unlikely(!r) && !(r = uvdb_ring_claim()))
    return;
#ifdef UVDB_BENCH_NO_RING
  if (type == UVDB_EV_PHASE || type == UVDB_EV_ITERATION)
    return;
#endif
  uvdb_self.in_emit = 1;
  atomic_signal_fence(memory_order_seq_cst); /* the kick handler reads in_emit */
  uvdb_ring_push(r, ts, type, l->id, a32, x, y);
  atomic_signal_fence(memory_order_seq_cst);
  uvdb_self.in_emit = 0;
}

/* A boundary of the loop at time t ends the callback it was running. */
static inline void uvdb_callback_end(struct uvdb_run_frame *f, uint64_t t) {
  if (uvdb_unlikely(f->cb_fn != 0)) {
    uvdb_emit_at(f->cb_begin, UVDB_EV_CALLBACK, f->loop, f->cb_a32, f->cb_fn, t);
    f->cb_fn = 0;
  }
}

/* Loop registry and safepoints (preload/safepoint.c). */
struct uvdb_loop *uvdb_loop_get(void *loop);
/* At a phase boundary, before `phase` of `iteration` runs: park here if
 * asked to.  Returns 1 if it parked. */
int uvdb_safepoint_slow(struct uvdb_loop *l, int phase, uint64_t iteration);
void uvdb_loop_closed(void *loop); /* uv_loop_close succeeded on it */

/* uvdb_probe.attention: nothing to look at; breakpoints armed (each loop's
 * `armed` says where); or something more (a pause asked for, a stretch the
 * watchdog caught, V8 names to start, a fork to meet), which the slow path
 * sorts out. */
enum { UVDB_ATTN_NONE, UVDB_ATTN_ARMED, UVDB_ATTN_ALL };

/* Is there anything for this loop at this phase?  Inline and cheap when a
 * breakpoint is armed elsewhere: one load from the loop's own slot. */
static inline int uvdb_safepoint_wanted(const struct uvdb_loop *l, int phase) {
  int a = atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed);
  if (uvdb_likely(a == UVDB_ATTN_NONE))
    return 0;
  if ((atomic_load_explicit(&l->armed, memory_order_relaxed) >> phase) & 1)
    return 1;
  return a == UVDB_ATTN_ALL && (atomic_load_explicit(&uvdb_probe.pause_req, memory_order_relaxed) ||
                                atomic_load_explicit(&l->blocked_since, memory_order_relaxed) ||
                                atomic_load_explicit(&uvdb_probe.jit_work, memory_order_relaxed) ||
                                atomic_load_explicit(&uvdb_probe.fork_meet, memory_order_relaxed));
}

/* A boundary at time t, phase `phase` beginning: the watchdog's clock. */
static inline void uvdb_mark_busy(struct uvdb_loop *l, uint64_t t, int phase) {
  atomic_store_explicit(&l->busy_since, t, memory_order_relaxed);
  atomic_store_explicit(&l->phase_now, phase, memory_order_relaxed);
}
/* Park this loop thread: `regs` are where the unwinder starts (NULL: here),
 * `callback` the function a callback stop is in (0: none). */
struct uvdb_stop_stack;
void uvdb_park(struct uvdb_loop *l, uint32_t reason, int phase, uint64_t iteration,
               const struct uvdb_stop_stack *regs, uint64_t callback);
void uvdb_request_pause(uint32_t tid, uint32_t reason);
void uvdb_cancel_pause(void);
void uvdb_recompute_attention(void); /* the agent only */
/* The agent: kick the thread to copy its stack into a sample slot. */
void uvdb_request_sample(uint32_t tid, unsigned slot, uint16_t kind, uint64_t episode);
/* The registers of the calling point (valid left for the caller to set). */
void uvdb_here(struct uvdb_stop_stack *st);
/* Copy this thread's registers and stack top into a slot (its own thread only). */
void uvdb_sample_take(const struct uvdb_stop_stack *regs, unsigned slot, uint16_t kind, uint64_t episode);
void uvdb_set_breakpoints(const uint32_t *mask); /* UVDB_BP_SLOTS masks */
void uvdb_resume_all(void);                      /* release parked loops */
void uvdb_release_all(void); /* the debugger is gone: no pause, no breakpoint, resume */
void uvdb_safepoint_release_signal(void);
void uvdb_signal_give_back(int sig, void *ours); /* raw syscalls: the agent may call it */
int uvdb_safepoint_init(void);
uint32_t uvdb_safepoint_forked(void); /* a forked child: its thread's tid and loops */
uint64_t uvdb_stack_hi(void);         /* the top of the calling thread's stack (0: unknown) */
void uvdb_fork_meet(void);            /* a forked child's loop, at a boundary: meet uvdb (probe.c) */

/* Function probes (preload/fprobe.c): `break callback` and `step`. */
void uvdb_fprobe_install_requested(void); /* a normal thread: the constructor or a parked loop */
void uvdb_fprobe_sync(void);              /* the agent: arm as the slots say; raw syscalls only */
void uvdb_fprobe_disarm_all(void);        /* the agent: the debugger is gone */
void uvdb_fprobe_remove_all(void);        /* detach, every other thread stopped: the code as it was */

/* JavaScript names of an attached node (probes/jitnames.c): its main thread, parked. */
void uvdb_jit_names_start(void);
void uvdb_jit_names_stop(void);
void uvdb_jit_names_abandon(void); /* the agent's thread, as it ends */

/* Blocking (probes/blocking.c). */
void uvdb_blocking_init(void);
void uvdb_blocked_end(struct uvdb_loop *l, uint64_t now, int phase, uint64_t iteration);
void uvdb_watchdog_tick(void); /* the agent */
int uvdb_watchdog_pending(void);
struct uvdb_hook *uvdb_blocking_hooks(size_t *n, const struct uvdb_located_fn **located);

/* The profiler (probes/profile.c). */
int uvdb_profile_init(void);
void uvdb_profile_thread(int role); /* this thread may be sampled (enum uvdb_profile_role) */
void uvdb_profile_forked(uint32_t parent_tid); /* a forked child: the thread that forked, no timers */
void uvdb_profile_configure(uint64_t period_ns, uint32_t wall, uint32_t threads); /* the agent */
void uvdb_profile_release_signal(void);                                           /* the agent */
uint64_t uvdb_profile_scan_threads(void); /* the agent: sample new threads; how soon to look again (ns), 0: never */

/* V8 in node (probes/v8.c): garbage collections and microtask checkpoints. */
struct uvdb_hook *uvdb_v8_hooks(size_t *n, const struct uvdb_located_fn **located);

/* The thread-pool probes (probes/pool.c). */
struct uvdb_hook *uvdb_pool_hooks(size_t *n, const struct uvdb_located_fn **located);
uint64_t uvdb_pool_untracked(void);
extern _Atomic uint32_t uvdb_pool_break_depths[UVDB_POOL_BREAKS];

/* Child processes and signals (probes/process.c). */
struct uvdb_hook *uvdb_process_hooks(size_t *n, const struct uvdb_located_fn **located);
const char *uvdb_process_coverage(void); /* what `info probe` says they see */

/* The loop probes (probes/loop.c). */
struct uvdb_hook *uvdb_loop_hooks(size_t *n);
/* uv_loop_close's, where it is named (installed with the V8 hooks). */
struct uvdb_hook *uvdb_loop_close_hook(const struct uvdb_located_fn **located);
const struct uvdb_hook *uvdb_loop_hooks_installed(size_t *n); /* as they are, for checks */
void uvdb_loop_adopt_polling(void *loop); /* attach: this thread waits in loop's epoll now */
void uvdb_callback_enter(uint64_t fn);    /* a call site's stub: libuv calls fn now */

#endif
