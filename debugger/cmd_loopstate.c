/* info timers, handles, requests, pending, closing, watchers: the loop's own
 * state, read while it is parked; and backtrace, the stack it parked with. */
#include "loopstate.h"
#include "symbolize.h"
#include "uvdb.h"

#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* The loop to read: N from the arguments or the main loop; it must be the
 * one parked, since only a parked loop's structures hold still. */
static const struct loop_model *uv__parked_loop(struct session *s, int argc, char **argv) {
  if (s->state != TARGET_STOPPED && s->state != TARGET_RUNNING) {
    uvdb_error("the program is not being run");
    return NULL;
  }
  char v[64];
  if (!loopstate_layout_known(probe_info_get(s, "libuv_version", v, sizeof(v)))) {
    uvdb_error("uvdb does not know the structures of libuv %s", v);
    return NULL;
  }
  int id = model_main_loop(&s->model);
  if (argc > 1) {
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n < 1 || n > 64 || !s->model.loops[n - 1].seen) {
      uvdb_error("no loop %s (see `info loops`)", argv[1]);
      return NULL;
    }
    id = (int)n;
  }
  if (s->state == TARGET_RUNNING) {
    if (!s->probe_connected) {
      uvdb_error("the program runs without the probe: no loop to read");
      return NULL;
    }
    if (session_query(s, id) != 0)
      return NULL; /* it did not park: what it is busy with was said */
    if (!id)
      id = s->model.stop.loop_id;
  }
  if (id != s->model.stop.loop_id) {
    uvdb_error("loop %d is running; only the stopped loop %d can be read", id, s->model.stop.loop_id);
    return NULL;
  }
  return &s->model.loops[id - 1];
}

int cmd_info_timers(struct session *s, int argc, char **argv) {
  const struct loop_model *l = uv__parked_loop(s, argc, argv);
  if (!l)
    return -1;
  static struct uv_timer_view t[4096];
  uint64_t now = 0;
  int n = loopstate_timers(s->pid, l->addr, &now, t, 4096);
  if (n < 0)
    return uvdb_error("cannot read loop %d's timer heap at 0x%llx", l->id, (unsigned long long)l->addr);
  struct symbolizer *sym = session_symbolizer(s);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_timers");
    json_int(j, "loop", l->id);
    json_uint(j, "now_ms", now);
    json_arr(j, "timers");
  } else {
    printf("Loop %d: %d timer%s, loop time %llu ms\n", l->id, n, n == 1 ? "" : "s", (unsigned long long)now);
    printf("  %-18s %10s %9s %-7s %s\n", "handle", "due_in_ms", "repeat", "flags", "callback");
  }
  for (int i = 0; i < n; i++) {
    char handle[32], cb[512], flags[8];
    snprintf(handle, sizeof(handle), "0x%llx", (unsigned long long)t[i].handle);
    symbolize(sym, t[i].callback, cb, sizeof(cb));
    int64_t due = (int64_t)(t[i].timeout - now);
    int active = !!(t[i].flags & UVDB_HANDLE_ACTIVE), ref = !!(t[i].flags & UVDB_HANDLE_REF);
    if (j) {
      json_obj(j, NULL);
      json_str(j, "handle", handle);
      json_int(j, "due_in_ms", due);
      json_uint(j, "timeout_ms", t[i].timeout);
      json_uint(j, "repeat_ms", t[i].repeat);
      json_bool(j, "active", active);
      json_bool(j, "ref", ref);
      json_str(j, "callback", cb);
      json_close(j);
    } else {
      snprintf(flags, sizeof(flags), "%s%s", active ? "A" : "-", ref ? "R" : "-");
      printf("  %-18s %10lld %9llu %-7s %s\n", handle, (long long)due, (unsigned long long)t[i].repeat, flags, cb);
    }
  }
  if (j)
    json_end(j);
  return 0;
}

