/* The probe's life: the constructor finds libuv, meets the debugger, installs
 * the hooks while the process has one thread, then an agent thread serves
 * commands until the debugger goes away, when the probe resumes and goes quiet. */
#define _GNU_SOURCE
#include "probe.h"
#include "agent.h"
#include "transport.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct uvdb_probe_state uvdb_probe;
__thread struct uvdb_thread uvdb_self __attribute__((tls_model("initial-exec")));

static pthread_key_t uv__ring_key;
static pthread_once_t uv__ring_key_once = PTHREAD_ONCE_INIT;

/* Which thread holds each ring, so that a leaving debugger can make them
 * all forget theirs; BUSY while one is being told. */
static _Atomic(struct uvdb_thread *) uv__ring_owner[UVDB_MAX_RINGS];
#define UV__OWNER_BUSY ((struct uvdb_thread *)1)

static uint64_t uv__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned uv__ring_index(const struct uvdb_ring *r) {
  return (unsigned)(r - uvdb_shm_ring(uvdb_probe.shm, 0));
}

/* The thread ends: its ring goes back to the reader, unless the ring is of
 * a session gone (forgotten) or a forked child's copy of the key. */
static void uv__ring_retire(void *unused) {
  (void)unused;
  struct uvdb_ring *r = uvdb_self.ring;
  if (!r || !uvdb_probe.shm || r->tid != (uint32_t)syscall(SYS_gettid))
    return;
  unsigned i = uv__ring_index(r);
  if (i >= UVDB_MAX_RINGS)
    return;
  for (;;) {
    struct uvdb_thread *o = atomic_load(&uv__ring_owner[i]);
    if (o == UV__OWNER_BUSY) {
      sched_yield();
      continue;
    }
    if (o != &uvdb_self)
      return; /* forgotten meanwhile */
    if (atomic_compare_exchange_strong(&uv__ring_owner[i], &o, NULL))
      break;
  }
  uvdb_self.ring = NULL;
  atomic_store_explicit(&r->state, UVDB_RING_RETIRED, memory_order_release);
}

static void uv__ring_key_create(void) {
  pthread_key_create(&uv__ring_key, uv__ring_retire);
}

/* First event of a thread: claim a free ring (the reader frees retired ones). */
struct uvdb_ring *uvdb_ring_claim(void) {
  if (!uvdb_probe.shm)
    return NULL;
  for (unsigned i = 0; i < UVDB_MAX_RINGS; i++) {
    struct uvdb_ring *r = uvdb_shm_ring(uvdb_probe.shm, i);
    uint32_t expected = UVDB_RING_FREE;
    if (!atomic_compare_exchange_strong(&r->state, &expected, UVDB_RING_CLAIMING))
      continue;
    r->tid = (uint32_t)syscall(SYS_gettid);
    memset(r->thread_name, 0, sizeof(r->thread_name));
    pthread_getname_np(pthread_self(), r->thread_name, sizeof(r->thread_name));
    r->tail_cache = atomic_load(&r->tail);
    atomic_store_explicit(&r->state, UVDB_RING_LIVE, memory_order_release);
    uvdb_self.ring = r;
    atomic_store(&uv__ring_owner[i], &uvdb_self);
    pthread_setspecific(uv__ring_key, r); /* only so that the destructor runs */
    return r;
  }
  atomic_fetch_add(&uvdb_probe.shm->rings_exhausted, 1);
  return NULL;
}

/* The agent, as its debugger leaves (the hooks emit nothing by then). */
void uvdb_rings_forget(void) {
  for (unsigned i = 0; i < UVDB_MAX_RINGS; i++) {
    struct uvdb_thread *o = atomic_load(&uv__ring_owner[i]);
    if (!o || o == UV__OWNER_BUSY || !atomic_compare_exchange_strong(&uv__ring_owner[i], &o, UV__OWNER_BUSY))
      continue;
    *(struct uvdb_ring *volatile *)&o->ring = NULL;
    atomic_store(&uv__ring_owner[i], NULL);
  }
}

