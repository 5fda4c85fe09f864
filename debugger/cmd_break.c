/* Breakpoints: break, tbreak, delete, enable, disable, ignore, condition,
 * info breakpoints, and the decision, at each stop of the probe, whether a
 * hit stops (the probe stops at every armed phase; conditions, hit and ignore
 * counts are kept here, and a hit that should not stop is resumed at once). */
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int uv__phase_arg(const char *name) {
  int phase = phase_by_name(name);
  if (phase < 0) {
    char list[128] = "";
    for (int p = 0; p < UVDB_PHASE_COUNT; p++)
      snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", p ? ", " : "", phase_name(p));
    uvdb_error("no phase \"%s\": the phases are %s", name, list);
  }
  return phase;
}

static struct breakpoint *uv__find(struct session *s, const char *arg) {
  char *end;
  long id = strtol(arg, &end, 10);
  if (*end || id <= 0) {
    uvdb_error("\"%s\" is not a breakpoint number", arg);
    return NULL;
  }
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
    if (s->bp[i].id == id)
      return &s->bp[i];
  uvdb_error("no breakpoint %ld (see `info breakpoints`)", id);
  return NULL;
}

/* The masks the probe needs: [0] phases armed on every loop, [N] on loop N. */
static void uv__masks(const struct session *s, uint32_t mask[UVDB_BP_SLOTS]) {
  memset(mask, 0, sizeof(uint32_t) * UVDB_BP_SLOTS);
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    const struct breakpoint *b = &s->bp[i];
    if (b->id && b->enabled && b->type == BP_PHASE && b->loop < UVDB_BP_SLOTS)
      mask[b->loop] |= 1u << b->phase;
    else if (b->id && b->enabled && b->type == BP_MICROTASKS && b->loop < UVDB_BP_SLOTS)
      mask[b->loop] |= UVDB_BP_MICROTASKS;
  }
}

struct uv__resolve {
  struct session *s;
  struct breakpoint *b;
  int full;
};

static int uv__add_location(void *arg, const char *name, uint64_t addr, uint64_t size) {
  (void)name;
  struct uv__resolve *r = arg;
  if (r->b->nlocations < UVDB_BP_MAX_LOCATIONS && fprobe_slot(r->s, addr, size) >= 0)
    r->b->location[r->b->nlocations++] = addr;
  else
    r->full++;
  return 0;
}

/* The functions of the running image a callback breakpoint names, each
 * given a probe slot.  Matches, or -1 (error said). */
static int uv__resolve(struct session *s, struct breakpoint *b) {
  b->nlocations = 0;
  struct symbolizer *sym = session_symbolizer(s);
  if (!sym)
    return uvdb_error("cannot read the symbols of process %d", (int)s->pid);
  struct uv__resolve r = {s, b, 0};
  int n = symbolizer_find(sym, b->pattern, uv__add_location, &r);
  if (r.full)
    uvdb_message("warning", "\"%s\" matches %d functions; %d of them are probed (a breakpoint holds %d, and "
                 "the probe %u in all): narrow the pattern to choose",
                 b->pattern, n, b->nlocations, UVDB_BP_MAX_LOCATIONS, UVDB_FPROBE_SLOTS);
  return n;
}

/* At each image's hello: callback breakpoints find their functions in it
 * and the probe installs them before the program runs. */
static void uv__resolve_pending(struct session *s) {
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    struct breakpoint *b = &s->bp[i];
    if (b->id && b->type == BP_CALLBACK && uv__resolve(s, b) == 0)
      uvdb_message("warning", "breakpoint %d: no function matches \"%s\" in process %d", b->id, b->pattern,
                   (int)s->pid);
  }
  fprobes_arm(s, NULL);
}

/* The queue depths the probe stops at: those of the enabled
 * `break threadpool queue N` (conditions and counts are uvdb's). */
static int uv__pool_depths(const struct session *s, uint32_t depths[UVDB_POOL_BREAKS]) {
  int n = 0;
  memset(depths, 0, sizeof(uint32_t) * UVDB_POOL_BREAKS);
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    const struct breakpoint *b = &s->bp[i];
    int known = 0;
    for (int k = 0; k < n; k++)
      known |= depths[k] == b->depth;
    if (b->id && b->enabled && b->type == BP_POOL_QUEUE && !known && n < UVDB_POOL_BREAKS)
      depths[n++] = b->depth;
  }
  return n;
}