/* libuv's UV_HANDLE_READING (uv-common.h, the same from 1.x to 1.46): a
 * stream between uv_read_start and uv_read_stop.  A stream that is not
 * reading is paused: the kernel's buffer fills and the peer's writes wait. */
#define UVDB_HANDLE_READING 0x1000u

/* The parenthesis after a stream's callback: listening, or reading or not
 * and the bytes its write queue holds. */
static void uv__stream_extra(const struct uv_handle_view *v, const char *conn, char *out, size_t cap) {
  if (v->connection_cb) {
    snprintf(out, cap, " (listening: %s)", conn);
    return;
  }
  int n = snprintf(out, cap, " (%s", v->flags & UVDB_HANDLE_READING ? "reading" : "not reading");
  if (v->write_queue_size && n > 0 && (size_t)n < cap)
    n += snprintf(out + n, cap - (size_t)n, ", write queue %llu bytes", (unsigned long long)v->write_queue_size);
  if (n > 0 && (size_t)n < cap)
    snprintf(out + n, cap - (size_t)n, ")");
}

int cmd_info_handles(struct session *s, int argc, char **argv) {
  const struct loop_model *l = uv__parked_loop(s, argc, argv);
  if (!l)
    return -1;
  static struct uv_handle_view h[8192];
  int n = loopstate_handles(s->pid, l->addr, h, 8192);
  if (n < 0)
    return uvdb_error("cannot read loop %d's handle queue at 0x%llx", l->id, (unsigned long long)l->addr);
  struct symbolizer *sym = session_symbolizer(s);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_handles");
    json_int(j, "loop", l->id);
    json_arr(j, "handles");
  } else {
    printf("Loop %d: %d handle%s\n", l->id, n, n == 1 ? "" : "s");
    printf("  %-18s %-8s %-5s %5s  %s\n", "handle", "type", "flags", "fd", "callback");
  }
  for (int i = 0; i < n; i++) {
    const struct uv_handle_view *v = &h[i];
    char addr[32], cb[512], conn[512];
    snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)v->handle);
    symbolize(sym, v->callback, cb, sizeof(cb));
    symbolize(sym, v->connection_cb, conn, sizeof(conn));
    int active = !!(v->flags & UVDB_HANDLE_ACTIVE), ref = !!(v->flags & UVDB_HANDLE_REF);
    int closing = !!(v->flags & (UVDB_HANDLE_CLOSING | UVDB_HANDLE_CLOSED));
    int internal = !!(v->flags & UVDB_HANDLE_INTERNAL);
    int stream = v->type == UV_TCP || v->type == UV_NAMED_PIPE || v->type == UV_TTY;
    const char *type = uv_handle_type_name((uv_handle_type)v->type);
    if (j) {
      json_obj(j, NULL);
      json_str(j, "handle", addr);
      json_str(j, "type", type);
      json_bool(j, "active", active);
      json_bool(j, "ref", ref);
      json_bool(j, "closing", closing);
      json_bool(j, "internal", internal);
      if (v->fd >= 0)
        json_int(j, "fd", v->fd);
      else
        json_null(j, "fd");
      json_str(j, "callback", v->callback ? cb : NULL);
      if (stream) {
        json_str(j, "connection_callback", v->connection_cb ? conn : NULL);
        json_uint(j, "write_queue_size", v->write_queue_size);
        json_bool(j, "reading", !!(v->flags & UVDB_HANDLE_READING));
      }
      if (v->type == UV_SIGNAL)
        json_int(j, "signum", v->signum);
      if (v->type == UV_PROCESS)
        json_int(j, "pid", v->pid);
      json_close(j);
    } else {
      char flags[8], fd[16] = "-", extra[600] = "";
      snprintf(flags, sizeof(flags), "%s%s%s%s", active ? "A" : "-", ref ? "R" : "-", closing ? "C" : "-",
               internal ? "I" : "-");
      if (v->fd >= 0)
        snprintf(fd, sizeof(fd), "%d", v->fd);
      if (stream)
        uv__stream_extra(v, conn, extra, sizeof(extra));
      else if (v->type == UV_SIGNAL)
        snprintf(extra, sizeof(extra), " (signal %d)", v->signum);
      else if (v->type == UV_PROCESS)
        snprintf(extra, sizeof(extra), " (pid %d)", v->pid);
      printf("  %-18s %-8s %-5s %5s  %s%s\n", addr, type, flags, fd, v->callback ? cb : "-", extra);
    }
  }
  if (j)
    json_end(j);
  return 0;
}

