/* uvdb record: run a program under the probe headless and stream what the
 * probe emits (ring records, stack samples, and what names them offline)
 * to a recording; and the feeds through which the drain delivers. */
#define _GNU_SOURCE
#include "procmaps.h"
#include "record.h"
#include "symbolize.h"
#include "uvdb.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* What --events chooses: classes of records (LOOP_SEEN, RUN_*, STOPPED and
 * RESUMED are always kept: every view needs them to know the loops). */
enum {
  REC_EV_PHASES = 1u << 0,     /* ITERATION, PHASE */
  REC_EV_THREADPOOL = 1u << 1, /* POOL_* */
  REC_EV_BLOCKING = 1u << 2,   /* POLL_WAIT, BLOCKED, SYNC_IO and their stacks */
  REC_EV_V8 = 1u << 3,         /* GC, MICROTASKS */
  REC_EV_SAMPLES = 1u << 4,    /* the profiler's stack samples */
  REC_EV_CALLBACKS = 1u << 5,  /* CALLBACK */
  REC_EV_ALL = (1u << 6) - 1,
};

static const struct {
  const char *name;
  unsigned bits;
} uv__classes[] = {
    {"phases", REC_EV_PHASES}, {"threadpool", REC_EV_THREADPOOL}, {"blocking", REC_EV_BLOCKING},
    {"v8", REC_EV_V8},         {"samples", REC_EV_SAMPLES},       {"callbacks", REC_EV_CALLBACKS},
    {"all", REC_EV_ALL},
};

#define SEEN_MAX (1u << 18) /* slots for addresses named (half may fill): 2 MiB, whatever the program */
#define SYMBOL_BATCH 65536  /* bytes of names written per chunk */
#define MODULES_MAX 4096

struct recorder {
  struct rec_writer *w;
  unsigned classes;
  uint64_t events, profile_samples, stack_samples;
  uint64_t *seen; /* open addressing over the addresses met; 0 empty */
  size_t nseen;
  /* Met, not named yet: naming takes a while in a large program (elfutils
   * scans its symbols), so it waits for spare time rather than hold up the
   * drain.  (lookup, pc) pairs, FIFO. */
  uint64_t (*unnamed)[2];
  size_t unnamed_from, unnamed_to;
  uint8_t symbols[SYMBOL_BATCH + 1024];
  size_t nsymbols;
  const void *shm; /* the image whose hello was recorded */
  uLong maps_crc;
  char *modules[MODULES_MAX]; /* paths whose build-id was recorded */
  int nmodules;
  off_t perfmap_at;
  struct uvdb_record filtered[4096];
};

struct recorder *uvdb_recorder;

/* ---- naming: each address a stack holds, named once, by the live symbolizer ---- */

static double uv__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether addr was met before; a new one is remembered (0 is never named). */
static int uv__seen(struct recorder *rc, uint64_t addr) {
  if (!addr)
    return 1;
  size_t mask = SEEN_MAX - 1, i = (size_t)(addr * 0x9e3779b97f4a7c15ull >> 40) & mask;
  for (; rc->seen[i]; i = (i + 1) & mask)
    if (rc->seen[i] == addr)
      return 1;
  if (rc->nseen >= SEEN_MAX / 2)
    return 1; /* full: later addresses stay unnamed rather than grow memory */
  rc->seen[i] = addr;
  rc->nseen++;
  return 0;
}

static void uv__flush_symbols(struct recorder *rc) {
  if (rc->nsymbols)
    rec_write(rc->w, REC_SYMBOLS, rc->symbols, rc->nsymbols, NULL, 0);
  rc->nsymbols = 0;
}

/* The address a frame is looked up by: the pc for the innermost frame, the
 * byte before the return address for the others (as the views do). */
