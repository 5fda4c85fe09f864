/* info timers: the loop's own state, read while it is parked. */
#include "loopstate.h"
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

/* The loop to read: N from the arguments or the main loop; it must be the
 * one parked, since only a parked loop's structures hold still. */
static const struct loop_model *uv__parked_loop(struct session *s, int argc, char **argv) {
  if (s->state != TARGET_STOPPED) {
    uvdb_error(s->state == TARGET_RUNNING || s->state == TARGET_NONE
                   ? "the program is not stopped: a loop's state is read while it is (break, start or Ctrl-C)"
                   : "the program is not being run");
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