size_t breakpoints_welcome(struct session *s, char *buf, size_t cap) {
  uv__resolve_pending(s);
  uint32_t mask[UVDB_BP_SLOTS];
  uv__masks(s, mask);
  size_t off = 0;
  for (int i = 0; i < UVDB_BP_SLOTS && off < cap; i++)
    if (mask[i])
      off += (size_t)snprintf(buf + off, cap - off, "bp%d=0x%x\n", i, mask[i]);
  if (off < cap && fprobes_requested(s))
    off += (size_t)snprintf(buf + off, cap - off, "fprobes=1\n");
  uint32_t depths[UVDB_POOL_BREAKS];
  int nd = uv__pool_depths(s, depths);
  for (int i = 0; i < nd && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, "%s%u%s", i ? "," : "pool_break=", depths[i],
                            i == nd - 1 ? "\n" : "");
  return off < cap ? off : cap;
}

void breakpoints_push(struct session *s) {
  if (!s->probe_connected)
    return;
  struct uvdb_msg_breakpoints m;
  uv__masks(s, m.mask);
  session_send(s, UVDB_MSG_BREAKPOINTS, &m, sizeof(m));
  uint32_t depths[UVDB_POOL_BREAKS];
  uv__pool_depths(s, depths);
  session_send(s, UVDB_MSG_POOL_BREAK, depths, sizeof(depths));
  settings_push(s); /* break blocked: the watchdog's stop */
  fprobes_arm(s, NULL);
}

/* Does breakpoint b name where the loop stopped? */
static int uv__here(const struct breakpoint *b, const struct stop_info *st) {
  if (b->loop && b->loop != st->loop_id)
    return 0;
  if (b->type == BP_MICROTASKS)
    return st->microtasks;
  if (st->microtasks)
    return 0; /* its callback is where the checkpoint runs, not one entered */
  if (b->type == BP_PHASE)
    return !st->callback && st->reason != UVDB_STOP_POOL_QUEUE && b->phase == st->phase;
  if (b->type == BP_POOL_QUEUE)
    return st->reason == UVDB_STOP_POOL_QUEUE && st->pool_depth == b->depth;
  if (b->type == BP_BLOCKED)
    return st->reason == UVDB_STOP_BLOCKED && st->blocked_ms >= b->depth;
  if (!st->callback || st->reason == UVDB_STOP_FINISH)
    return 0;
  for (int k = 0; k < b->nlocations; k++)
    if (b->location[k] == st->callback)
      return 1;
  return 0;
}

/* A microtask checkpoint's stop: the callback it runs inside of, from the
 * parked stack (the frame uv_run's dispatch called, as `backtrace` finds
 * it), kept as that function's start so that it names as a callback does. */
static void uv__checkpoint_callback(struct session *s, struct stop_info *st) {
  struct symbolizer *sym = session_symbolizer(s);
  if (!sym || !s->shm || st->loop_id < 1 || st->callback)
    return;
  static uint64_t pcs[128], kept[128];
  static char fn[128][512];
  const struct uvdb_stop_stack *regs = uvdb_shm_stack(s->shm, (unsigned)st->loop_id);
  int depth = symbolizer_unwind(sym, (pid_t)s->model.loops[st->loop_id - 1].tid, regs, pcs, 128);
  int n = depth > 0 ? stack_frames(sym, pcs, depth, kept, fn, 128) : 0;
  int k = n > 0 ? stack_callback(sym, kept, fn, n) : -1;
  if (k < 0)
    return;
  char name[512];
  uint64_t pc = symbolizer_frame_addr(sym, kept[k], k == 0);
  const char *plus = strrchr(symbolize(sym, pc, name, sizeof(name)), '+');
  uint64_t off = plus && strncmp(plus, "+0x", 3) == 0 ? strtoull(plus + 3, NULL, 16) : 0;
  st->callback = pc - off;
}