/* The first reference point of the TSC; the debugger adds later ones (the
 * TSC is one clock for the whole machine: constant_tsc, nonstop_tsc). */
static void uv__clock_init(void) {
  struct uvdb_clock *c = &uvdb_probe.shm->clock;
  c->tsc0 = c->tsc1 = uvdb_now();
  c->ns0 = c->ns1 = uv__mono_ns();
}

static int uv__shm_create(void) {
  /* Growing a file past RLIMIT_FSIZE raises SIGXFSZ, which kills: check first. */
  struct rlimit fsize;
  if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < UVDB_SHM_SIZE)
    return -1;
  int fd = memfd_create("uvdb-rings", MFD_CLOEXEC);
  if (fd < 0)
    return -1;
  if (ftruncate(fd, (off_t)UVDB_SHM_SIZE) != 0) {
    close(fd);
    return -1;
  }
  void *m = mmap(NULL, UVDB_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    close(fd);
    return -1;
  }
  struct uvdb_shm_header *h = m;
  h->magic = UVDB_SHM_MAGIC;
  h->version = UVDB_PROTOCOL_VERSION;
  h->nrings = UVDB_MAX_RINGS;
  h->ring_records = UVDB_RING_RECORDS;
  h->record_size = sizeof(struct uvdb_record);
  uvdb_probe.shm = h;
  uv__clock_init();
  return fd;
}

/* Every hook the probe places, and where its function was found: found
 * and prepared once, installed and removed as debuggers come and go. */
#define MAX_HOOKS (UVDB_FN_COUNT + 9) /* + uv_loop_close (with the V8 hooks) */
struct uv__hooked {
  struct uvdb_hook *hook;
  const struct uvdb_located_fn *fn;
};
static struct uv__hooked uv__hooks[MAX_HOOKS];
static size_t uv__nhooks;
static int uv__found = -1; /* libuv: -1 not looked for yet */

static void uv__add_hooks(struct uvdb_hook *h, size_t n, const struct uvdb_located_fn **located) {
  for (size_t i = 0; i < n && uv__nhooks < MAX_HOOKS; i++)
    uv__hooks[uv__nhooks++] = (struct uv__hooked){&h[i], located ? located[i] : &uvdb_probe.lib.fn[i]};
}

/* The call sites by which the phase functions (and uv_run, which inlines
 * pending and closing) run callbacks: each one timed.  A function that
 * cannot be analysed says why, once. */
#define MAX_CALLSITES 48
static struct uvdb_callsite uv__sites[MAX_CALLSITES];
static int uv__nsites;
static int uv__callbacks_off; /* `set callback-timing off`: the sites stay as they are */
static char uv__sites_refused[UVDB_FN_COUNT][120];

static void uv__callsites_prepare(void) {
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *fn = &uvdb_probe.lib.fn[i];
    if (!fn->addr)
      continue;
    int n = uvdb_callsites_prepare(fn->name, (uint8_t *)fn->addr, fn->size, uvdb_callback_enter,
                                   uv__sites + uv__nsites, MAX_CALLSITES - uv__nsites, uv__sites_refused[i],
                                   sizeof(uv__sites_refused[i]));
    uv__nsites += n > 0 ? n : 0;
  }
}

/* cache: the session's socket path, which names the locate cache's files
 * (a followed child finds libuv where the program found it); NULL: none. */
