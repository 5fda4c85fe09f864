/* Attach and detach: load the probe into a running process with ptrace (a
 * thread parked in a system call calls the target's own dlopen), install its
 * hooks with every thread stopped outside the bytes replaced, and later put
 * the code back.  Registers are restored exactly, so interrupted calls restart. */
#define _GNU_SOURCE
#include "attach.h"

#include "../probes/wire.h"
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define XSTATE_MAX (16 * 1024)
#define CALL_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000
#define RANGE_TRIES 200

struct uv__thread {
  pid_t tid;
  int stopped;
  struct user_regs_struct regs;
};

struct uv__target {
  pid_t pid;
  struct uv__thread t[MAX_THREADS];
  int n;
  int caller;                  /* index of the thread that makes our calls */
  struct user_regs_struct saved; /* its registers as we found them */
  uint8_t xstate[XSTATE_MAX];  /* its FPU/SSE/AVX state */
  size_t xstate_len;
  int saved_ok;
  uint64_t probe_base, probe_text_lo, probe_text_hi;
  char probe_path[4096];
  char *err;
  size_t err_cap;
};

static int uv__fail(struct uv__target *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->err, t->err_cap, fmt, ap);
  va_end(ap);
  return -1;
}

static uint64_t uv__ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the target's memory and files ---- */

static int uv__read_mem(pid_t pid, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

static int uv__write_mem(pid_t pid, uint64_t addr, const void *buf, size_t len) {
  struct iovec local = {(void *)buf, len}, remote = {(void *)(uintptr_t)addr, len};
  return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* Each line of /proc/PID/maps: range, permissions, offset, path. */
typedef int (*uv__maps_fn)(void *ctx, uint64_t lo, uint64_t hi, const char *perms, uint64_t off, const char *path);

static int uv__each_mapping(pid_t pid, uv__maps_fn fn, void *ctx) {
  char name[64], line[4352];
  snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
  FILE *f = fopen(name, "re");
  if (!f)
    return -1;
  int r = 0;
  while (!r && fgets(line, sizeof(line), f)) {
    unsigned long long lo, hi, off;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &off, &path_at) < 4)
      continue;
    char *path = path_at ? line + path_at : line + strlen(line);
    path[strcspn(path, "\n")] = '\0';
    r = fn(ctx, lo, hi, perms, off, path);
  }
  fclose(f);
  return r;
}

struct uv__module {
  const char *prefix; /* of the file's name: "libc.so.6", "libuv.so" (libuv.so.1.0.0) */
  char path[4096];
  uint64_t first_lo; /* the mapping of file offset 0 */
  uint64_t text_lo, text_hi;
  int musl, found;
};

static int uv__match_module(void *ctx, uint64_t lo, uint64_t hi, const char *perms, uint64_t off, const char *path) {
  struct uv__module *m = ctx;
  if (strstr(path, "ld-musl"))
    m->musl = 1;
  const char *base = strrchr(path, '/');
  if (!base || strncmp(base + 1, m->prefix, strlen(m->prefix)) != 0)
    return 0;
  if (!m->found || strcmp(m->path, path) == 0) {
    if (!m->found) {
      snprintf(m->path, sizeof(m->path), "%s", path);
      m->found = 1;
    }
    if (off == 0 && !m->first_lo)
      m->first_lo = lo;
    if (perms[2] == 'x' && !m->text_lo)
      m->text_lo = lo, m->text_hi = hi;
  }
  return 0;
}

static int uv__find_module(pid_t pid, const char *prefix, struct uv__module *m) {
  memset(m, 0, sizeof(*m));
  m->prefix = prefix;
  if (uv__each_mapping(pid, uv__match_module, m) != 0)
    return -1;
  return m->found && m->first_lo ? 0 : -1;
}

/* A symbol's value in an ELF file (.dynsym, then .symtab), and the vaddr of
 * its first PT_LOAD, which the mapping at offset 0 is placed at. */
