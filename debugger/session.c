/* The session: launch a program under the probe, meet it on the control
 * socket, drain its rings, and follow it until it stops or exits. */
#define _GNU_SOURCE
#include "../preload/loccache.h"
#include "../preload/transport.h"
#include "../probes/ring.h"
#include "attach.h"
#include "record.h"
#include "symbolize.h"
#include "uvdb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct session uvdb_session = {.listen_fd = -1, .ctl_fd = -1, .exit_code = -1, .term_signal = -1, .pidfd = -1,
                               .inferior_id = 1};

/* The probe library: $UVDB_PROBE, beside uvdb, the build tree, the install. */
static int uv__find_probe(char *out, size_t cap) {
  const char *env = getenv("UVDB_PROBE");
  if (env && *env) {
    snprintf(out, cap, "%s", env);
    return access(out, R_OK) == 0 ? 0 : -1;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  const char *rel[] = {"libuvdb-probe.so", "../preload/libuvdb-probe.so", UVDB_PROBE_FROM_BINDIR};
  for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
    snprintf(out, cap, "%s/%s", self, rel[i]);
    if (access(out, R_OK) == 0)
      return 0;
  }
  return -1;
}

/* KEY=VALUE lines, as a hello holds them: VALUE, or NULL. */
static const char *uv__info_get(const char *text, const char *key, char *buf, size_t cap) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
      size_t vl = len - kl - 1 < cap - 1 ? len - kl - 1 : cap - 1;
      memcpy(buf, p + kl + 1, vl);
      buf[vl] = '\0';
      return buf;
    }
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

const char *probe_info_get(const struct session *s, const char *key, char *buf, size_t cap) {
  return uv__info_get(s->probe_info, key, buf, cap);
}

static void uv__close_target(struct session *s) {
  if (s->ctl_fd >= 0)
    close(s->ctl_fd);
  s->ctl_fd = -1;
  s->probe_connected = 0;
}

static void uv__unmap(struct session *s) {
  if (s->shm)
    munmap(s->shm, UVDB_SHM_SIZE);
  s->shm = NULL;
  symbolizer_close(s->sym); /* a new image, or none */
  s->sym = NULL;
}

/* An inferior let go of: its rings unmapped, its symbols closed, its samples and jobs freed. */
void session_release(struct session *s) {
  uv__close_target(s);
  uv__unmap(s);
  if (s->pidfd >= 0)
    close(s->pidfd);
  s->pidfd = -1;
  profile_reset(&s->profile);
  pool_reset(&s->model.pool);
}

struct symbolizer *session_symbolizer(struct session *s) {
  if (!s->sym && (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED))
    s->sym = symbolizer_open(s->pid);
  return s->sym;
}

/* Forget the previous target; the model stays until here, so an exited
 * target's data can be inspected until the next run. */
static int uv__fresh(struct session *s) {
  uv__close_target(s);
  uv__unmap(s);
  model_reset(&s->model);
  s->probe_info[0] = '\0';
  s->no_libuv[0] = '\0';
  s->libuv_found = 0;
  s->exit_code = s->term_signal = -1;
  s->exit_unknown = 0;
  s->state = TARGET_NONE;
  s->attached = 0;
  s->follow = (struct follow){0}; /* no pace yet */
  if (s->pidfd >= 0)
    close(s->pidfd);
  s->pidfd = -1;
  if (s->listen_fd < 0) {
    char dir[200];
    if (uvdb_private_dir(dir, sizeof(dir)) != 0)
      return uvdb_error("cannot use the socket directory for uid %u: %s", (unsigned)getuid(), strerror(errno));
    snprintf(s->sock_path, sizeof(s->sock_path), "%s/uvdb-%d.sock", dir, (int)getpid());
    s->listen_fd = uvdb_listen(s->sock_path);
    if (s->listen_fd < 0)
      return uvdb_error("cannot listen on %s: %s", s->sock_path, strerror(errno));
    uvdb_loccache_remove_all(s->sock_path); /* an earlier uvdb's of this PID, killed */
  }
  return 0;
}

/* uvdb ends: its socket goes, with the locate cache its targets kept. */
void session_unlisten(struct session *s) {
  if (s->listen_fd < 0)
    return;
  close(s->listen_fd);
  s->listen_fd = -1;
  unlink(s->sock_path);
  uvdb_loccache_remove_all(s->sock_path);
}

int session_launch(struct session *s, int start_paused) {
  if (inferior_forget_all(s) != 0) /* back to inferior 1, the program */
    return -1;
  if (!s->argv || !s->argv[0])
    return uvdb_error("no program to run: give one after the options, as in `uvdb -- node app.js`");
  char probe[4096];
  if (uv__find_probe(probe, sizeof(probe)) != 0)
    return uvdb_error("cannot find libuvdb-probe.so beside uvdb or in its install directory (set UVDB_PROBE)");
  if (uv__fresh(s) != 0)
    return -1;
  timeline_prepare();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0)
    return uvdb_error("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    return uvdb_error("fork: %s", strerror(errno));
  if (pid == 0) {
    /* Own process group: the terminal's Ctrl-C is the debugger's, not the target's. */
    setpgid(0, 0);
    char buf[64];
    const char *old = getenv("LD_PRELOAD");
    char *preload = NULL;
    if (old && *old) {
      if (asprintf(&preload, "%s:%s", probe, old) < 0)
        _exit(127);
    } else {
      preload = probe;
    }
    setenv("LD_PRELOAD", preload, 1);
    setenv("UVDB_SOCK", s->sock_path, 1);
    /* JavaScript names in stacks: V8 writes its compiled functions' names
     * to /tmp/perf-PID.map (1); at 2 it also gives interpreted functions
     * frames of their own, at the cost of a V8 task on the loop.  Node
     * reads these from NODE_OPTIONS; other programs ignore it. */
    const char *node_options = getenv("NODE_OPTIONS");
    setenv("UVDB_NODE_OPTIONS", node_options && *node_options ? node_options : "-", 1); /* for children not followed */
    char *with_names = NULL;
    int names = settings_js_names();
    if (names && asprintf(&with_names, "%s%s--perf-basic-prof-only-functions%s", node_options ? node_options : "",
                          node_options && *node_options ? " " : "",
                          names > 1 ? " --interpreted-frames-native-stack" : "") >= 0)
      setenv("NODE_OPTIONS", with_names, 1);
    snprintf(buf, sizeof(buf), "%d", (int)getpid());
    setenv("UVDB_PID", buf, 1);
    if (settings_follow_children())
      setenv("UVDB_FOLLOW", "1", 1); /* the program's children with libuv say hello too */
    else
      unsetenv("UVDB_FOLLOW");
    if (settings_callback_timing()) /* its children with it */
      unsetenv("UVDB_CALLBACKS");
    else
      setenv("UVDB_CALLBACKS", "0", 1);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execvp(s->argv[0], s->argv);
    int e = errno;
    if (write(pipefd[1], &e, sizeof(e)) < 0)
      _exit(127);
    _exit(127);
  }
  setpgid(pid, pid);
  close(pipefd[1]);
  int e = 0;
  ssize_t n;
  do
    n = read(pipefd[0], &e, sizeof(e));
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == sizeof(e)) {
    waitpid(pid, NULL, 0);
    return uvdb_error("cannot run %s: %s", s->argv[0], strerror(e));
  }
  s->pid = pid;
  s->state = TARGET_RUNNING;
  s->start_paused = start_paused;
  return 0;
}

