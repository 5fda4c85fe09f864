/* Convenience variables, as gdb's: uvdb's own ($iteration, $phase, $pid,
 * ...), read from the session when an expression names them, and the
 * user's (`set $name = EXPR`), numbers or strings.  `show convenience`
 * lists them. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void uv__void(struct cond_value *v) {
  v->type = COND_VOID, v->num = 0, v->str = NULL;
}

static void uv__num(struct cond_value *v, double num) {
  v->type = COND_NUMBER, v->num = num, v->str = NULL;
}

static void uv__str(struct cond_value *v, const char *str) {
  v->type = COND_STRING, v->num = 0, v->str = str;
}

/* Where the program is stopped, or NULL: then the variables about a stop are void. */
static const struct stop_info *uv__stop(const struct session *s) {
  return s->state == TARGET_STOPPED ? &s->model.stop : NULL;
}

static const struct breakpoint *uv__breakpoint(const struct session *s) {
  const struct stop_info *st = uv__stop(s);
  for (int i = 0; st && st->bp_id && i < UVDB_MAX_BREAKPOINTS; i++)
    if (s->bp[i].id == st->bp_id)
      return &s->bp[i];
  return NULL;
}

static void uv__iteration(const struct session *s, struct cond_value *v) {
  const struct stop_info *st = uv__stop(s);
  st ? uv__num(v, (double)st->iteration) : uv__void(v);
}

static void uv__phase(const struct session *s, struct cond_value *v) {
  const struct stop_info *st = uv__stop(s);
  st && st->phase >= 0 ? uv__str(v, phase_name(st->phase)) : uv__void(v);
}

static void uv__loop(const struct session *s, struct cond_value *v) {
  const struct stop_info *st = uv__stop(s);
  st ? uv__num(v, st->loop_id) : uv__void(v);
}

static void uv__bp_id(const struct session *s, struct cond_value *v) {
  const struct stop_info *st = uv__stop(s);
  st && st->bp_id ? uv__num(v, st->bp_id) : uv__void(v);
}

static void uv__hits(const struct session *s, struct cond_value *v) {
  const struct breakpoint *b = uv__breakpoint(s);
  b ? uv__num(v, (double)b->hits) : uv__void(v);
}

/* The previous pass of the phase the loop is stopped before, as breakpoint
 * conditions see it. */
static double uv__duration_ns(const struct session *s) {
  const struct stop_info *st = uv__stop(s);
  if (!st || st->phase < 0 || st->phase >= UVDB_PHASE_COUNT || st->loop_id < 1 || st->loop_id > 64 || !s->shm)
    return -1;
  return ticks_to_ns(s->shm, s->model.loops[st->loop_id - 1].phase[st->phase].last);
}

static void uv__duration_us(const struct session *s, struct cond_value *v) {
  double ns = uv__duration_ns(s);
  ns >= 0 ? uv__num(v, ns / 1e3) : uv__void(v);
}

static void uv__duration_ms(const struct session *s, struct cond_value *v) {
  double ns = uv__duration_ns(s);
  ns >= 0 ? uv__num(v, ns / 1e6) : uv__void(v);
}

static void uv__pid(const struct session *s, struct cond_value *v) {
  s->state != TARGET_NONE ? uv__num(v, s->pid) : uv__void(v);
}

/* $state's words, and info inferiors'. */
const char *session_state_name(enum target_state st) {
  static const char *const names[] = {[TARGET_NONE] = "none", [TARGET_RUNNING] = "running",
                                      [TARGET_STOPPED] = "stopped", [TARGET_EXITED] = "exited"};
  return names[st];
}

static void uv__state(const struct session *s, struct cond_value *v) {
  uv__str(v, session_state_name(s->state));
}

static void uv__exit_code(const struct session *s, struct cond_value *v) {
  s->state == TARGET_EXITED && s->term_signal < 0 ? uv__num(v, s->exit_code) : uv__void(v);
}

static void uv__signal(const struct session *s, struct cond_value *v) {
  const char *name = s->state == TARGET_EXITED && s->term_signal >= 0 ? sigabbrev_np(s->term_signal) : NULL;
  name ? uv__str(v, name) : uv__void(v);
}

static void uv__events(const struct session *s, struct cond_value *v) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED) /* afresh: loops not stopped send more */
    session_drain((struct session *)s);
  uv__num(v, (double)s->model.events);
}