static int uv__elf_symbol(const char *path, const char *name, uint64_t *value, uint64_t *first_vaddr) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  elf_version(EV_CURRENT);
  Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  int found = -1;
  size_t phnum = 0;
  if (e && first_vaddr && elf_getphdrnum(e, &phnum) == 0) {
    *first_vaddr = 0;
    for (size_t i = 0; i < phnum; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
        *first_vaddr = ph.p_vaddr & ~(ph.p_align ? ph.p_align - 1 : 0);
        break;
      }
    }
  }
  for (int pass = 0; e && pass < 2 && found != 0; pass++) {
    Elf_Scn *scn = NULL;
    while (found != 0 && (scn = elf_nextscn(e, scn))) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != (pass ? SHT_SYMTAB : SHT_DYNSYM) || !sh.sh_entsize)
        continue;
      Elf_Data *d = elf_getdata(scn, NULL);
      size_t count = d ? sh.sh_size / sh.sh_entsize : 0;
      for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
          continue;
        const char *n = elf_strptr(e, sh.sh_link, sym.st_name);
        if (n && strcmp(n, name) == 0) {
          *value = sym.st_value;
          found = 0;
          break;
        }
      }
    }
  }
  if (e)
    elf_end(e);
  close(fd);
  return found;
}

/* The run-time address of `name` in the module whose file name begins `prefix`. */
static int uv__remote_symbol(pid_t pid, const char *prefix, const char *name, uint64_t *addr) {
  struct uv__module m;
  uint64_t value, first;
  if (uv__find_module(pid, prefix, &m) != 0 || uv__elf_symbol(m.path, name, &value, &first) != 0)
    return -1;
  *addr = m.first_lo - first + value;
  return 0;
}

static int uv__read_status(pid_t pid, const char *key, char *out, size_t cap) {
  char name[64], line[512];
  snprintf(name, sizeof(name), "/proc/%d/status", (int)pid);
  FILE *f = fopen(name, "re");
  if (!f)
    return -1;
  int r = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      char *v = line + kl + 1;
      v += strspn(v, " \t");
      v[strcspn(v, "\n")] = '\0';
      snprintf(out, cap, "%s", v);
      r = 0;
      break;
    }
  fclose(f);
  return r;
}

/* ---- threads ---- */

static struct uv__thread *uv__find_thread(struct uv__target *t, pid_t tid) {
  for (int i = 0; i < t->n; i++)
    if (t->t[i].tid == tid)
      return &t->t[i];
  return NULL;
}

static void uv__forget_thread(struct uv__target *t, pid_t tid) {
  for (int i = 0; i < t->n; i++)
    if (t->t[i].tid == tid) {
      t->t[i] = t->t[--t->n];
      if (t->caller == t->n)
        t->caller = i;
      else if (t->caller == i)
        t->caller = -1;
      return;
    }
}

/* Wait for one thread to stop (an interrupt, or a signal it is given on
 * the way, which is delivered and waited past). */
static int uv__wait_stop(struct uv__target *t, struct uv__thread *th) {
  uint64_t deadline = uv__ms() + STOP_TIMEOUT_MS;
  for (;;) {
    int st;
    pid_t r = waitpid(th->tid, &st, __WALL | WNOHANG);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 || (r == th->tid && (WIFEXITED(st) || WIFSIGNALED(st)))) {
      uv__forget_thread(t, th->tid);
      return 1; /* gone */
    }
    if (r == th->tid && WIFSTOPPED(st)) {
      if ((st >> 16) == PTRACE_EVENT_STOP) {
        th->stopped = 1;
        return ptrace(PTRACE_GETREGS, th->tid, NULL, &th->regs) == 0 ? 0 : -1;
      }
      ptrace(PTRACE_CONT, th->tid, NULL, (void *)(uintptr_t)WSTOPSIG(st)); /* its signal, then our stop */
      continue;
    }
    if (uv__ms() > deadline)
      return -1;
    struct timespec us50 = {0, 50 * 1000};
    nanosleep(&us50, NULL);
  }
}

/* Seize every thread (again and again, until no new one appears). */
static int uv__no_permission(struct uv__target *t) {
  return uv__fail(t, "cannot trace process %d: permission denied (it is another user's, it is traced already, or "
                     "kernel.yama.ptrace_scope forbids it): run uvdb as the same user, with "
                     "`sysctl kernel.yama.ptrace_scope=0`, or as root", (int)t->pid);
}