int breakpoints_should_stop(struct session *s) {
  struct stop_info *st = &s->model.stop;
  if (st->microtasks)
    uv__checkpoint_callback(s, st);
  const struct loop_model *l = st->loop_id > 0 ? &s->model.loops[st->loop_id - 1] : NULL;
  st->bp_id = 0;
  int stop = 0;
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    struct breakpoint *b = &s->bp[i];
    if (!b->id || !b->enabled || !uv__here(b, st))
      continue;
    double last = l && s->shm && st->phase >= 0 ? ticks_to_ns(s->shm, l->phase[st->phase].last) : 0;
    double vars[COND_VAR_COUNT] = {
        [COND_ITERATION] = (double)st->iteration, [COND_HITS] = (double)b->hits,
        [COND_DURATION_US] = last / 1e3,           [COND_DURATION_MS] = last / 1e6,
        [COND_LOOP] = st->loop_id,
    };
    if (!cond_true(&b->cond, vars))
      continue;
    b->hits++;
    if (b->ignore) {
      b->ignore--;
      continue;
    }
    if (!stop)
      st->bp_id = b->id;
    stop = 1;
  }
  return stop;
}

uvdb_line_reader uvdb_reader;
void *uvdb_reader_ctx;
int uvdb_reader_is_tty;

void breakpoint_clear(struct breakpoint *b) {
  for (int i = 0; i < b->ncommands; i++)
    free(b->commands[i]);
  free(b->commands);
  memset(b, 0, sizeof(*b));
}

static struct breakpoint *uv__stopped_at(struct session *s) {
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
    if (s->state == TARGET_STOPPED && s->bp[i].id && s->bp[i].id == s->model.stop.bp_id)
      return &s->bp[i];
  return NULL;
}

int breakpoints_silent(const struct session *s) {
  const struct breakpoint *b = uv__stopped_at((struct session *)s);
  return b && b->ncommands > 0 && strcmp(b->commands[0], "silent") == 0;
}

/* After a stop is reported: run the breakpoint's commands, then delete it if
 * temporary.  A command that resumes the program (continue, next) ends the
 * list; the stop it comes to is handled by this loop, not by recursion, so a
 * breakpoint with `continue` can be hit any number of times. */
void breakpoints_after_stop(struct session *s) {
  static int running;
  if (running)
    return;
  running = 1;
  struct breakpoint *b;
  while ((b = uv__stopped_at(s)) != NULL) {
    int n = b->ncommands;
    char **lines = n ? malloc(sizeof(char *) * (size_t)n) : NULL;
    for (int i = 0; i < n; i++)
      lines[i] = strdup(b->commands[i]);
    if (b->temporary) {
      breakpoint_clear(b);
      breakpoints_push(s);
    }
    uint64_t generation = s->stop_generation;
    int silent = n > 0 && strcmp(lines[0], "silent") == 0; /* it only kept the stop from being reported */
    if (n > silent && !uvdb_quit_requested)
      script_run_commands(s, lines + silent, n - silent);
    for (int i = 0; i < n; i++)
      free(lines[i]);
    free(lines);
    if (s->stop_generation == generation || uvdb_quit_requested)
      break; /* the list left the program stopped */
  }
  running = 0;
}

/* commands [N]: the lines up to `end` run whenever breakpoint N (the last
 * one set, by default) stops. */
int cmd_commands(struct session *s, int argc, char **argv) {
  struct breakpoint *b = NULL;
  if (argc > 1) {
    b = uv__find(s, argv[1]);
  } else {
    for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
      if (s->bp[i].id && (!b || s->bp[i].id > b->id))
        b = &s->bp[i];
    if (!b)
      uvdb_error("no breakpoint to attach commands to; set one with `break`");
  }
  /* The body is read even after an error, so that it is not run as commands;
   * blocks in it (if, while) nest. */
  if (!uvdb_json_mode && uvdb_reader_is_tty)
    printf("Type commands for breakpoint %d, one per line; end with \"end\".\n", b ? b->id : 0);
  struct script_body body;
  if (script_read_body("commands", 0, &body) < 0)
    return -1;
  if (!b) {
    script_body_free(&body);
    return -1;
  }
  char **lines = body.lines;
  int n = body.n;
  for (int i = 0; i < b->ncommands; i++)
    free(b->commands[i]);
  free(b->commands);
  b->commands = lines;
  b->ncommands = n;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "commands");
    json_int(j, "id", b->id);
    json_arr(j, "lines");
    for (int i = 0; i < n; i++)
      json_str(j, NULL, lines[i]);
    json_end(j);
  }
  return 0;
}