/* Loops that ran before uvdb came (attach): "loop=ID,ADDRESS,TID" lines. */
static void uv__hello_loops(struct session *s) {
  for (const char *p = strstr(s->probe_info, "\nloop="); p; p = strstr(p + 1, "\nloop=")) {
    unsigned id, tid;
    unsigned long long addr;
    if (sscanf(p + 6, "%u,%llx,%u", &id, &addr, &tid) != 3 || id == 0 || id > 64)
      continue;
    struct loop_model *l = &s->model.loops[id - 1];
    l->seen = 1, l->id = (uint16_t)id, l->addr = addr, l->tid = tid;
  }
}

static void uv__welcome(struct session *s, int fd, const char *hello, size_t len, int shm_fd);

/* HELLO: the probe's report and its ring memory; answer WELCOME or REFUSE. */
static void uv__handshake(struct session *s, int fd) {
  uint32_t type;
  size_t len = 0;
  int shm_fd = -1;
  static char hello[sizeof(s->probe_info)];
  if (uvdb_msg_recv(fd, &type, hello, sizeof(hello) - 1, &len, &shm_fd, 5000) != 1 || type != UVDB_MSG_HELLO) {
    uvdb_message("warning", "a process connected but sent no valid hello; ignored");
    close(fd);
    if (shm_fd >= 0)
      close(shm_fd);
    return;
  }
  hello[len] = '\0';
  char v[600];
  int proto = atoi(uv__info_get(hello, "protocol", v, sizeof(v)) ? v : "0");
  if (proto != UVDB_PROTOCOL_VERSION) {
    const char *why = "protocol mismatch";
    uvdb_msg_send(fd, UVDB_MSG_REFUSE, why, strlen(why), -1);
    uvdb_message("warning", "the probe speaks protocol %d, this uvdb speaks %d: refused (rebuild both)", proto,
                 UVDB_PROTOCOL_VERSION);
    close(fd);
    if (shm_fd >= 0)
      close(shm_fd);
    return;
  }
  /* Whose hello: the program's (again, after an exec), an inferior's, or a
   * new child's the program started (follow-children). */
  pid_t from = (pid_t)atol(uv__info_get(hello, "pid", v, sizeof(v)) ? v : "0");
  struct session *t = inferior_by_pid(from), *child = NULL;
  if (!t && from > 0 && from != s->pid) {
    t = child = inferior_new(s, from, (pid_t)atol(uv__info_get(hello, "ppid", v, sizeof(v)) ? v : "0"));
    if (!t) {
      uvdb_msg_send(fd, UVDB_MSG_REFUSE, "no room", 7, -1);
      close(fd);
      if (shm_fd >= 0)
        close(shm_fd);
      uvdb_message("warning", "process %d, started by the program, is not followed: %d inferiors run already",
                   (int)from, INFERIOR_MAX);
      return;
    }
  }
  if (!t)
    t = s;
  uv__welcome(t, fd, hello, len, shm_fd);
  if (child) /* a child whose probe gave up waiting (uvdb at its prompt over 5 s) runs untraced: not one */
    inferior_register(child, child->probe_connected);
}