static void uv__name_stack(struct recorder *rc, const uint64_t *pcs, int n) {
  for (int k = 0; k < n; k++) {
    uint64_t lookup = k ? pcs[k] - 1 : pcs[k];
    if (!uv__seen(rc, lookup)) /* the table's cap bounds the queue too */
      memcpy(rc->unnamed[rc->unnamed_to++], (uint64_t[2]){lookup, pcs[k]}, sizeof(rc->unnamed[0]));
  }
}

static void uv__name(struct session *s, struct recorder *rc, uint64_t lookup, uint64_t pc) {
  struct symbolizer *sym = session_symbolizer(s);
  char name[512];
  symbolize_frame(sym, pc, lookup == pc, name, sizeof(name)); /* kept under lookup: the report's key */
  const char *module = symbolize_module(sym, pc);
  uint16_t nl = (uint16_t)strnlen(name, 511), ml = (uint16_t)strnlen(module, 511);
  if (rc->nsymbols + 12 + nl + ml > SYMBOL_BATCH)
    uv__flush_symbols(rc);
  uint8_t *p = rc->symbols + rc->nsymbols;
  memcpy(p, &lookup, 8);
  memcpy(p + 8, &nl, 2);
  memcpy(p + 10, &ml, 2);
  memcpy(p + 12, name, nl);
  memcpy(p + 12 + nl, module, ml);
  rc->nsymbols += 12u + nl + ml;
}

/* Name the addresses met, for up to budget seconds (0: all of them). */
static void uv__name_pending(struct session *s, struct recorder *rc, double budget) {
  double until = uv__now() + budget;
  while (rc->unnamed_from < rc->unnamed_to) {
    if (budget > 0 && uv__now() >= until)
      break;
    uv__name(s, rc, rc->unnamed[rc->unnamed_from][0], rc->unnamed[rc->unnamed_from][1]);
    rc->unnamed_from++;
  }
  uv__flush_symbols(rc);
}

/* The symbols of the program's code that holds libuv (node itself, its
 * largest table), read as the image says hello rather than at its first
 * stack: the recording's memory is then what it will stay, from its start,
 * and the drain never waits on that reading later.  The name goes into the
 * recording like any other. */
static void uv__name_early(struct recorder *rc, struct session *s) {
  if (!(rc->classes & (REC_EV_SAMPLES | REC_EV_BLOCKING)))
    return; /* no stacks to name */
  const char *hook = strstr(s->probe_info, "hook=uv_run\t");
  const char *addr = hook ? strchr(hook + 12, '\t') : NULL;
  uint64_t pc = addr ? strtoull(addr + 1, NULL, 16) : 0;
  if (pc && !uv__seen(rc, pc))
    uv__name(s, rc, pc, pc);
  uv__flush_symbols(rc);
}

/* ---- the feeds: the live drain, and the replay with no recorder ---- */

static unsigned uv__class_of(uint16_t type) {
  switch (type) {
  case UVDB_EV_ITERATION: case UVDB_EV_PHASE:
    return REC_EV_PHASES;
  case UVDB_EV_POOL_INIT: case UVDB_EV_POOL_SUBMIT: case UVDB_EV_POOL_START: case UVDB_EV_POOL_END:
  case UVDB_EV_POOL_DONE:
    return REC_EV_THREADPOOL;
  case UVDB_EV_POLL_WAIT: case UVDB_EV_BLOCKED: case UVDB_EV_SYNC_IO:
    return REC_EV_BLOCKING;
  case UVDB_EV_GC: case UVDB_EV_MICROTASKS:
    return REC_EV_V8;
  case UVDB_EV_CALLBACK:
    return REC_EV_CALLBACKS;
  default:
    return 0; /* the loop's own: always */
  }
}

static void uv__write_events(struct recorder *rc, const struct uvdb_ring *ring, const struct uvdb_record *recs,
                             unsigned n) {
  struct {
    uint32_t tid, count;
    char thread[16];
  } head = {ring->tid, n, {0}};
  memcpy(head.thread, ring->thread_name, sizeof(head.thread));
  head.thread[15] = '\0';
  for (unsigned k = 0; k < n; k++) /* a callback's function, named as a stack's frames are */
    if (recs[k].type == UVDB_EV_CALLBACK)
      uv__name_stack(rc, &recs[k].x, 1);
  rec_write(rc->w, REC_EVENTS, &head, sizeof(head), recs, sizeof(*recs) * n);
  rc->events += n;
}

