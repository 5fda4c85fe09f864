/* trace on|off phases|processes: print each phase as it ends, or each
 * spawn, exit and signal as it comes; trace export: the timeline as a
 * Chrome Trace Event file. */
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

static int trace_on(struct session *s, int argc, char **argv);
static int trace_off(struct session *s, int argc, char **argv);
static int trace_export(struct session *s, int argc, char **argv);

const struct uvdb_command uvdb_trace_commands[] = {
    {"on", trace_on, "trace on phases|processes [loop N]",
     "Print every phase (of every loop, or loop N) as it runs; or every child spawned, child ended and signal "
     "delivered.", NULL},
    {"off", trace_off, "trace off phases|processes", "Stop printing phases, or processes.", NULL},
    {"export", trace_export, "trace export FILE",
     "The timeline (phases, iterations, epoll waits, thread-pool jobs with flow arrows and queue depth, "
     "blocking, sync I/O, GC, spawns, child exits and signals, stops) as Chrome Trace Event JSON for Perfetto, "
     "chrome://tracing or speedscope.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_trace(struct session *s, int argc, char **argv) {
  return uvdb_dispatch(s, uvdb_trace_commands, "trace", argc - 1, argv + 1);
}

/* phases|processes [loop N]: 0 traces every loop.  *what: 1 processes. */
static int uv__what(int argc, char **argv, int *what, int *loop) {
  *loop = 0;
  *what = argc >= 2 && strcmp(argv[1], "processes") == 0;
  if (argc >= 2 && !*what && strcmp(argv[1], "phases") != 0)
    return uvdb_error("cannot trace \"%s\": only `phases` and `processes` can be traced", argv[1]);
  if (argc >= 3) {
    char *end = NULL;
    long n = argc == 4 && strcmp(argv[2], "loop") == 0 ? strtol(argv[3], &end, 10) : 0;
    if (!end || *end || n < 1 || n > 64)
      return uvdb_error("usage: trace on %s [loop N], N from 1 to 64", *what ? "processes" : "phases");
    *loop = (int)n;
  }
  return 0;
}

static int trace_on(struct session *s, int argc, char **argv) {
  int what, loop;
  if (uv__what(argc, argv, &what, &loop))
    return -1;
  if (what) {
    s->model.trace_processes = 1;
    s->model.trace_processes_loop = loop;
    return 0;
  }
  s->model.trace_phases = 1;
  s->model.trace_loop = loop;
  return 0;
}

static int trace_off(struct session *s, int argc, char **argv) {
  int what, loop;
  if (uv__what(argc, argv, &what, &loop))
    return -1;
  if (what)
    s->model.trace_processes = 0;
  else
    s->model.trace_phases = 0;
  return 0;
}

static int trace_export(struct session *s, int argc, char **argv) {
  if (argc != 2)
    return uvdb_error("usage: trace export FILE");
  session_drain(s);
  if (timeline_export_chrome(s, argv[1]) != 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "trace_export");
    json_str(j, "file", argv[1]);
    json_uint(j, "dropped_oldest", timeline_dropped());
    json_end(j);
  } else {
    printf("Wrote %s (Chrome Trace Event JSON: open it in https://ui.perfetto.dev or chrome://tracing)%s.\n",
           argv[1], timeline_dropped() ? "; the oldest events were dropped, only the last 512k are kept" : "");
  }
  return 0;
}