static int uv__seize_all(struct uv__target *t) {
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%d/task", (int)t->pid);
  for (int round = 0; round < 20; round++) {
    DIR *d = opendir(dir);
    if (!d)
      return uv__fail(t, "process %d exited", (int)t->pid);
    int added = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      pid_t tid = (pid_t)atoi(e->d_name);
      if (tid <= 0 || uv__find_thread(t, tid))
        continue;
      if (t->n == MAX_THREADS) {
        closedir(d);
        return uv__fail(t, "process %d has more than %d threads", (int)t->pid, MAX_THREADS);
      }
      if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
        if (errno == ESRCH)
          continue; /* it just ended */
        int err = errno;
        closedir(d);
        if (err == EPERM)
          return uv__no_permission(t);
        return uv__fail(t, "cannot trace thread %d of process %d: %s", (int)tid, (int)t->pid, strerror(err));
      }
      t->t[t->n++] = (struct uv__thread){.tid = tid};
      added = 1;
    }
    closedir(d);
    if (!added)
      return 0;
  }
  return 0;
}

static int uv__stop_all(struct uv__target *t) {
  for (int i = 0; i < t->n; i++)
    if (!t->t[i].stopped)
      ptrace(PTRACE_INTERRUPT, t->t[i].tid, NULL, NULL);
  for (int i = 0; i < t->n;) {
    struct uv__thread *th = &t->t[i];
    if (th->stopped) {
      i++;
      continue;
    }
    int r = uv__wait_stop(t, th);
    if (r < 0)
      return uv__fail(t, "thread %d of process %d did not stop", (int)th->tid, (int)t->pid);
    if (r == 0)
      i++;
  }
  if (t->n == 0)
    return uv__fail(t, "process %d exited during the attach", (int)t->pid);
  return 0;
}

static void uv__run_others(struct uv__target *t) {
  for (int i = 0; i < t->n; i++)
    if (i != t->caller && t->t[i].stopped && ptrace(PTRACE_CONT, t->t[i].tid, NULL, NULL) == 0)
      t->t[i].stopped = 0;
}

static int uv__stop_others(struct uv__target *t) {
  pid_t caller = t->caller >= 0 ? t->t[t->caller].tid : 0;
  if (uv__seize_all(t) != 0 || uv__stop_all(t) != 0)
    return -1;
  t->caller = -1;
  for (int i = 0; i < t->n; i++)
    if (t->t[i].tid == caller)
      t->caller = i;
  return t->caller >= 0 ? 0 : uv__fail(t, "the thread uvdb worked in ended");
}

/* The caller gets back the registers it had. */
static void uv__restore_caller(struct uv__target *t) {
  if (t->caller >= 0 && t->saved_ok) {
    pid_t tid = t->t[t->caller].tid;
    ptrace(PTRACE_SETREGS, tid, NULL, &t->saved);
    struct iovec x = {t->xstate, t->xstate_len};
    if (t->xstate_len)
      ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &x);
  }
  t->saved_ok = 0;
}

/* Let every thread go, the caller with the registers it had. */
static void uv__release(struct uv__target *t) {
  uv__restore_caller(t);
  for (int i = 0; i < t->n; i++) {
    if (!t->t[i].stopped) { /* detaching needs a stopped tracee */
      ptrace(PTRACE_INTERRUPT, t->t[i].tid, NULL, NULL);
      int r = uv__wait_stop(t, &t->t[i]);
      if (r == 1) {
        i--; /* it ended: the slot holds another thread now */
        continue;
      }
    }
    ptrace(PTRACE_DETACH, t->t[i].tid, NULL, NULL);
  }
  t->n = 0;
}

static int uv__in_probe(const struct uv__target *t, uint64_t ip) {
  return t->probe_text_hi && ip >= t->probe_text_lo && ip < t->probe_text_hi;
}

/* A thread parked in a system call that holds no lock of the loader or of
 * malloc: a sleeping pool worker or platform thread is best (the loop runs
 * on meanwhile), else the main thread waiting in epoll. */