static int uv__locate_once(const char *cache) {
  if (uv__found >= 0)
    return uv__found;
  uv__found = uvdb_locate_libuv(&uvdb_probe.lib, cache) == 0;
  if (!uv__found)
    return 0;
  size_t n;
  const struct uvdb_located_fn *located[3]; /* the V8 hooks and uv_loop_close; the process hooks */
  struct uvdb_hook *h = uvdb_loop_hooks(&n);
  uv__add_hooks(h, n, NULL);
  h = uvdb_pool_hooks(&n, located);
  uv__add_hooks(h, n, located);
  h = uvdb_blocking_hooks(&n, located);
  uv__add_hooks(h, n, located);
  h = uvdb_v8_hooks(&n, located);
  uv__add_hooks(h, n, located);
  h = uvdb_process_hooks(&n, located);
  uv__add_hooks(h, n, located);
  for (size_t i = 0; i < uv__nhooks; i++)
    if (!uv__hooks[i].hook->target)
      snprintf(uv__hooks[i].hook->reason, sizeof(uv__hooks[i].hook->reason),
               "not found (no symbol, no known call pattern)");
    else
      uvdb_hook_prepare(uv__hooks[i].hook);
  uv__callsites_prepare();
  return 1;
}

static void uv__install_all(void) {
  for (size_t i = 0; i < uv__nhooks; i++)
    if (uv__hooks[i].hook->stub)
      uvdb_hook_install(uv__hooks[i].hook); /* a refusal is in its reason, reported in the hello */
  for (int i = 0; i < uv__nsites && !uv__callbacks_off; i++)
    uvdb_callsite_install(&uv__sites[i]);
}

static int uv__remove_all(void) {
  int removed = 0;
  for (size_t i = 0; i < uv__nhooks; i++)
    if (uv__hooks[i].hook->installed && uvdb_hook_remove(uv__hooks[i].hook) == 0)
      removed++;
  for (int i = 0; i < uv__nsites; i++)
    uvdb_callsite_remove(&uv__sites[i]);
  return removed;
}

/* The default loop if the program made one: uv_default_loop() would make
 * it where none is, so the pointer it returns is read instead (its first
 * rip-relative load, in every build seen). */
static void *uv__default_loop(void) {
  const void *fn = dlsym(RTLD_DEFAULT, "uv_default_loop");
  void *const *ptr = fn ? uvdb_hook_first_rip_load(fn, 6) : NULL;
  return ptr ? *ptr : NULL;
}

/* How much of the thread pool the hooks see, for `info probe`. */
static const char *uv__pool_coverage(const struct uv__hooked *h, size_t n) {
  int submit = 0, queue_work = 0;
  for (size_t i = 0; i < n; i++) {
    submit |= h[i].fn == &uvdb_probe.lib.pool[UVDB_POOL_WORK_SUBMIT] && h[i].hook->installed;
    queue_work |= h[i].fn == &uvdb_probe.lib.pool[UVDB_POOL_QUEUE_WORK] && h[i].hook->installed;
  }
  if (submit && queue_work)
    return "every job: uv_queue_work, file system, DNS, random";
  if (queue_work)
    return "uv_queue_work jobs only: file system, DNS and random jobs are not seen (uv__work_submit is "
           "unnamed in a stripped libuv, and inlined)";
  if (submit)
    return "file system, DNS and random jobs; uv_queue_work only where it calls uv__work_submit";
  return "none: neither uv__work_submit nor uv_queue_work could be hooked";
}

