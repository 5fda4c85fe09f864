/* The agent: a thread of the target that serves the debugger's commands and
 * notices when it goes away.  It is created with clone() but without
 * CLONE_FILES, so the target's file table stays unshared (a second user of
 * it makes every fd system call of the target take the kernel's slower
 * path: +118 ns an iteration on an epoll-bound loop) and holds no fd of ours.
 * Being no pthread, it uses raw system calls only. */
#define _GNU_SOURCE
#include "agent.h"

#include "probe.h"
#include "rawsys.h"
#include <errno.h>
#include <linux/futex.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define AGENT_STACK (64 * 1024)

/* The agent's thread id while it lives: the kernel clears it and wakes
 * futex waiters as the thread exits (CLONE_CHILD_CLEARTID), so a later
 * attach knows when the stack is free to serve a new agent. */
static _Atomic int uv__agent_tid;
static void *uv__agent_stack;

static void uv__agent_handle(uint32_t type, const void *payload, size_t len) {
  switch (type) {
  case UVDB_MSG_PAUSE: {
    struct uvdb_msg_pause p = {0, UVDB_STOP_INTERRUPT};
    if (len >= sizeof(p))
      __builtin_memcpy(&p, payload, sizeof(p));
    uint32_t tid = p.tid ? p.tid : (uint32_t)uvdb_sys0(SYS_getpid);
    if (!p.reason)
      uvdb_cancel_pause();
    else if (!(p.reason & UVDB_PAUSE_AT_CALLBACK))
      uvdb_request_pause(tid, p.reason);
    else if ((p.reason & 0xff) == UVDB_STOP_FINISH)
      atomic_store(&uvdb_probe.finish_tid, tid);
    else
      atomic_store(&uvdb_probe.step_tid, tid);
    break;
  }
  case UVDB_MSG_RESUME:
    uvdb_resume_all();
    break;
  case UVDB_MSG_SAMPLE: {
    uint32_t tid = 0;
    if (len >= sizeof(tid))
      __builtin_memcpy(&tid, payload, sizeof(tid));
    uvdb_request_sample(tid ? tid : (uint32_t)uvdb_sys0(SYS_getpid), UVDB_SAMPLE_SLOTS - 1, UVDB_SAMPLE_ASKED, 0);
    break;
  }
  case UVDB_MSG_POOL_BREAK: {
    uint32_t depths[UVDB_POOL_BREAKS] = {0};
    if (len >= sizeof(depths))
      __builtin_memcpy(depths, payload, sizeof(depths));
    for (unsigned i = 0; i < UVDB_POOL_BREAKS; i++)
      atomic_store(&uvdb_pool_break_depths[i], depths[i]);
    break;
  }
  case UVDB_MSG_WATCHDOG: {
    struct uvdb_msg_watchdog w = {0, 0, 0, 0};
    if (len >= sizeof(w))
      __builtin_memcpy(&w, payload, sizeof(w));
    atomic_store(&uvdb_probe.watchdog_ticks, w.threshold_ticks);
    atomic_store(&uvdb_probe.break_blocked_ticks, w.break_ticks);
    atomic_store(&uvdb_probe.watchdog_period_ns, w.period_ns);
    atomic_store(&uvdb_probe.ticks_per_ms, w.ticks_per_ms);
    break;
  }
  case UVDB_MSG_PROFILE: {
    struct uvdb_msg_profile p = {0, 0, 0};
    if (len >= sizeof(p))
      __builtin_memcpy(&p, payload, sizeof(p));
    uvdb_profile_configure(p.period_ns, p.wall, p.threads);
    if (p.period_ns && atomic_exchange(&uvdb_probe.jit_deferred, 0)) {
      atomic_store(&uvdb_probe.jit_work, UVDB_JIT_NAMES_START); /* samples want names */
      uvdb_recompute_attention();
    }
    break;
  }
  case UVDB_MSG_JIT_NAMES: {
    uint32_t what = 0;
    if (len >= sizeof(what))
      __builtin_memcpy(&what, payload, sizeof(what));
    atomic_store(&uvdb_probe.jit_work, (int)what);
    if (what == UVDB_JIT_NAMES_START)
      atomic_store(&uvdb_probe.jit_deferred, 0); /* asked for now */
    uvdb_recompute_attention(); /* the main loop does it at its next boundary, parked or not */
    break;
  }
  case UVDB_MSG_FPROBES:
    uvdb_fprobe_sync();
    break;
  case UVDB_MSG_BREAKPOINTS:
    if (len >= sizeof(struct uvdb_msg_breakpoints))
      uvdb_set_breakpoints(((const struct uvdb_msg_breakpoints *)payload)->mask);
    break;
  default:
    break;
  }
}

