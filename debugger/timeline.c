/* The timeline: the last events uvdb received (phases, iterations, waits,
 * thread-pool jobs, blocking, stops), kept in a bounded ring so that a
 * session of any length uses the same memory, and written as a Chrome
 * Trace Event file (trace export) that Perfetto and speedscope open. */
#include "uvdb.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TIMELINE_CAP (1u << 19) /* 512k events, 18 MiB */

struct timeline_entry {
  struct uvdb_record r;
  uint32_t tid;
};

static struct {
  struct timeline_entry *e;
  uint64_t written; /* in all; the ring holds the last TIMELINE_CAP */
} uv__tl;

static int uv__kept(uint16_t type) {
  switch (type) {
  case UVDB_EV_LOOP_SEEN: case UVDB_EV_ITERATION: case UVDB_EV_PHASE: case UVDB_EV_STOPPED:
  case UVDB_EV_RESUMED: case UVDB_EV_POOL_INIT: case UVDB_EV_POOL_SUBMIT: case UVDB_EV_POOL_START:
  case UVDB_EV_POOL_END: case UVDB_EV_POOL_DONE: case UVDB_EV_POLL_WAIT: case UVDB_EV_BLOCKED:
  case UVDB_EV_SYNC_IO: case UVDB_EV_GC: case UVDB_EV_MICROTASKS: case UVDB_EV_CALLBACK:
  case UVDB_EV_SPAWN: case UVDB_EV_PROCESS_EXIT: case UVDB_EV_SIGNAL:
    return 1;
  default:
    return 0;
  }
}

/* In huge pages where the kernel allows (transparent huge pages on
 * madvise), and for a program uvdb launches, with its pages in before it
 * runs: faulted in as the first events came, the timeline slowed uvdb's
 * first reads of a fast program below the pace of its writer, whose ring
 * then overflowed (zeroing fresh pages was a fifth of uvdb's time then,
 * more for memory this guest had not touched in a while).  Not before an
 * attach: the program runs meanwhile, and the milliseconds it takes would
 * be uvdb's CPU taken from whatever shares it. */
