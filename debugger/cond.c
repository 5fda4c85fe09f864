/* Breakpoint conditions: a small expression language over the stop's
 * variables (iteration, hits, the phase's previous duration), compiled once
 * when the breakpoint is set so that a typo is an error then, not at a hit. */
#include "cond.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const uv__var_names[COND_VAR_COUNT] = {
    [COND_ITERATION] = "iteration", [COND_HITS] = "hits", [COND_DURATION_US] = "duration_us",
    [COND_DURATION_MS] = "duration_ms", [COND_LOOP] = "loop",
};

struct parser {
  const char *p;
  struct cond *c;
  char *err;
  size_t errlen;
};

static int uv__fail(struct parser *ps, const char *what) {
  if (!ps->err[0] && *ps->p)
    snprintf(ps->err, ps->errlen, "%s at \"%.20s\"", what, ps->p);
  else if (!ps->err[0])
    snprintf(ps->err, ps->errlen, "%s at the end", what);
  return -1;
}

static void uv__skip(struct parser *ps) {
  while (isspace((unsigned char)*ps->p))
    ps->p++;
}

static int uv__node(struct parser *ps, enum cond_op op, int a, int b, double num) {
  if (ps->c->n >= COND_MAX_NODES)
    return uv__fail(ps, "condition too long");
  struct cond_node *n = &ps->c->node[ps->c->n];
  n->op = op, n->a = a, n->b = b, n->num = num;
  return ps->c->n++;
}

static int uv__or(struct parser *ps);

static int uv__primary(struct parser *ps) {
  uv__skip(ps);
  if (*ps->p == '(') {
    ps->p++;
    int e = uv__or(ps);
    uv__skip(ps);
    if (e < 0 || *ps->p != ')')
      return uv__fail(ps, "expected )");
    ps->p++;
    return e;
  }
  if (*ps->p == '!') {
    ps->p++;
    int e = uv__primary(ps);
    return e < 0 ? -1 : uv__node(ps, COND_NOT, e, -1, 0);
  }
  if (isdigit((unsigned char)*ps->p) || *ps->p == '.') {
    char *end;
    double v = strtod(ps->p, &end);
    ps->p = end;
    return uv__node(ps, COND_NUM, -1, -1, v);
  }
  const char *start = ps->p + (*ps->p == '$');
  size_t len = 0;
  while (isalnum((unsigned char)start[len]) || start[len] == '_')
    len++;
  for (int v = 0; v < COND_VAR_COUNT && len; v++)
    if (strlen(uv__var_names[v]) == len && strncmp(start, uv__var_names[v], len) == 0) {
      ps->p = start + len;
      return uv__node(ps, COND_VAR, v, -1, 0);
    }
  return uv__fail(ps, len ? "unknown variable (iteration, hits, duration_us, duration_ms, loop)"
                          : "expected a number or a variable");
}

static int uv__cmp(struct parser *ps) {
  int a = uv__primary(ps);
  if (a < 0)
    return -1;
  uv__skip(ps);
  static const struct {
    const char *tok;
    enum cond_op op;
  } ops[] = {{"<=", COND_LE}, {">=", COND_GE}, {"==", COND_EQ}, {"!=", COND_NE}, {"<", COND_LT}, {">", COND_GT}};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strncmp(ps->p, ops[i].tok, strlen(ops[i].tok)) == 0) {
      ps->p += strlen(ops[i].tok);
      int b = uv__primary(ps);
      return b < 0 ? -1 : uv__node(ps, ops[i].op, a, b, 0);
    }
  return a;
}

static int uv__and(struct parser *ps) {
  int a = uv__cmp(ps);
  for (uv__skip(ps); a >= 0 && strncmp(ps->p, "&&", 2) == 0; uv__skip(ps)) {
    ps->p += 2;
    int b = uv__cmp(ps);
    a = b < 0 ? -1 : uv__node(ps, COND_AND, a, b, 0);
  }
  return a;
}

static int uv__or(struct parser *ps) {
  int a = uv__and(ps);
  for (uv__skip(ps); a >= 0 && strncmp(ps->p, "||", 2) == 0; uv__skip(ps)) {
    ps->p += 2;
    int b = uv__and(ps);
    a = b < 0 ? -1 : uv__node(ps, COND_OR, a, b, 0);
  }
  return a;
}

int cond_parse(const char *src, struct cond *c, char *err, size_t errlen) {
  memset(c, 0, sizeof(*c));
  err[0] = '\0';
  struct parser ps = {src, c, err, errlen};
  int root = uv__or(&ps);
  uv__skip(&ps);
  if (root >= 0 && *ps.p)
    root = uv__fail(&ps, "unexpected text");
  if (root < 0)
    return -1;
  c->root = root;
  snprintf(c->text, sizeof(c->text), "%s", src);
  return 0;
}

static double uv__eval(const struct cond *c, int i, const double *vars) {
  const struct cond_node *n = &c->node[i];
  switch (n->op) {
  case COND_NUM: return n->num;
  case COND_VAR: return vars[n->a];
  case COND_NOT: return !uv__eval(c, n->a, vars);
  case COND_AND: return uv__eval(c, n->a, vars) && uv__eval(c, n->b, vars);
  case COND_OR: return uv__eval(c, n->a, vars) || uv__eval(c, n->b, vars);
  case COND_LT: return uv__eval(c, n->a, vars) < uv__eval(c, n->b, vars);
  case COND_LE: return uv__eval(c, n->a, vars) <= uv__eval(c, n->b, vars);
  case COND_GT: return uv__eval(c, n->a, vars) > uv__eval(c, n->b, vars);
  case COND_GE: return uv__eval(c, n->a, vars) >= uv__eval(c, n->b, vars);
  case COND_EQ: return uv__eval(c, n->a, vars) == uv__eval(c, n->b, vars);
  case COND_NE: return uv__eval(c, n->a, vars) != uv__eval(c, n->b, vars);
  }
  return 0;
}

int cond_true(const struct cond *c, const double vars[COND_VAR_COUNT]) {
  return c->n == 0 || uv__eval(c, c->root, vars) != 0;
}
