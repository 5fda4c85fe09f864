/* uvdb's settings (set NAME VALUE, show NAME): a setting is one entry in
 * the table, with its range; the ones the probe needs go to it at once. */
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct setting {
  const char *name, *unit, *values, *help; /* unit: "ms", or "" for a choice that `values` tells */
  long min, max, initial;
  long *value;
};

static long uv__blocking_threshold_ms = 50;
static long uv__js_names = 1;
static long uv__follow_children = 1;
static long uv__callback_timing = 1;

static const struct setting uv__settings[] = {
    {"blocking-threshold", "ms", "",
     "a callback running longer is sampled while it blocks and reported (info blocking, break blocked)", 1, 60000,
     50, &uv__blocking_threshold_ms},
    {"js-names", "", " (0 off, 1 compiled functions, 2 interpreted ones too)",
     "a node launched by uvdb names its compiled JavaScript functions for stacks (V8's perf map, which adds no "
     "task to the loop, though V8 computes line numbers for it as it compiles); at 2 interpreted functions get "
     "frames of their own too, which adds a V8 task to the loop",
     0, 2, 1, &uv__js_names},
    {"follow-children", "", " (0 or off, 1 or on)",
     "a process the program starts that has libuv of its own (node's child_process, a cluster's workers) joins "
     "the session as an inferior (info inferiors, inferior N); others (a shell, /bin/echo) are left alone; "
     "takes effect at the next run",
     0, 1, 1, &uv__follow_children},
    {"callback-timing", "", " (0 or off, 1 or on)",
     "every callback a loop runs is timed (info blocking's callbacks, top's busiest, the timeline's callback "
     "slices) through the call sites of libuv's phase functions; off leaves them unpatched, for the least cost "
     "per iteration; takes effect at the next run or attach",
     0, 1, 1, &uv__callback_timing},
};
#define UV__NSETTINGS (sizeof(uv__settings) / sizeof(uv__settings[0]))

long settings_blocking_threshold_ms(void) {
  return uv__blocking_threshold_ms;
}

int settings_follow_children(void) {
  return (int)uv__follow_children;
}

int settings_callback_timing(void) {
  return (int)uv__callback_timing;
}

int settings_js_names(void) {
  return (int)uv__js_names;
}

/* TSC ticks per millisecond, measured once against CLOCK_MONOTONIC. */
double session_tsc_per_ms(void) {
  static double per_ms;
  if (per_ms > 0)
    return per_ms;
  struct timespec a, b, ms5 = {0, 5 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &a);
  uint64_t t0 = __builtin_ia32_rdtsc();
  nanosleep(&ms5, NULL);
  uint64_t t1 = __builtin_ia32_rdtsc();
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  per_ms = (double)(t1 - t0) / ns * 1e6;
  return per_ms;
}

/* What the probe's watchdog needs: the threshold, the least `break blocked`
 * duration of the enabled ones, and how often to look (a fifth of the
 * threshold, at least every millisecond). */
struct uvdb_msg_watchdog settings_watchdog(const struct session *s) {
  long brk = 0;
  for (int i = 0; i < UVDB_MAX_BREAKPOINTS; i++) {
    const struct breakpoint *b = &s->bp[i];
    if (b->id && b->enabled && b->type == BP_BLOCKED && (!brk || (long)b->depth < brk))
      brk = (long)b->depth;
  }
  long thr = uv__blocking_threshold_ms < brk || !brk ? uv__blocking_threshold_ms : brk;
  double per_ms = session_tsc_per_ms();
  uint64_t period_ns = (uint64_t)thr * 1000000u / 5;
  struct uvdb_msg_watchdog w = {(uint64_t)(thr * per_ms), (uint64_t)(brk * per_ms),
                                period_ns < 1000000 ? 1000000 : period_ns, (uint64_t)per_ms};
  return w;
}

void settings_push(struct session *s) {
  if (!s->probe_connected)
    return;
  struct uvdb_msg_watchdog w = settings_watchdog(s);
  session_send(s, UVDB_MSG_WATCHDOG, &w, sizeof(w));
}

static const struct setting *uv__find(const char *name) {
  for (size_t i = 0; i < UV__NSETTINGS; i++)
    if (strcmp(uv__settings[i].name, name) == 0)
      return &uv__settings[i];
  return NULL;
}

static int uv__unknown(const char *name) {
  char names[256] = "";
  for (size_t i = 0; i < UV__NSETTINGS; i++)
    snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", uv__settings[i].name);
  return uvdb_error("no setting \"%s\"; the settings are %s (and $variables)", name, names);
}

int settings_set(struct session *s, const char *name, const char *value) {
  const struct setting *st = uv__find(name);
  if (!st)
    return uv__unknown(name);
  char *end;
  long v = value ? strtol(value, &end, 10) : 0;
  if (value && st->max == 1 && (!strcmp(value, "on") || !strcmp(value, "off"))) /* a switch, as gdb's */
    v = value[1] == 'n', end = (char *)value + strlen(value);
  if (!value || !*value || *end || v < st->min || v > st->max)
    return uvdb_error("%s takes a whole number%s%s from %ld to %ld%s, not \"%s\"", st->name, *st->unit ? " of " : "",
                      st->unit, st->min, st->max, st->values, value ? value : "");
  *st->value = v;
  settings_push(s);
  return 0;
}

int settings_show(struct session *s, const char *name) {
  (void)s;
  const struct setting *st = uv__find(name);
  if (!st)
    return uv__unknown(name);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "show");
    json_str(j, "setting", st->name);
    json_int(j, "value", *st->value);
    json_str(j, "unit", st->unit);
    json_end(j);
  } else {
    printf("%s is %ld%s%s: %s.\n", st->name, *st->value, *st->unit ? " " : "", st->unit, st->help);
  }
  return 0;
}
