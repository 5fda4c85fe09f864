/* Safepoints: where a loop thread may be parked (between phases, or blocked
 * in epoll_wait, reached by a kick signal), and the registry of loops. */
#define _GNU_SOURCE
#include "probe.h"
#include "rawsys.h"

#include <ucontext.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Called on loop threads (pthreads) only: the agent has no TLS. */
static __thread uint32_t uv__tid __attribute__((tls_model("initial-exec")));

static uint32_t uv__gettid(void) {
  if (!uv__tid)
    uv__tid = (uint32_t)uvdb_sys0(SYS_gettid);
  return uv__tid;
}

/* In a forked child: its one thread is the one that forked, whose loops
 * it runs on; the loops of the parent's other threads are not in it (their
 * tid cleared, as a closed loop's).  Returns the parent's tid of it. */
uint32_t uvdb_safepoint_forked(void) {
  uint32_t was = uv__tid, now = (uint32_t)uvdb_sys0(SYS_gettid);
  uv__tid = now;
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    if (atomic_load(&l->loop))
      atomic_store(&l->tid, was && atomic_load(&l->tid) == was ? now : 0);
  }
  return was;
}

uint64_t uvdb_stack_hi(void) {
  /* glibc reads /proc/self/maps for the main thread's stack (a node
   * child's maps: some 0.3 ms a reading), so that one is kept, per process:
   * a forked child's main thread is the thread that forked. */
  static pid_t main_pid;
  static uint64_t main_hi;
  pid_t pid = (pid_t)uvdb_sys0(SYS_getpid);
  int main_thread = uv__gettid() == (uint32_t)pid;
  if (main_thread && main_pid == pid)
    return main_hi;
  pthread_attr_t attr;
  void *lo;
  size_t size;
  uint64_t hi = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    if (pthread_attr_getstack(&attr, &lo, &size) == 0)
      hi = (uint64_t)(uintptr_t)lo + size;
    pthread_attr_destroy(&attr);
  }
  if (main_thread && hi)
    main_hi = hi, main_pid = pid;
  return hi;
}

/* Loop ids: 1 is the first loop run on the main thread, as gdb's thread 1
 * (Node runs a loop of its own on a platform thread before its main one);
 * the others are numbered from 2 in the order they first run. */
struct uvdb_loop *uvdb_loop_get(void *loop) {
  uint32_t tid = uv__gettid();
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    if (atomic_load_explicit(&l->loop, memory_order_acquire) == loop) {
      if (atomic_load_explicit(&l->tid, memory_order_relaxed) != tid)
        atomic_store_explicit(&l->tid, tid, memory_order_relaxed);
      return l;
    }
  }
  int main_thread = tid == (uint32_t)uvdb_sys0(SYS_getpid);
  for (int i = main_thread ? 0 : 1; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    void *expected = NULL;
    if (!atomic_compare_exchange_strong(&l->loop, &expected, loop)) {
      if (expected == loop)
        return l;
      continue;
    }
    l->id = (uint16_t)(i + 1);
    l->stack_hi = uvdb_stack_hi();
    atomic_store(&l->armed, atomic_load(&uvdb_probe.bp_mask[0]) |
                                (l->id < UVDB_BP_SLOTS ? atomic_load(&uvdb_probe.bp_mask[l->id]) : 0));
    atomic_store(&l->phase, -1);
    atomic_store(&l->tid, tid);
    uvdb_emit_at(uvdb_now(), UVDB_EV_LOOP_SEEN, l, l->id, (uint64_t)(uintptr_t)loop, tid);
    uvdb_profile_thread(UVDB_ROLE_LOOP);
    return l;
  }
  /* No slot left (slot 0 is the main thread's): this loop goes unseen, and
   * what each of its hooks would have told is counted lost, as a thread
   * with no ring's is, so that `dropped` shows it. */
  struct uvdb_shm_header *shm = uvdb_probe.shm;
  if (shm)
    atomic_fetch_add(&shm->rings_exhausted, 1);
  return NULL;
}