/* What `info probe` shows: key=value lines. */
static size_t uv__describe(char *buf, size_t cap, int found, int attached) {
  const struct uv__hooked *hooks = uv__hooks;
  size_t nhooks = uv__nhooks;
  const struct uvdb_libuv *lib = &uvdb_probe.lib;
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  size_t off = (size_t)snprintf(buf, cap,
                                "protocol=%d\nprobe_version=%s\npid=%d\nexe=%s\nlibuv=%s\nlibuv_how=%s\nclock=tsc\n"
                                "kick_signal=%d\nattached=%d\nppid=%d\n",
                                UVDB_PROTOCOL_VERSION, UVDB_VERSION_STRING, getpid(), exe, found ? "found" : "none",
                                lib->how, uvdb_probe.kick_signal, attached, getppid());
  if (found && off < cap) {
    unsigned major = lib->version >> 16, minor = (lib->version >> 8) & 0xff, patch = lib->version & 0xff;
    if (lib->version_inferred)
      off += (size_t)snprintf(buf + off, cap - off, "libuv_version=%s%u.%u\n",
                              lib->version >= 0x012d00 ? ">=" : "<=", major, minor);
    else
      off += (size_t)snprintf(buf + off, cap - off, "libuv_version=%u.%u.%u\n", major, minor, patch);
    if (off < cap)
      off += (size_t)snprintf(buf + off, cap - off, "libuv_path=%s\nthreadpool=%s\nprocesses=%s\n", lib->path,
                              uv__pool_coverage(hooks, nhooks), uvdb_process_coverage());
  }
  /* Loops that ran before this session (attach): their addresses.  None
   * seen yet (the hooks are new, the loop sleeps in epoll): the default
   * loop, which the main thread runs as loop 1 in Node and most programs. */
  int listed = 0;
  for (int i = 0; i < UVDB_MAX_LOOPS && off < cap; i++) {
    const struct uvdb_loop *l = &uvdb_probe.loops[i];
    void *loop = atomic_load(&l->loop);
    if (loop)
      off += (size_t)snprintf(buf + off, cap - off, "loop=%u,0x%lx,%u\n", l->id, (unsigned long)(uintptr_t)loop,
                              (unsigned)atomic_load(&l->tid));
    listed += loop != NULL;
  }
  void *loop = attached && !listed ? uv__default_loop() : NULL;
  if (loop && off < cap)
    off += (size_t)snprintf(buf + off, cap - off, "loop=1,0x%lx,%d\n", (unsigned long)(uintptr_t)loop, (int)getpid());
  for (size_t i = 0; i < nhooks && off < cap; i++) {
    const struct uvdb_hook *h = hooks[i].hook;
    const struct uvdb_located_fn *fn = hooks[i].fn;
    off += (size_t)snprintf(buf + off, cap - off, "hook=%s\t%s\t0x%lx\t%s\t%s\n", fn->name,
                            h->installed ? "installed" : "refused", (unsigned long)fn->addr,
                            fn->how ? fn->how : "-", h->installed ? "-" : h->reason);
  }
  /* callsite=FUNCTION+OFFSET\tSTATUS\tMODE\tREASON */
  for (int i = 0; i < UVDB_FN_COUNT && off < cap; i++)
    if (uv__sites_refused[i][0])
      off += (size_t)snprintf(buf + off, cap - off, "callsite=%s\trefused\t-\t%s\n", uvdb_probe.lib.fn[i].name,
                              uv__sites_refused[i]);
  for (int i = 0; i < uv__nsites && off < cap; i++) {
    const struct uvdb_callsite *c = &uv__sites[i];
    const char *status = c->installed ? "installed" : c->mode && uv__callbacks_off ? "off" : "refused";
    off += (size_t)snprintf(buf + off, cap - off, "callsite=%s+0x%lx\t%s\t%s\t%s\n", c->fn_name,
                            (unsigned long)(c->call - c->fn), status,
                            c->mode == UVDB_CALLSITE_HOP ? "hop" : c->mode ? "preceding" : "-",
                            c->installed                  ? "-"
                            : c->mode && uv__callbacks_off ? "callback-timing is off"
                            : c->reason[0]                 ? c->reason
                                                           : "not installed");
  }
  return off < cap ? off : cap - 1;
}

static int uv__followed_child(void);
static int uv__meet(int sock, int shm_fd, int attached);
static void uv__session_init(void);

/* A child forked without exec (a prefork server's workers, say) has the
 * probe and its hooks already: with follow-children on it meets uvdb as a
 * process of its own, with ring memory of its own, at its loop's next
 * boundary.  Not in fork itself: libuv's uv_spawn forks, and its child
 * execs at once (its new image meets uvdb, if it has libuv). */