/* The hello's process is t's: map its rings and answer. */
static void uv__welcome(struct session *s, int fd, const char *hello, size_t len, int shm_fd) {
  char v[600];
  memcpy(s->probe_info, hello, len + 1);
  int found = strcmp(probe_info_get(s, "libuv", v, sizeof(v)) ? v : "", "found") == 0;
  if (found && shm_fd < 0) {
    char how[600];
    uvdb_message("warning", "%s; the program runs without the probe",
                 probe_info_get(s, "libuv_how", how, sizeof(how)) ? how : "no ring memory");
  }
  if (!found || shm_fd < 0) {
    /* Said at exit, unless an image exec'ed later (sh -c, taskset, env) has libuv. */
    if (!s->libuv_found)
      probe_info_get(s, "libuv_how", s->no_libuv, sizeof(s->no_libuv));
    uvdb_msg_send(fd, UVDB_MSG_REFUSE, "no libuv", 8, -1);
    close(fd);
    if (shm_fd >= 0)
      close(shm_fd);
    return;
  }
  void *m = mmap(NULL, UVDB_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
  close(shm_fd);
  if (m == MAP_FAILED || ((struct uvdb_shm_header *)m)->magic != UVDB_SHM_MAGIC) {
    uvdb_message("warning", "the probe's ring memory is unusable; detaching from it");
    if (m != MAP_FAILED)
      munmap(m, UVDB_SHM_SIZE);
    close(fd);
    return;
  }
  if (s->shm)
    session_drain(s); /* an exec'ed image says hello again: the old one's last records first */
  uv__close_target(s);
  uv__unmap(s);
  s->shm = m;
  s->rings_seen = 0;
  s->libuv_found = 1;
  s->no_libuv[0] = '\0';
  char welcome[4096];
  size_t wl = (size_t)snprintf(welcome, sizeof(welcome), "protocol=%d\nstart_paused=%d\n", UVDB_PROTOCOL_VERSION,
                               s->start_paused);
  wl += breakpoints_welcome(s, welcome + wl, sizeof(welcome) - wl);
  wl += profile_welcome(s, welcome + wl, sizeof(welcome) - wl);
  /* A child's JS names: from its start when it is profiled from its start;
   * else when first looked at (V8's perf map costs a small node child's
   * start-up dearly).  Interpreted frames (js-names 2) need the flag. */
  s->js_names_later = s->parent_pid && !s->attached && settings_js_names() == 1 && !s->profile.active;
  if (s->parent_pid && !s->attached && settings_js_names() == 1 && wl < sizeof(welcome))
    wl += (size_t)snprintf(welcome + wl, sizeof(welcome) - wl, "js_names=%s\n", s->js_names_later ? "later" : "now");
  struct uvdb_msg_watchdog w = settings_watchdog(s);
  if (wl < sizeof(welcome))
    wl += (size_t)snprintf(welcome + wl, sizeof(welcome) - wl, "watchdog=%llu,%llu,%llu,%llu\n",
                           (unsigned long long)w.threshold_ticks, (unsigned long long)w.break_ticks,
                           (unsigned long long)w.period_ns, (unsigned long long)w.ticks_per_ms);
  s->stops_seen = 0;
  s->samples_seen = 0;
  memset(s->sample_seq, 0, sizeof(s->sample_seq));
  if (uvdb_msg_send(fd, UVDB_MSG_WELCOME, welcome, wl, -1) != 0) {
    close(fd);
    return;
  }
  s->ctl_fd = fd;
  s->probe_connected = 1;
  uv__hello_loops(s);
  /* Now, while the process is there to read: its names serve after it exits. */
  session_symbolizer(s);
}

static uint64_t uv__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t uv__mono_ms(void) {
  return uv__mono_ns() / 1000000;
}

/* The rings are read when one is a quarter full, or DRAIN_LATENCY_MS after
 * the last read, or when `force` (a command wants everything).  Often and
 * little: uvdb may share a CPU with the target or its clients, and a read
 * of 20 ms of a server's records held that CPU for about half a millisecond
 * at a time (the echo bench's p99 1.12x to 1.25x against 1.02x to 1.04x
 * with 1 ms; the loop-bound rows, read by the quarter rule, did not move).
 * Returns records taken. */
#define DRAIN_LATENCY_MS 1
/* The TSC is one clock for the whole machine, so the debugger can add the
 * later reference point of the probe's clock itself. */
static void uv__clock_refresh(struct session *s) {
  uint64_t ns = uv__mono_ns();
  struct uvdb_clock *c = &s->shm->clock;
  c->tsc1 = __builtin_ia32_rdtsc();
  c->ns1 = ns;
}

/* The stacks the watchdog and sync I/O sampled: unwound now, while the
 * process is there to read, and kept with the events they belong to. */
static void uv__collect_samples(struct session *s) {
  s->samples_seen = atomic_load(&s->shm->samples);
  static uint8_t copy[UVDB_SAMPLE_STACK];
  for (unsigned i = 0; i + 1 < UVDB_SAMPLE_SLOTS; i++) { /* the last slot answers `SAMPLE`: read there */
    struct uvdb_sample *smp = uvdb_shm_sample(s->shm, i);
    uint32_t seq = atomic_load(&smp->seq);
    if (seq == s->sample_seq[i] || (seq & 1))
      continue;
    struct uvdb_stop_stack regs = smp->regs;
    uint64_t base = smp->stack_base, episode = smp->episode;
    uint32_t len = smp->stack_len < UVDB_SAMPLE_STACK ? smp->stack_len : UVDB_SAMPLE_STACK;
    int loop_id = smp->loop_id, kind = smp->kind;
    memcpy(copy, smp->stack, len);
    if (atomic_load(&smp->seq) != seq)
      continue; /* rewritten meanwhile: the next look takes it */
    s->sample_seq[i] = seq;
    struct stack st = {0};
    int n = symbolizer_unwind_copy(session_symbolizer(s), (pid_t)smp->tid, &regs, copy, base, len, st.pcs, STACK_MAX);
    st.n = n > 0 ? n : 0;
    feed_stack_sample(s, loop_id, kind, episode, &st); /* the model, or a recording */
  }
}

/* How many rings to look at: those seen in use so far, and any claimed
 * beyond them.  A thread claims the first free ring, and only uvdb frees
 * one (after reading it), so the rings beyond those it has seen that are
 * in use form one run from the first of them: each is a page of its own,
 * and reading all 64 states at every look cost more than the look. */
static unsigned uv__rings_in_use(struct session *s) {
  unsigned i = s->rings_seen;
  while (i < UVDB_MAX_RINGS && atomic_load_explicit(&uvdb_shm_ring(s->shm, i)->state, memory_order_acquire) !=
                                   UVDB_RING_FREE)
    i++;
  return s->rings_seen = i;
}

#define RELEASE_RECORDS (UVDB_RING_RECORDS / 16)

static uint64_t uv__drain(struct session *s, int force) {
  if (!s->shm)
    return 0;
  if (s->state != TARGET_EXITED)
    uv__clock_refresh(s);
  if (atomic_load(&s->shm->samples) != s->samples_seen)
    uv__collect_samples(s);
  profile_collect(s);
  uint64_t stops = atomic_load(&s->shm->stops);
  if (stops != s->stops_seen) { /* a loop parked: its STOPPED record must be read now */
    s->stops_seen = stops;
    force = 1;
  }
  /* When one ring is due, all are read: a job's events are spread over the
   * loop's ring and its worker's, and reading them far apart leaves the
   * model many jobs half seen. */
  static uint64_t last_read;
  uint64_t taken = 0, dropped = 0, now = uv__mono_ms();
  unsigned nrings = uv__rings_in_use(s);
  for (unsigned i = 0; i < nrings && !force; i++) {
    struct uvdb_ring *r = uvdb_shm_ring(s->shm, i);
    uint32_t state = atomic_load_explicit(&r->state, memory_order_acquire);
    force = (state == UVDB_RING_LIVE || state == UVDB_RING_RETIRED) &&
            atomic_load(&r->head) - atomic_load(&r->tail) >= UVDB_RING_RECORDS / 4;
  }
  if (!force && now - last_read < DRAIN_LATENCY_MS) {
    for (unsigned i = 0; i < nrings; i++)
      dropped += atomic_load(&uvdb_shm_ring(s->shm, i)->dropped);
    s->model.dropped = dropped + atomic_load(&s->shm->rings_exhausted);
    return 0;
  }
  last_read = now;
  for (unsigned i = 0; i < nrings; i++) {
    struct uvdb_ring *r = uvdb_shm_ring(s->shm, i);
    uint32_t state = atomic_load_explicit(&r->state, memory_order_acquire);
    if (state != UVDB_RING_LIVE && state != UVDB_RING_RETIRED)
      continue;
    dropped += atomic_load(&r->dropped);
    const struct uvdb_record *span;
    unsigned n;
    while ((n = uvdb_ring_peek(r, &span)) > 0) {
      /* Given back a slice at a time: a ring found nearly full takes
       * milliseconds to read, and its writer drops until its space is back. */
      if (n > RELEASE_RECORDS)
        n = RELEASE_RECORDS;
      feed_events(s, r, span, n); /* the model, or a recording (record.h) */
      uvdb_ring_release(r, n);
      taken += n;
    }
    if (state == UVDB_RING_RETIRED && s->state != TARGET_EXITED)
      atomic_store(&r->state, UVDB_RING_FREE);
  }
  s->model.dropped = dropped + atomic_load(&s->shm->rings_exhausted);
  return taken;
}

uint64_t session_drain(struct session *s) {
  return uv__drain(s, 1);
}

/* `inferior N` to a child that went without JS names: its main loop starts
 * them at its next boundary (a stopped one did as it stopped), and its
 * views name JavaScript from then on.  Not waited for: a wait would have
 * to keep the loop's other stops. */
void session_js_names(struct session *s) {
  uint32_t start = UVDB_JIT_NAMES_START;
  if (s->js_names_later && s->probe_connected && session_send(s, UVDB_MSG_JIT_NAMES, &start, sizeof(start)) == 0)
    s->js_names_later = 0;
}

/* Has the target ended?  A child is waited for; an attached process is
 * not ours to wait for: its pidfd says it ended, not how. */
static int uv__ended(struct session *s, int *status) {
  if (!s->attached && !s->parent_pid)
    return waitpid(s->pid, status, WNOHANG) == s->pid;
  struct pollfd p = {s->pidfd, POLLIN, 0};
  if (s->pidfd >= 0 ? poll(&p, 1, 0) <= 0 : kill(s->pid, 0) == 0 || errno != ESRCH)
    return 0;
  *status = 0;
  s->exit_unknown = 1;
  return 1;
}

static void uv__reap(struct session *s, int status) {
  session_drain(s);
  profile_ended(&s->profile); /* the samples stay, for reports and exports */
  perfmap_finish(s->pid);
  if (!s->libuv_found && s->no_libuv[0])
    uvdb_message("warning", "%s; the program ran without the probe", s->no_libuv);
  s->state = TARGET_EXITED;
  if (WIFEXITED(status))
    s->exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    s->term_signal = WTERMSIG(status);
  uv__close_target(s);
}

/* An inferior the commands are not on: its rings drained (so they never
 * fill), its control socket and its end watched, a stop of its loop (a
 * breakpoint set while it was current) said once and left for `inferior N`. */
static void uv__poll_other(struct session *o) {
  if (o->state != TARGET_RUNNING)
    return;
  struct pollfd p = {o->ctl_fd, POLLIN, 0};
  if (o->ctl_fd >= 0 && poll(&p, 1, 0) > 0) {
    uint32_t type;
    char buf[256];
    if (uvdb_msg_recv(o->ctl_fd, &type, buf, sizeof(buf), NULL, NULL, 0) < 0)
      uv__close_target(o);
  }
  uv__drain(o, 0);
  int status;
  if (o->model.stopped && breakpoints_should_stop(o)) {
    o->state = TARGET_STOPPED;
    inferior_announce(o, "stopped");
  } else if (o->model.stopped) {
    o->model.stopped = 0;
    session_send(o, UVDB_MSG_RESUME, NULL, 0);
  } else if (uv__ended(o, &status)) {
    uv__reap(o, status);
    inferior_announce(o, "exited");
  }
}

static void uv__follow_pace(struct session *s, uint64_t taken) {
  const struct process_model *pm = &s->model.processes;
  follow_look(&s->follow, uv__mono_ns(), taken, settings_follow_children() && pm->spawned > pm->exited,
              UVDB_RING_RECORDS);
}

/* One look at a running target: a probe's hello, the control socket, the
 * rings, a stop, the exit.  Unless `flowing` (a fast writer: look again at
 * once), it first waits on the probe's stop counter, as long as the pace
 * of the records allows (follow.c).  Returns whether the rings were busy. */
static int uv__poll_once(struct session *s, int flowing) {
  int timeout = flowing ? 0 : 1;
  if (s->shm && timeout) {
    struct timespec wait = {0, (long)follow_wait_ms(&s->follow) * 1000 * 1000};
    syscall(SYS_futex, (uint32_t *)&s->shm->stops, FUTEX_WAIT, (uint32_t)s->stops_seen, &wait, NULL, 0);
    timeout = 0;
  }
  struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->ctl_fd, POLLIN, 0}};
  int r = poll(p, s->ctl_fd >= 0 ? 2 : 1, timeout);
  if (r > 0 && (p[0].revents & POLLIN)) {
    int fd = uvdb_accept(s->listen_fd);
    if (fd >= 0)
      uv__handshake(s, fd);
  }
  if (r > 0 && s->ctl_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
    uint32_t type;
    char buf[256];
    if (uvdb_msg_recv(s->ctl_fd, &type, buf, sizeof(buf), NULL, NULL, 0) < 0)
      uv__close_target(s); /* exec, or exiting: the rings stay mapped */
  }
  uint64_t taken = uv__drain(s, 0);
  int busy = taken >= UVDB_RING_RECORDS / 4;
  uv__follow_pace(s, taken);
  session_poll_others();
  if (s->model.stopped) {
    /* The probe stops at every armed phase; conditions and counts live here. */
    int hit = breakpoints_should_stop(s); /* a step that lands on a breakpoint reports it, as in gdb */
    uint32_t why = s->model.stop.reason;
    /* a query's pause that came after uvdb stopped waiting for it: not a stop */
    int stale_query = why == UVDB_STOP_QUERY && !s->query_waiting;
    if (((why == UVDB_STOP_BREAKPOINT || why == UVDB_STOP_CALLBACK) && !hit) || stale_query) {
      s->model.stopped = 0;
      session_send(s, UVDB_MSG_RESUME, NULL, 0);
      return busy;
    }
    s->state = TARGET_STOPPED;
    return busy;
  }
  int status;
  if (uv__ended(s, &status))
    uv__reap(s, status);
  return busy;
}