/* POLLIN and friends, as epoll and libuv spell them. */
static void uv__events(struct json *j, const char *key, uint32_t ev, char *text, size_t cap) {
  static const struct {
    uint32_t bit;
    const char *name;
  } names[] = {{0x1, "in"}, {0x2, "pri"}, {0x4, "out"}, {0x2000, "rdhup"}};
  if (j)
    json_arr(j, key);
  text[0] = '\0';
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (ev & names[i].bit) {
      if (j)
        json_str(j, NULL, names[i].name);
      snprintf(text + strlen(text), cap - strlen(text), "%s%s", text[0] ? "," : "", names[i].name);
    }
  if (j)
    json_close(j);
  if (!text[0])
    snprintf(text, cap, "-");
}

static int uv__io_list(struct session *s, int argc, char **argv, int pending) {
  const struct loop_model *l = uv__parked_loop(s, argc, argv);
  if (!l)
    return -1;
  static struct uv_io_view io[8192];
  int n = pending ? loopstate_pending(s->pid, l->addr, io, 8192) : loopstate_watchers(s->pid, l->addr, io, 8192);
  if (n < 0)
    return uvdb_error("cannot read loop %d's %s", l->id, pending ? "pending queue" : "watcher table");
  struct symbolizer *sym = session_symbolizer(s);
  const char *key = pending ? "info_pending" : "info_watchers";
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, key);
    json_int(j, "loop", l->id);
    json_arr(j, pending ? "pending" : "watchers");
  } else {
    printf("Loop %d: %d %s\n", l->id, n, pending ? "watchers pending" : "fds watched");
    printf("  %5s %-14s %-14s %s\n", "fd", "wanted", "polled", "callback");
  }
  for (int i = 0; i < n; i++) {
    char cb[512], wanted[64], polled[64];
    symbolize(sym, io[i].callback, cb, sizeof(cb));
    if (j) {
      json_obj(j, NULL);
      json_int(j, "fd", io[i].fd);
      uv__events(j, "wanted", io[i].pevents, wanted, sizeof(wanted));
      uv__events(j, "polled", io[i].events, polled, sizeof(polled));
      json_str(j, "callback", cb);
      json_close(j);
    } else {
      uv__events(NULL, NULL, io[i].pevents, wanted, sizeof(wanted));
      uv__events(NULL, NULL, io[i].events, polled, sizeof(polled));
      printf("  %5d %-14s %-14s %s\n", io[i].fd, wanted, polled, cb);
    }
  }
  if (j)
    json_end(j);
  return 0;
}

int cmd_info_pending(struct session *s, int argc, char **argv) {
  return uv__io_list(s, argc, argv, 1);
}

int cmd_info_watchers(struct session *s, int argc, char **argv) {
  return uv__io_list(s, argc, argv, 0);
}