/* uv_loop_close succeeded: the loop ends.  Its slot keeps the id but no
 * longer matches any loop (the low bit cannot be set in a loop's address),
 * so a new loop at the same address, a later Worker's on a reused stack,
 * gets an id of its own; its tid cleared, no pause or sample finds it. */
void uvdb_loop_closed(void *loop) {
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    void *expected = loop;
    if (atomic_load_explicit(&l->loop, memory_order_acquire) != loop)
      continue;
    uvdb_emit_at(uvdb_now(), UVDB_EV_LOOP_END, l, 0, atomic_load_explicit(&l->iterations, memory_order_relaxed), 0);
    atomic_store_explicit(&l->tid, 0, memory_order_relaxed);
    atomic_store_explicit(&l->busy_since, 0, memory_order_relaxed);
    atomic_compare_exchange_strong(&l->loop, &expected, (void *)((uintptr_t)loop | 1));
    return;
  }
}

/* Everything from here to the end may run on the agent: raw system calls. */
static long uv__futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return uvdb_sys4(SYS_futex, (uint32_t *)addr, op, val, ts);
}

/* The registers of this point of the thread, for `backtrace` and samples. */
__attribute__((noinline)) void uvdb_here(struct uvdb_stop_stack *st) {
  uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
  __asm__ volatile("lea 0(%%rip), %0\n\t"
                   "mov %%rsp, %1\n\t"
                   "mov %%rbp, %2\n\t"
                   "mov %%rbx, %3\n\t"
                   "mov %%r12, %4\n\t"
                   "mov %%r13, %5\n\t"
                   "mov %%r14, %6\n\t"
                   "mov %%r15, %7"
                   : "=&r"(rip), "=&r"(rsp), "=&r"(rbp), "=&r"(rbx), "=&r"(r12), "=&r"(r13), "=&r"(r14), "=&r"(r15));
  st->rip = rip, st->rsp = rsp, st->rbp = rbp, st->rbx = rbx;
  st->r12 = r12, st->r13 = r13, st->r14 = r14, st->r15 = r15;
}

/* V8's JIT names started or stopped (UVDB_MSG_JIT_NAMES): V8 is called on
 * its own thread, outside JavaScript, so only the main thread at a loop
 * boundary (or parked there) does it; the others leave it pending. */
static void uv__jit_work(void) {
  if (!atomic_load_explicit(&uvdb_probe.jit_work, memory_order_relaxed) ||
      uv__gettid() != (uint32_t)uvdb_sys0(SYS_getpid))
    return;
  int what = atomic_exchange(&uvdb_probe.jit_work, 0);
  if (what == UVDB_JIT_NAMES_START)
    uvdb_jit_names_start();
  else if (what == UVDB_JIT_NAMES_STOP)
    uvdb_jit_names_stop();
}

/* A followed child's deferred JS names start at its main thread's first
 * stop where V8 may be called: a loop boundary, or waiting for events
 * (not in a callback, V8's microtask checkpoint, or a thread-pool
 * submission, which JavaScript may be running below).  Before the stop is
 * reported, so that its backtrace has them. */
static int uv__jit_deferred(uint32_t reason, uint64_t callback) {
  uint32_t why = reason & 0xff;
  if (callback || (reason & UVDB_STOPPED_MICROTASKS) || why == UVDB_STOP_POOL_QUEUE ||
      !atomic_load_explicit(&uvdb_probe.jit_deferred, memory_order_relaxed) ||
      uv__gettid() != (uint32_t)uvdb_sys0(SYS_getpid) || !atomic_exchange(&uvdb_probe.jit_deferred, 0))
    return 0;
  atomic_store(&uvdb_probe.jit_work, UVDB_JIT_NAMES_START);
  return 1;
}

