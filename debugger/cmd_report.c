/* uvdb report: replay a recording offline through the same feeds, model,
 * profile and timeline the live session uses, and write one format. */
#define _GNU_SOURCE
#include "record.h"
#include "symbolize.h"
#include "uvdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the recorded names, by the address they were looked up at ---- */

struct uv__symbol {
  uint64_t addr;
  char *name, *module;
};

static struct {
  struct uv__symbol *e;
  size_t n, cap;
} uv__syms;

static struct uv__symbol *uv__symbol_find(uint64_t addr) {
  if (!uv__syms.cap || !addr)
    return NULL;
  for (size_t i = (size_t)(addr * 0x9e3779b97f4a7c15ull >> 40) & (uv__syms.cap - 1);; i = (i + 1) & (uv__syms.cap - 1))
    if (!uv__syms.e[i].addr || uv__syms.e[i].addr == addr)
      return &uv__syms.e[i];
}

static void uv__symbol_add(uint64_t addr, const char *name, size_t nl, const char *module, size_t ml) {
  if (!addr)
    return;
  if ((uv__syms.n + 1) * 2 > uv__syms.cap) { /* grow: rehash into twice the slots */
    struct uv__symbol *old = uv__syms.e;
    size_t oldcap = uv__syms.cap;
    uv__syms.cap = oldcap ? oldcap * 2 : 4096;
    uv__syms.e = calloc(uv__syms.cap, sizeof(*uv__syms.e));
    for (size_t i = 0; i < oldcap; i++)
      if (old[i].addr)
        *uv__symbol_find(old[i].addr) = old[i];
    free(old);
  }
  struct uv__symbol *e = uv__symbol_find(addr);
  if (e->addr)
    return;
  *e = (struct uv__symbol){addr, strndup(name, nl), strndup(module, ml)};
  uv__syms.n++;
}

static const char *uv__offline_name(uint64_t addr) {
  struct uv__symbol *e = uv__symbol_find(addr);
  return e && e->addr ? e->name : NULL;
}

/* A module by the pc: recorded under the pc (innermost frames) or the byte before. */
static const char *uv__offline_module(uint64_t addr) {
  struct uv__symbol *e = uv__symbol_find(addr);
  if (!e || !e->addr)
    e = uv__symbol_find(addr - 1);
  return e && e->addr ? e->module : NULL;
}

/* ---- replay ---- */

struct replay {
  struct session *s;
  struct rec_end end;
  int has_end;
  uint64_t chunks[REC_CHUNK_TYPES], maps_bytes, perfmap_bytes, modules;
  uint32_t ring_tid[UVDB_MAX_RINGS];
  unsigned nrings;
  char argv0[256];
  char *argv[2];
};

/* Each thread's records come with its ring, as live: the fake shm's rings
 * carry the tid and name (their state stays FREE, so nothing drains them). */
static struct uvdb_ring *uv__ring_for(struct replay *rp, uint32_t tid, const char *name) {
  unsigned i = 0;
  while (i < rp->nrings && rp->ring_tid[i] != tid)
    i++;
  if (i == rp->nrings) {
    i = rp->nrings < UVDB_MAX_RINGS ? rp->nrings++ : UVDB_MAX_RINGS - 1; /* more threads: the last one's reused */
    rp->ring_tid[i] = tid;
  }
  struct uvdb_ring *r = uvdb_shm_ring(rp->s->shm, i);
  r->tid = tid;
  memcpy(r->thread_name, name, sizeof(r->thread_name));
  r->thread_name[sizeof(r->thread_name) - 1] = '\0';
  return r;
}

static int uv__bad(struct rec_reader *rd, const struct rec_chunk *c, const char *what) {
  snprintf(rd->error, sizeof(rd->error), "a chunk of type %s is malformed (%s)", rec_chunk_name(c->type), what);
  rd->error_offset = c->offset;
  return -1;
}