int cmd_info_closing(struct session *s, int argc, char **argv) {
  const struct loop_model *l = uv__parked_loop(s, argc, argv);
  if (!l)
    return -1;
  static struct uv_handle_view h[4096];
  static uint64_t close_cb[4096];
  int n = loopstate_closing(s->pid, l->addr, h, close_cb, 4096);
  if (n < 0)
    return uvdb_error("cannot read loop %d's closing handles", l->id);
  struct symbolizer *sym = session_symbolizer(s);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_closing");
    json_int(j, "loop", l->id);
    json_arr(j, "closing");
  } else {
    printf("Loop %d: %d handle%s closing\n", l->id, n, n == 1 ? "" : "s");
  }
  for (int i = 0; i < n; i++) {
    char addr[32], cb[512];
    snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)h[i].handle);
    symbolize(sym, close_cb[i], cb, sizeof(cb));
    const char *type = uv_handle_type_name((uv_handle_type)h[i].type);
    if (j) {
      json_obj(j, NULL);
      json_str(j, "handle", addr);
      json_str(j, "type", type);
      json_str(j, "close_callback", close_cb[i] ? cb : NULL);
      json_close(j);
    } else {
      printf("  %-18s %-8s %s\n", addr, type, close_cb[i] ? cb : "-");
    }
  }
  if (j)
    json_end(j);
  return 0;
}

/* The frames of an unwound stack, innermost first, without the probe's
 * own.  Every frame but the first is a return address, looked up one byte
 * back, inside the call.  Frames kept, at most max, names in fn[][512]. */
int stack_frames(struct symbolizer *sym, const uint64_t *pcs, int depth, uint64_t *kept, char (*fn)[512],
                      int max) {
  int n = 0;
  for (int i = 0; i < depth && n < max; i++) {
    uint64_t addr = pcs[i];
    if (strncmp(symbolize_module(sym, addr), "libuvdb-probe", 13) == 0)
      continue; /* the probe's own frames: the stop, not the program */
    symbolize_frame(sym, addr, i == 0, fn[n], sizeof(fn[n]));
    char *plus = i ? strrchr(fn[n], '+') : NULL; /* an offset one byte back says nothing: drop it */
    if (plus && strncmp(plus, "+0x", 3) == 0 && !strchr(plus, ')'))
      *plus = '\0';
    kept[n++] = addr;
  }
  return n;
}

void stack_print(struct json *j, const uint64_t *pcs, char (*fn)[512], int n) {
  for (int i = 0; i < n; i++) {
    char pc[32];
    snprintf(pc, sizeof(pc), "0x%llx", (unsigned long long)pcs[i]);
    if (j) {
      json_obj(j, NULL);
      json_int(j, "level", i);
      json_str(j, "pc", pc);
      json_str(j, "function", fn[i]);
      json_close(j);
    } else {
      printf("#%-2d %-18s in %s\n", i, pc, fn[i]);
    }
  }
}

/* backtrace: the stopped loop thread's stack, innermost first, unwound by
 * uvdb from the registers the probe recorded when the loop parked. */
int cmd_backtrace(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (s->state != TARGET_STOPPED || !s->shm)
    return uvdb_error(s->state == TARGET_EXITED || s->state == TARGET_NONE ? "the program is not being run"
                                                                           : "the program is not stopped");
  const struct loop_model *l = &s->model.loops[s->model.stop.loop_id - 1];
  struct symbolizer *sym = session_symbolizer(s);
  uint64_t pcs[128], kept[128];
  static char fn[128][512];
  int depth = symbolizer_unwind(sym, (pid_t)l->tid, uvdb_shm_stack(s->shm, (unsigned)l->id), pcs, 128);
  if (depth < 0)
    return uvdb_error("cannot unwind loop %d's thread %u", l->id, l->tid);
  int n = stack_frames(sym, pcs, depth, kept, fn, 128);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "backtrace");
    json_int(j, "loop", l->id);
    json_arr(j, "frames");
  }
  stack_print(j, kept, fn, n);
  if (j)
    json_end(j);
  else if (!n)
    printf("No stack could be unwound for this stop.\n");
  return 0;
}

/* The callback a sampled stack is in: the frame the loop's dispatch (the
 * libuv frames between uv_run and it) called.  -1: none seen. */
int stack_callback(struct symbolizer *sym, const uint64_t *pcs, char (*fn)[512], int n) {
  int run = -1;
  for (int i = 0; i < n && run < 0; i++)
    if (strcmp(fn[i], "uv_run") == 0)
      run = i;
  for (int i = run - 1; i >= 0; i--) {
    int libuv = strncmp(fn[i], "uv_", 3) == 0 || strncmp(fn[i], "uv__", 4) == 0 ||
                strncmp(symbolize_module(sym, pcs[i]), "libuv", 5) == 0;
    if (!libuv)
      return i;
  }
  return -1;
}