void feed_events(struct session *s, const struct uvdb_ring *ring, const struct uvdb_record *recs, unsigned n) {
  struct recorder *rc = uvdb_recorder;
  if (!rc) {
    for (unsigned k = 0; k < n; k++)
      model_apply(&s->model, &recs[k], ring, s->shm);
    return;
  }
  if ((rc->classes & REC_EV_ALL) == REC_EV_ALL) {
    uv__write_events(rc, ring, recs, n);
    return;
  }
  unsigned kept = 0;
  for (unsigned k = 0; k < n; k++) {
    unsigned c = uv__class_of(recs[k].type);
    if (!c || (rc->classes & c))
      rc->filtered[kept++] = recs[k];
    if (kept == sizeof(rc->filtered) / sizeof(rc->filtered[0]) || (k + 1 == n && kept)) {
      uv__write_events(rc, ring, rc->filtered, kept);
      kept = 0;
    }
  }
}

void feed_profile_sample(struct session *s, const struct prof_rec *meta, uint64_t ts, uint32_t tid,
                         const uint64_t *pcs, int n) {
  struct recorder *rc = uvdb_recorder;
  if (!rc) {
    profile_store(&s->profile, meta, pcs, n);
    return;
  }
  struct rec_profile_sample h = {ts, tid, meta->loop_id, meta->phase, meta->role, meta->waiting, 0, (uint16_t)n, 0};
  uv__name_stack(rc, pcs, n);
  rec_write(rc->w, REC_PROFILE_SAMPLE, &h, sizeof(h), pcs, sizeof(*pcs) * (size_t)n);
  rc->profile_samples++;
}

void feed_stack_sample(struct session *s, int loop_id, int kind, uint64_t episode, const struct stack *st) {
  struct recorder *rc = uvdb_recorder;
  if (!rc) {
    blocking_add_sample(&s->model.blocking, loop_id, kind, episode, st);
    return;
  }
  if (!(rc->classes & REC_EV_BLOCKING))
    return;
  struct rec_stack_sample h = {episode, (uint16_t)loop_id, (uint16_t)kind, (uint32_t)st->n};
  uv__name_stack(rc, st->pcs, st->n);
  rec_write(rc->w, REC_STACK_SAMPLE, &h, sizeof(h), st->pcs, sizeof(st->pcs[0]) * (size_t)st->n);
  rc->stack_samples++;
}

/* ---- what names things offline: hello, maps, build-ids, V8's perf map, the clock ---- */

static void uv__record_module(struct recorder *rc, const char *path) {
  for (int i = 0; i < rc->nmodules; i++)
    if (strcmp(rc->modules[i], path) == 0)
      return;
  if (rc->nmodules == MODULES_MAX)
    return;
  rc->modules[rc->nmodules++] = strdup(path);
  const void *id = NULL;
  ssize_t idlen = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
  if (elf)
    idlen = dwelf_elf_gnu_build_id(elf, &id);
  uint16_t head[2] = {(uint16_t)strnlen(path, 4095), (uint16_t)(idlen > 0 && idlen < 256 ? idlen : 0)};
  uint8_t body[4096 + 256];
  memcpy(body, path, head[0]);
  if (head[1])
    memcpy(body + head[0], id, head[1]);
  rec_write(rc->w, REC_MODULE, head, sizeof(head), body, head[0] + head[1]);
  if (elf)
    elf_end(elf);
  if (fd >= 0)
    close(fd);
}

/* /proc/PID/maps when it changed, and the build-id of each file mapped
 * executable, once. */