void uvdb_park(struct uvdb_loop *l, uint32_t reason, int phase, uint64_t iter, const struct uvdb_stop_stack *regs,
               uint64_t callback) {
  if (!uvdb_probe.shm)
    return;
  if (uv__jit_deferred(reason, callback) || reason == UVDB_STOP_QUERY)
    uv__jit_work();
  uint32_t seq = atomic_load(&uvdb_probe.resume_seq);
  struct uvdb_stop_stack *st = uvdb_shm_stack(uvdb_probe.shm, l->id);
  if (regs)
    *st = *regs;
  else
    uvdb_here(st);
  st->valid = 1;
  uvdb_emit_at(uvdb_now(), UVDB_EV_STOPPED, l, reason | (uint32_t)(phase + 1) << 8, iter, callback);
  atomic_fetch_add(&uvdb_probe.shm->stops, 1);
  uvdb_sys3(SYS_futex, (uint32_t *)&uvdb_probe.shm->stops, FUTEX_WAKE, INT32_MAX); /* not private: uvdb waits */
  atomic_fetch_add(&uvdb_probe.parked, 1);
  atomic_store_explicit(&l->busy_since, 0, memory_order_relaxed); /* parked is not blocked */
  struct timespec ts = {0, 200 * 1000 * 1000};
  while (atomic_load(&uvdb_probe.resume_seq) == seq && atomic_load(&uvdb_probe.active)) {
    /* Code is patched by a parked loop thread: a pthread, outside any callback. */
    if (atomic_exchange(&uvdb_probe.fprobe_work, 0))
      uvdb_fprobe_install_requested();
    uv__futex(&uvdb_probe.resume_seq, FUTEX_WAIT_PRIVATE, seq, &ts);
  }
  atomic_fetch_sub(&uvdb_probe.parked, 1);
  uint64_t now = uvdb_now();
  atomic_store_explicit(&l->busy_since, now, memory_order_relaxed);
  uvdb_emit_at(now, UVDB_EV_RESUMED, l, 0, iter, 0);
}

/* Only the agent writes `attention` (a loop thread clearing it could race
 * with a command arriving): stale, it only sends safepoints down the slow
 * path until the next command. */
void uvdb_recompute_attention(void) {
  int more = atomic_load(&uvdb_probe.pause_req) || uvdb_watchdog_pending() || atomic_load(&uvdb_probe.jit_work) ||
             atomic_load(&uvdb_probe.fork_meet);
  uint32_t armed = 0;
  for (unsigned i = 0; i < UVDB_BP_SLOTS && !armed; i++)
    armed = atomic_load_explicit(&uvdb_probe.bp_mask[i], memory_order_relaxed);
  atomic_store(&uvdb_probe.attention, more ? UVDB_ATTN_ALL : armed ? UVDB_ATTN_ARMED : UVDB_ATTN_NONE);
}

static int uv__wants_pause(struct uvdb_loop *l) {
  return atomic_load(&uvdb_probe.pause_req) &&
         atomic_load(&uvdb_probe.pause_tid) == atomic_load_explicit(&l->tid, memory_order_relaxed);
}

/* Take the pause request for this loop, if there is one for it. */
static int uv__take_pause(struct uvdb_loop *l) {
  if (!uv__wants_pause(l))
    return 0;
  atomic_store(&uvdb_probe.pause_req, 0);
  return 1;
}

int uvdb_safepoint_slow(struct uvdb_loop *l, int phase, uint64_t iteration) {
  if (uvdb_unlikely(atomic_load(&uvdb_probe.fork_meet))) {
    uvdb_fork_meet();
    return 0;
  }
  uv__jit_work();
  if (atomic_load_explicit(&l->blocked_since, memory_order_relaxed)) /* a stretch the watchdog caught ends */
    uvdb_blocked_end(l, uvdb_now(), phase, iteration);
  if (uv__take_pause(l)) {
    uvdb_park(l, atomic_load(&uvdb_probe.pause_reason), phase, iteration, NULL, 0);
    return 1;
  }
  uint32_t armed = atomic_load_explicit(&uvdb_probe.bp_mask[0], memory_order_relaxed);
  if (l->id < UVDB_BP_SLOTS)
    armed |= atomic_load_explicit(&uvdb_probe.bp_mask[l->id], memory_order_relaxed);
  if (armed & (1u << phase)) {
    uvdb_park(l, UVDB_STOP_BREAKPOINT, phase, iteration, NULL, 0);
    return 1;
  }
  return 0;
}

