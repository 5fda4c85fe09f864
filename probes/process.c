/* Child processes and signals: each child a loop spawns (uv_spawn), its exit
 * as libuv reaps it, and the signals a loop's uv_signal_t handles are given
 * (uv__signal_event, which dispatches what the signal pipe brought). */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <uv.h>

static int (*uv__orig_spawn)(uv_loop_t *loop, uv_process_t *process, const uv_process_options_t *options);
static void (*uv__orig_signal_event)(uv_loop_t *loop, void *w, unsigned int events);
static pid_t (*uv__orig_wait4)(pid_t pid, int *status, int options, struct rusage *usage);

/* ---- the children uv_spawn started, until reaped ---- */

/* pid: 0 never used, GONE free again, CLAIMED being written. */
struct uv__child {
  _Atomic int32_t pid;
  struct uvdb_loop *loop;
  uint64_t spawned; /* the SPAWN's ts */
};

#define CHILDREN 1024u /* power of two */
#define CHILD_PROBES 32
#define CHILD_GONE (-1)
#define CHILD_CLAIMED (-2)

static struct uv__child uv__children[CHILDREN];

static unsigned uv__child_slot(int32_t pid) {
  return (unsigned)(((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ull) >> 54) & (CHILDREN - 1);
}

/* Table full: the child's exit goes unreported, nothing else changes. */
static void uv__child_insert(int32_t pid, struct uvdb_loop *l, uint64_t spawned) {
  unsigned at = uv__child_slot(pid);
  for (int i = 0; i < CHILD_PROBES; i++) {
    struct uv__child *c = &uv__children[(at + (unsigned)i) & (CHILDREN - 1)];
    int32_t seen = atomic_load_explicit(&c->pid, memory_order_relaxed);
    if ((seen == 0 || seen == CHILD_GONE) && atomic_compare_exchange_strong(&c->pid, &seen, CHILD_CLAIMED)) {
      c->loop = l;
      c->spawned = spawned;
      atomic_store_explicit(&c->pid, pid, memory_order_release);
      return;
    }
  }
}

static struct uv__child *uv__child_find(int32_t pid) {
  unsigned at = uv__child_slot(pid);
  for (int i = 0; i < CHILD_PROBES; i++) {
    struct uv__child *c = &uv__children[(at + (unsigned)i) & (CHILDREN - 1)];
    int32_t seen = atomic_load_explicit(&c->pid, memory_order_acquire);
    if (seen == pid)
      return c;
    if (seen == 0)
      break;
  }
  return NULL;
}

/* ---- spawns ---- */

#define SPAWN_TEXT_MAX 160

/* The file, then each argument, each NUL-terminated; cut at SPAWN_TEXT_MAX. */
static size_t uv__spawn_text(const uv_process_options_t *o, char *buf) {
  size_t n = 0;
  for (int i = -1; n < SPAWN_TEXT_MAX; i++) {
    const char *s = i < 0 ? o->file : o->args ? o->args[i] : NULL;
    if (!s)
      break;
    while (*s && n < SPAWN_TEXT_MAX - 1)
      buf[n++] = *s++;
    buf[n++] = '\0';
  }
  return n;
}

static void uv__emit_spawn(struct uvdb_loop *l, uint64_t ts, int32_t pid, int r, const uv_process_options_t *o) {
  char text[SPAWN_TEXT_MAX];
  size_t len = uv__spawn_text(o, text);
  uvdb_emit_at(ts, UVDB_EV_SPAWN, l, (uint32_t)pid, (uint64_t)(int64_t)r, len);
  for (size_t off = 0; off < len; off += 16) {
    uint64_t w[2] = {0, 0};
    memcpy(w, text + off, len - off < 16 ? len - off : 16);
    uvdb_emit_at(ts, UVDB_EV_SPAWN_TEXT, l, (uint32_t)off, w[0], w[1]);
  }
}

/* Not hot: once per child.  The child never returns here (it execs, or
 * exits with 127). */
static int uv__hook_spawn(uv_loop_t *loop, uv_process_t *process, const uv_process_options_t *options) {
  uint64_t t0 = uvdb_now();
  int r = uv__orig_spawn(loop, process, options);
  struct uvdb_loop *l;
  if (!atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed) || !(l = uvdb_loop_get(loop)))
    return r;
  int32_t pid = r == 0 ? process->pid : 0;
  if (pid > 0)
    uv__child_insert(pid, l, t0);
  uv__emit_spawn(l, t0, pid, r, options);
  return r;
}