static void uv__record_maps(struct recorder *rc, pid_t pid) {
  size_t len = 0;
  char *maps = procmaps_read(pid, &len);
  if (!maps)
    return;
  uLong crc = crc32(crc32(0, Z_NULL, 0), (const Bytef *)maps, (uInt)len);
  if (crc != rc->maps_crc) {
    rc->maps_crc = crc;
    uint32_t p32 = (uint32_t)pid;
    rec_write(rc->w, REC_MAPS, &p32, sizeof(p32), maps, len);
    for (char *line = maps, *end; line < maps + len; line = end + 1) {
      end = memchr(line, '\n', (size_t)(maps + len - line));
      if (!end)
        break;
      *end = '\0';
      char perms[8] = "";
      int at = 0;
      if (sscanf(line, "%*s %7s %*s %*s %*s %n", perms, &at) >= 1 && at && perms[2] == 'x' && line[at] == '/')
        uv__record_module(rc, line + at);
    }
  }
  free(maps);
}

/* The lines V8 added to its perf map since the last look (whole lines). */
static void uv__record_perfmap(struct recorder *rc, pid_t pid) {
  char path[64];
  perfmap_path(pid, path, sizeof(path));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  static char buf[1 << 20];
  ssize_t n = pread(fd, buf, sizeof(buf), rc->perfmap_at);
  close(fd);
  while (n > 0 && buf[n - 1] != '\n')
    n--;
  if (n <= 0)
    return;
  uint32_t p32 = (uint32_t)pid;
  rec_write(rc->w, REC_PERFMAP, &p32, sizeof(p32), buf, (size_t)n);
  rc->perfmap_at += n;
}

static void uv__record_clock(struct recorder *rc, const struct session *s) {
  const struct uvdb_clock *c = &s->shm->clock;
  uint64_t v[4] = {c->tsc0, c->ns0, c->tsc1, c->ns1};
  rec_write(rc->w, REC_CLOCK, v, sizeof(v), NULL, 0);
}

/* An attached program's name: the first word of its command line. */
static const char *uv__program_name(const struct session *s, char *buf, size_t cap) {
  if (s->argv && s->argv[0])
    return s->argv[0];
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)s->pid);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  return n ? buf : "(unknown)";
}

/* A new image said hello: what the probe reported, and uvdb's own keys. */
static void uv__record_hello(struct recorder *rc, struct session *s, const char *events, long hz) {
  char own[4096], name[1024];
  int n = snprintf(own, sizeof(own), "record_uvdb=%s\nrecord_pid=%d\nrecord_argv0=%s\nrecord_hz=%ld\n"
                                     "record_events=%s\n",
                   UVDB_VERSION_STRING, (int)s->pid, uv__program_name(s, name, sizeof(name)), hz, events);
  for (int i = 1; s->argv && i < s->argc && n > 0 && (size_t)n < sizeof(own); i++)
    n += snprintf(own + n, sizeof(own) - (size_t)n, "record_arg%d=%s\n", i, s->argv[i]);
  if (n < 0 || (size_t)n >= sizeof(own))
    n = (int)strlen(own);
  rec_write(rc->w, REC_INFO, own, (size_t)n, s->probe_info, strnlen(s->probe_info, sizeof(s->probe_info)));
  rc->shm = s->shm;
  rc->maps_crc = 0;
  uv__name_early(rc, s);
}

/* ---- the command ---- */

static void uv__on_sigint(int sig) {
  (void)sig;
  uvdb_session.interrupted = 1;
}

static int uv__usage(void) {
  fprintf(stderr, "usage: uvdb record -o FILE [--hz N] [--duration S] [--events CLASS,...] -- PROGRAM [ARGS...]\n"
                  "       uvdb record -o FILE [options] -p PID\n"
                  "  classes: phases, callbacks, threadpool, blocking, v8, samples, all (the default)\n");
  return 2;
}