int session_hello_waiting(const struct session *s) {
  struct pollfd p = {s->listen_fd, POLLIN, 0};
  return s->listen_fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int session_greet_waiting(struct session *s) {
  int met = 0;
  while (session_hello_waiting(s)) {
    int fd = uvdb_accept(s->listen_fd);
    if (fd < 0)
      break;
    uv__handshake(s, fd);
    met++;
  }
  return met;
}

void session_poll_others(void) {
  for (int i = 0; i < inferior_count(); i++)
    uv__poll_other(inferior_at(i));
}

int session_wait(struct session *s) {
  int paused_sent = 0, flowing = 0;
  s->interrupted = 0;
  s->model.stopped = 0;
  s->background = 0;
  while (s->state == TARGET_RUNNING) {
    flowing = uv__poll_once(s, flowing);
    if (s->state != TARGET_RUNNING)
      break;
    if (s->interrupted && !paused_sent) {
      paused_sent = 1;
      struct uvdb_msg_pause pause = {0, UVDB_STOP_INTERRUPT}; /* the main thread's loop */
      if (s->probe_connected)
        session_send(s, UVDB_MSG_PAUSE, &pause, sizeof(pause));
      else
        uvdb_message("warning", "no probe in the target to pause it; still waiting for it to exit");
    }
  }
  session_poll_others(); /* children that ended just before it: said before its own end */
  return 0;
}

/* Follow a running target up to ms milliseconds: 1 if it stopped, 0 if
 * still running, -1 if it ended. */
int session_run_for(struct session *s, unsigned ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int flowing = 0;
  s->model.stopped = 0;
  while (s->state == TARGET_RUNNING) {
    flowing = uv__poll_once(s, flowing);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= (long)ms)
      break;
  }
  return s->state == TARGET_STOPPED ? 1 : s->state == TARGET_RUNNING ? 0 : -1;
}