#define BUSY_SAMPLES 3

/* The sample asked for is not written yet: not begun, or being copied (odd). */
static int uv__sample_pending(struct uvdb_sample *smp, uint32_t asked_at) {
  uint32_t seq = atomic_load(&smp->seq);
  return seq == asked_at || (seq & 1);
}

/* A loop that reaches no safepoint is inside one callback: say which, since
 * when, and what its stack holds now, sampled a few times 20 ms apart. */
void session_report_busy(struct session *s, int loop_id) {
  session_drain(s);
  const struct loop_model *l = &s->model.loops[loop_id - 1];
  struct symbolizer *sym = session_symbolizer(s);
  int phase = model_current_phase(l);
  /* busy since its last boundary, or since it left a stop inside this phase */
  uint64_t now = __builtin_ia32_rdtsc(), since = l->last_phase_end > l->last_resumed ? l->last_phase_end
                                                                                     : l->last_resumed;
  double busy_ms = since && now > since ? ticks_to_ns(s->shm, now - since) / 1e6 : 0;
  /* before 1.45, timers open an iteration */
  char v[64];
  const char *version = probe_info_get(s, "libuv_version", v, sizeof(v));
  uint64_t iteration = l->last_resumed > l->last_phase_end
                           ? l->last_stop_iteration
                           : l->last_iteration +
                                 (phase == UVDB_PHASE_TIMERS && version && loopstate_timers_open_iteration(version));
  static uint64_t pcs[BUSY_SAMPLES][128], kept[BUSY_SAMPLES][128];
  static char fn[BUSY_SAMPLES][128][512];
  int n[BUSY_SAMPLES] = {0}, taken = 0;
  for (int k = 0; k < BUSY_SAMPLES; k++) {
    if (k) {
      struct timespec ms20 = {0, 20 * 1000 * 1000};
      nanosleep(&ms20, NULL);
    }
    struct uvdb_sample *smp = uvdb_shm_sample(s->shm, UVDB_SAMPLE_SLOTS - 1);
    uint32_t seq = atomic_load(&smp->seq), tid = l->tid;
    if (session_send(s, UVDB_MSG_SAMPLE, &tid, sizeof(tid)) != 0)
      break;
    /* until written: a seq still odd is a copy under way, not a failure */
    for (int w = 0; w < 10 && uv__sample_pending(smp, seq); w++) {
      struct timespec ms10 = {0, 10 * 1000 * 1000};
      uint32_t count = atomic_load(&s->shm->samples);
      if (uv__sample_pending(smp, seq))
        syscall(SYS_futex, (uint32_t *)&s->shm->samples, FUTEX_WAIT, count, &ms10, NULL, 0);
    }
    uint32_t now_seq = atomic_load(&smp->seq);
    if (now_seq == seq || (now_seq & 1))
      break; /* the thread blocks the signal, or it is no longer uvdb's */
    static uint8_t copy[UVDB_SAMPLE_STACK];
    struct uvdb_stop_stack regs = smp->regs;
    uint64_t base = smp->stack_base, len = smp->stack_len < UVDB_SAMPLE_STACK ? smp->stack_len : UVDB_SAMPLE_STACK;
    memcpy(copy, smp->stack, len);
    if (atomic_load(&smp->seq) != now_seq)
      break; /* written again meanwhile */
    int depth = symbolizer_unwind_copy(sym, (pid_t)l->tid, &regs, copy, base, len, pcs[taken], 128);
    n[taken] = depth > 0 ? stack_frames(sym, pcs[taken], depth, kept[taken], fn[taken], 128) : 0;
    taken++;
  }
  /* the callback, from the first sample that unwound as far as it (one
   * taken in a PLT stub, say, may stop short) */
  int cb = -1, from = 0;
  for (; from < taken && cb < 0; from++)
    cb = stack_callback(sym, kept[from], fn[from], n[from]);
  char callback[512] = "";
  if (cb >= 0) {
    symbol_strip_params(strcpy(callback, fn[from - 1][cb]));
    char *plus = strrchr(callback, '+'); /* the innermost frame: where in it, not which */
    if (plus && strncmp(plus, "+0x", 3) == 0)
      *plus = '\0';
  }
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "loop_busy");
    json_int(j, "loop", loop_id);
    json_str(j, "phase", phase >= 0 ? phase_name(phase) : NULL);
    json_uint(j, "iteration", iteration);
    json_num(j, "busy_ms", busy_ms);
    json_str(j, "callback", cb >= 0 ? callback : NULL);
    json_arr(j, "samples");
    for (int k = 0; k < taken; k++) {
      json_arr(j, NULL);
      stack_print(j, kept[k], fn[k], n[k]);
      json_close(j);
    }
    json_end(j);
    return;
  }
  printf("Loop %d is busy: in %s%s%s for %.0f ms (iteration %llu), no safepoint reached.\n", loop_id,
         phase >= 0 ? phase_name(phase) : "a phase", cb >= 0 ? ", callback " : "", callback, busy_ms,
         (unsigned long long)iteration);
  for (int k = 0; k < taken; k++) {
    printf("Sample %d of %d:\n", k + 1, taken);
    stack_print(NULL, kept[k], fn[k], n[k]);
  }
  if (!taken)
    printf("No stack sample: the thread blocks uvdb's signal, or took it for its own.\n");
}