void uvdb_fork_meet(void) {
  uint32_t parent_tid = atomic_exchange(&uvdb_probe.fork_meet, 0) - 1;
  atomic_store(&uvdb_probe.attention, 0);
  struct uvdb_shm_header *parents = uvdb_probe.shm;
  uvdb_probe.shm = NULL;
  if (parents)
    munmap(parents, UVDB_SHM_SIZE);
  memset(uv__ring_owner, 0, sizeof(uv__ring_owner)); /* the parent's threads are not here */
  uvdb_fprobe_remove_all();                         /* the only thread: none inside them */
  uvdb_profile_forked(parent_tid);
  uvdb_agent_forked();
  int sock = uvdb_connect(getenv("UVDB_SOCK"));
  if (sock < 0)
    return;
  int shm_fd = uv__shm_create();
  if (shm_fd < 0) {
    close(sock);
    return;
  }
  uv__session_init();
  uv__meet(sock, shm_fd, 0);
}

static void uv__atfork_child(void) {
  uvdb_profile_configure(0, 0, 0); /* timers are not inherited; the child's table entries are the parent's */
  /* The rings are shared with the parent's debugger: a forked child must not write them. */
  atomic_store(&uvdb_probe.active, 0);
  atomic_store(&uvdb_probe.attention, 0);
  atomic_store(&uvdb_probe.pause_req, 0);
  uvdb_self.ring = NULL;
  pthread_setspecific(uv__ring_key, NULL);
  uvdb_safepoint_release_signal();
  uint32_t parent_tid = uvdb_safepoint_forked();
  if (uv__followed_child() && uv__found > 0) {
    atomic_store(&uvdb_probe.fork_meet, parent_tid + 1);
    atomic_store(&uvdb_probe.attention, UVDB_ATTN_ALL);
  }
}

/* Breakpoints set before `run` come with WELCOME: "bpN=MASK" lines (N 0:
 * every loop), so that the first phases can stop. */
static void uv__welcome_breakpoints(const char *reply) {
  uint32_t mask[UVDB_BP_SLOTS] = {0};
  int any = 0;
  for (const char *p = strstr(reply, "bp"); p; p = strstr(p + 1, "\nbp")) {
    if (*p == '\n')
      p++;
    char *end;
    unsigned long slot = strtoul(p + 2, &end, 10);
    if (*end != '=' || slot >= UVDB_BP_SLOTS)
      continue;
    mask[slot] = (uint32_t)strtoul(end + 1, NULL, 0);
    any = 1;
  }
  if (any)
    uvdb_set_breakpoints(mask);
}

static int uv__for_us(void) {
  const char *pid = getenv("UVDB_PID"), *sock = getenv("UVDB_SOCK");
  return pid && sock && strtol(pid, NULL, 10) == getpid();
}

/* NODE_OPTIONS as the program had it, without the perf-map flags uvdb
 * added for the program. */
static void uv__node_options_restore(void) {
  const char *before = getenv("UVDB_NODE_OPTIONS");
  if (!before)
    return;
  if (strcmp(before, "-") == 0) /* "-": it had none */
    unsetenv("NODE_OPTIONS");
  else
    setenv("NODE_OPTIONS", before, 1);
}

/* A child of the program that uvdb does not follow: a node child would
 * write a map nobody reads or removes. */
static void uv__node_options_as_before(void) {
  const char *follow = getenv("UVDB_FOLLOW");
  if ((follow && follow[0] == '1') || !getenv("UVDB_PID") || uv__for_us())
    return; /* not uvdb's program's child, or one whose node children uvdb follows */
  uv__node_options_restore();
}

/* A followed child's JS names (WELCOME's js_names=): V8's perf map costs a
 * `node -e 0` about 15 ms of start-up, so a child that is not profiled
 * from its start goes without it (later: V8's JIT handler is set when
 * someone looks, at a stop or a profile); one profiled from its start has
 * it, by the flag it inherited or, if an ancestor dropped that, by the
 * handler at its loop's first boundary (now). */
static void uv__js_names(const char *reply) {
  const char *opts = getenv("NODE_OPTIONS");
  if (strstr(reply, "js_names=later")) {
    uv__node_options_restore();
    atomic_store(&uvdb_probe.jit_deferred, 1);
  } else if (strstr(reply, "js_names=now") && !(opts && strstr(opts, "--perf-basic-prof"))) {
    atomic_store(&uvdb_probe.jit_work, UVDB_JIT_NAMES_START);
    uvdb_recompute_attention();
  }
}