static int uv__pick_caller(struct uv__target *t, int any) {
  static const long parked[] = {202 /* futex */, 232 /* epoll_wait */, 281 /* epoll_pwait */, 441 /* epoll_pwait2 */,
                                7 /* poll */, 271 /* ppoll */, 35 /* nanosleep */, 230 /* clock_nanosleep */};
  int best = -1, best_rank = 99;
  for (int i = 0; i < t->n; i++) {
    const struct user_regs_struct *r = &t->t[i].regs;
    if (((long)r->orig_rax < 0 && !any) || uv__in_probe(t, r->rip))
      continue;
    char comm[64] = "", path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)t->pid, (int)t->t[i].tid);
    FILE *f = fopen(path, "re");
    if (f) {
      if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
      fclose(f);
    }
    if (strncmp(comm, "uvdb-agent", 10) == 0)
      continue;
    int rank = 99;
    for (size_t k = 0; k < sizeof(parked) / sizeof(parked[0]); k++)
      if ((long)r->orig_rax == parked[k])
        rank = t->t[i].tid == t->pid ? 10 : (int)k;
    if (rank == 99 && any && t->t[i].tid == t->pid)
      rank = 50;
    if (rank < best_rank && (rank < 99 || any))
      best = i, best_rank = rank;
  }
  return best;
}

static int uv__save_caller(struct uv__target *t) {
  struct uv__thread *th = &t->t[t->caller];
  t->saved = th->regs;
  struct iovec x = {t->xstate, sizeof(t->xstate)};
  t->xstate_len = ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_X86_XSTATE, &x) == 0 ? x.iov_len : 0;
  t->saved_ok = 1;
  return 0;
}

/* ---- calls in the target ---- */

/* While a call runs in the target, the debugger answers what the call
 * waits for (the probe's hello). */
struct uv__service {
  void (*fn)(void *);
  void *arg;
};

/* Call fn(a0, a1) on the caller thread, its stack below the red zone and
 * our strings, with 0 for a return address: its return faults there, and
 * the fault is ours to catch, never the target's to see. */
static int uv__call(struct uv__target *t, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t stack_top, uint64_t *ret,
                    const struct uv__service *svc) {
  struct uv__thread *th = &t->t[t->caller];
  struct user_regs_struct r = t->saved;
  uint64_t sp = (stack_top & ~15ull) - 8, zero = 0;
  if (uv__write_mem(t->pid, sp, &zero, sizeof(zero)) != 0)
    return uv__fail(t, "cannot write to the stack of thread %d", (int)th->tid);
  r.rip = fn;
  r.rsp = sp;
  r.rdi = a0;
  r.rsi = a1;
  r.rax = 0;
  r.orig_rax = (unsigned long long)-1; /* not in a system call: no restart applied to our rip */
  if (ptrace(PTRACE_SETREGS, th->tid, NULL, &r) != 0 || ptrace(PTRACE_CONT, th->tid, NULL, NULL) != 0)
    return uv__fail(t, "cannot run code in thread %d: %s", (int)th->tid, strerror(errno));
  th->stopped = 0;
  uint64_t deadline = uv__ms() + CALL_TIMEOUT_MS;
  for (;;) {
    int st;
    pid_t w = waitpid(th->tid, &st, __WALL | WNOHANG);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 || (w == th->tid && (WIFEXITED(st) || WIFSIGNALED(st)))) {
      uv__forget_thread(t, th->tid);
      return uv__fail(t, "process %d exited during the attach", (int)t->pid);
    }
    if (w == th->tid && WIFSTOPPED(st)) {
      int sig = WSTOPSIG(st);
      if ((st >> 16) == PTRACE_EVENT_STOP) { /* a group stop or a stray interrupt: go on */
        ptrace(PTRACE_CONT, th->tid, NULL, NULL);
        continue;
      }
      struct user_regs_struct now;
      if (sig == SIGSEGV && ptrace(PTRACE_GETREGS, th->tid, NULL, &now) == 0 && now.rip == 0) {
        th->stopped = 1;
        *ret = now.rax;
        return 0;
      }
      if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT) {
        th->stopped = 1; /* not delivered: the registers go back as they were */
        return uv__fail(t, "the call faulted in the target (signal %d); its registers are restored", sig);
      }
      ptrace(PTRACE_CONT, th->tid, NULL, (void *)(uintptr_t)sig); /* the target's own signal: its handler runs */
      continue;
    }
    if (svc && svc->fn)
      svc->fn(svc->arg);
    if (uv__ms() > deadline) {
      ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL);
      uv__wait_stop(t, th);
      struct user_regs_struct now = {0};
      ptrace(PTRACE_GETREGS, th->tid, NULL, &now);
      return uv__fail(t, "a call in the target (0x%llx, thread %d) did not return within %d s: it is at 0x%llx, "
                         "in system call %lld", (unsigned long long)fn, (int)th->tid, CALL_TIMEOUT_MS / 1000,
                      (unsigned long long)now.rip, (long long)now.orig_rax);
    }
    struct timespec us100 = {0, 100 * 1000};
    nanosleep(&us100, NULL);
  }
}