static void uv__pool_requests(struct session *s, int loop_id, struct json *j);

/* info requests: what the loop's streams are waiting on, read from libuv's
 * structures; and its thread-pool requests (file system, DNS, work), of
 * which libuv keeps only a count: those come from the probe's events. */
int cmd_info_requests(struct session *s, int argc, char **argv) {
  const struct loop_model *l = uv__parked_loop(s, argc, argv);
  if (!l)
    return -1;
  static struct uv_handle_view h[8192];
  static struct uv_req_view r[8192];
  unsigned active = 0;
  int nh = loopstate_handles(s->pid, l->addr, h, 8192);
  int n = nh < 0 ? -1 : loopstate_stream_requests(s->pid, l->addr, h, nh, r, 8192, &active);
  if (n < 0)
    return uvdb_error("cannot read loop %d's requests", l->id);
  struct symbolizer *sym = session_symbolizer(s);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "info_requests");
    json_int(j, "loop", l->id);
    json_uint(j, "active_requests", active);
    json_arr(j, "requests");
  } else {
    printf("Loop %d: %u active request%s; stream requests:\n", l->id, active, active == 1 ? "" : "s");
    printf("  %-18s %-9s %-18s %5s %10s  %s\n", "request", "type", "handle", "fd", "bytes", "callback");
  }
  for (int i = 0; i < n; i++) {
    char req[32], handle[32], cb[512];
    snprintf(req, sizeof(req), "0x%llx", (unsigned long long)r[i].req);
    snprintf(handle, sizeof(handle), "0x%llx", (unsigned long long)r[i].handle);
    symbolize(sym, r[i].callback, cb, sizeof(cb));
    const char *type = uv_req_type_name((uv_req_type)r[i].type);
    if (j) {
      json_obj(j, NULL);
      json_str(j, "request", req);
      json_str(j, "type", type);
      json_str(j, "handle", handle);
      json_int(j, "fd", r[i].fd);
      if (r[i].type == UV_WRITE)
        json_uint(j, "bytes", r[i].bytes);
      json_str(j, "callback", r[i].callback ? cb : NULL);
      json_close(j);
    } else {
      char bytes[24] = "-";
      if (r[i].type == UV_WRITE)
        snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r[i].bytes);
      printf("  %-18s %-9s %-18s %5d %10s  %s\n", req, type, handle, r[i].fd, bytes, r[i].callback ? cb : "-");
    }
  }
  if (j)
    json_close(j);
  uv__pool_requests(s, l->id, j);
  if (j)
    json_end(j);
  return 0;
}