static void uv__info(struct replay *rp, const struct rec_chunk *c) {
  struct session *s = rp->s;
  size_t n = c->length < sizeof(s->probe_info) - 1 ? c->length : sizeof(s->probe_info) - 1;
  memcpy(s->probe_info, c->payload, n);
  s->probe_info[n] = '\0';
  char v[256];
  if (probe_info_get(s, "record_pid", v, sizeof(v)))
    s->pid = (pid_t)atoi(v);
  if (probe_info_get(s, "record_argv0", rp->argv0, sizeof(rp->argv0))) {
    rp->argv[0] = rp->argv0;
    s->argv = rp->argv;
    s->argc = 1;
  }
  if (probe_info_get(s, "record_hz", v, sizeof(v)) && atol(v) > 0)
    s->profile.period_ns = 1000000000ull / (uint64_t)atol(v);
}

static int uv__symbols(struct rec_reader *rd, const struct rec_chunk *c) {
  for (size_t at = 0; at < c->length;) {
    uint64_t addr;
    uint16_t nl, ml;
    if (c->length - at < 12)
      return uv__bad(rd, c, "an entry cut short");
    memcpy(&addr, c->payload + at, 8);
    memcpy(&nl, c->payload + at + 8, 2);
    memcpy(&ml, c->payload + at + 10, 2);
    if (c->length - at - 12 < (size_t)nl + ml)
      return uv__bad(rd, c, "a name longer than the chunk");
    uv__symbol_add(addr, (const char *)c->payload + at + 12, nl, (const char *)c->payload + at + 12 + nl, ml);
    at += 12u + nl + ml;
  }
  return 0;
}

static int uv__apply(struct replay *rp, struct rec_reader *rd, const struct rec_chunk *c) {
  struct session *s = rp->s;
  const uint8_t *p = c->payload;
  if (c->type < REC_CHUNK_TYPES)
    rp->chunks[c->type]++;
  switch (c->type) {
  case REC_INFO:
    uv__info(rp, c);
    return 0;
  case REC_CLOCK: {
    uint64_t v[4];
    if (c->length != sizeof(v))
      return uv__bad(rd, c, "not 32 bytes");
    memcpy(v, p, sizeof(v));
    s->shm->clock.tsc0 = v[0], s->shm->clock.ns0 = v[1], s->shm->clock.tsc1 = v[2], s->shm->clock.ns1 = v[3];
    return 0;
  }
  case REC_EVENTS: {
    uint32_t tid, count;
    char thread[16];
    if (c->length < 24)
      return uv__bad(rd, c, "no thread header");
    memcpy(&tid, p, 4);
    memcpy(&count, p + 4, 4);
    memcpy(thread, p + 8, 16);
    if ((uint64_t)count * sizeof(struct uvdb_record) != c->length - 24)
      return uv__bad(rd, c, "its count disagrees with its length");
    /* the payload buffer is malloc's, so its records at +24 are 8-byte aligned */
    feed_events(s, uv__ring_for(rp, tid, thread), (const struct uvdb_record *)(const void *)(p + 24), count);
    return 0;
  }
  case REC_PROFILE_SAMPLE: {
    struct rec_profile_sample h;
    uint64_t pcs[256];
    if (c->length < sizeof(h))
      return uv__bad(rd, c, "no sample header");
    memcpy(&h, p, sizeof(h));
    if (h.npcs > 255 || c->length != sizeof(h) + 8u * h.npcs)
      return uv__bad(rd, c, "its frame count disagrees with its length");
    memcpy(pcs, p + sizeof(h), 8u * h.npcs);
    struct prof_rec meta = {0, 0, h.phase, h.role, h.waiting, h.loop_id};
    feed_profile_sample(s, &meta, h.ts, h.tid, pcs, h.npcs);
    return 0;
  }
  case REC_STACK_SAMPLE: {
    struct rec_stack_sample h;
    struct stack st = {0};
    if (c->length < sizeof(h))
      return uv__bad(rd, c, "no sample header");
    memcpy(&h, p, sizeof(h));
    if (h.npcs > STACK_MAX || c->length != sizeof(h) + 8u * h.npcs)
      return uv__bad(rd, c, "its frame count disagrees with its length");
    st.n = (int)h.npcs;
    memcpy(st.pcs, p + sizeof(h), 8u * h.npcs);
    feed_stack_sample(s, h.loop_id, h.kind, h.episode, &st);
    return 0;
  }
  case REC_SYMBOLS:
    return uv__symbols(rd, c);
  case REC_MAPS:
    rp->maps_bytes += c->length;
    return 0;
  case REC_MODULE:
    rp->modules++;
    return 0;
  case REC_PERFMAP:
    rp->perfmap_bytes += c->length;
    return 0;
  case REC_END:
    if (c->length != sizeof(rp->end))
      return uv__bad(rd, c, "not 48 bytes");
    memcpy(&rp->end, p, sizeof(rp->end));
    rp->has_end = 1;
    s->exit_code = rp->end.exit_code;
    s->term_signal = rp->end.term_signal;
    s->profile.lost = rp->end.profile_lost;
    s->model.dropped = rp->end.dropped;
    s->profile.seconds = (double)rp->end.duration_ns / 1e9;
    return 0;
  default:
    return 0; /* a later version's chunk: skipped, its frame says how far */
  }
}