/* A breakpoint's fields, as `break` and `info breakpoints` give them. */
static void uv__json_locations(struct json *j, struct session *s, const struct breakpoint *b) {
  json_arr(j, "locations");
  struct symbolizer *sym = session_symbolizer(s);
  for (int k = 0; k < b->nlocations; k++) {
    const struct uvdb_fprobe_slot *f = fprobe_find(s, b->location[k]);
    uint32_t state = f ? atomic_load(&((struct uvdb_fprobe_slot *)f)->state) : UVDB_FPROBE_FREE;
    static const char *const states[] = {"none", "pending", "installed", "refused"};
    char addr[32], name[512];
    snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)b->location[k]);
    json_obj(j, NULL);
    json_str(j, "address", addr);
    json_str(j, "function", symbolize(sym, b->location[k], name, sizeof(name)));
    json_str(j, "state", states[state < 4 ? state : 0]);
    json_str(j, "reason", state == UVDB_FPROBE_REFUSED ? f->reason : NULL);
    json_close(j);
  }
  json_close(j);
}

static const char *uv__type_name(const struct breakpoint *b) {
  return b->type == BP_PHASE        ? "phase"
         : b->type == BP_POOL_QUEUE ? "threadpool_queue"
         : b->type == BP_BLOCKED    ? "blocked"
         : b->type == BP_MICROTASKS ? "microtasks"
                                    : "callback";
}

static void uv__json_fields(struct json *j, struct session *s, const struct breakpoint *b) {
  json_int(j, "id", b->id);
  json_str(j, "type", uv__type_name(b));
  if (b->type == BP_PHASE) {
    json_str(j, "phase", phase_name(b->phase));
  } else if (b->type == BP_POOL_QUEUE) {
    json_uint(j, "depth", b->depth);
  } else if (b->type == BP_BLOCKED) {
    json_uint(j, "ms", b->depth);
  } else if (b->type == BP_MICROTASKS) {
  } else {
    json_str(j, "pattern", b->pattern);
    json_bool(j, "pending", s->state != TARGET_RUNNING && s->state != TARGET_STOPPED);
    uv__json_locations(j, s, b);
  }
  if (b->loop)
    json_int(j, "loop", b->loop);
  else
    json_null(j, "loop");
  json_bool(j, "temporary", b->temporary);
  json_bool(j, "enabled", b->enabled);
  json_uint(j, "hits", b->hits);
  json_uint(j, "ignore", b->ignore);
  json_str(j, "condition", b->cond.n ? b->cond.text : NULL);
}

/* "phase timers", "callback on_timer", "threadpool queue 6": a breakpoint
 * as the tables show it. */
static const char *uv__what(const struct breakpoint *b, char *buf, size_t cap) {
  if (b->type == BP_PHASE)
    snprintf(buf, cap, "phase %s", phase_name(b->phase));
  else if (b->type == BP_POOL_QUEUE)
    snprintf(buf, cap, "threadpool queue %u", b->depth);
  else if (b->type == BP_BLOCKED)
    snprintf(buf, cap, "blocked %u ms", b->depth);
  else if (b->type == BP_MICROTASKS)
    snprintf(buf, cap, "microtasks");
  else
    snprintf(buf, cap, "callback %s", b->pattern);
  return buf;
}

/* Each function of a callback breakpoint, and whether the probe took it. */
static void uv__print_locations(struct session *s, const struct breakpoint *b, const char *indent) {
  struct symbolizer *sym = session_symbolizer(s);
  for (int k = 0; k < b->nlocations; k++) {
    const struct uvdb_fprobe_slot *f = fprobe_find(s, b->location[k]);
    uint32_t state = f ? atomic_load(&((struct uvdb_fprobe_slot *)f)->state) : UVDB_FPROBE_FREE;
    char name[512];
    printf("%s0x%llx in %s%s%s\n", indent, (unsigned long long)b->location[k],
           symbolize(sym, b->location[k], name, sizeof(name)),
           state == UVDB_FPROBE_REFUSED ? ": not probed, " : state == UVDB_FPROBE_REQUESTED ? " (pending)" : "",
           state == UVDB_FPROBE_REFUSED ? f->reason : "");
  }
}

