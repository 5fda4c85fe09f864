/* The probe's life: the constructor finds libuv, meets the debugger, installs
 * the hooks while the process has one thread, then an agent thread serves
 * commands until the debugger goes away, when the probe resumes and goes quiet. */
#define _GNU_SOURCE
#include "probe.h"
#include "agent.h"
#include "transport.h"

#include <errno.h>
#include <pthread.h>
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

static uint64_t uv__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void uv__ring_retire(void *ring) {
  struct uvdb_ring *r = ring;
  if (r->tid == (uint32_t)syscall(SYS_gettid)) /* a forked child's copy of a key is not its ring */
    atomic_store_explicit(&r->state, UVDB_RING_RETIRED, memory_order_release);
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
    pthread_setspecific(uv__ring_key, r);
    return r;
  }
  atomic_fetch_add(&uvdb_probe.shm->rings_exhausted, 1);
  return NULL;
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

/* Every hook the probe places, and where its function was found. */
#define MAX_HOOKS (UVDB_FN_COUNT + 5)
struct uv__hooked {
  struct uvdb_hook *hook;
  const struct uvdb_located_fn *fn;
};

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
static size_t uv__describe(char *buf, size_t cap, int found, const struct uv__hooked *hooks, size_t nhooks) {
  const struct uvdb_libuv *lib = &uvdb_probe.lib;
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  size_t off = (size_t)snprintf(buf, cap,
                                "protocol=%d\nprobe_version=%s\npid=%d\nexe=%s\nlibuv=%s\nlibuv_how=%s\nclock=tsc\n"
                                "kick_signal=%d\n",
                                UVDB_PROTOCOL_VERSION, UVDB_VERSION_STRING, getpid(), exe, found ? "found" : "none",
                                lib->how, uvdb_probe.kick_signal);
  if (found && off < cap) {
    unsigned major = lib->version >> 16, minor = (lib->version >> 8) & 0xff, patch = lib->version & 0xff;
    if (lib->version_inferred)
      off += (size_t)snprintf(buf + off, cap - off, "libuv_version=%s%u.%u\n",
                              lib->version >= 0x012d00 ? ">=" : "<=", major, minor);
    else
      off += (size_t)snprintf(buf + off, cap - off, "libuv_version=%u.%u.%u\n", major, minor, patch);
    if (off < cap)
      off += (size_t)snprintf(buf + off, cap - off, "libuv_path=%s\nthreadpool=%s\n", lib->path,
                              uv__pool_coverage(hooks, nhooks));
  }
  for (size_t i = 0; i < nhooks && off < cap; i++) {
    const struct uvdb_hook *h = hooks[i].hook;
    const struct uvdb_located_fn *fn = hooks[i].fn;
    off += (size_t)snprintf(buf + off, cap - off, "hook=%s\t%s\t0x%lx\t%s\t%s\n", fn->name,
                            h->installed ? "installed" : "refused", (unsigned long)fn->addr,
                            fn->how ? fn->how : "-", h->installed ? "-" : h->reason);
  }
  return off < cap ? off : cap - 1;
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

__attribute__((constructor)) static void uv__probe_init(void) {
  uvdb_blocking_init(); /* the real epoll calls, for every process the probe is in */
  if (!uv__for_us())
    return; /* a child, or a process nobody is debugging: stay out of the way */
  int found = uvdb_locate_libuv(&uvdb_probe.lib) == 0;
  struct uv__hooked hooks[MAX_HOOKS];
  size_t nhooks = 0;
  if (found) {
    size_t n;
    struct uvdb_hook *loop_hooks = uvdb_loop_hooks(&n);
    for (size_t i = 0; i < n; i++)
      hooks[nhooks++] = (struct uv__hooked){&loop_hooks[i], &uvdb_probe.lib.fn[i]};
    const struct uvdb_located_fn *located[2];
    struct uvdb_hook *pool_hooks = uvdb_pool_hooks(&n, located);
    for (size_t i = 0; i < n; i++)
      hooks[nhooks++] = (struct uv__hooked){&pool_hooks[i], located[i]};
    struct uvdb_hook *blocking_hooks = uvdb_blocking_hooks(&n, located);
    for (size_t i = 0; i < n; i++)
      hooks[nhooks++] = (struct uv__hooked){&blocking_hooks[i], located[i]};
    struct uvdb_hook *v8_hooks = uvdb_v8_hooks(&n, located);
    for (size_t i = 0; i < n; i++)
      hooks[nhooks++] = (struct uv__hooked){&v8_hooks[i], located[i]};
  }
  for (size_t i = 0; i < nhooks; i++)
    if (!hooks[i].hook->target)
      snprintf(hooks[i].hook->reason, sizeof(hooks[i].hook->reason), "not found (no symbol, no known call pattern)");
    else
      uvdb_hook_prepare(hooks[i].hook);

  int sock = uvdb_connect(getenv("UVDB_SOCK"));
  if (sock < 0)
    return;
  int shm_fd = found ? uv__shm_create() : -1;
  if (found && shm_fd < 0)
    snprintf(uvdb_probe.lib.how, sizeof(uvdb_probe.lib.how),
             "libuv found, but no ring memory: RLIMIT_FSIZE is below %llu bytes, or memfd failed",
             (unsigned long long)UVDB_SHM_SIZE);
  if (found) {
    pthread_key_create(&uv__ring_key, uv__ring_retire);
    uvdb_safepoint_init();
    uvdb_profile_init();
  }
  /* Install before saying hello, so the report is the truth; the process
   * still has one thread, and nothing runs until the debugger says go. */
  for (size_t i = 0; i < nhooks; i++)
    if (hooks[i].hook->stub)
      uvdb_hook_install(hooks[i].hook); /* a refusal is in its reason, reported below */
  static char info[8192];
  size_t len = uv__describe(info, sizeof(info), found, hooks, nhooks);
  if (uvdb_msg_send(sock, UVDB_MSG_HELLO, info, len, shm_fd) != 0)
    goto quiet;
  if (shm_fd >= 0)
    close(shm_fd);
  shm_fd = -1;

  uint32_t type;
  char reply[4096];
  int r = uvdb_msg_recv(sock, &type, reply, sizeof(reply), NULL, NULL, 5000);
  if (r <= 0 || type != UVDB_MSG_WELCOME || !found || !uvdb_probe.shm)
    goto quiet;
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
  pthread_atfork(NULL, NULL, uv__atfork_child);
  atomic_store(&uvdb_probe.active, 1);
  if (uvdb_agent_start(sock) != 0) {
    atomic_store(&uvdb_probe.active, 0);
    goto quiet;
  }
  close(sock); /* the agent has its own copy; the target's table keeps none of ours */
  return;

quiet:
  uvdb_safepoint_release_signal();
  for (size_t i = 0; i < nhooks; i++)
    uvdb_hook_remove(hooks[i].hook);
  if (shm_fd >= 0)
    close(shm_fd);
  close(sock);
}