static int uv__agent_main(void *arg) {
  int sock = (int)(intptr_t)arg;
  /* Our copy of the target's file table: keep the socket, drop the rest, so
   * a file the target closes is closed. */
  long closed = sock > 0 ? uvdb_sys3(SYS_close_range, 0, sock - 1, 0) : 0;
  if (uvdb_sys3(SYS_close_range, sock + 1, ~0u, 0) != 0 || closed != 0) {
    /* before Linux 5.9: one by one, up to the process's limit */
    struct {
      uint64_t cur, max;
    } lim = {1024, 1024};
    uvdb_sys2(SYS_getrlimit, RLIMIT_NOFILE, &lim);
    for (uint64_t fd = 0; fd < lim.cur && fd < (1u << 20); fd++)
      if ((int)fd != sock)
        uvdb_sys1(SYS_close, fd);
  }
  uvdb_sys2(SYS_prctl, PR_SET_NAME, "uvdb-agent");
  /* No privilege: credentials are per thread, and glibc's set*id would not
   * reach this thread when the target drops its own. */
  struct {
    uint32_t version;
    int pid;
  } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } none[2] = {{0, 0, 0}, {0, 0, 0}};
  uvdb_sys2(SYS_capset, &hdr, none);
  for (;;) {
    struct pollfd p = {sock, POLLIN, 0};
    /* the watchdog looks at the loops between commands */
    uint64_t period = atomic_load(&uvdb_probe.watchdog_period_ns), scan = uvdb_profile_scan_threads();
    period = scan && (!period || scan < period) ? scan : period;
    struct timespec tick = {(long)(period / 1000000000u), (long)(period % 1000000000u)};
    long r = uvdb_sys4(SYS_ppoll, &p, 1, period ? &tick : NULL, NULL);
    if (period && atomic_load(&uvdb_probe.active)) {
      uvdb_watchdog_tick();
      if (!atomic_load(&uvdb_probe.attention) || !uvdb_watchdog_pending())
        uvdb_recompute_attention();
    }
    if (r == -EINTR || r == 0)
      continue;
    if (r < 0)
      break;
    struct {
      struct uvdb_msg_header h;
      _Alignas(8) char payload[512];
    } msg;
    long n = uvdb_sys(SYS_recvfrom, sock, (long)&msg, sizeof(msg), MSG_DONTWAIT, 0, 0);
    if (n == -EINTR || n == -EAGAIN)
      continue;
    if (n < (long)sizeof(msg.h))
      break; /* closed: the debugger is gone */
    uv__agent_handle(msg.h.type, msg.payload, (size_t)n - sizeof(msg.h));
  }
  atomic_store(&uvdb_probe.active, 0);
  uvdb_release_all();
  uvdb_safepoint_release_signal();
  uvdb_profile_release_signal();
  uvdb_jit_names_abandon();
  uvdb_rings_forget();
  uvdb_sys1(SYS_close, sock);
  return 0; /* clone's trampoline ends the thread with SYS_exit */
}

int uvdb_agent_running(void) {
  return atomic_load(&uv__agent_tid) != 0;
}

int uvdb_agent_wait_exit(int ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    int tid = atomic_load(&uv__agent_tid);
    if (!tid)
      return 0;
    struct timespec ten = {0, 10 * 1000 * 1000};
    uvdb_sys4(SYS_futex, &uv__agent_tid, FUTEX_WAIT, tid, &ten);
  }
  return atomic_load(&uv__agent_tid) ? -1 : 0;
}

/* One stack for every agent of the process's life: attach and detach fifty
 * times, and the target holds one. */
void uvdb_agent_forked(void) {
  atomic_store(&uv__agent_tid, 0);
}

int uvdb_agent_start(int sock) {
  if (uvdb_agent_running())
    return -1;
  if (!uv__agent_stack) {
    void *stack = mmap(NULL, AGENT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
      return -1;
    uv__agent_stack = stack;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited: the target's signals are not ours */
  int flags = CLONE_VM | CLONE_FS | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID |
              CLONE_CHILD_CLEARTID;
  int tid = clone(uv__agent_main, (char *)uv__agent_stack + AGENT_STACK, flags, (void *)(intptr_t)sock,
                  (pid_t *)&uv__agent_tid, NULL, (pid_t *)&uv__agent_tid);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return tid < 0 ? -1 : 0;
}