static void uv__describe(struct session *s, const struct breakpoint *b, const char *key) {
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, key);
    uv__json_fields(j, s, b);
    json_end(j);
    return;
  }
  char where[32] = "any loop", what[300];
  if (b->loop)
    snprintf(where, sizeof(where), "loop %d", b->loop);
  printf("%s %d: %s (%s)%s%s", b->temporary ? "Temporary breakpoint" : "Breakpoint", b->id,
         uv__what(b, what, sizeof(what)), where, b->cond.n ? " if " : "", b->cond.n ? b->cond.text : "");
  if (b->type == BP_CALLBACK && s->state != TARGET_RUNNING && s->state != TARGET_STOPPED)
    printf(" (pending until the program runs)");
  printf("\n");
  if (b->type == BP_CALLBACK && !uvdb_json_mode)
    uv__print_locations(s, b, "  ");
}

/* The program's file, through PATH as exec would find it. */
static int uv__program_path(const struct session *s, char *out, size_t cap) {
  if (!s->argv || !s->argv[0])
    return -1;
  if (strchr(s->argv[0], '/')) {
    snprintf(out, cap, "%s", s->argv[0]);
    return access(out, R_OK) == 0 ? 0 : -1;
  }
  const char *path = getenv("PATH");
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    snprintf(out, cap, "%.*s/%s", (int)len, p, s->argv[0]);
    if (access(out, X_OK) == 0)
      return 0;
    p += len + (colon ? 1 : 0);
  }
  return -1;
}

/* break callback GLOB: in a running image, the functions it names now; before
 * `run`, checked against the program's own file and resolved at its start. */
static int uv__check_callback(struct session *s, struct breakpoint *b) {
  char hint[512];
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED) {
    if (!s->shm)
      return uvdb_error("the probe is not in this process (no libuv): no callback can be stopped");
    int n = uv__resolve(s, b);
    if (n < 0)
      return -1;
    if (n == 0) {
      int k = symbolizer_suggest(session_symbolizer(s), b->pattern, hint, sizeof(hint));
      return uvdb_error("no function matches \"%s\" in process %d%s%s", b->pattern, (int)s->pid,
                        k ? "; close names: " : "", k ? hint : "");
    }
    return 0;
  }
  char path[4096];
  struct symbolizer *file = uv__program_path(s, path, sizeof(path)) == 0 ? symbolizer_open_file(path) : NULL;
  if (!file)
    return 0; /* nothing to check against: resolved when the program starts */
  int n = symbolizer_find(file, b->pattern, NULL, NULL);
  int k = n == 0 ? symbolizer_suggest(file, b->pattern, hint, sizeof(hint)) : 0;
  symbolizer_close(file);
  if (n == 0)
    return uvdb_error("no function matches \"%s\" in %s%s%s (a function of a shared library: set the "
                      "breakpoint after `start`)",
                      b->pattern, path, k ? "; close names: " : "", k ? hint : "");
  return 0;
}

