/* The child-process model: spawns, exits and signals folded into the
 * children kept and the signals counted, and printed as they come with
 * `trace on processes`. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <string.h>

const struct process_child *process_child_at(const struct process_model *p, unsigned i) {
  return i < p->n ? &p->child[(p->at + i) % PROCESS_CHILDREN] : NULL;
}

/* Newest first: a pid comes back once its child is gone. */
static struct process_child *uv__find(struct process_model *p, int32_t pid, uint64_t spawned) {
  for (unsigned i = p->n; i-- > 0;) {
    struct process_child *c = &p->child[(p->at + i) % PROCESS_CHILDREN];
    if (c->pid == pid && c->spawned == spawned)
      return c;
  }
  return NULL;
}

const struct process_child *process_child_find(const struct process_model *p, int32_t pid, uint64_t spawned) {
  return uv__find((struct process_model *)p, pid, spawned);
}

/* A new child, in the oldest one's place once PROCESS_CHILDREN are kept. */
static struct process_child *uv__add(struct process_model *p, int32_t pid, uint16_t loop_id, uint64_t spawned) {
  unsigned slot = (p->at + p->n) % PROCESS_CHILDREN;
  if (p->n == PROCESS_CHILDREN)
    p->at = (p->at + 1) % PROCESS_CHILDREN;
  else
    p->n++;
  for (unsigned l = 0; l < 65; l++) /* text still due for the child dropped goes nowhere */
    if (p->text_for[l] == slot + 1)
      p->text_for[l] = 0;
  struct process_child *c = &p->child[slot];
  memset(c, 0, sizeof(*c));
  c->pid = pid;
  c->loop_id = loop_id;
  c->spawned = spawned;
  return c;
}

const char *process_file(const struct process_child *c) {
  return c->text_len ? c->text : "";
}

const char *process_command(const struct process_child *c, char *buf, size_t cap) {
  size_t len = c->text_len < PROCESS_TEXT ? c->text_len : PROCESS_TEXT;
  size_t file = strnlen(c->text, len);
  size_t out = 0;
  for (size_t i = file + 1; i < len && out + 1 < cap; i++) /* the arguments, NULs as blanks */
    buf[out++] = c->text[i] ? c->text[i] : ' ';
  while (out > 0 && buf[out - 1] == ' ')
    out--;
  if (out == 0) /* no arguments: the file */
    snprintf(buf, cap, "%.*s", (int)file, c->text);
  else
    buf[out] = '\0';
  return buf;
}

const char *process_signal_name(int signum, char *buf, size_t cap) {
  const char *abbrev = signum > 0 && signum < SIGRTMIN ? sigabbrev_np(signum) : NULL;
  if (abbrev)
    snprintf(buf, cap, "SIG%s", abbrev);
  else if (signum >= SIGRTMIN && signum <= SIGRTMAX)
    snprintf(buf, cap, "SIGRTMIN+%d", signum - SIGRTMIN);
  else
    snprintf(buf, cap, "signal %d", signum);
  return buf;
}

const char *process_error_name(int result, char *buf, size_t cap) {
  const char *name = result < 0 ? strerrorname_np(-result) : NULL; /* libuv's errors are -errno */
  if (name)
    snprintf(buf, cap, "%s", name);
  else
    snprintf(buf, cap, "error %d", result);
  return buf;
}

/* ---- trace on processes ---- */

void process_args_json(struct json *j, const struct process_child *c) {
  size_t len = c->text_len < PROCESS_TEXT ? c->text_len : PROCESS_TEXT;
  json_arr(j, "args");
  for (size_t i = strnlen(c->text, len) + 1; i < len; i += strnlen(c->text + i, len - i) + 1) {
    char arg[PROCESS_TEXT + 1];
    snprintf(arg, sizeof(arg), "%.*s", (int)strnlen(c->text + i, len - i), c->text + i);
    json_str(j, NULL, arg);
  }
  json_close(j);
}

static void uv__trace_spawn(const struct process_child *c, const struct uvdb_shm_header *shm) {
  char cmd[PROCESS_TEXT + 1], err[32];
  process_command(c, cmd, sizeof(cmd));
  if (!uvdb_json_mode) {
    if (c->result)
      printf("[loop %u] spawn %s failed: %s\n", c->loop_id, cmd, process_error_name(c->result, err, sizeof(err)));
    else
      printf("[loop %u] spawn pid %d: %s\n", c->loop_id, c->pid, cmd);
    return;
  }
  struct json *j = json_begin();
  json_obj(j, "process");
  json_str(j, "event", "spawn");
  json_int(j, "loop", c->loop_id);
  if (c->pid)
    json_int(j, "pid", c->pid);
  else
    json_null(j, "pid");
  json_str(j, "file", process_file(c));
  process_args_json(j, c);
  if (c->result)
    json_str(j, "error", process_error_name(c->result, err, sizeof(err)));
  else
    json_null(j, "error");
  json_uint(j, "begin_ns", tsc_to_ns(shm, c->spawned));
  json_end(j);
}