static void uv__dropped(const struct session *s, struct cond_value *v) {
  uv__num(v, (double)s->model.dropped);
}

/* The thread pool now: the probe's latest events are read first, so that
 * a script can wait on workers while the loop is stopped. */
struct uv__pool_counts {
  uint64_t queued, running;
};

static void uv__pool_count(const struct pool_job *j, void *arg) {
  struct uv__pool_counts *c = arg;
  if (!j->started)
    c->queued++;
  else if (!j->ended)
    c->running++;
}

static struct uv__pool_counts uv__pool_now(const struct session *s) {
  struct uv__pool_counts c = {0, 0};
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    session_drain((struct session *)s);
  pool_each_active(&s->model.pool, uv__pool_count, &c);
  return c;
}

static void uv__pool_queued(const struct session *s, struct cond_value *v) {
  uv__num(v, (double)uv__pool_now(s).queued);
}

static void uv__pool_running(const struct session *s, struct cond_value *v) {
  uv__num(v, (double)uv__pool_now(s).running);
}

static void uv__pool_done(const struct session *s, struct cond_value *v) {
  if (s->state == TARGET_RUNNING || s->state == TARGET_STOPPED)
    session_drain((struct session *)s);
  uv__num(v, (double)s->model.pool.done);
}

/* uvdb's own variables: a new one is a line here (and its reader above). */
static const struct {
  const char *name;
  void (*get)(const struct session *s, struct cond_value *v);
  const char *help;
} uv__builtins[] = {
    {"iteration", uv__iteration, "the stopped loop's iteration"},
    {"phase", uv__phase, "the phase the stopped loop is before (\"poll\", ...)"},
    {"loop", uv__loop, "the stopped loop's number"},
    {"breakpoint", uv__bp_id, "the breakpoint stopped at"},
    {"hits", uv__hits, "hits of the breakpoint stopped at, this one included"},
    {"duration_us", uv__duration_us, "the previous pass of the stopped-before phase, in us"},
    {"duration_ms", uv__duration_ms, "the same in ms"},
    {"pid", uv__pid, "the program's process id (the last one run)"},
    {"state", uv__state, "\"none\", \"running\", \"stopped\" or \"exited\""},
    {"exit_code", uv__exit_code, "the exited program's status (void if a signal ended it)"},
    {"signal", uv__signal, "the signal that ended the program (\"KILL\", ...)"},
    {"events", uv__events, "records received from the probe, read afresh"},
    {"dropped", uv__dropped, "records lost to full rings"},
    {"pool_queued", uv__pool_queued, "thread-pool jobs waiting for a worker"},
    {"pool_running", uv__pool_running, "thread-pool jobs running on a worker"},
    {"pool_done", uv__pool_done, "thread-pool jobs whose done callback ran"},
};
#define UV__NBUILTINS (sizeof(uv__builtins) / sizeof(uv__builtins[0]))

/* The user's variables, in the order they were first set. */
struct user_var {
  char name[64];
  struct cond_value value; /* a string points to owned */
  char *owned;
};

static struct user_var *uv__vars;
static size_t uv__nvars;

static struct user_var *uv__user(const char *name) {
  for (size_t i = 0; i < uv__nvars; i++)
    if (strcmp(uv__vars[i].name, name) == 0)
      return &uv__vars[i];
  return NULL;
}

int convenience_lookup(void *ctx, const char *name, struct cond_value *out) {
  const struct session *s = ctx;
  for (size_t i = 0; i < UV__NBUILTINS; i++)
    if (strcmp(uv__builtins[i].name, name) == 0) {
      uv__builtins[i].get(s, out);
      return 0;
    }
  const struct user_var *u = uv__user(name);
  if (!u)
    return -1;
  *out = u->value;
  return 0;
}

void convenience_env(struct session *s, struct cond_env *env) {
  env->vars = NULL, env->lookup = convenience_lookup, env->ctx = s;
}

int convenience_eval(struct session *s, const char *text, struct cond *c, struct cond_value *out) {
  char err[200];
  struct cond_env env;
  convenience_env(s, &env);
  if (cond_parse(text, c, err, sizeof(err)) < 0)
    return uvdb_error("bad expression: %s", err);
  if (cond_eval(c, &env, out, err, sizeof(err)) < 0)
    return uvdb_error("%s", err);
  return 0;
}