/* Strings for the calls, copied below the caller's red zone. */
static uint64_t uv__push_string(struct uv__target *t, uint64_t *top, const char *s) {
  size_t len = strlen(s) + 1;
  *top = (*top - len) & ~15ull;
  return uv__write_mem(t->pid, *top, s, len) == 0 ? *top : 0;
}

static int uv__probe_symbol(struct uv__target *t, const char *name, uint64_t *addr) {
  uint64_t value, first;
  if (uv__elf_symbol(t->probe_path, name, &value, &first) != 0)
    return uv__fail(t, "the probe %s has no %s: rebuild uvdb", t->probe_path, name);
  *addr = t->probe_base - first + value;
  return 0;
}

/* Is the probe loaded already (an earlier attach, or a launch)? */
static int uv__find_loaded_probe(struct uv__target *t) {
  struct uv__module m;
  if (uv__find_module(t->pid, "libuvdb-probe.so", &m) != 0)
    return 0;
  snprintf(t->probe_path, sizeof(t->probe_path), "%s", m.path);
  t->probe_base = m.first_lo;
  t->probe_text_lo = m.text_lo;
  t->probe_text_hi = m.text_hi;
  return 1;
}

/* No thread may be inside the code about to change, nor in the probe's. */
static int uv__threads_clear(const struct uv__target *t, const uint64_t (*range)[2], unsigned n) {
  for (int i = 0; i < t->n; i++) {
    uint64_t ip = i == t->caller ? t->saved.rip : t->t[i].regs.rip;
    if (uv__in_probe(t, ip))
      return 0;
    for (unsigned k = 0; k < n; k++)
      if (ip >= range[k][0] && ip < range[k][1])
        return 0;
  }
  return 1;
}

static int uv__stop_clear(struct uv__target *t, const uint64_t (*range)[2], unsigned n) {
  for (int tries = 0; tries < RANGE_TRIES; tries++) {
    if (uv__stop_others(t) != 0)
      return -1;
    if (uv__threads_clear(t, range, n))
      return 0;
    uv__run_others(t);
    struct timespec ms1 = {0, 1000 * 1000};
    nanosleep(&ms1, NULL);
  }
  return uv__fail(t, "a thread stayed inside the code to patch for %d tries", RANGE_TRIES);
}

static int uv__precheck(struct uv__target *t) {
  pid_t pid = t->pid;
  if (pid <= 0)
    return uv__fail(t, "%d is not a process id", (int)pid);
  if (pid == getpid())
    return uv__fail(t, "uvdb cannot attach to itself");
  if (kill(pid, 0) != 0 && errno == ESRCH)
    return uv__fail(t, "no process with PID %d", (int)pid);
  char v[256];
  if (uv__read_status(pid, "State", v, sizeof(v)) != 0)
    return uv__fail(t, "no process with PID %d", (int)pid);
  if (v[0] == 'Z' || v[0] == 'X')
    return uv__fail(t, "process %d has exited (it is a zombie)", (int)pid);
  if (uv__read_status(pid, "TracerPid", v, sizeof(v)) == 0 && atoi(v) != 0)
    return uv__fail(t, "process %d is traced already by process %s (a debugger?): detach that first", (int)pid, v);
  char maps[64];
  snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
  if ((kill(pid, 0) != 0 && errno == EPERM) || (access(maps, R_OK) != 0 && (errno == EACCES || errno == EPERM)))
    return uv__no_permission(t);
  struct uv__module libc;
  int have_libc = uv__find_module(pid, "libc.so.6", &libc) == 0;
  if (libc.musl)
    return uv__fail(t, "process %d runs on musl libc: attach is not supported there; start it under uvdb "
                       "(uvdb -- PROGRAM)", (int)pid);
  if (!have_libc)
    return uv__fail(t, "process %d has no libc.so.6 (statically linked?): attach needs its dlopen; start it under "
                       "uvdb instead (uvdb -- PROGRAM)", (int)pid);
  char exe[64];
  snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
  uint64_t value;
  struct uv__module uv;
  if (uv__elf_symbol(exe, "uv_run", &value, NULL) != 0 &&
      (uv__find_module(pid, "libuv.so", &uv) != 0 || uv__elf_symbol(uv.path, "uv_run", &value, NULL) != 0))
    return uv__fail(t, "process %d does not use libuv (no uv_run in its program or libraries)", (int)pid);
  return 0;
}

