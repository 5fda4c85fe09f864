/* trace on|off phases: print each phase as it ends. */
#include "uvdb.h"

#include <string.h>

static int trace_on(struct session *s, int argc, char **argv);
static int trace_off(struct session *s, int argc, char **argv);

const struct uvdb_command uvdb_trace_commands[] = {
    {"on", trace_on, "trace on phases", "Print every phase with its iteration and duration as it runs.", NULL},
    {"off", trace_off, "trace off phases", "Stop printing phases.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_trace(struct session *s, int argc, char **argv) {
  return uvdb_dispatch(s, uvdb_trace_commands, "trace", argc - 1, argv + 1);
}

static int uv__what(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "phases") == 0)
    return 0;
  return uvdb_error("cannot trace \"%s\": only `phases` can be traced", argv[1]);
}

static int trace_on(struct session *s, int argc, char **argv) {
  if (uv__what(argc, argv))
    return -1;
  s->model.trace_phases = 1;
  return 0;
}

static int trace_off(struct session *s, int argc, char **argv) {
  if (uv__what(argc, argv))
    return -1;
  s->model.trace_phases = 0;
  return 0;
}