static int uv__parse_events(const char *list, unsigned *classes) {
  *classes = 0;
  char *copy = strdup(list), *save = NULL;
  for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    size_t i = 0;
    while (i < sizeof(uv__classes) / sizeof(uv__classes[0]) && strcmp(uv__classes[i].name, w) != 0)
      i++;
    if (i == sizeof(uv__classes) / sizeof(uv__classes[0])) {
      fprintf(stderr, "uvdb record: no event class \"%s\": phases, callbacks, threadpool, blocking, v8, samples or "
                      "all\n",
              w);
      free(copy);
      return -1;
    }
    *classes |= uv__classes[i].bits;
  }
  free(copy);
  return *classes ? 0 : -1;
}

/* Follow the target until it exits, Ctrl-C, or the duration: the drain
 * writes as it reads; each turn adds hello, maps, perf map and clock. */
static enum rec_ended_by uv__follow(struct session *s, struct recorder *rc, double duration, const char *events,
                                    long hz) {
  double t0 = uv__now();
  double maps_at = 0;
  for (;;) {
    if (s->state == TARGET_STOPPED) /* nothing is armed; a stop is not the recording's */
      session_resume(s);
    session_run_for(s, 100);
    if (s->shm && s->shm != rc->shm)
      uv__record_hello(rc, s, events, hz);
    if (s->state == TARGET_RUNNING && rc->shm) {
      if (uv__now() - maps_at >= 1.0) { /* a program maps new code rarely: a look a second */
        uv__record_maps(rc, s->pid);
        maps_at = uv__now();
      }
      uv__record_perfmap(rc, s->pid);
      uv__record_clock(rc, s);
    }
    /* A fast writer fills a ring in under 100 ms: naming takes a sliver of
     * each turn, the rest waits for the end (names survive the process). */
    uv__name_pending(s, rc, 0.002);
    if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
      return REC_ENDED_EXIT;
    if (rec_failed(rc->w))
      return REC_ENDED_WRITE_FAILED; /* said at the end, with the reason */
    if (s->interrupted)
      return REC_ENDED_INTERRUPT;
    if (duration > 0 && uv__now() - t0 >= duration)
      return REC_ENDED_DURATION;
  }
}

struct record_options {
  const char *out, *events;
  long hz, pid;
  double duration;
  unsigned classes;
  int program; /* argv index of the program, 0 with -p */
};

/* 0, or the exit status for bad arguments (said). */
static int uv__parse(int argc, char **argv, struct record_options *o) {
  *o = (struct record_options){NULL, "all", 99, 0, 0, 0, 0};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    char *end = NULL;
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc)
      return uv__usage();
    const char *opt = argv[i++];
    if (strcmp(opt, "-o") == 0) {
      o->out = argv[i];
    } else if (strcmp(opt, "--events") == 0) {
      o->events = argv[i];
    } else if (strcmp(opt, "--hz") == 0) {
      if ((o->hz = strtol(argv[i], &end, 10)) < 1 || o->hz > 10000 || *end) {
        fprintf(stderr, "uvdb record: --hz takes 1 to 10000 samples a second, not \"%s\"\n", argv[i]);
        return 2;
      }
    } else if (strcmp(opt, "--duration") == 0) {
      if (!((o->duration = strtod(argv[i], &end)) > 0) || *end) {
        fprintf(stderr, "uvdb record: --duration takes seconds (more than 0), not \"%s\"\n", argv[i]);
        return 2;
      }
    } else if (strcmp(opt, "-p") == 0) {
      if ((o->pid = strtol(argv[i], &end, 10)) <= 0 || *end) {
        fprintf(stderr, "uvdb record: -p takes a process id, not \"%s\"\n", argv[i]);
        return 2;
      }
    } else {
      fprintf(stderr, "uvdb record: unknown option %s\n", opt);
      return uv__usage();
    }
  }
  if (!o->out || (o->pid && i < argc) || (!o->pid && i >= argc))
    return uv__usage();
  o->program = o->pid ? 0 : i;
  return uv__parse_events(o->events, &o->classes) == 0 ? 0 : 2;
}