static void uv__regs_of(const ucontext_t *uc, struct uvdb_stop_stack *st) {
  const greg_t *g = uc->uc_mcontext.gregs;
  *st = (struct uvdb_stop_stack){
      .rip = (uint64_t)g[REG_RIP], .rsp = (uint64_t)g[REG_RSP], .rbp = (uint64_t)g[REG_RBP],
      .rbx = (uint64_t)g[REG_RBX], .r12 = (uint64_t)g[REG_R12], .r13 = (uint64_t)g[REG_R13],
      .r14 = (uint64_t)g[REG_R14], .r15 = (uint64_t)g[REG_R15], .valid = 1,
  };
}

/* The end of this thread's stack, if it runs a loop (samples copy up to it). */
static uint64_t uv__stack_hi(uint32_t tid, uint16_t *loop_id) {
  for (int i = 0; i < UVDB_MAX_LOOPS; i++)
    if (atomic_load(&uvdb_probe.loops[i].loop) && atomic_load(&uvdb_probe.loops[i].tid) == tid) {
      *loop_id = uvdb_probe.loops[i].id;
      return uvdb_probe.loops[i].stack_hi;
    }
  return 0;
}

void uvdb_sample_take(const struct uvdb_stop_stack *regs, unsigned slot, uint16_t kind, uint64_t episode) {
  if (!uvdb_probe.shm)
    return;
  uint32_t tid = (uint32_t)uvdb_sys0(SYS_gettid);
  uint16_t loop_id = 0;
  uint64_t hi = uv__stack_hi(tid, &loop_id), sp = regs->rsp, len = hi > sp ? hi - sp : 0;
  struct uvdb_sample *smp = uvdb_shm_sample(uvdb_probe.shm, slot);
  if (len > UVDB_SAMPLE_STACK)
    len = UVDB_SAMPLE_STACK;
  atomic_fetch_add(&smp->seq, 1); /* odd: being written */
  smp->regs = *regs;
  smp->regs.valid = 1;
  __builtin_memcpy(smp->stack, (const void *)(uintptr_t)sp, len);
  smp->stack_base = sp;
  smp->stack_len = (uint32_t)len;
  smp->tid = tid;
  smp->loop_id = loop_id;
  smp->kind = kind;
  smp->episode = episode;
  atomic_fetch_add(&smp->seq, 1);
  atomic_fetch_add(&uvdb_probe.shm->samples, 1);
  uvdb_sys3(SYS_futex, (uint32_t *)&uvdb_probe.shm->samples, FUTEX_WAKE, INT32_MAX); /* not private */
}

/* The samples asked of this thread (by uvdb, or the watchdog), from the kick. */
static void uv__sample(const ucontext_t *uc) {
  uint32_t tid = (uint32_t)uvdb_sys0(SYS_gettid);
  for (unsigned slot = 0; slot < UVDB_SAMPLE_SLOTS; slot++) {
    uint32_t expected = tid;
    if (atomic_load_explicit(&uvdb_probe.sample_req[slot].tid, memory_order_acquire) != tid ||
        !atomic_compare_exchange_strong(&uvdb_probe.sample_req[slot].tid, &expected, 0))
      continue;
    struct uvdb_stop_stack regs;
    uv__regs_of(uc, &regs);
    uvdb_sample_take(&regs, slot, (uint16_t)atomic_load(&uvdb_probe.sample_req[slot].kind),
                     atomic_load(&uvdb_probe.sample_req[slot].episode));
  }
}

/* The kick: a loop blocked in epoll_wait reaches no safepoint by itself;
 * and a loop stuck in a callback is sampled. */