/* ---- the text summary: the live views, then what only samples tell ---- */

struct uv__count {
  char *name;
  uint64_t n;
};

static int uv__by_count(const void *a, const void *b) {
  const struct uv__count *x = a, *y = b;
  return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->name, y->name);
}

static void uv__count_name(struct uv__count **c, size_t *n, const char *name, uint64_t by) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*c)[i].name, name) == 0) {
      (*c)[i].n += by;
      return;
    }
  *c = realloc(*c, sizeof(**c) * (*n + 1));
  (*c)[(*n)++] = (struct uv__count){strdup(name), by};
}

/* A folded stack for the eye: its root (the phase) and its innermost
 * frames; the JSON and the exports keep it whole. */
#define SHOWN_FRAMES 6
static const char *uv__shortened(char *stack) {
  char *root_end = strchr(stack, ';'), *cut = stack + strlen(stack);
  for (int k = 0; k < SHOWN_FRAMES && cut > stack; k++)
    while (--cut > stack && *cut != ';')
      ;
  if (!root_end || cut - root_end < 4)
    return stack;
  memcpy(root_end, ";\xe2\x80\xa6", 4); /* "[phase];…" then cut, which starts with ';' */
  memmove(root_end + 4, cut, strlen(cut) + 1);
  return stack;
}

static void uv__print_counts(const char *key, const char *title, struct uv__count *c, size_t n, uint64_t total,
                             size_t top, const char *field) {
  qsort(c, n, sizeof(*c), uv__by_count);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, key);
  } else {
    printf("%s\n", title);
  }
  for (size_t i = 0; i < n && i < top; i++) {
    if (j) {
      json_obj(j, NULL);
      json_str(j, field, c[i].name);
      json_uint(j, "samples", c[i].n);
      json_close(j);
    } else {
      printf("%7.2f%% %8llu  %s\n", total ? 100.0 * (double)c[i].n / (double)total : 0, (unsigned long long)c[i].n,
             uv__shortened(c[i].name));
    }
  }
  if (j)
    json_end(j);
  for (size_t i = 0; i < n; i++)
    free(c[i].name);
  free(c);
}

/* The callback each loop sample was in: the frame uv_run's dispatch called. */
static void uv__top_callbacks(struct session *s) {
  const struct profile *p = &s->profile;
  static char fn[128][512];
  struct uv__count *c = NULL;
  size_t n = 0;
  uint64_t in_callbacks = 0;
  struct out_progress pg; /* naming every frame of a long recording's samples takes seconds */
  out_progress_begin(&pg, "symbolizing", "stacks", p->nrecs, 256);
  for (size_t i = 0; i < p->nrecs; i++) {
    out_progress(&pg, i);
    const struct prof_rec *r = &p->recs[i];
    if (r->role != UVDB_ROLE_LOOP || r->waiting)
      continue;
    uint64_t kept[128];
    int depth = stack_frames(NULL, p->pcs + r->off, r->n, kept, fn, 128);
    for (int k = 0; k < depth; k++)
      symbol_strip_params(fn[k]);
    int cb = stack_callback(NULL, kept, fn, depth);
    if (cb < 0)
      continue;
    uv__count_name(&c, &n, fn[cb], 1);
    in_callbacks++;
  }
  out_progress_end(&pg);
  uv__print_counts("report_callbacks", "Top callbacks (loop samples inside a callback):", c, n, in_callbacks, 15,
                   "callback");
}