#define HUGE_PAGE (2u << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static int uv__tl_reserve(void) {
  if (uv__tl.e)
    return 0;
  size_t size = (sizeof(*uv__tl.e) * TIMELINE_CAP + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  char *m = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return -1;
  char *aligned = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  madvise(aligned, size, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
  uv__tl.e = (struct timeline_entry *)aligned;
  return 0;
}

void timeline_prepare(void) {
  static int populated;
  if (uv__tl_reserve() == 0 && !populated) /* before kernel 5.14: as the events come */
    populated = madvise(uv__tl.e, sizeof(*uv__tl.e) * TIMELINE_CAP, MADV_POPULATE_WRITE) == 0;
}

void timeline_add(const struct uvdb_record *r, uint32_t tid) {
  if (!uv__kept(r->type))
    return;
  if (uv__tl_reserve() != 0)
    return;
  struct timeline_entry *e = &uv__tl.e[uv__tl.written++ % TIMELINE_CAP];
  e->r = *r;
  e->tid = tid;
}

void timeline_reset(void) {
  uv__tl.written = 0;
}

uint64_t timeline_dropped(void) {
  return uv__tl.written > TIMELINE_CAP ? uv__tl.written - TIMELINE_CAP : 0;
}

/* ---- Chrome Trace Event JSON ---- */

struct uv__writer {
  FILE *out;
  const struct uvdb_shm_header *shm;
  int pid, first;
  uint64_t origin; /* TSC of the first event kept: time 0 */
};

/* Microseconds from the first event, on a grid of 1/1024 us (about 1 ns).
 * Such a number is printed exactly with 10 decimals, and readers add and
 * subtract such numbers exactly in binary floating point: a slice's
 * ts + dur is then the next slice's ts where uvdb saw one boundary, as
 * speedscope and Perfetto need to nest slices, not a hair after it. */
static double uv__us(const struct uv__writer *w, uint64_t tsc) {
  double us = tsc > w->origin ? ticks_to_ns(w->shm, tsc - w->origin) / 1e3 : 0;
  return nearbyint(us * 1024) / 1024;
}

static void uv__begin(struct uv__writer *w) {
  fputs(w->first ? "\n" : ",\n", w->out);
  w->first = 0;
}

static void uv__slice(struct uv__writer *w, const char *name, const char *cat, uint32_t tid, uint64_t begin,
                      uint64_t end, const char *args) {
  uv__begin(w);
  fprintf(w->out, "{\"name\":\"");
  json_fputs(w->out, name);
  fprintf(w->out, "\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.10f,\"dur\":%.10f,\"pid\":%d,\"tid\":%u%s%s}", cat,
          uv__us(w, begin), end > begin ? uv__us(w, end) - uv__us(w, begin) : 0, w->pid, tid,
          args ? ",\"args\":" : "", args ? args : "");
}

static void uv__flow(struct uv__writer *w, const char *ph, uint64_t id, uint32_t tid, uint64_t ts) {
  uv__begin(w);
  fprintf(w->out, "{\"name\":\"job\",\"cat\":\"threadpool\",\"ph\":\"%s\",\"id\":%llu,\"ts\":%.10f,\"pid\":%d,"
                  "\"tid\":%u%s}",
          ph, (unsigned long long)id, uv__us(w, ts), w->pid, tid, ph[0] == 'f' ? ",\"bp\":\"e\"" : "");
}

static void uv__counter(struct uv__writer *w, const char *name, const char *key, double v, uint64_t ts) {
  uv__begin(w);
  fprintf(w->out, "{\"name\":\"%s\",\"ph\":\"C\",\"ts\":%.10f,\"pid\":%d,\"args\":{\"%s\":%.3f}}", name,
          uv__us(w, ts), w->pid, key, v);
}

static void uv__thread_name(struct uv__writer *w, uint32_t tid, const char *name) {
  uv__begin(w);
  fprintf(w->out, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"args\":{\"name\":\"", w->pid, tid);
  json_fputs(w->out, name);
  fprintf(w->out, "\"}}");
}

/* A job's submission time and thread, by job, for the flow arrows. */
struct uv__submit {
  uint64_t key, ts, serial;
  uint32_t tid;
};

/* The submission a job's later event belongs to: the last one of its key
 * before it (the rings are read in any order; libuv reuses job memory). */
static struct uv__submit *uv__find_submit(struct uv__submit *s, size_t n, uint64_t key, uint64_t ts) {
  struct uv__submit *best = NULL;
  for (size_t i = 0; i < n; i++)
    if (s[i].key == key && s[i].ts <= ts && (!best || s[i].ts > best->ts))
      best = &s[i];
  return best;
}

/* Callback functions named once per export: a few dozen in any program. */
#define NAMES_CAP 1024
struct uv__names {
  uint64_t fn[NAMES_CAP];
  char *name[NAMES_CAP];
};

static const char *uv__callback_name(struct session *s, struct uv__names *t, uint64_t fn) {
  unsigned i = (unsigned)(fn * 0x9e3779b97f4a7c15ull >> 40) & (NAMES_CAP - 1);
  for (unsigned probes = 0; probes < NAMES_CAP; probes++, i = (i + 1) & (NAMES_CAP - 1)) {
    if (t->fn[i] == fn)
      return t->name[i];
    if (!t->fn[i]) {
      char buf[512] = "callback";
      if (callback_name)
        callback_name(s, fn, buf, sizeof(buf));
      t->fn[i] = fn;
      return t->name[i] = strdup(buf);
    }
  }
  return "callback";
}

static void uv__names_free(struct uv__names *t) {
  for (unsigned i = 0; i < NAMES_CAP; i++)
    free(t->name[i]);
  free(t);
}

static int uv__by_ts(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; /* each step starts with its ts */
  return x < y ? -1 : x > y;
}

/* A blocked stretch ends at the boundary the watchdog saw, a little after
 * the end of the phase it ran in (the one that began at or before it and
 * ended after it began): clamped to that phase, so that the
 * slices on the loop's track nest as the format requires.  The phase's
 * record is near it in the timeline (the same ring, read together). */
static uint64_t uv__blocked_end(uint64_t first, uint64_t at, const struct timeline_entry *b) {
  uint64_t end = b->r.y;
  for (uint64_t k = at > first + 512 ? at - 512 : first; k < uv__tl.written && k < at + 512; k++) {
    const struct timeline_entry *p = &uv__tl.e[k % TIMELINE_CAP];
    if (p->tid == b->tid && p->r.type == UVDB_EV_PHASE && p->r.ts <= b->r.ts && p->r.y > b->r.ts && p->r.y < end)
      end = p->r.y;
  }
  return end;
}

/* A spawn, a child's exit or a signal delivered: an instant event on the
 * loop's track, the child's file (from the model) in its args. */
static void uv__process_instant(struct uv__writer *w, struct session *s, const struct timeline_entry *e) {
  const struct uvdb_record *r = &e->r;
  const struct process_child *c = NULL;
  char name[80], sig[32];
  if (r->type == UVDB_EV_SPAWN) {
    c = process_child_find(&s->model.processes, (int32_t)r->a32, r->ts);
    snprintf(name, sizeof(name), r->a32 ? "spawn pid %u" : "spawn failed", r->a32);
  } else if (r->type == UVDB_EV_PROCESS_EXIT && r->x >> 32) {
    c = process_child_find(&s->model.processes, (int32_t)r->a32, r->y);
    snprintf(name, sizeof(name), "pid %u killed by %s", r->a32, process_signal_name((int)(r->x >> 32), sig, 32));
  } else if (r->type == UVDB_EV_PROCESS_EXIT) {
    c = process_child_find(&s->model.processes, (int32_t)r->a32, r->y);
    snprintf(name, sizeof(name), "pid %u exited %u", r->a32, (unsigned)r->x);
  } else if (r->type == UVDB_EV_SIGNAL) {
    snprintf(name, sizeof(name), "%s", process_signal_name((int)(r->a32 & 0xff), sig, sizeof(sig)));
  } else {
    return;
  }
  uv__begin(w);
  fprintf(w->out, "{\"name\":\"%s\",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,\"tid\":%u",
          name, uv__us(w, r->ts), w->pid, e->tid);
  if (c) {
    fputs(",\"args\":{\"file\":\"", w->out);
    json_fputs(w->out, process_file(c));
    fputs("\"}", w->out);
  } else if (r->type == UVDB_EV_SIGNAL) {
    fprintf(w->out, ",\"args\":{\"count\":%llu}", (unsigned long long)r->y);
  }
  fputs("}", w->out);
}

int timeline_export_chrome(struct session *s, const char *path) {
  if (!s->shm || !uv__tl.written)
    return uvdb_error("no events to export: the program has not run under uvdb yet");
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *out = fopen(tmp, "w");
  if (!out)
    return uvdb_error("cannot write %s: %s", path, strerror(errno));
  uint64_t n = uv__tl.written < TIMELINE_CAP ? uv__tl.written : TIMELINE_CAP, first = uv__tl.written - n;
  struct uv__writer w = {out, s->shm, (int)s->pid, 1, uv__tl.e[first % TIMELINE_CAP].r.ts};
  for (uint64_t i = first; i < uv__tl.written; i++) /* the earliest, across rings */
    if (uv__tl.e[i % TIMELINE_CAP].r.ts < w.origin && uv__tl.e[i % TIMELINE_CAP].r.ts)
      w.origin = uv__tl.e[i % TIMELINE_CAP].r.ts;
  fprintf(out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"uvdb\",\"dropped_oldest\":%llu},"
               "\"traceEvents\":[",
          (unsigned long long)timeline_dropped());
  uv__begin(&w);
  fprintf(out, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"", w.pid);
  json_fputs(out, s->argv && s->argv[0] ? s->argv[0] : "program");
  fprintf(out, " (pid %d)\"}}", w.pid);
  size_t cap = 1024, nsub = 0;
  struct uv__submit *sub = malloc(sizeof(*sub) * cap);
  uint32_t named[256];
  int nnamed = 0;
  int64_t queued = 0;
  uint64_t serial = 0;
  for (uint64_t i = first; i < uv__tl.written; i++) { /* the submissions first: flows point back to them */
    const struct timeline_entry *e = &uv__tl.e[i % TIMELINE_CAP];
    if (e->r.type != UVDB_EV_POOL_SUBMIT)
      continue;
    if (nsub == cap)
      sub = realloc(sub, sizeof(*sub) * (cap *= 2));
    sub[nsub++] = (struct uv__submit){e->r.x, e->r.ts, ++serial, e->tid};
  }
  size_t next_submit = 0;
  struct uv__names *names = calloc(1, sizeof(*names));
  for (uint64_t i = first; i < uv__tl.written; i++) {
    const struct timeline_entry *e = &uv__tl.e[i % TIMELINE_CAP];
    const struct uvdb_record *r = &e->r;
    int known = 0;
    for (int k = 0; k < nnamed; k++)
      known |= named[k] == e->tid;
    if (!known && nnamed < 256) {
      char name[96], label[32] = "";
      int is_loop = r->type != UVDB_EV_POOL_START && r->type != UVDB_EV_POOL_END;
      if (is_loop && loop_label && r->loop_id > 0 && r->loop_id <= 64) /* "loop 3 (thread 123) worker 1" */
        loop_label(s, r->loop_id, label, sizeof(label), NULL, NULL);
      if (is_loop)
        snprintf(name, sizeof(name), "loop %u (thread %u)%s%s", (unsigned)r->loop_id, e->tid, label[0] ? " " : "",
                 label);
      else
        snprintf(name, sizeof(name), "thread-pool worker (thread %u)", e->tid);
      uv__thread_name(&w, e->tid, name);
      named[nnamed++] = e->tid;
    }
    char args[160];
    switch (r->type) {
    case UVDB_EV_PHASE:
      snprintf(args, sizeof(args), "{\"iteration\":%llu,\"loop\":%u}", (unsigned long long)r->x, r->loop_id);
      uv__slice(&w, phase_name((int)(r->a32 & UVDB_PHASE_MASK)), "phase", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_ITERATION:
      snprintf(args, sizeof(args), "{\"iteration\":%llu}", (unsigned long long)r->x);
      uv__slice(&w, "iteration", "iteration", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_POLL_WAIT:
      snprintf(args, sizeof(args), "{\"events\":%u}", r->a32 & 0xffff);
      uv__slice(&w, "epoll wait", "wait", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_BLOCKED:
      uv__slice(&w, "blocked", "blocking", e->tid, r->ts, uv__blocked_end(first, i, e), NULL);
      break;
    case UVDB_EV_GC:
      snprintf(args, sizeof(args), "{\"space\":%u,\"reason\":%llu}", r->a32, (unsigned long long)r->x);
      uv__slice(&w, r->a32 == 1 ? "GC (scavenge)" : "GC (mark-compact)", "gc", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_CALLBACK: /* inside its phase: it ends at the loop's next boundary, the phase's end at the latest */
      snprintf(args, sizeof(args), "{\"phase\":\"%s\",\"loop\":%u}", phase_name((int)(r->a32 & 0xff)), r->loop_id);
      uv__slice(&w, names ? uv__callback_name(s, names, r->x) : "callback", "callback", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_MICROTASKS:
      snprintf(args, sizeof(args), "{\"microtasks\":%u}", r->a32);
      uv__slice(&w, "microtasks", "microtasks", e->tid, r->ts, r->y, args);
      break;
    case UVDB_EV_SYNC_IO: {
      char name[64];
      snprintf(name, sizeof(name), "sync fs %s", pool_fs_op_name((r->a32 & 0xff) == 0xff ? -1 : (int)(r->a32 & 0xff)));
      uv__slice(&w, name, "sync_io", e->tid, r->ts, r->y, NULL);
      break;
    }
    case UVDB_EV_POOL_SUBMIT:
      uv__flow(&w, "s", sub[next_submit++].serial, e->tid, r->ts);
      break;
    case UVDB_EV_POOL_START: {
      struct uv__submit *j = uv__find_submit(sub, nsub, r->x, r->ts);
      if (j)
        uv__flow(&w, "t", j->serial, e->tid, r->ts);
      break;
    }
    case UVDB_EV_POOL_END:
      break; /* the job's slice is written at its start: see below */
    case UVDB_EV_POOL_DONE: {
      struct uv__submit *j = uv__find_submit(sub, nsub, r->x, r->ts);
      uv__slice(&w, "done callback", "threadpool", e->tid, r->ts, r->y, NULL);
      if (j)
        uv__flow(&w, "f", j->serial, e->tid, r->ts);
      break;
    }
    case UVDB_EV_STOPPED:
      uv__begin(&w);
      fprintf(out, "{\"name\":\"stopped by uvdb\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.10f,\"pid\":%d,\"tid\":%u}",
              uv__us(&w, r->ts), w.pid, e->tid);
      break;
    default:
      uv__process_instant(&w, s, e);
      break;
    }
  }
  /* Jobs on their workers: a slice from each start to the end that follows on that thread. */
  for (uint64_t i = first; i < uv__tl.written; i++) {
    const struct timeline_entry *st = &uv__tl.e[i % TIMELINE_CAP];
    if (st->r.type != UVDB_EV_POOL_START)
      continue;
    for (uint64_t k = i + 1; k < uv__tl.written && k < i + 64; k++) {
      const struct timeline_entry *en = &uv__tl.e[k % TIMELINE_CAP];
      if (en->tid == st->tid && en->r.type == UVDB_EV_POOL_END && en->r.x == st->r.x) {
        uv__slice(&w, "job", "threadpool", st->tid, st->r.ts, en->r.ts, NULL);
        break;
      }
    }
  }
  /* The queue's depth, in time order (the rings were read in any order). */
  struct uv__step {
    uint64_t ts;
    int delta;
  } *steps = malloc(sizeof(*steps) * (nsub * 2 + 1));
  size_t nsteps = 0;
  for (uint64_t i = first; i < uv__tl.written; i++) {
    const struct timeline_entry *e = &uv__tl.e[i % TIMELINE_CAP];
    if (e->r.type == UVDB_EV_POOL_SUBMIT || (e->r.type == UVDB_EV_POOL_START && nsteps < nsub * 2))
      steps[nsteps++] = (struct uv__step){e->r.ts, e->r.type == UVDB_EV_POOL_SUBMIT ? 1 : -1};
  }
  qsort(steps, nsteps, sizeof(*steps), uv__by_ts);
  for (size_t i = 0; i < nsteps; i++) {
    queued += steps[i].delta;
    uv__counter(&w, "thread-pool queue", "jobs", (double)(queued > 0 ? queued : 0), steps[i].ts);
  }
  free(steps);
  fprintf(out, "\n]}\n");
  free(sub);
  if (names)
    uv__names_free(names);
  int failed = ferror(out) | (fclose(out) != 0);
  if (failed || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return uvdb_error("cannot write %s: %s", path, strerror(e ? e : EIO));
  }
  return 0;
}