static void uv__kick_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si;
  int saved = errno;
  uv__sample(uc);
  /* the loop polling now is the innermost uv_run of this thread */
  int d = uvdb_self.depth;
  struct uvdb_loop *l = d > 0 ? uvdb_self.frames[d - 1].loop : NULL;
  if (l && uvdb_self.in_poll && !uvdb_self.in_emit && uv__take_pause(l)) {
    struct uvdb_stop_stack st;
    uv__regs_of(uc, &st);
    uint32_t reason = atomic_load(&uvdb_probe.pause_reason); /* a view's pause stays one */
    uvdb_park(l, reason == UVDB_STOP_QUERY ? reason : UVDB_STOP_IN_POLL, UVDB_PHASE_POLL,
              uvdb_self.frames[d - 1].iter, &st, 0);
  }
  errno = saved;
}

/* Read /proc/self/task/TID/FILE into buf, NUL-terminated, with raw system
 * calls (the agent calls this).  Bytes read, or -1. */
static long uv__read_task_file(uint32_t tid, const char *file, char *buf, size_t cap) {
  char path[64] = "/proc/self/task/", digits[12];
  int nd = 0, len = 16;
  do
    digits[nd++] = (char)('0' + tid % 10);
  while ((tid /= 10) && nd < 11);
  while (nd)
    path[len++] = digits[--nd];
  path[len++] = '/';
  while (*file && len < (int)sizeof(path) - 1)
    path[len++] = *file++;
  path[len] = '\0';
  long fd = uvdb_sys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  long n = uvdb_sys3(SYS_read, fd, buf, cap - 1);
  uvdb_sys1(SYS_close, fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* Is the thread blocked in an epoll wait right now?  /proc says which
 * system call it sleeps in. */
static int uv__in_epoll_wait(uint32_t tid) {
  char buf[64];
  long n = uv__read_task_file(tid, "syscall", buf, sizeof(buf)), nr = 0;
  for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
    nr = nr * 10 + (buf[i] - '0');
  return n > 0 && (nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == 441 /* epoll_pwait2 */);
}

/* The kernel's struct sigaction, for raw rt_sigaction (the agent calls). */
struct uv__ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

static int uv__kick_handler_installed(void) {
  struct uv__ksigaction old;
  return uvdb_sys4(SYS_rt_sigaction, uvdb_probe.kick_signal, NULL, &old, 8) == 0 &&
         old.handler == (void *)uv__kick_handler;
}

/* Is the kick still ours to send?  The target may since have taken the
 * signal for itself (a handler, a signalfd that blocks it): then no kick,
 * and the loop pauses at its next safepoint. */
static int uv__kick_is_ours(uint32_t tid) {
  if (!uv__kick_handler_installed())
    return 0;
  char buf[2048];
  if (uv__read_task_file(tid, "status", buf, sizeof(buf)) <= 0)
    return 0;
  for (char *p = buf; *p; p++) /* "SigBlk:\t0000000000000000" */
    if (p[0] == 'S' && p[1] == 'i' && p[2] == 'g' && p[3] == 'B' && p[4] == 'l' && p[5] == 'k' && p[6] == ':') {
      uint64_t mask = 0;
      for (p += 7; *p == '\t' || *p == ' '; p++)
        ;
      for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        mask = mask << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
      return !(mask & (1ull << (uvdb_probe.kick_signal - 1)));
    }
  return 0;
}

void uvdb_request_pause(uint32_t tid, uint32_t reason) {
  atomic_store(&uvdb_probe.pause_tid, tid);
  atomic_store(&uvdb_probe.pause_reason, reason);
  atomic_store(&uvdb_probe.pause_req, 1);
  atomic_store(&uvdb_probe.attention, UVDB_ATTN_ALL);
  if (!uvdb_probe.kick_signal)
    return;
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    if (!atomic_load(&l->loop))
      continue;
    if (atomic_load(&l->tid) == tid && atomic_load(&l->phase) == UVDB_PHASE_POLL && uv__in_epoll_wait(tid)) {
      if (uv__kick_is_ours(tid))
        uvdb_sys3(SYS_tgkill, uvdb_sys0(SYS_getpid), tid, uvdb_probe.kick_signal);
      break; /* one kick per thread */
    }
  }
}

void uvdb_cancel_pause(void) {
  atomic_store(&uvdb_probe.pause_req, 0);
  uvdb_recompute_attention();
}

/* The thread copies its own stack from the kick's handler; nothing when the
 * signal is no longer ours to send (uvdb then says there is no sample). */
void uvdb_request_sample(uint32_t tid, unsigned slot, uint16_t kind, uint64_t episode) {
  if (!uvdb_probe.kick_signal || !uv__kick_is_ours(tid))
    return;
  if (slot >= UVDB_SAMPLE_SLOTS)
    return;
  atomic_store(&uvdb_probe.sample_req[slot].kind, kind);
  atomic_store(&uvdb_probe.sample_req[slot].episode, episode);
  atomic_store_explicit(&uvdb_probe.sample_req[slot].tid, tid, memory_order_release);
  uvdb_sys3(SYS_tgkill, uvdb_sys0(SYS_getpid), tid, uvdb_probe.kick_signal);
}

void uvdb_set_breakpoints(const uint32_t *mask) {
  for (unsigned i = 0; i < UVDB_BP_SLOTS; i++)
    atomic_store(&uvdb_probe.bp_mask[i], mask[i]);
  for (int i = 0; i < UVDB_MAX_LOOPS; i++) {
    struct uvdb_loop *l = &uvdb_probe.loops[i];
    atomic_store(&l->armed, mask[0] | (i + 1 < (int)UVDB_BP_SLOTS ? mask[i + 1] : 0));
  }
  uvdb_recompute_attention();
}

void uvdb_resume_all(void) {
  uvdb_recompute_attention();
  atomic_fetch_add(&uvdb_probe.resume_seq, 1);
  uv__futex(&uvdb_probe.resume_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* Give a signal back if it is still ours: ignored first, which discards one
 * sent a moment ago and still pending (a realtime signal's default action
 * ends the process), then the default it had. */
void uvdb_signal_give_back(int sig, void *ours) {
  struct uv__ksigaction now, ign = {(void *)SIG_IGN, 0, 0, 0}, dfl = {(void *)SIG_DFL, 0, 0, 0};
  if (sig <= 0 || uvdb_sys4(SYS_rt_sigaction, sig, NULL, &now, 8) != 0 || now.handler != ours)
    return;
  uvdb_sys4(SYS_rt_sigaction, sig, &ign, NULL, 8);
  uvdb_sys4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
}

void uvdb_safepoint_release_signal(void) {
  uvdb_signal_give_back(uvdb_probe.kick_signal, (void *)uv__kick_handler);
}

void uvdb_release_all(void) {
  static const uint32_t none[UVDB_BP_SLOTS];
  atomic_store(&uvdb_probe.watchdog_ticks, 0);
  atomic_store(&uvdb_probe.break_blocked_ticks, 0);
  uvdb_profile_configure(0, 0, 0);
  atomic_store(&uvdb_probe.pause_req, 0);
  atomic_store(&uvdb_probe.step_tid, 0);
  atomic_store(&uvdb_probe.finish_tid, 0);
  for (unsigned i = 0; i < UVDB_POOL_BREAKS; i++)
    atomic_store(&uvdb_pool_break_depths[i], 0);
  uvdb_fprobe_disarm_all();
  uvdb_set_breakpoints(none);
  uvdb_resume_all();
}

/* A realtime signal nobody in the target handles; none found: no kick, and
 * a loop blocked in poll is paused when its next event arrives. */
int uvdb_safepoint_init(void) {
  if (uvdb_probe.kick_signal && uv__kick_handler_installed())
    return 0; /* still ours from the last session */
  for (int sig = SIGRTMIN + 6; sig <= SIGRTMAX - 4; sig++) {
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = uv__kick_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0) {
      uvdb_probe.kick_signal = sig;
      return 0;
    }
  }
  return -1;
}