/* `run &`: the program runs while commands are read; the probe's hello is
 * answered before returning (it waits for no one for long). */
int session_background(struct session *s) {
  s->background = 1;
  for (int i = 0; i < 5000 && s->state == TARGET_RUNNING && !s->probe_connected && !s->no_libuv[0]; i++)
    uv__poll_once(s, 0);
  return 0;
}

/* Between commands, a program running in the background: take its events,
 * and report a stop or an exit as it happened. */
void session_poll(struct session *s) {
  if (s->state != TARGET_RUNNING || !s->background)
    return;
  int flowing;
  s->model.stopped = 0;
  do
    flowing = uv__poll_once(s, 1);
  while (flowing && s->state == TARGET_RUNNING);
  if (s->state == TARGET_RUNNING)
    return;
  s->background = 0;
  s->stop_generation++;
  if (!breakpoints_silent(s))
    session_report_state(s, s->state == TARGET_EXITED ? "exited" : "stopped");
  if (s->state == TARGET_STOPPED)
    breakpoints_after_stop(s);
}

/* At the prompt: what runs in the background is followed as it runs (its
 * rings fill in milliseconds), so the reader waits at most this long for a
 * line before session_idle, the shortest of the running programs' waits
 * between looks; -1 when nothing runs. */
static int uv__idle_wait(const struct session *s, int ms) {
  int own = (int)follow_wait_ms(&s->follow); /* the pace of its records, as uv__poll_once waits */
  return ms < 0 || own < ms ? own : ms;
}

int session_idle_timeout(const struct session *s) {
  int ms = s->state == TARGET_RUNNING && s->background ? uv__idle_wait(s, -1) : -1;
  for (int i = 0; i < inferior_count(); i++)
    if (inferior_at(i)->state == TARGET_RUNNING)
      ms = uv__idle_wait(inferior_at(i), ms);
  return ms;
}

/* At the prompt, between lines: hellos answered, the programs running in the
 * background drained, a stop or an end reported as it happens (gdb's `run &`). */
void session_idle(struct session *s) {
  session_greet_waiting(s);
  session_poll(s);  /* running: its stop or end said as gdb says it */
  session_check(s); /* stopped: killed meanwhile */
  session_poll_others();
}

/* A view of a loop that runs: pause it at its next safepoint for the time
 * of one command (session_after_command resumes it).  0 when parked; -1
 * when it reached none within 200 ms, with what it is busy with said.
 * Loop 0: the main loop, which a program starting may not have run yet
 * (its first safepoint is waited for up to 2 s). */