/* The main thread, if it waits in epoll (a loop at rest, outside JavaScript):
 * its loop is taken as polling, and V8 asked for its JIT names there. */
static int uv__main_thread(struct uv__target *t, int jit_names) {
  static const long epoll_waits[] = {232, 281, 441};
  uint64_t attach_main = 0, ret;
  if (uv__probe_symbol(t, "uvdb_attach_main", &attach_main) != 0 || uv__stop_others(t) != 0)
    return -1;
  int m = -1;
  for (int i = 0; i < t->n; i++)
    if (t->t[i].tid == t->pid)
      m = i;
  if (m < 0)
    return 0;
  if (m != t->caller) {
    uv__restore_caller(t);
    t->caller = m;
    uv__save_caller(t);
  }
  long nr = (long)t->saved.orig_rax;
  uv__run_others(t); /* V8 may wait for a lock one of them holds (a compiler, a marker) */
  for (size_t k = 0; k < sizeof(epoll_waits) / sizeof(epoll_waits[0]); k++)
    if (nr == epoll_waits[k])
      return uv__call(t, attach_main, t->saved.rdi, (uint64_t)jit_names, ((t->saved.rsp - 256) & ~15ull) - 512,
                      &ret, NULL);
  return 0;
}

static int uv__inject(struct uv__target *t, const char *probe, const char *sock_path, const struct uv__service *svc,
                      int jit_names, unsigned flags, char *info, size_t info_cap) {
  uint64_t dlopen_at, ret;
  if (uv__remote_symbol(t->pid, "libc.so.6", "dlopen", &dlopen_at) != 0)
    return uv__fail(t, "no dlopen in process %d's libc.so.6", (int)t->pid);
  int loaded = uv__find_loaded_probe(t);
  if (uv__seize_all(t) != 0 || uv__stop_all(t) != 0)
    return -1;
  /* A call made from a thread stopped in its code could find a lock held
   * (malloc's, the loader's): it waits for one stopped in a system call,
   * which a busy single-threaded server also makes, between its runs of code. */
  for (int tries = 0; (t->caller = uv__pick_caller(t, 0)) < 0; tries++) {
    if (tries == 1000)
      return uv__fail(t, "no thread of process %d entered a system call in 1000 tries (all busy in code, "
                         "a loop spinning?): try again", (int)t->pid);
    uv__run_others(t); /* no caller yet: all of them */
    usleep(100 + (unsigned)(tries % 10) * 50);
    if (uv__seize_all(t) != 0 || uv__stop_all(t) != 0)
      return -1;
  }
  uv__save_caller(t);
  uv__run_others(t);
  uint64_t top = (t->saved.rsp - 256) & ~15ull;
  if (!loaded) {
    uint64_t path = uv__push_string(t, &top, probe);
    if (!path)
      return uv__fail(t, "cannot write to the stack of thread %d", (int)t->t[t->caller].tid);
    if (uv__call(t, dlopen_at, path, RTLD_NOW, top - 512, &ret, NULL) != 0)
      return -1;
    if (!ret || !uv__find_loaded_probe(t))
      return uv__fail(t, "the target's dlopen refused %s (its static TLS full, or a missing library?)", probe);
  }
  uint64_t prepare = 0, install = 0, start = 0;
  if (uv__probe_symbol(t, "uvdb_attach_prepare", &prepare) || uv__probe_symbol(t, "uvdb_attach_install", &install) ||
      uv__probe_symbol(t, "uvdb_attach_start", &start))
    return -1;
  uint64_t sock = uv__push_string(t, &top, sock_path);
  if (!sock || uv__call(t, prepare, sock, flags, top - 512, &ret, NULL) != 0)
    return -1;
  static struct uvdb_attach_plan plan;
  if (uv__read_mem(t->pid, ret, &plan, sizeof(plan)) != 0)
    return uv__fail(t, "cannot read the probe's attach plan");
  plan.why[sizeof(plan.why) - 1] = '\0';
  if (plan.status != 0)
    return uv__fail(t, "process %d: %s", (int)t->pid, plan.why);
  if (plan.nranges > UVDB_ATTACH_MAX_RANGES)
    plan.nranges = UVDB_ATTACH_MAX_RANGES;
  if (uv__stop_clear(t, (const uint64_t(*)[2])plan.range, plan.nranges) != 0)
    return -1;
  if (uv__call(t, install, 0, 0, top - 512, &ret, NULL) != 0)
    return -1;
  snprintf(info, info_cap, "%d hooks installed", (int)ret);
  uv__run_others(t);
  if (uv__call(t, start, 0, 0, top - 512, &ret, svc) != 0)
    return -1;
  if ((int)ret != 0)
    return uv__fail(t, "the probe in process %d did not meet uvdb", (int)t->pid);
  return uv__main_thread(t, jit_names);
}