/* A process the program started (follow-children on): it meets uvdb only
 * if it has libuv of its own; any other (a shell, /bin/echo) is left alone. */
static int uv__followed_child(void) {
  const char *follow = getenv("UVDB_FOLLOW");
  return follow && follow[0] == '1' && getenv("UVDB_SOCK") && getenv("UVDB_PID") && !uv__for_us();
}

/* Signals, the ring key: what a session needs beyond the hooks. */
static void uv__session_init(void) {
  pthread_once(&uv__ring_key_once, uv__ring_key_create);
  uvdb_safepoint_init();
  uvdb_profile_init();
}

static void uv__configure(const char *reply) {
  if (strstr(reply, "start_paused=1"))
    uvdb_request_pause((uint32_t)getpid(), UVDB_STOP_START);
  uv__welcome_breakpoints(reply);
  const char *watchdog = strstr(reply, "watchdog=");
  if (watchdog) { /* "watchdog=THRESHOLD,BREAK,PERIOD_NS,TICKS_PER_MS" */
    char *end;
    atomic_store(&uvdb_probe.watchdog_ticks, strtoull(watchdog + 9, &end, 10));
    atomic_store(&uvdb_probe.break_blocked_ticks, *end == ',' ? strtoull(end + 1, &end, 10) : 0);
    atomic_store(&uvdb_probe.watchdog_period_ns, *end == ',' ? strtoull(end + 1, &end, 10) : 0);
    atomic_store(&uvdb_probe.ticks_per_ms, *end == ',' ? strtoull(end + 1, &end, 10) : 0);
  }
  const char *profile = strstr(reply, "profile="); /* `profile start` before `run`: "PERIOD_NS,WALL,THREADS" */
  if (profile) {
    char *end;
    uint64_t period = strtoull(profile + 8, &end, 10);
    uint32_t wall = *end == ',' ? (uint32_t)strtoul(end + 1, &end, 10) : 0;
    uint32_t threads = *end == ',' ? (uint32_t)strtoul(end + 1, &end, 10) : UVDB_PROFILE_LOOPS;
    uvdb_profile_configure(period, wall, threads);
  }
  const char *pool_break = strstr(reply, "pool_break="); /* "pool_break=D1,D2,..." */
  for (unsigned i = 0; pool_break && i < UVDB_POOL_BREAKS; i++) {
    char *end;
    atomic_store(&uvdb_pool_break_depths[i], (uint32_t)strtoul(pool_break + (i ? 1 : 11), &end, 10));
    pool_break = *end == ',' ? end : NULL;
  }
  if (strstr(reply, "fprobes=1"))
    uvdb_fprobe_install_requested(); /* `break callback` set before the program ran */
  uv__js_names(reply);
}

/* HELLO with the ring memory, WELCOME, then the agent serves the session.
 * 0, or -1 with the probe quiet again (the hooks stay, emitting nothing). */
static int uv__meet(int sock, int shm_fd, int attached) {
  static char info[8192];
  int found = uv__found > 0;
  if (attached && found)
    atomic_store(&uvdb_probe.active, 1); /* loops that begin now say so themselves; the hello lists the others */
  size_t len = uv__describe(info, sizeof(info), found, attached);
  int sent = uvdb_msg_send(sock, UVDB_MSG_HELLO, info, len, shm_fd);
  if (shm_fd >= 0)
    close(shm_fd);
  uint32_t type;
  char reply[4096];
  if (sent != 0 || uvdb_msg_recv(sock, &type, reply, sizeof(reply), NULL, NULL, 5000) <= 0 ||
      type != UVDB_MSG_WELCOME || !found || !uvdb_probe.shm)
    goto quiet;
  uv__configure(reply);
  static int atfork_done;
  if (!atfork_done++)
    pthread_atfork(NULL, NULL, uv__atfork_child);
  atomic_store(&uvdb_probe.active, 1);
  if (uvdb_agent_start(sock) != 0)
    goto quiet;
  close(sock); /* the agent has its own copy; the target's table keeps none of ours */
  return 0;

quiet:
  atomic_store(&uvdb_probe.active, 0);
  uvdb_rings_forget();
  uvdb_safepoint_release_signal();
  uvdb_profile_release_signal();
  close(sock);
  return -1;
}