int session_query(struct session *s, int loop_id) {
  static const struct loop_model none;
  const struct loop_model *l = loop_id ? &s->model.loops[loop_id - 1] : &none;
  struct uvdb_msg_pause p = {l->tid, UVDB_STOP_QUERY};
  if (session_send(s, UVDB_MSG_PAUSE, &p, sizeof(p)) != 0)
    return -1;
  s->query_waiting = 1;
  int r = session_run_for(s, loop_id ? 200 : 2000);
  s->query_waiting = 0;
  if (r == 1 && s->model.stop.reason != UVDB_STOP_QUERY) {
    /* a breakpoint came first: a stop to report and keep; the view reads it */
    struct uvdb_msg_pause cancel = {l->tid, 0};
    session_send(s, UVDB_MSG_PAUSE, &cancel, sizeof(cancel));
    s->background = 0;
    s->stop_generation++;
    session_report_state(s, "stopped");
    return 0;
  }
  if (r == 1) {
    s->query_paused = 1;
    return 0;
  }
  if (r < 0) {
    session_report_state(s, "exited");
    return -1;
  }
  struct uvdb_msg_pause cancel = {l->tid, 0};
  session_send(s, UVDB_MSG_PAUSE, &cancel, sizeof(cancel));
  if (!loop_id)
    return uvdb_error("the program ran no loop within 2 s of being asked");
  session_report_busy(s, loop_id);
  fflush(stdout); /* the report, then the error that points to it */
  return uvdb_error("loop %d reached no safepoint within 200 ms: it is busy (above); ask again, or interrupt",
                    loop_id);
}

void session_after_command(struct session *s) {
  if (!s->query_paused)
    return;
  s->query_paused = 0;
  if (s->state == TARGET_STOPPED && session_send(s, UVDB_MSG_RESUME, NULL, 0) == 0) {
    s->state = TARGET_RUNNING;
    s->background = 1;
  }
}

int session_send(struct session *s, uint32_t type, const void *payload, size_t len) {
  if (s->probe_connected && uvdb_msg_send(s->ctl_fd, type, payload, len, -1) == 0)
    return 0;
  /* The probe's socket closes when the process dies: give a dying target up
   * to a second to be reaped, and say that rather than blame the socket. */
  for (int i = 0; i < 100 && (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED); i++) {
    session_check(s);
    if (s->state == TARGET_EXITED)
      return uvdb_error("the program is not being run: it ended while stopped");
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    nanosleep(&ms10, NULL);
  }
  return uvdb_error("lost the connection to the probe");
}

int session_step(struct session *s) {
  if (s->state != TARGET_STOPPED)
    return uvdb_error(s->state == TARGET_RUNNING ? "the program is running, not stopped"
                                                 : "the program is not being run");
  const struct loop_model *l = &s->model.loops[s->model.stop.loop_id - 1];
  struct uvdb_msg_pause p = {l->tid, UVDB_STOP_STEP};
  if (session_send(s, UVDB_MSG_PAUSE, &p, sizeof(p)) != 0)
    return -1;
  return session_resume(s);
}

int session_resume(struct session *s) {
  if (s->state != TARGET_STOPPED)
    return uvdb_error("the program is not stopped");
  if (s->step_request)
    s->step_request = 0; /* `step` armed the callbacks for this run */
  else if (s->step_armed)
    fprobes_arm(s, NULL);
  if (session_send(s, UVDB_MSG_RESUME, NULL, 0) != 0)
    return -1;
  s->state = TARGET_RUNNING;
  return 0;
}

/* Did the target die while uvdb was not waiting for it (killed from
 * outside while stopped)?  Then say so, once, and keep its data. */
void session_check(struct session *s) {
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    return;
  int status;
  if (!uv__ended(s, &status))
    return;
  int was_stopped = s->state == TARGET_STOPPED;
  uv__reap(s, status);
  if (!uvdb_json_mode)
    printf("The program is gone%s: ", was_stopped ? " while stopped" : "");
  session_report_state(s, "exited");
}

void session_kill(struct session *s) {
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    return;
  kill(s->pid, SIGKILL);
  int status;
  if (s->attached || s->parent_pid) { /* not uvdb's child: its pidfd says when it is gone */
    struct pollfd p = {s->pidfd, POLLIN, 0};
    if (s->pidfd >= 0)
      poll(&p, 1, 5000);
    status = SIGKILL; /* as waitpid would say it: killed by SIGKILL */
    s->exit_unknown = 0;
  } else {
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  uv__reap(s, status);
}

/* What quitting does to the target, as in gdb: an attached process is
 * detached from and runs on; a launched one dies with its debugger. */
void session_leave(struct session *s) {
  inferior_end_others(s); /* the program's children: killed with it, as gdb kills the inferiors it started */
  if (s->attached && (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED))
    session_detach(s);
  else
    session_kill(s);
}

/* While the probe loads in an attached process, its hello is answered. */
static void uv__attach_service(void *arg) {
  struct session *s = arg;
  if (!s->probe_connected && session_hello_waiting(s)) {
    int fd = uvdb_accept(s->listen_fd);
    if (fd >= 0)
      uv__handshake(s, fd);
  }
}

/* Ask the main loop, parked for a moment as a view would park it, to start
 * or stop V8's JIT names; a loop too busy to park does it at its next view. */
static int uv__jit_names(struct session *s, uint32_t what) {
  if (session_send(s, UVDB_MSG_JIT_NAMES, &what, sizeof(what)) != 0)
    return -1;
  struct uvdb_msg_pause p = {(uint32_t)s->pid, UVDB_STOP_QUERY};
  if (session_send(s, UVDB_MSG_PAUSE, &p, sizeof(p)) != 0)
    return -1;
  s->query_waiting = 1;
  int r = session_run_for(s, 500);
  s->query_waiting = 0;
  if (r == 1) {
    s->model.stopped = 0;
    if (session_send(s, UVDB_MSG_RESUME, NULL, 0) == 0)
      s->state = TARGET_RUNNING;
    return 0;
  }
  struct uvdb_msg_pause cancel = {(uint32_t)s->pid, 0};
  if (r == 0)
    session_send(s, UVDB_MSG_PAUSE, &cancel, sizeof(cancel));
  return -1;
}

/* A node attached to writes no perf map unless started with a perf flag:
 * the probe has V8 write one (where the main thread waited in epoll, else
 * at the loop's first stop for a query), which uvdb removes as it leaves. */
static void uv__attach_js_names(struct session *s, int had_map) {
  s->jit_map_ours = 0;
  if (!settings_js_names() || had_map || !strstr(s->probe_info, "4Heap14CollectGarbage") /* mangled */)
    return; /* names there already, or not node (no V8 hooked) */
  s->jit_map_ours = 1;
  if (!perfmap_exists(s->pid))
    uv__jit_names(s, UVDB_JIT_NAMES_START);
}

int session_attach(struct session *s, pid_t pid) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    return uvdb_error("already debugging process %d: `detach` (or `kill`) it first", (int)s->pid);
  if (inferior_forget_all(s) != 0)
    return -1;
  char probe[4096];
  if (uv__find_probe(probe, sizeof(probe)) != 0)
    return uvdb_error("cannot find libuvdb-probe.so beside uvdb or in its install directory (set UVDB_PROBE)");
  if (uv__fresh(s) != 0)
    return -1;
  s->pid = pid; /* the hello's handshake reads the process's symbols */
  s->start_paused = 0;
  char err[1024];
  perfmap_remove_stale(pid);
  int had_map = perfmap_exists(pid);
  unsigned flags = settings_callback_timing() ? 0 : UVDB_ATTACH_NO_CALLBACKS;
  if (attach_inject(pid, probe, s->sock_path, settings_js_names() && !had_map, flags, uv__attach_service, s, err,
                    sizeof(err)) != 0) {
    uv__close_target(s);
    uv__unmap(s);
    s->pid = 0;
    return uvdb_error("%s", err);
  }
  if (!s->probe_connected) {
    s->pid = 0;
    return uvdb_error("the probe in process %d did not meet uvdb%s%s", (int)pid, s->no_libuv[0] ? ": " : "",
                      s->no_libuv);
  }
  s->attached = 1;
  s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  s->state = TARGET_RUNNING;
  s->background = 1; /* it runs while commands are read; views pause it for their time */
  uv__attach_js_names(s, had_map);
  return 0;
}