int attach_inject(pid_t pid, const char *probe, const char *sock_path, int jit_names, unsigned flags,
                  void (*service)(void *), void *arg, char *err, size_t err_cap) {
  static struct uv__target t;
  memset(&t, 0, sizeof(t));
  t.pid = pid, t.caller = -1, t.err = err, t.err_cap = err_cap;
  err[0] = '\0';
  if (uv__precheck(&t) != 0)
    return -1;
  struct uv__service svc = {service, arg};
  char info[64];
  int r = uv__inject(&t, probe, sock_path, &svc, jit_names, flags, info, sizeof(info));
  uv__release(&t);
  return r;
}

/* The socket to the agent is closed already: wait for the agent thread to
 * go, then take the hooks out with every thread stopped. */
static int uv__agent_alive(pid_t pid) {
  char dir[64], path[128], comm[32];
  snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int alive = 0;
  struct dirent *e;
  while (!alive && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
    FILE *f = fopen(path, "re");
    if (f) {
      alive = fgets(comm, sizeof(comm), f) && strncmp(comm, "uvdb-agent", 10) == 0;
      fclose(f);
    }
  }
  closedir(d);
  return alive;
}

int attach_remove(pid_t pid, char *err, size_t err_cap) {
  static struct uv__target t;
  memset(&t, 0, sizeof(t));
  t.pid = pid, t.caller = -1, t.err = err, t.err_cap = err_cap;
  err[0] = '\0';
  for (int i = 0; i < 200 && uv__agent_alive(pid); i++) {
    struct timespec ms5 = {0, 5 * 1000 * 1000};
    nanosleep(&ms5, NULL);
  }
  if (!uv__find_loaded_probe(&t))
    return uv__fail(&t, "the probe is not in process %d", (int)pid);
  uint64_t remove = 0, ret = 0;
  if (uv__probe_symbol(&t, "uvdb_attach_remove", &remove) != 0)
    return -1;
  int r = -1;
  for (int tries = 0; tries < RANGE_TRIES; tries++) {
    if (uv__seize_all(&t) != 0 || uv__stop_all(&t) != 0)
      break;
    t.caller = uv__pick_caller(&t, 1);
    if (t.caller >= 0) {
      t.saved_ok = 0;
      uv__save_caller(&t);
      if (uv__threads_clear(&t, NULL, 0)) {
        r = uv__call(&t, remove, 0, 0, ((t.saved.rsp - 256) & ~15ull) - 512, &ret, NULL);
        if (r == 0 && (int64_t)ret < 0)
          r = uv__fail(&t, "the probe's agent in process %d did not end", (int)pid);
        break;
      }
    }
    uv__release(&t);
    struct timespec ms1 = {0, 1000 * 1000};
    nanosleep(&ms1, NULL);
  }
  if (r < 0 && !err[0])
    uv__fail(&t, "no moment with every thread of process %d outside the probe", (int)pid);
  uv__release(&t);
  return r;
}