__attribute__((constructor)) static void uv__probe_init(void) {
  uvdb_blocking_init(); /* the real epoll calls, for every process the probe is in */
  int child = uv__followed_child();
  if (!uv__for_us() && !child) {
    uv__node_options_as_before();
    return; /* a child not followed, a process nobody is debugging, or one being attached to */
  }
  const char *callbacks = getenv("UVDB_CALLBACKS");
  uv__callbacks_off = callbacks && callbacks[0] == '0';
  int found = uv__locate_once(getenv("UVDB_SOCK"));
  if (child && !found)
    return;
  int sock = uvdb_connect(getenv("UVDB_SOCK"));
  if (sock < 0)
    return;
  int shm_fd = found ? uv__shm_create() : -1;
  if (found && shm_fd < 0)
    snprintf(uvdb_probe.lib.how, sizeof(uvdb_probe.lib.how),
             "libuv found, but no ring memory: RLIMIT_FSIZE is below %llu bytes, or memfd failed",
             (unsigned long long)UVDB_SHM_SIZE);
  if (found)
    uv__session_init();
  /* Install before saying hello, so the report is the truth; the process
   * still has one thread, and nothing runs until the debugger says go. */
  uv__install_all();
  if (uv__meet(sock, shm_fd, 0) != 0)
    uv__remove_all();
}

/* ---- attach: uvdb calls these in the running target through ptrace ---- */

static struct uvdb_attach_plan uv__plan;
static int uv__attach_sock = -1, uv__attach_shm = -1;
static struct uvdb_shm_header *uv__old_shm; /* the last session's rings, unmapped with every thread stopped */

static struct uvdb_attach_plan *uv__plan_refuse(int status, const char *why) {
  uv__plan.status = status;
  snprintf(uv__plan.why, sizeof(uv__plan.why), "%s", why);
  return &uv__plan;
}

/* Other threads run meanwhile: find libuv, prepare the hooks, make the ring
 * memory, connect; the plan says which code the install will rewrite. */