int session_loops_known(const struct session *s) {
  int n = 0;
  for (int i = 0; i < 64; i++)
    n += s->model.loops[i].seen;
  return n;
}

int session_detach(struct session *s) {
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    return uvdb_error("the program is not being run");
  if (s->jit_map_ours) {
    if (s->state == TARGET_RUNNING)
      uv__jit_names(s, UVDB_JIT_NAMES_STOP);
    perfmap_finish(s->pid); /* read whole, then removed: the names serve the profile still */
    s->jit_map_ours = 0;
  }
  session_drain(s);
  profile_ended(&s->profile); /* what was sampled stays, for reports and exports */
  uv__close_target(s);        /* the agent sees it: resumes a stopped loop, gives back its signals, ends */
  char err[1024];
  int r = attach_remove(s->pid, err, sizeof(err));
  uv__unmap(s);
  s->state = TARGET_NONE;
  s->background = 0;
  if (r != 0)
    return uvdb_error("detached, but the probe's hooks stay (quiet) in process %d: %s", (int)s->pid, err);
  return 0;
}

static const char *const uv__stop_reasons[] = {"",           "interrupt", "start",  "interrupt", "breakpoint",
                                               "step",       "breakpoint", "finish", "query",     "breakpoint",
                                               "breakpoint"};
#define UV__REASON(r) uv__stop_reasons[(r) < sizeof(uv__stop_reasons) / sizeof(uv__stop_reasons[0]) ? (r) : 0]

/* The prompt: where a stopped loop is and why, "(uvdb loop 1 #3 poll, breakpoint 1) ",
 * "(uvdb loop 1 #3 timers, on_timer, step) ". */
const char *session_prompt(struct session *s, char *buf, size_t cap) {
  if (s->state != TARGET_STOPPED) {
    snprintf(buf, cap, "(uvdb) ");
    return buf;
  }
  const struct stop_info *st = &s->model.stop;
  char why[32], fn[160] = "";
  if (st->bp_id)
    snprintf(why, sizeof(why), "breakpoint %d", st->bp_id);
  else
    snprintf(why, sizeof(why), "%s", UV__REASON(st->reason));
  if (st->callback) {
    char name[512];
    snprintf(fn, sizeof(fn), ", %s%s", st->reason == UVDB_STOP_FINISH ? "after " : "",
             session_callback_name(s, st->callback, name, sizeof(name)));
  }
  snprintf(buf, cap, "(uvdb %sloop %d #%llu %s%s%s, %s%s) ", out_prompt_style(OUT_BOLD), st->loop_id,
           (unsigned long long)st->iteration, st->reason == UVDB_STOP_IN_POLL ? "in " : "", phase_name(st->phase), fn,
           why, out_prompt_style(OUT_RESET));
  return buf;
}

/* A callback's name for prompts and reports: the function, without the
 * parameters a demangled C++ name carries. */
const char *session_callback_name(struct session *s, uint64_t addr, char *buf, size_t cap) {
  return symbol_strip_params((char *)symbolize(session_symbolizer(s), addr, buf, cap));
}

/* "Breakpoint" or, for a tbreak, "Temporary breakpoint", as gdb says it. */
static const char *uv__bp_word(const struct session *s, int id) {
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
    if (s->bp[i].id == id && s->bp[i].temporary)
      return "Temporary breakpoint";
  return "Breakpoint";
}

static const struct blocked_event *uv__last_blocked(const struct session *s, int loop_id) {
  for (int i = s->model.blocking.nblocked; i-- > 0;)
    if (s->model.blocking.blocked[i].loop_id == loop_id)
      return &s->model.blocking.blocked[i];
  return NULL;
}

