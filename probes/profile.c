/* The sampling profiler, inside the target: a POSIX timer per sampled
 * thread (its CPU clock, or the wall clock) delivered to that thread on a
 * realtime signal of uvdb's own (not SIGPROF, which V8's profiler uses),
 * whose handler copies the registers and the top of the stack into the
 * profile ring; uvdb unwinds and names the samples.  Timers are made with
 * raw system calls: the agent makes them too. */
#define _GNU_SOURCE
#include "../preload/probe.h"
#include "../preload/rawsys.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define MAX_SAMPLED 256
#define SCAN_PERIOD_NS (100 * 1000 * 1000) /* --threads all: new threads are sampled within this */

struct uv__sampled {
  _Atomic uint32_t tid;
  int role;
  uint64_t stack_hi;
  int timer; /* -1: none */
};

static struct uv__sampled uv__threads[MAX_SAMPLED];
static _Atomic uint32_t uv__nthreads;
static _Atomic uint64_t uv__period_ns;
static _Atomic uint32_t uv__wall, uv__wanted;

static long uv__thread_cpu_clock(uint32_t tid) {
  return (long)((~(uint64_t)tid << 3) | 2 /* CPUCLOCK_SCHED */ | 4 /* per thread */);
}

static void uv__profile_handler(int sig, siginfo_t *si, void *ucv);

/* Is the signal's handler still ours?  The program may have taken the
 * signal for itself since (sigaction in main, after our constructor):
 * then a timer would send it the program's handler, so none is made.
 * The kernel's struct sigaction, for the raw call (the agent calls). */
static int uv__signal_is_ours(int sig) {
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } now;
  return sig > 0 && uvdb_sys4(SYS_rt_sigaction, sig, NULL, &now, 8) == 0 && now.handler == (void *)uv__profile_handler;
}

static void uv__timer_start(struct uv__sampled *t) {
  uint64_t period = atomic_load(&uvdb_probe.profile_signal) ? atomic_load(&uv__period_ns) : 0;
  uint32_t bit = t->role == UVDB_ROLE_LOOP   ? UVDB_PROFILE_LOOPS
                 : t->role == UVDB_ROLE_POOL ? UVDB_PROFILE_POOL
                                             : UVDB_PROFILE_OTHER;
  if (!period || !(atomic_load(&uv__wanted) & bit) || t->timer >= 0 ||
      !uv__signal_is_ours((int)atomic_load(&uvdb_probe.profile_signal)))
    return;
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = (int)atomic_load(&uvdb_probe.profile_signal);
  sev._sigev_un._tid = (int)atomic_load(&t->tid); /* sigev_notify_thread_id, where headers name it */
  int id = -1;
  long clock = atomic_load(&uv__wall) ? CLOCK_MONOTONIC : uv__thread_cpu_clock(atomic_load(&t->tid));
  if (uvdb_sys3(SYS_timer_create, clock, &sev, &id) != 0)
    return;
  struct itimerspec its = {{(time_t)(period / 1000000000u), (long)(period % 1000000000u)},
                           {(time_t)(period / 1000000000u), (long)(period % 1000000000u)}};
  uvdb_sys4(SYS_timer_settime, id, 0, &its, NULL);
  t->timer = id;
}

static void uv__timer_stop(struct uv__sampled *t) {
  if (t->timer >= 0)
    uvdb_sys1(SYS_timer_delete, t->timer);
  t->timer = -1;
}

/* A thread that may be sampled: loops at their first run, pool workers at
 * their first job.  Called on that thread. */
static __thread int uv__known_here __attribute__((tls_model("initial-exec")));

void uvdb_profile_thread(int role) {
  int known = uv__known_here;
  if (known)
    return;
  uv__known_here = 1;
  uint32_t tid = (uint32_t)uvdb_sys0(SYS_gettid), n = atomic_load(&uv__nthreads);
  struct uv__sampled *t = NULL;
  for (uint32_t i = 0; i < n && i < MAX_SAMPLED && !t; i++) /* met already by a scan, as another thread */
    if (atomic_load(&uv__threads[i].tid) == tid)
      t = &uv__threads[i];
  if (!t) {
    uint32_t i = atomic_fetch_add(&uv__nthreads, 1);
    if (i >= MAX_SAMPLED)
      return;
    t = &uv__threads[i];
    t->timer = -1;
  }
  t->stack_hi = uvdb_stack_hi();
  t->role = role;
  atomic_store(&t->tid, tid);
  uv__timer_start(t);
}