/* break phase NAME | callback GLOB | threadpool queue N [loop N|any] [if COND] */
static int uv__set(struct session *s, int argc, char **argv, int temporary) {
  const char *usage = "usage: break phase NAME | callback FUNCTION-GLOB | threadpool queue DEPTH | blocked MS "
                      "| microtasks [loop N|any] [if CONDITION]";
  if (argc >= 2 && strcmp(argv[1], "phase") != 0 && strcmp(argv[1], "callback") != 0 &&
      strcmp(argv[1], "threadpool") != 0 && strcmp(argv[1], "blocked") != 0 && strcmp(argv[1], "microtasks") != 0)
    return uvdb_error("cannot break on \"%s\": break on a `phase NAME`, a `callback FUNCTION`, "
                      "`threadpool queue DEPTH`, `blocked MS` or `microtasks`",
                      argv[1]);
  int microtasks = argc >= 2 && strcmp(argv[1], "microtasks") == 0;
  if (argc < 3 && !microtasks)
    return uvdb_error("%s", usage);
  /* The main loop unless told: Node runs loops of its own on other threads. */
  struct breakpoint b = {.enabled = 1, .temporary = temporary, .loop = 1};
  int i = 3;
  if (microtasks) {
    b.type = BP_MICROTASKS; /* a checkpoint with microtasks queued, on a loop's thread (node) */
    i = 2;
  } else if (strcmp(argv[1], "phase") == 0) {
    if ((b.phase = uv__phase_arg(argv[2])) < 0)
      return -1;
  } else if (strcmp(argv[1], "blocked") == 0) {
    char *end = NULL;
    long ms = strtol(argv[2], &end, 10);
    if (*end || ms < 1 || ms > 60000)
      return uvdb_error("usage: break blocked MS (1 to 60000: stop at the end of a callback that blocked the "
                        "loop that long), not \"%s\"",
                        argv[2]);
    b.type = BP_BLOCKED;
    b.depth = (unsigned)ms;
  } else if (strcmp(argv[1], "threadpool") == 0) {
    char *end = NULL;
    long depth = argc > 3 ? strtol(argv[3], &end, 10) : 0;
    if (strcmp(argv[2], "queue") != 0 || argc < 4 || *end || depth < 1 || depth > 65535)
      return uvdb_error("usage: break threadpool queue DEPTH (1 to 65535: stop when that many jobs wait)");
    b.type = BP_POOL_QUEUE;
    b.depth = (unsigned)depth;
    uint32_t depths[UVDB_POOL_BREAKS];
    int known = 0, nd = uv__pool_depths(s, depths);
    for (int k = 0; k < nd; k++)
      known |= depths[k] == b.depth;
    if (!known && nd == UVDB_POOL_BREAKS)
      return uvdb_error("the probe watches at most %d queue depths at once; delete or disable one",
                        UVDB_POOL_BREAKS);
    b.loop = 0; /* the pool serves every loop */
    i = 4;
  } else {
    b.type = BP_CALLBACK;
    if (strlen(argv[2]) >= sizeof(b.pattern))
      return uvdb_error("function name too long");
    snprintf(b.pattern, sizeof(b.pattern), "%s", argv[2]);
  }
  if (i < argc && strcmp(argv[i], "loop") == 0) {
    char *end = NULL;
    long loop = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
    if (i + 1 < argc && strcmp(argv[i + 1], "any") == 0)
      loop = 0;
    else if (i + 1 >= argc || *end || loop < 1 || loop >= UVDB_BP_SLOTS)
      return uvdb_error("loop needs `any` or a loop number from 1 to %d (see `info loops`)", UVDB_BP_SLOTS - 1);
    b.loop = (int)loop;
    i += 2;
  }
  if (i < argc && strcmp(argv[i], "if") == 0) {
    char text[256] = "", err[128];
    for (int k = i + 1; k < argc; k++)
      snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", k > i + 1 ? " " : "", argv[k]);
    if (!text[0])
      return uvdb_error("`if` needs a condition, as in: if iteration > 10");
    if (cond_parse(text, &b.cond, err, sizeof(err)) != 0)
      return uvdb_error("bad condition: %s", err);
    i = argc;
  }
  if (i < argc)
    return uvdb_error("unexpected \"%s\"; %s", argv[i], usage);
  int k = 0;
  while (k < UVDB_MAX_BREAKPOINTS && s->bp[k].id)
    k++;
  if (k == UVDB_MAX_BREAKPOINTS)
    return uvdb_error("too many breakpoints (%d); delete some", UVDB_MAX_BREAKPOINTS);
  if (b.type == BP_CALLBACK && uv__check_callback(s, &b) != 0)
    return -1;
  if (b.type == BP_CALLBACK && fprobes_install(s) != 0)
    return -1;
  b.id = ++s->last_bp_id;
  s->bp[k] = b;
  breakpoints_push(s);
  uv__describe(s, &s->bp[k], "break");
  return 0;
}

int cmd_break(struct session *s, int argc, char **argv) {
  return uv__set(s, argc, argv, 0);
}