static void uv__trace_exit(const struct process_child *c, const struct uvdb_shm_header *shm) {
  char sig[32];
  double ms = c->spawned && c->ended >= c->spawned ? ticks_to_ns(shm, c->ended - c->spawned) / 1e6 : -1;
  if (!uvdb_json_mode) {
    printf("[loop %u] pid %d ", c->loop_id, c->pid);
    if (c->term_signal)
      printf("killed by %s", process_signal_name(c->term_signal, sig, sizeof(sig)));
    else
      printf("exited with status %d", c->exit_status);
    if (ms >= 0)
      printf(" after %.3f ms", ms);
    printf("\n");
    return;
  }
  struct json *j = json_begin();
  json_obj(j, "process");
  json_str(j, "event", "exit");
  json_int(j, "loop", c->loop_id);
  json_int(j, "pid", c->pid);
  json_int(j, "exit_status", c->exit_status);
  json_int(j, "term_signal", c->term_signal);
  if (c->term_signal)
    json_str(j, "signal", process_signal_name(c->term_signal, sig, sizeof(sig)));
  else
    json_null(j, "signal");
  if (ms >= 0)
    json_num(j, "lifetime_ms", ms);
  else
    json_null(j, "lifetime_ms");
  json_uint(j, "begin_ns", tsc_to_ns(shm, c->ended));
  json_end(j);
}

static void uv__trace_signal(const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  char sig[32];
  int signum = (int)(r->a32 & 0xff), internal = (r->a32 >> 8) & 1;
  process_signal_name(signum, sig, sizeof(sig));
  if (!uvdb_json_mode) {
    printf("[loop %u] %s delivered%s", r->loop_id, sig, internal ? " to libuv's child watcher" : "");
    if (r->y != 1)
      printf(" (%llu times)", (unsigned long long)r->y);
    printf("\n");
    return;
  }
  struct json *j = json_begin();
  json_obj(j, "signal");
  json_int(j, "loop", r->loop_id);
  json_str(j, "signal", sig);
  json_int(j, "signum", signum);
  json_bool(j, "internal", internal);
  json_uint(j, "count", r->y);
  json_uint(j, "begin_ns", tsc_to_ns(shm, r->ts));
  json_end(j);
}

/* ---- the events ---- */

static int uv__traced(const struct model *m, uint16_t loop_id) {
  return m->trace_processes && (!m->trace_processes_loop || m->trace_processes_loop == loop_id);
}

/* An exit read before its spawn (the rings are read in any order) made the
 * child already: the spawn fills it in. */
static void uv__spawn(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  struct process_model *p = &m->processes;
  int32_t pid = (int32_t)r->a32;
  struct process_child *c = pid > 0 ? uv__find(p, pid, r->ts) : NULL;
  if (!c)
    c = uv__add(p, pid, r->loop_id, r->ts);
  c->result = (int)(int64_t)r->x;
  c->text_len = (uint16_t)(r->y < PROCESS_TEXT ? r->y : PROCESS_TEXT);
  memset(c->text, 0, sizeof(c->text));
  p->text_for[r->loop_id] = c->text_len ? (unsigned)(c - p->child) + 1 : 0;
  if (c->result)
    p->failed++;
  else
    p->spawned++;
  if (!c->text_len && uv__traced(m, r->loop_id))
    uv__trace_spawn(c, shm);
}

static void uv__spawn_text(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  struct process_model *p = &m->processes;
  unsigned at = p->text_for[r->loop_id];
  if (!at)
    return;
  struct process_child *c = &p->child[at - 1];
  uint64_t w[2] = {r->x, r->y};
  if (r->a32 < c->text_len)
    memcpy(c->text + r->a32, w, c->text_len - r->a32 < 16 ? c->text_len - r->a32 : 16);
  if (r->a32 + 16 >= c->text_len) { /* the last of it */
    p->text_for[r->loop_id] = 0;
    if (uv__traced(m, r->loop_id))
      uv__trace_spawn(c, shm);
  }
}

static void uv__exit(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  struct process_model *p = &m->processes;
  int32_t pid = (int32_t)r->a32;
  struct process_child *c = uv__find(p, pid, r->y);
  if (!c)
    c = uv__add(p, pid, r->loop_id, r->y);
  c->exited = 1;
  c->exit_status = (int)(uint32_t)r->x;
  c->term_signal = (int)(r->x >> 32);
  c->ended = r->ts;
  if (c->term_signal)
    p->killed++;
  else
    p->exited++;
  if (uv__traced(m, r->loop_id))
    uv__trace_exit(c, shm);
}

static void uv__signal(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  struct process_model *p = &m->processes;
  uint8_t signum = (uint8_t)(r->a32 & 0xff), internal = (r->a32 >> 8) & 1;
  struct process_signal *s = NULL;
  for (unsigned i = 0; i < p->nsignals && !s; i++)
    if (p->signal[i].loop_id == r->loop_id && p->signal[i].signum == signum && p->signal[i].internal == internal)
      s = &p->signal[i];
  if (!s && p->nsignals < PROCESS_SIGNALS)
    s = &p->signal[p->nsignals++];
  if (!s)
    return;
  *s = (struct process_signal){r->loop_id, signum, internal, s->count + r->y, r->ts > s->last ? r->ts : s->last};
  if (uv__traced(m, r->loop_id))
    uv__trace_signal(r, shm);
}

void process_apply(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm) {
  switch (r->type) {
  case UVDB_EV_SPAWN:
    uv__spawn(m, r, shm);
    break;
  case UVDB_EV_SPAWN_TEXT:
    uv__spawn_text(m, r, shm);
    break;
  case UVDB_EV_PROCESS_EXIT:
    uv__exit(m, r, shm);
    break;
  case UVDB_EV_SIGNAL:
    uv__signal(m, r, shm);
    break;
  default:
    break;
  }
}