struct uv__pool_listing {
  struct session *s;
  struct json *j;
  int loop_id, n;
  uint64_t now;
};

static void uv__pool_request(const struct pool_job *job, void *arg) {
  struct uv__pool_listing *pl = arg;
  if (job->loop_id != pl->loop_id)
    return;
  char req[32], what[400];
  snprintf(req, sizeof(req), "0x%llx", (unsigned long long)job->key);
  pool_job_describe(pl->s, job, 1, what, sizeof(what));
  double pending = pl->now > job->submitted ? ticks_to_ns(pl->s->shm, pl->now - job->submitted) / 1e6 : 0;
  const char *state = job->ended ? "callback due" : job->started ? "running" : "queued";
  if (pl->j) {
    json_obj(pl->j, NULL);
    json_str(pl->j, "request", req);
    json_str(pl->j, "type", pool_kind_name(job->kind));
    json_str(pl->j, "name", what);
    json_str(pl->j, "state", state);
    json_num(pl->j, "pending_ms", pending);
    if (job->started)
      json_uint(pl->j, "worker", job->worker_tid);
    else
      json_null(pl->j, "worker");
    json_close(pl->j);
  } else {
    printf("  %-18s %-12s %-12s %10.3f  %s\n", req, pool_kind_name(job->kind), state, pending, what);
  }
  pl->n++;
}

/* The thread pool's requests of this loop, from the probe's events: what
 * each is, whether it waits for a worker, runs, or waits for its callback. */
static void uv__pool_requests(struct session *s, int loop_id, struct json *j) {
  session_drain(s);
  struct uv__pool_listing pl = {s, j, loop_id, 0, __builtin_ia32_rdtsc()};
  if (j)
    json_arr(j, "threadpool");
  else
    printf("Thread-pool requests:\n  %-18s %-12s %-12s %10s  %s\n", "request", "type", "state", "pending_ms", "what");
  if (s->shm)
    pool_each_active(&s->model.pool, uv__pool_request, &pl);
  if (j)
    json_close(j);
  else if (!pl.n)
    printf("  (none)\n");
}

static void uv__add_unique(uint64_t *out, int *n, int max, uint64_t addr) {
  if (!addr)
    return;
  for (int i = 0; i < *n; i++)
    if (out[i] == addr)
      return;
  if (*n < max)
    out[(*n)++] = addr;
}

/* Every callback the stopped loop may call next: its handles' (timers,
 * idle, check, reads, connections, async, signals...), the close callbacks
 * queued, the stream requests' (writes, connects, shutdowns).  `step`
 * probes them.  Count, or -1. */
int loop_callbacks(struct session *s, uint64_t *out, int max) {
  const struct loop_model *l = uv__parked_loop(s, 0, NULL);
  if (!l)
    return -1;
  static struct uv_handle_view h[8192];
  static struct uv_req_view r[8192];
  static uint64_t close_cb[4096];
  int n = 0, nh = loopstate_handles(s->pid, l->addr, h, 8192);
  if (nh < 0)
    return uvdb_error("cannot read loop %d's handle queue", l->id);
  for (int i = 0; i < nh; i++) {
    uv__add_unique(out, &n, max, h[i].callback);
    uv__add_unique(out, &n, max, h[i].connection_cb);
  }
  unsigned active;
  int nr = loopstate_stream_requests(s->pid, l->addr, h, nh, r, 8192, &active);
  for (int i = 0; i < nr; i++)
    uv__add_unique(out, &n, max, r[i].callback);
  int nc = loopstate_closing(s->pid, l->addr, h, close_cb, 4096);
  for (int i = 0; i < nc; i++)
    uv__add_unique(out, &n, max, close_cb[i]);
  return n;
}