__attribute__((visibility("default"))) struct uvdb_attach_plan *uvdb_attach_prepare(const char *sock_path,
                                                                                   unsigned flags) {
  memset(&uv__plan, 0, sizeof(uv__plan));
  uv__callbacks_off = (flags & UVDB_ATTACH_NO_CALLBACKS) != 0;
  if (uvdb_agent_running() && uvdb_agent_wait_exit(1000) != 0)
    return uv__plan_refuse(-EBUSY, "another uvdb is attached to this process");
  if (!uv__locate_once(NULL))
    return uv__plan_refuse(-ENOENT, uvdb_probe.lib.how);
  if (uv__attach_sock >= 0)
    close(uv__attach_sock); /* an attach that went no further */
  if (uv__attach_shm >= 0)
    close(uv__attach_shm);
  uv__attach_shm = -1;
  uv__attach_sock = uvdb_connect(sock_path);
  if (uv__attach_sock < 0)
    return uv__plan_refuse(-ECONNREFUSED, "the probe cannot connect to uvdb's socket");
  struct uvdb_shm_header *old = uvdb_probe.shm;
  uvdb_probe.shm = NULL;
  uv__attach_shm = uv__shm_create();
  if (uv__attach_shm < 0) {
    uvdb_probe.shm = old;
    return uv__plan_refuse(-ENOMEM, "no ring memory: RLIMIT_FSIZE too low, or memfd failed");
  }
  if (old && !uv__old_shm)
    uv__old_shm = old;
  else if (old)
    munmap(old, UVDB_SHM_SIZE); /* prepared twice: that one never served */
  uv__session_init();
  for (size_t i = 0; i < uv__nhooks && uv__plan.nranges < UVDB_ATTACH_MAX_RANGES; i++) {
    const struct uvdb_hook *h = uv__hooks[i].hook;
    if (h->stub && !h->installed) {
      uv__plan.range[uv__plan.nranges][0] = (uint64_t)(uintptr_t)h->target;
      uv__plan.range[uv__plan.nranges][1] = (uint64_t)(uintptr_t)h->target + h->stolen;
      uv__plan.nranges++;
    }
  }
  for (int i = 0; i < uv__nsites && !uv__callbacks_off; i++) {
    struct uvdb_callsite *c = &uv__sites[i];
    if (!c->mode || c->installed)
      continue;
    if (uv__plan.nranges + 2 > UVDB_ATTACH_MAX_RANGES) { /* unchecked, it could not be installed safely */
      c->mode = 0;
      snprintf(c->reason, sizeof(c->reason), "more call sites than an attach can check");
      continue;
    }
    uv__plan.range[uv__plan.nranges][0] = (uint64_t)(uintptr_t)c->patch;
    uv__plan.range[uv__plan.nranges++][1] = (uint64_t)(uintptr_t)c->patch + c->patch_len;
    if (c->gap) {
      uv__plan.range[uv__plan.nranges][0] = (uint64_t)(uintptr_t)c->gap;
      uv__plan.range[uv__plan.nranges++][1] = (uint64_t)(uintptr_t)c->gap + 5;
    }
  }
  return &uv__plan;
}

/* Every other thread is stopped, none inside the ranges of the plan nor in
 * the probe's code. */
__attribute__((visibility("default"))) int uvdb_attach_install(void) {
  if (uv__old_shm)
    munmap(uv__old_shm, UVDB_SHM_SIZE);
  uv__old_shm = NULL;
  uv__install_all();
  int installed = 0;
  for (size_t i = 0; i < uv__nhooks; i++)
    installed += uv__hooks[i].hook->installed;
  return installed;
}

/* The other threads run again: hello, welcome, and the agent starts. */
__attribute__((visibility("default"))) int uvdb_attach_start(void) {
  if (uv__attach_sock < 0)
    return -EINVAL;
  int r = uv__meet(uv__attach_sock, uv__attach_shm, 1);
  uv__attach_sock = uv__attach_shm = -1;
  return r;
}

/* On the main thread, found waiting in epoll on epfd (outside JavaScript):
 * if that is the default loop's, it is loop 1, polling; and V8, whose
 * thread this is, may be asked for its JIT names here. */
__attribute__((visibility("default"))) int uvdb_attach_main(int epfd, int jit_names) {
  /* uv_default_loop() would make a default loop where none is: read the
   * pointer it returns instead (its first load), NULL when none. */
  int (*backend_fd)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "uv_backend_fd");
  void *loop = uv__default_loop();
  int adopted = loop && backend_fd && backend_fd(loop) == epfd;
  if (adopted && atomic_load(&uvdb_probe.active))
    uvdb_loop_adopt_polling(loop);
  if (jit_names && atomic_load(&uvdb_probe.active))
    uvdb_jit_names_start();
  return adopted;
}

/* Detach, every other thread stopped and none in the probe's code: the
 * debugger has closed its socket, so the agent is gone or going. */
__attribute__((visibility("default"))) int uvdb_attach_remove(void) {
  if (uvdb_agent_wait_exit(1000) != 0)
    return -EBUSY;
  uvdb_fprobe_remove_all();
  int removed = uv__remove_all();
  if (uvdb_probe.shm)
    munmap(uvdb_probe.shm, UVDB_SHM_SIZE);
  uvdb_probe.shm = NULL;
  if (uv__old_shm)
    munmap(uv__old_shm, UVDB_SHM_SIZE);
  uv__old_shm = NULL;
  return removed;
}