/* `break blocked`: the stretch that just ended, with its stacks on screen. */
static void uv__report_blocked(struct session *s, const struct stop_info *st) {
  printf("%s %d, loop %d blocked %.3f ms; stopped at its end, before %s (iteration %llu):\n", uv__bp_word(s, st->bp_id), st->bp_id,
         st->loop_id, st->blocked_ms, phase_name(st->phase), (unsigned long long)st->iteration);
  fputs(out_reset(), stdout); /* the stretch and its stack below are plain */
  const struct blocked_event *e = uv__last_blocked(s, st->loop_id);
  if (e)
    blocking_print_event(s, NULL, e);
}

void session_report_state(struct session *s, const char *command) {
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, command);
    json_int(j, "pid", s->pid);
    if (s->state == TARGET_EXITED) {
      json_str(j, "state", "exited");
      if (s->exit_unknown) {
        json_null(j, "exit_code");
        json_null(j, "signal");
      } else if (s->term_signal >= 0) {
        json_null(j, "exit_code");
        json_str(j, "signal", sigabbrev_np(s->term_signal));
      } else {
        json_int(j, "exit_code", s->exit_code);
        json_null(j, "signal");
      }
    } else if (s->state == TARGET_STOPPED) {
      json_str(j, "state", "stopped");
      json_int(j, "loop", s->model.stop.loop_id);
      json_str(j, "phase", phase_name(s->model.stop.phase));
      json_uint(j, "iteration", s->model.stop.iteration);
      json_str(j, "reason", UV__REASON(s->model.stop.reason));
      char name[512];
      json_str(j, "callback",
               s->model.stop.callback ? session_callback_name(s, s->model.stop.callback, name, sizeof(name)) : NULL);
      json_bool(j, "returned", s->model.stop.reason == UVDB_STOP_FINISH);
      if (s->model.stop.reason == UVDB_STOP_POOL_QUEUE)
        json_uint(j, "pool_queued", s->model.stop.pool_depth);
      if (s->model.stop.reason == UVDB_STOP_BLOCKED) {
        json_num(j, "blocked_ms", s->model.stop.blocked_ms);
        const struct blocked_event *e = uv__last_blocked(s, s->model.stop.loop_id);
        if (e) {
          json_arr(j, "blocked");
          blocking_print_event(s, j, e);
          json_close(j);
        }
      }
      if (s->model.stop.bp_id)
        json_int(j, "breakpoint", s->model.stop.bp_id);
      else
        json_null(j, "breakpoint");
      json_bool(j, "in_poll", s->model.stop.reason == UVDB_STOP_IN_POLL);
    } else {
      json_str(j, "state", "running");
    }
    json_uint(j, "events", s->model.events);
    json_uint(j, "dropped", s->model.dropped);
    json_end(j);
    return;
  }
  if (s->state == TARGET_EXITED) {
    if (s->exit_unknown)
      printf("[process %d exited (not uvdb's child: how, only its parent knows)]\n", (int)s->pid);
    else if (s->term_signal >= 0)
      printf("[process %d killed by signal SIG%s]\n", (int)s->pid, sigabbrev_np(s->term_signal));
    else
      printf("[process %d exited with code %d]\n", (int)s->pid, s->exit_code);
  } else if (s->state == TARGET_STOPPED) {
    const struct stop_info *st = &s->model.stop;
    char name[512];
    const char *fn = st->callback ? session_callback_name(s, st->callback, name, sizeof(name)) : NULL;
    fputs(out_style(OUT_BOLD), stdout); /* the stop line stands out on a terminal */
    if (fn && st->reason == UVDB_STOP_FINISH)
      printf("Loop %d returned from %s (%s, iteration %llu)\n", st->loop_id, fn, phase_name(st->phase),
             (unsigned long long)st->iteration);
    else if (st->microtasks) /* `break microtasks`: fn is the callback the checkpoint ends */
      printf("%s %d, loop %d at a microtask checkpoint%s%s (%s, iteration %llu)\n", uv__bp_word(s, st->bp_id), st->bp_id,
             st->loop_id, fn ? ", in callback " : "", fn ? fn : "", phase_name(st->phase), (unsigned long long)st->iteration);
    else if (fn && st->bp_id)
      printf("%s %d, loop %d in callback %s (%s, iteration %llu)\n", uv__bp_word(s, st->bp_id), st->bp_id, st->loop_id, fn,
             phase_name(st->phase), (unsigned long long)st->iteration);
    else if (fn)
      printf("Loop %d in callback %s (%s, iteration %llu, %s)\n", st->loop_id, fn, phase_name(st->phase),
             (unsigned long long)st->iteration, UV__REASON(st->reason));
    else if (st->reason == UVDB_STOP_BLOCKED)
      uv__report_blocked(s, st);
    else if (st->reason == UVDB_STOP_POOL_QUEUE && st->phase < 0)
      printf("%s %d, loop %d stopped: %u thread-pool jobs queued (before its loop runs)\n", uv__bp_word(s, st->bp_id), st->bp_id,
             st->loop_id, st->pool_depth);
    else if (st->reason == UVDB_STOP_POOL_QUEUE)
      printf("%s %d, loop %d stopped: %u thread-pool jobs queued (in %s, iteration %llu)\n", uv__bp_word(s, st->bp_id), st->bp_id,
             st->loop_id, st->pool_depth, phase_name(st->phase), (unsigned long long)st->iteration);
    else if (st->reason == UVDB_STOP_IN_POLL)
      printf("Loop %d stopped in poll, waiting for events (iteration %llu)\n", st->loop_id,
             (unsigned long long)st->iteration);
    else if (st->bp_id)
      printf("%s %d, loop %d stopped before %s (iteration %llu)\n", uv__bp_word(s, st->bp_id), st->bp_id, st->loop_id,
             phase_name(st->phase), (unsigned long long)st->iteration);
    else
      printf("Loop %d stopped before %s (iteration %llu, %s)\n", st->loop_id, phase_name(st->phase),
             (unsigned long long)st->iteration, UV__REASON(st->reason));
    fputs(out_reset(), stdout);
  }
  if (s->model.dropped)
    printf("warning: %llu events were dropped (rings full)\n", (unsigned long long)s->model.dropped);
  fflush(stdout);
}