/* A forked child has one thread, the one that forked (its entry kept, as
 * it was parent_tid), and no timer (fork does not copy them). */
void uvdb_profile_forked(uint32_t parent_tid) {
  uint32_t n = atomic_load(&uv__nthreads), kept = 0;
  for (uint32_t i = 0; i < n && i < MAX_SAMPLED; i++)
    if (parent_tid && atomic_load(&uv__threads[i].tid) == parent_tid && !kept) {
      uv__threads[0] = uv__threads[i];
      uv__threads[0].timer = -1;
      atomic_store(&uv__threads[0].tid, (uint32_t)uvdb_sys0(SYS_gettid));
      kept = 1;
    }
  atomic_store(&uv__nthreads, kept);
  uv__known_here = kept;
}

static int uv__known(uint32_t tid) {
  uint32_t n = atomic_load(&uv__nthreads);
  for (uint32_t i = 0; i < n && i < MAX_SAMPLED; i++)
    if (atomic_load(&uv__threads[i].tid) == tid)
      return 1;
  return 0;
}

/* --threads all: the threads of /proc/self/task the probe has not met (it
 * meets loop threads and pool workers as they run) get a timer too.  Their
 * stacks' ends are unknown: a sample copies with process_vm_readv, which
 * stops at the end of the mapping where memcpy would fault.  Raw system
 * calls: the agent runs it. */