/* ---- exits ---- */

/* libuv hands the exit status to the exit callback and keeps it nowhere the
 * probe could read it (a callback may free its handle at once), so the exit
 * is taken where libuv learns it: its waitpid, which is libc's wait4.
 * Every wait of the process passes here: anything but a reaped child of
 * uv_spawn goes straight through, errno as the call left it. */
static pid_t uv__hook_wait4(pid_t pid, int *status, int options, struct rusage *usage) {
  if (!atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed))
    return uv__orig_wait4(pid, status, options, usage);
  int own;
  int *st = status ? status : &own; /* the kernel fills one or the other: no difference to the caller */
  pid_t r = uv__orig_wait4(pid, st, options, usage);
  struct uv__child *c;
  if (r <= 0 || !(WIFEXITED(*st) || WIFSIGNALED(*st)) || !(c = uv__child_find(r)))
    return r;
  int saved = errno;
  struct uvdb_loop *l = c->loop;
  uint64_t spawned = c->spawned;
  atomic_store_explicit(&c->pid, CHILD_GONE, memory_order_release);
  uint32_t exit_status = WIFEXITED(*st) ? (uint32_t)WEXITSTATUS(*st) : 0;
  uint32_t term_signal = WIFSIGNALED(*st) ? (uint32_t)WTERMSIG(*st) : 0;
  if (!uvdb_self.in_emit) /* else: a signal handler's wait, amid this thread's own emit */
    uvdb_emit_at(uvdb_now(), UVDB_EV_PROCESS_EXIT, l, (uint32_t)r, exit_status | (uint64_t)term_signal << 32, spawned);
  errno = saved;
  return r;
}

/* libc's wait4, the one waitpid jumps to; found beside the probe. */
static const struct uvdb_located_fn *uv__locate_wait4(void) {
  static struct uvdb_located_fn fn = {.name = "wait4"};
  static char how[96];
  void *addr = dlsym(RTLD_NEXT, "wait4");
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (addr && dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && info.dli_fname) {
    const char *base = strrchr(info.dli_fname, '/');
    snprintf(how, sizeof(how), ".dynsym of %s", base ? base + 1 : info.dli_fname);
    fn.addr = (uintptr_t)addr;
    fn.size = sym->st_size;
    fn.how = how;
  }
  return &fn;
}

/* ---- signals ---- */

#define SIGNAL_HANDLES 32  /* per loop; more are not reported */
#define HANDLE_WALK 65536u /* a queue that long (or broken) is not walked further */

/* The loop's signal handles, in handle_queue order.  On the loop's thread,
 * in its poll phase: the queue holds still. */
static unsigned uv__signal_handles(const uv_loop_t *loop, const uv_signal_t **out) {
  void *const *head = loop->handle_queue;
  unsigned n = 0, walked = 0;
  for (void *const *q = head[0]; q != head && n < SIGNAL_HANDLES && walked < HANDLE_WALK;
       q = q[0], walked++) {
    const uv_handle_t *h = (const uv_handle_t *)((const char *)q - offsetof(uv_handle_t, handle_queue));
    if (h->type == UV_SIGNAL)
      out[n++] = (const uv_signal_t *)h;
  }
  return n;
}