/* The recording is over: a launched program still running is killed, an
 * attached one detached from; either way its last records are drained
 * into the file. */
static void uv__let_go(struct session *s, struct recorder *rc) {
  if (s->attached)
    uv__name_pending(s, rc, 0); /* detaching closes the symbolizer */
  if (s->shm)
    uv__record_clock(rc, s); /* the latest reference points, before detaching unmaps them */
  session_leave(s); /* either way its last records are drained */
  uv__name_pending(s, rc, 0); /* a program that ended: its symbolizer and perf map stay loaded */
}

/* The end chunk, the file closed, and one line on stderr.  The exit status. */
static int uv__finish(struct session *s, struct recorder *rc, const char *out, enum rec_ended_by ended, double t0) {
  struct rec_end e = {rc->events, s->model.dropped, s->profile.lost, (uint64_t)((uv__now() - t0) * 1e9),
                      ended == REC_ENDED_EXIT ? s->exit_code : -1, ended == REC_ENDED_EXIT ? s->term_signal : -1,
                      ended, 0};
  rec_write(rc->w, REC_END, &e, sizeof(e), NULL, 0);
  uint64_t bytes = rec_written(rc->w);
  if (rec_close(rc->w) != 0) {
    fprintf(stderr, "uvdb record: writing %s failed: %s\n", out, strerror(errno ? errno : EIO));
    return 1;
  }
  static const char *const why[] = {"", "the program exited", "interrupted", "the duration ran out", "writing failed"};
  fprintf(stderr, "uvdb record: %s: %llu events, %llu profile samples, %llu stacks, %llu dropped, %llu bytes "
                  "in %.2f s (%s)\n",
          out, (unsigned long long)rc->events, (unsigned long long)rc->profile_samples,
          (unsigned long long)rc->stack_samples, (unsigned long long)e.dropped, (unsigned long long)bytes,
          (double)e.duration_ns / 1e9, why[ended]);
  return 0;
}

int cmd_record_main(int argc, char **argv) {
  struct record_options o;
  int bad = uv__parse(argc, argv, &o);
  if (bad)
    return bad;
  struct session *s = &uvdb_session;
  char err[600];
  struct recorder *rc = calloc(1, sizeof(*rc));
  rc->seen = calloc(SEEN_MAX, sizeof(*rc->seen));
  rc->unnamed = calloc(SEEN_MAX / 2, sizeof(*rc->unnamed));
  rc->classes = o.classes;
  if (!(rc->w = rec_create(o.out, UVDB_PROTOCOL_VERSION, err, sizeof(err)))) {
    fprintf(stderr, "uvdb record: %s\n", err);
    return 1;
  }
  elf_version(EV_CURRENT);
  struct sigaction sa = {0};
  sa.sa_handler = uv__on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  s->batch = 1;
  if (o.classes & REC_EV_SAMPLES)
    profile_start(s, 1000000000ull / (uint64_t)o.hz, 0, UVDB_PROFILE_LOOPS | UVDB_PROFILE_POOL);
  uvdb_recorder = rc;
  double t0 = uv__now();
  int started;
  if (o.pid) {
    started = session_attach(s, (pid_t)o.pid); /* attach.c: the probe injected, the process runs on */
  } else {
    s->argv = argv + o.program;
    s->argc = argc - o.program;
    started = session_launch(s, 0);
  }
  enum rec_ended_by ended = started == 0 ? uv__follow(s, rc, o.duration, o.events, o.hz) : REC_ENDED_EXIT;
  uv__let_go(s, rc);
  int status = uv__finish(s, rc, o.out, ended, t0);
  uvdb_recorder = NULL;
  session_unlisten(s);
  if (started != 0) { /* said: no program, so no recording */
    unlink(o.out);
    status = 1;
  }
  for (int k = 0; k < rc->nmodules; k++)
    free(rc->modules[k]);
  free(rc->seen);
  free(rc->unnamed);
  free(rc);
  return status;
}