static void uv__top_stacks(struct session *s) {
  struct profile_folded f;
  profile_fold(s, 1, &f);
  struct uv__count *c = calloc(f.n ? f.n : 1, sizeof(*c));
  for (size_t i = 0; i < f.n; i++)
    c[i] = (struct uv__count){f.line[i], f.count[i]};
  uint64_t total = f.total;
  size_t n = f.n;
  free(f.line); /* the lines now belong to c */
  free(f.count);
  uv__print_counts("report_stacks", "Top stacks (folded, phase first):", c, n, total, 10, "stack");
}

static void uv__summary_head(const struct replay *rp, const char *path) {
  const struct session *s = rp->s;
  char libuv[64] = "?", version[64] = "?";
  probe_info_get(s, "libuv_version", version, sizeof(version));
  probe_info_get(s, "libuv", libuv, sizeof(libuv));
  static const char *const why[] = {"?", "program exited", "interrupted", "duration ran out"};
  const char *ended = rp->has_end && rp->end.ended_by < 4 ? why[rp->end.ended_by] : "no end chunk";
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "report");
    json_str(j, "file", path);
    json_str(j, "program", s->argv ? s->argv[0] : NULL);
    json_int(j, "pid", s->pid);
    json_str(j, "libuv_version", version);
    json_str(j, "ended", ended);
    json_num(j, "seconds", rp->has_end ? (double)rp->end.duration_ns / 1e9 : 0);
    json_uint(j, "events", s->model.events);
    json_uint(j, "dropped", s->model.dropped);
    json_uint(j, "profile_samples", s->profile.nrecs);
    json_uint(j, "stack_samples", rp->chunks[REC_STACK_SAMPLE]);
    json_uint(j, "symbols", uv__syms.n);
    json_uint(j, "modules", rp->modules);
    json_uint(j, "maps_snapshots", rp->chunks[REC_MAPS]);
    json_uint(j, "perfmap_bytes", rp->perfmap_bytes);
    if (rp->has_end && rp->end.term_signal >= 0)
      json_str(j, "signal", sigabbrev_np(rp->end.term_signal));
    else if (rp->has_end && rp->end.exit_code >= 0)
      json_int(j, "exit_code", rp->end.exit_code);
    json_end(j);
    return;
  }
  printf("Recording %s: %s (pid %d), libuv %s; %.2f s, %s\n", path, s->argv ? s->argv[0] : "?", (int)s->pid, version,
         rp->has_end ? (double)rp->end.duration_ns / 1e9 : 0, ended);
  printf("%llu events (%llu dropped), %zu profile samples, %llu blocking stacks, %zu names, %llu modules, "
         "%llu maps snapshots, %llu bytes of V8 perf map\n\n",
         (unsigned long long)s->model.events, (unsigned long long)s->model.dropped, s->profile.nrecs,
         (unsigned long long)rp->chunks[REC_STACK_SAMPLE], uv__syms.n, (unsigned long long)rp->modules,
         (unsigned long long)rp->chunks[REC_MAPS], (unsigned long long)rp->perfmap_bytes);
}

static void uv__view(struct session *s, const char *command) {
  if (!uvdb_json_mode)
    printf("\n(%s)\n", command);
  uvdb_execute(s, command);
}

static void uv__text(struct replay *rp, const char *path) {
  struct session *s = rp->s;
  uv__summary_head(rp, path);
  uv__view(s, "info loops");
  for (int i = 0; i < 64; i++)
    if (s->model.loops[i].seen) {
      char cmd[32];
      snprintf(cmd, sizeof(cmd), "info loop %d", s->model.loops[i].id);
      uv__view(s, cmd);
    }
  if (s->model.pool.started || s->model.pool.submitted)
    uv__view(s, "info threadpool");
  if (model_main_loop(&s->model))
    uv__view(s, "info blocking");
  if (s->profile.nrecs) {
    uv__view(s, "profile report --top 15");
    if (!uvdb_json_mode)
      putchar('\n');
    uv__top_callbacks(s);
    if (!uvdb_json_mode)
      putchar('\n');
    uv__top_stacks(s);
  }
}