/* A handle's callback ran as often as its dispatched_signals grew.  Only
 * handles still in the queue are read: a callback may close one (freed
 * once closed, should it run the loop itself). */
static void uv__signals_delivered(const uv_loop_t *loop, struct uvdb_loop *l, uint64_t t0,
                                  const uv_signal_t *const *before, const unsigned *dispatched, const int *signum,
                                  unsigned n) {
  const uv_signal_t *now[SIGNAL_HANDLES];
  unsigned m = uv__signal_handles(loop, now);
  for (unsigned k = 0; k < m; k++)
    for (unsigned i = 0; i < n; i++) {
      if (before[i] != now[k])
        continue;
      unsigned count = now[k]->dispatched_signals - dispatched[i];
      uint32_t internal = now[k] == &loop->child_watcher;
      /* A message for a handle stopped since (signum 0: libuv stops the
       * child watcher once its last process handle closes) still counts
       * as dispatched, but no callback ran. */
      if (count && signum[i])
        uvdb_emit_at(t0, UVDB_EV_SIGNAL, l, ((uint32_t)signum[i] & 0xff) | internal << 8,
                     (uint64_t)(uintptr_t)now[k], count);
      break;
    }
}

static void uv__hook_signal_event(uv_loop_t *loop, void *w, unsigned int events) {
  struct uvdb_loop *l;
  /* On a stripped libuv the hook's place came from a pattern: its
   * arguments must be uv__signal_event's before anything is read. */
  if ((char *)w != (char *)loop + offsetof(uv_loop_t, signal_io_watcher) ||
      !atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed) || !(l = uvdb_loop_get(loop))) {
    uv__orig_signal_event(loop, w, events);
    return;
  }
  const uv_signal_t *before[SIGNAL_HANDLES];
  unsigned dispatched[SIGNAL_HANDLES];
  int signum[SIGNAL_HANDLES];
  uint64_t t0 = uvdb_now();
  unsigned n = uv__signal_handles(loop, before);
  for (unsigned i = 0; i < n; i++)
    dispatched[i] = before[i]->dispatched_signals, signum[i] = before[i]->signum;
  uv__orig_signal_event(loop, w, events);
  uv__signals_delivered(loop, l, t0, before, dispatched, signum, n);
}

/* ---- hooks, and what they see ---- */

static struct uvdb_hook uv__process_hooks[3] = {
    {.replacement = (void *)uv__hook_spawn, .original = (void **)&uv__orig_spawn},
    {.replacement = (void *)uv__hook_wait4, .original = (void **)&uv__orig_wait4},
    {.replacement = (void *)uv__hook_signal_event, .original = (void **)&uv__orig_signal_event},
};

struct uvdb_hook *uvdb_process_hooks(size_t *n, const struct uvdb_located_fn **located) {
  located[0] = &uvdb_probe.lib.pool[UVDB_PROC_SPAWN];
  located[1] = uv__locate_wait4();
  located[2] = &uvdb_probe.lib.pool[UVDB_SIGNAL_EVENT];
  for (int i = 0; i < 3; i++) {
    uv__process_hooks[i].name = located[i]->name;
    uv__process_hooks[i].target = (uint8_t *)located[i]->addr;
    uv__process_hooks[i].size = located[i]->size;
  }
  *n = 3;
  return uv__process_hooks;
}

/* For `info probe`: exits are told apart by the children uv_spawn started. */
const char *uvdb_process_coverage(void) {
  static char buf[320];
  int spawns = uv__process_hooks[0].installed, exits = spawns && uv__process_hooks[1].installed,
      signals = uv__process_hooks[2].installed;
  snprintf(buf, sizeof(buf), "%s%s%s", spawns ? "spawns" : "no spawns or exits (uv_spawn not hooked)",
           !spawns ? "" : exits ? ", exits" : ", no exits (wait4 not hooked)",
           signals ? ", signals" : ", no signals (uv__signal_event not hooked)");
  return buf;
}