int convenience_set(const char *name, const struct cond_value *v) {
  size_t len = strlen(name);
  int ok = len > 0 && len < sizeof(uv__vars[0].name) && !isdigit((unsigned char)name[0]);
  for (size_t i = 0; ok && i < len; i++)
    ok = isalnum((unsigned char)name[i]) || name[i] == '_';
  if (!ok)
    return uvdb_error("\"$%s\" is not a variable name (letters, digits and _, 63 at most)", name);
  for (size_t i = 0; i < UV__NBUILTINS; i++)
    if (strcmp(uv__builtins[i].name, name) == 0)
      return uvdb_error("$%s is uvdb's own; choose another name", name);
  if (strncmp(name, "arg", 3) == 0 && (strcmp(name + 3, "c") == 0 || (isdigit((unsigned char)name[3]) && !name[4])))
    return uvdb_error("$%s is an argument of user commands; choose another name", name);
  /* The new string first: the value may be this variable's own. */
  char *owned = v->type == COND_STRING ? strdup(v->str) : NULL;
  if (v->type == COND_STRING && !owned)
    return uvdb_error("out of memory");
  struct user_var *u = uv__user(name);
  if (!u) {
    struct user_var *grown = realloc(uv__vars, sizeof(*uv__vars) * (uv__nvars + 1));
    if (!grown) {
      free(owned);
      return uvdb_error("out of memory");
    }
    uv__vars = grown;
    u = &uv__vars[uv__nvars++];
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", name);
  }
  free(u->owned);
  u->owned = owned;
  u->value = *v;
  u->value.str = owned;
  return 0;
}

void convenience_clear(void) {
  for (size_t i = 0; i < uv__nvars; i++)
    free(uv__vars[i].owned);
  free(uv__vars);
  uv__vars = NULL, uv__nvars = 0;
}

/* set $NAME = EXPR (also `set var $NAME = EXPR`, as gdb). */
int cmd_set(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  const char *p = uvdb_command_args;
  const char *usage = "usage: set $NAME = EXPRESSION";
  if (strncmp(p, "variable ", 9) == 0 || strncmp(p, "var ", 4) == 0)
    p = strchr(p, ' ') + 1;
  while (isspace((unsigned char)*p))
    p++;
  if (*p != '$' && strchr(p, '='))
    return uvdb_error("%s (a variable's name starts with $), or set SETTING VALUE", usage);
  if (*p != '$') { /* set NAME VALUE: one of uvdb's settings */
    char name[64], value[64] = "";
    if (sscanf(p, "%63s %63s", name, value) < 1)
      return uvdb_error("%s, or set SETTING VALUE", usage);
    return settings_set(s, name, value[0] ? value : NULL);
  }
  char name[128];
  size_t len = strcspn(p + 1, " \t=");
  snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), p + 1);
  p += 1 + len;
  while (isspace((unsigned char)*p))
    p++;
  if (*p != '=' || p[1] == '=')
    return uvdb_error("%s", usage);
  struct cond c;
  struct cond_value v;
  if (convenience_eval(s, p + 1, &c, &v) < 0)
    return -1;
  return convenience_set(name, &v) < 0 ? -1 : 0;
}

static void uv__show_value(struct json *j, const char *name, const struct cond_value *v, const char *help) {
  char text[512];
  if (!j) {
    if (help)
      printf("$%-12s = %-10s  %s\n", name, cond_value_text(v, 1, text, sizeof(text)), help);
    else
      printf("$%-12s = %s\n", name, cond_value_text(v, 1, text, sizeof(text)));
    return;
  }
  json_obj(j, NULL);
  json_str(j, "name", name);
  json_value(j, "value", v);
  json_bool(j, "builtin", help != NULL);
  json_close(j);
}

/* show convenience: every variable with its value now. */
int cmd_show_convenience(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, "show_convenience");
  }
  for (size_t i = 0; i < UV__NBUILTINS; i++) {
    struct cond_value v;
    uv__builtins[i].get(s, &v);
    uv__show_value(j, uv__builtins[i].name, &v, uv__builtins[i].help);
  }
  for (size_t i = 0; i < uv__nvars; i++)
    uv__show_value(j, uv__vars[i].name, &uv__vars[i].value, NULL);
  if (j)
    json_end(j);
  return 0;
}