static int uv__report_usage(void) {
  fprintf(stderr, "usage: uvdb report FILE [--format text|chrome|folded|svg|speedscope|pprof] [-o OUT] "
                  "[--phase-roots] [--json]\n");
  return 2;
}

int cmd_report_main(int argc, char **argv) {
  const char *path = NULL, *format = "text", *out = NULL;
  int phase_roots = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
      format = argv[++i];
    else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (strcmp(argv[i], "--phase-roots") == 0)
      phase_roots = 1;
    else if (strcmp(argv[i], "--json") == 0)
      uvdb_json_mode = 1;
    else if (argv[i][0] != '-' && !path)
      path = argv[i];
    else
      return uv__report_usage();
  }
  static const char *const formats[] = {"text", "chrome", "folded", "svg", "speedscope", "pprof"};
  size_t f = 0;
  while (f < 6 && strcmp(formats[f], format) != 0)
    f++;
  if (!path || f == 6) {
    if (f == 6)
      fprintf(stderr, "uvdb report: no format \"%s\": text, chrome, folded, svg, speedscope or pprof\n", format);
    return uv__report_usage();
  }
  if (f > 0 && !out) {
    fprintf(stderr, "uvdb report: --format %s writes a file: give it with -o OUT\n", format);
    return 2;
  }
  if (f == 0 && out && !freopen(out, "w", stdout)) {
    fprintf(stderr, "uvdb report: cannot write %s: %s\n", out, strerror(errno));
    return 1;
  }
  struct rec_reader rd;
  if (rec_open(&rd, path) != 0) {
    fprintf(stderr, "uvdb report: %s: %s (byte offset %llu)\n", path, rd.error,
            (unsigned long long)rd.error_offset);
    rec_close_reader(&rd);
    return 1;
  }
  /* A mapping the size of the probe's memory, never touched beyond its
   * header and a few rings: the views read it as they read a live one. */
  struct session *s = &uvdb_session;
  void *shm = mmap(NULL, UVDB_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (shm == MAP_FAILED) {
    fprintf(stderr, "uvdb report: out of memory\n");
    return 1;
  }
  s->shm = shm;
  s->shm->magic = UVDB_SHM_MAGIC;
  s->state = TARGET_EXITED;
  /* s->batch stays 0: nobody is prompted here, but a person at a terminal
   * gets progress and colour (out.c), as --json and a pipe do not. */
  model_reset(&s->model);
  symbolizer_set_offline(uv__offline_name, uv__offline_module);
  struct replay rp = {.s = s};
  struct rec_chunk c;
  int r;
  struct stat st;
  uint64_t size = fstat(fileno(rd.f), &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
  struct out_progress pg; /* by the byte: a chunk holds one sample, or thousands of events */
  out_progress_begin(&pg, "reading recording", NULL, size, 1);
  for (uint64_t nchunks = 0; (r = rec_next(&rd, &c)) == 1;) {
    if (++nchunks % 64 == 0) /* the clock is read every 64 chunks at most */
      out_progress(&pg, rd.offset);
    if (uv__apply(&rp, &rd, &c) != 0) {
      r = -1;
      break;
    }
  }
  out_progress_end(&pg);
  int status = 0;
  if (f == 0) {
    uv__text(&rp, path);
  } else if (f == 1) {
    if (timeline_export_chrome(s, out) != 0)
      status = 1;
  } else {
    uint64_t samples;
    size_t stacks;
    if (profile_export_file(s, out, format, phase_roots, &samples, &stacks) != 0)
      status = 1;
  }
  fflush(stdout);
  if (r < 0) {
    fprintf(stderr, "uvdb report: %s: stopped at byte offset %llu: %s; reported what came before it\n", path,
            (unsigned long long)rd.error_offset, rd.error);
    status = 1;
  }
  rec_close_reader(&rd);
  return status;
}