int cmd_tbreak(struct session *s, int argc, char **argv) {
  return uv__set(s, argc, argv, 1);
}

/* delete [N...]: no number deletes them all, as in gdb. */
int cmd_delete(struct session *s, int argc, char **argv) {
  if (argc < 2) {
    for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++)
      if (s->bp[i].id)
        breakpoint_clear(&s->bp[i]);
  } else {
    for (int i = 1; i < argc; i++) {
      struct breakpoint *b = uv__find(s, argv[i]);
      if (!b)
        return -1;
      breakpoint_clear(b);
    }
  }
  breakpoints_push(s);
  return 0;
}

static int uv__enable(struct session *s, int argc, char **argv, int on) {
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS && argc < 2; i++)
    if (s->bp[i].id)
      s->bp[i].enabled = on;
  for (int i = 1; i < argc; i++) {
    struct breakpoint *b = uv__find(s, argv[i]);
    if (!b)
      return -1;
    b->enabled = on;
  }
  breakpoints_push(s);
  return 0;
}

int cmd_enable(struct session *s, int argc, char **argv) {
  return uv__enable(s, argc, argv, 1);
}

int cmd_disable(struct session *s, int argc, char **argv) {
  return uv__enable(s, argc, argv, 0);
}

/* ignore N COUNT: the next COUNT hits do not stop. */
int cmd_ignore(struct session *s, int argc, char **argv) {
  if (argc != 3)
    return uvdb_error("usage: ignore N COUNT");
  struct breakpoint *b = uv__find(s, argv[1]);
  if (!b)
    return -1;
  char *end;
  long count = strtol(argv[2], &end, 10);
  if (*end || count < 0)
    return uvdb_error("\"%s\" is not a count", argv[2]);
  b->ignore = (uint64_t)count;
  uv__describe(s, b, "ignore");
  return 0;
}

/* condition N [COND]: set or (with none) remove a breakpoint's condition. */
int cmd_condition(struct session *s, int argc, char **argv) {
  if (argc < 2)
    return uvdb_error("usage: condition N [CONDITION]");
  struct breakpoint *b = uv__find(s, argv[1]);
  if (!b)
    return -1;
  char text[256] = "", err[128];
  for (int k = 2; k < argc; k++)
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", k > 2 ? " " : "", argv[k]);
  struct cond c = {0};
  if (text[0] && cond_parse(text, &c, err, sizeof(err)) != 0)
    return uvdb_error("bad condition: %s", err);
  b->cond = c;
  uv__describe(s, b, "condition");
  return 0;
}

int cmd_info_breakpoints(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, "info_breakpoints");
  }
  int n = 0;
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    const struct breakpoint *b = &s->bp[i];
    if (!b->id)
      continue;
    if (!j && !n++)
      printf("%-4s %-10s %-5s %-4s %-28s %s\n", "num", "type", "disp", "enb", "what", "hits");
    if (j) {
      json_obj(j, NULL);
      uv__json_fields(j, s, b);
      json_arr(j, "commands");
      for (int k = 0; k < b->ncommands; k++)
        json_str(j, NULL, b->commands[k]);
      json_close(j);
      json_close(j);
    } else {
      char what[300], where[24] = "";
      if (b->loop)
        snprintf(where, sizeof(where), " loop %d", b->loop);
      uv__what(b, what, sizeof(what) - sizeof(where));
      strcat(what, where);
      printf("%-4d %-10s %-5s %-4s %-28s %llu\n", b->id, b->type == BP_POOL_QUEUE ? "threadpool" : uv__type_name(b),
             b->temporary ? "del" : "keep", b->enabled ? "y" : "n", what, (unsigned long long)b->hits);
      if (b->type == BP_CALLBACK)
        uv__print_locations(s, b, "        ");
      if (b->cond.n)
        printf("        stop only if %s\n", b->cond.text);
      if (b->ignore)
        printf("        will ignore the next %llu hits\n", (unsigned long long)b->ignore);
      for (int k = 0; k < b->ncommands; k++)
        printf("        %s\n", b->commands[k]);
    }
  }
  if (j)
    json_end(j);
  else if (!n)
    printf("No breakpoints.\n");
  return 0;
}