uint64_t uvdb_profile_scan_threads(void) {
  if (!atomic_load(&uv__period_ns) || !(atomic_load(&uv__wanted) & UVDB_PROFILE_OTHER))
    return 0;
  static uint64_t last;
  struct timespec now;
  uvdb_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
  uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
  if (last && ns - last < SCAN_PERIOD_NS)
    return SCAN_PERIOD_NS - (ns - last);
  last = ns;
  int fd = (int)uvdb_sys3(SYS_open, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return SCAN_PERIOD_NS;
  uint32_t self = (uint32_t)uvdb_sys0(SYS_gettid);
  _Alignas(8) char buf[4096];
  long got;
  while ((got = uvdb_sys3(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
    for (long off = 0; off < got;) {
      const struct {
        uint64_t ino;
        int64_t off;
        uint16_t reclen;
        uint8_t type;
        char name[];
      } *d = (const void *)(buf + off);
      uint32_t tid = 0;
      for (const char *c = d->name; *c >= '0' && *c <= '9'; c++)
        tid = tid * 10 + (uint32_t)(*c - '0');
      off += d->reclen;
      if (!tid || tid == self || uv__known(tid))
        continue;
      uint32_t i = atomic_fetch_add(&uv__nthreads, 1);
      if (i >= MAX_SAMPLED)
        break;
      struct uv__sampled *t = &uv__threads[i];
      t->role = UVDB_ROLE_OTHER;
      t->stack_hi = 0;
      t->timer = -1;
      atomic_store(&t->tid, tid);
      uv__timer_start(t);
    }
  }
  uvdb_sys1(SYS_close, fd);
  return SCAN_PERIOD_NS;
}

/* The agent: start (period_ns > 0) or stop sampling the threads known. */
void uvdb_profile_configure(uint64_t period_ns, uint32_t wall, uint32_t threads) {
  uint32_t n = atomic_load(&uv__nthreads);
  n = n < MAX_SAMPLED ? n : MAX_SAMPLED;
  for (uint32_t i = 0; i < n; i++)
    uv__timer_stop(&uv__threads[i]);
  atomic_store(&uv__wall, wall);
  atomic_store(&uv__wanted, threads);
  atomic_store(&uv__period_ns, period_ns);
  for (uint32_t i = 0; i < n && period_ns; i++)
    if (atomic_load(&uv__threads[i].tid))
      uv__timer_start(&uv__threads[i]);
}

static const struct uv__sampled *uv__me(uint32_t tid) {
  uint32_t n = atomic_load(&uv__nthreads);
  for (uint32_t i = 0; i < n && i < MAX_SAMPLED; i++)
    if (atomic_load(&uv__threads[i].tid) == tid)
      return &uv__threads[i];
  return NULL;
}

/* One sample, on the sampled thread, in the signal's handler. */
static void uv__profile_handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig, (void)si;
  struct uvdb_shm_header *shm = uvdb_probe.shm;
  if (!shm || !atomic_load_explicit(&uv__period_ns, memory_order_relaxed))
    return;
  const ucontext_t *uc = ucv;
  const greg_t *g = uc->uc_mcontext.gregs;
  uint32_t tid = (uint32_t)uvdb_sys0(SYS_gettid);
  const struct uv__sampled *me = uv__me(tid);
  uint64_t index = atomic_fetch_add(&shm->profile_claimed, 1);
  struct uvdb_profile_sample *s = uvdb_shm_profile(shm, index);
  atomic_fetch_add(&s->seq, 1); /* odd: being written */
  s->regs = (struct uvdb_stop_stack){
      .rip = (uint64_t)g[REG_RIP], .rsp = (uint64_t)g[REG_RSP], .rbp = (uint64_t)g[REG_RBP],
      .rbx = (uint64_t)g[REG_RBX], .r12 = (uint64_t)g[REG_R12], .r13 = (uint64_t)g[REG_R13],
      .r14 = (uint64_t)g[REG_R14], .r15 = (uint64_t)g[REG_R15], .valid = 1,
  };
  uint64_t sp = s->regs.rsp, hi = me ? me->stack_hi : 0, len = hi > sp ? hi - sp : 0;
  if (len > UVDB_PROFILE_STACK)
    len = UVDB_PROFILE_STACK;
  if (hi) {
    __builtin_memcpy(s->stack, (const void *)(uintptr_t)sp, len);
  } else if (me) { /* a thread a scan found: page by page, up to the first unmapped one */
    struct iovec local = {s->stack, UVDB_PROFILE_STACK}, remote[UVDB_PROFILE_STACK / 4096 + 1];
    int n = 0;
    for (uint64_t at = sp, end = sp + UVDB_PROFILE_STACK; at < end; n++) {
      uint64_t next = (at | 4095) + 1 < end ? (at | 4095) + 1 : end;
      remote[n] = (struct iovec){(void *)(uintptr_t)at, next - at};
      at = next;
    }
    long got = uvdb_sys(SYS_process_vm_readv, uvdb_sys0(SYS_getpid), (long)&local, 1, (long)remote, n, 0);
    len = got > 0 ? (uint64_t)got : 0;
  }
  s->stack_len = (uint32_t)len;
  s->stack_base = sp;
  s->tid = tid;
  s->role = (uint8_t)(me ? me->role : UVDB_ROLE_OTHER);
  int d = uvdb_self.depth;
  const struct uvdb_run_frame *f = d > 0 ? &uvdb_self.frames[d - 1] : NULL;
  s->loop_id = f ? f->loop->id : 0;
  s->phase = f ? f->cur_phase : 0xff;
  s->waiting = f && uvdb_self.in_poll && atomic_load(&f->loop->busy_since) == 0;
  s->ts = uvdb_now();
  s->index = index;
  atomic_fetch_add(&s->seq, 1);
}

void uvdb_profile_release_signal(void) {
  uvdb_signal_give_back((int)atomic_load(&uvdb_probe.profile_signal), (void *)uv__profile_handler);
}

/* The profiler's signal: a realtime one nobody in the target handles. */
int uvdb_profile_init(void) {
  int ours = (int)atomic_load(&uvdb_probe.profile_signal);
  struct sigaction now;
  if (ours && sigaction(ours, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == uv__profile_handler)
    return 0; /* still ours from the last session */
  for (int sig = SIGRTMAX - 5; sig > SIGRTMIN + 6; sig--) {
    if (sig == uvdb_probe.kick_signal)
      continue;
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = uv__profile_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0) {
      atomic_store(&uvdb_probe.profile_signal, (uint32_t)sig);
      return 0;
    }
  }
  return -1;
}
