/* The expression language of breakpoint conditions and scripts: numbers,
 * strings and void, variables, arithmetic, comparisons and logic.  An
 * expression is compiled once (a breakpoint's condition when it is set, a
 * `while` condition before its first pass) so that a typo is an error then,
 * not at a hit; $names are looked up when evaluated, so that a script can
 * name a variable it sets later. */
#include "cond.h"

#include <ctype.h>
#include <math.h>
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
  n->op = op, n->a = a, n->b = b, n->num = num, n->str = -1;
  return ps->c->n++;
}

/* A node whose text (a string literal, a $name) goes to the pool. */
static int uv__text_node(struct parser *ps, enum cond_op op, const char *text, size_t len) {
  struct cond *c = ps->c;
  if ((size_t)c->npool + len + 1 > sizeof(c->pool))
    return uv__fail(ps, "strings too long");
  int node = uv__node(ps, op, -1, -1, 0);
  if (node < 0)
    return -1;
  memcpy(c->pool + c->npool, text, len);
  c->pool[c->npool + len] = '\0';
  c->node[node].str = c->npool;
  c->npool += (int)len + 1;
  return node;
}

/* "..." with the escapes \" \\ \n \t; ps->p is at the opening quote. */
static int uv__string(struct parser *ps) {
  char buf[COND_POOL];
  size_t len = 0;
  const char *p = ps->p + 1;
  for (; *p && *p != '"'; p++) {
    char ch = *p;
    if (ch == '\\') {
      switch (*++p) {
      case 'n': ch = '\n'; break;
      case 't': ch = '\t'; break;
      case '"': ch = '"'; break;
      case '\\': ch = '\\'; break;
      default: ps->p = p - 1; return uv__fail(ps, "unknown escape (\\n \\t \\\" \\\\)");
      }
    }
    if (len + 1 >= sizeof(buf))
      return uv__fail(ps, "string too long");
    buf[len++] = ch;
  }
  if (*p != '"')
    return uv__fail(ps, "unterminated string");
  ps->p = p + 1;
  return uv__text_node(ps, COND_STR, buf, len);
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
  if (*ps->p == '"')
    return uv__string(ps);
  if (isdigit((unsigned char)*ps->p) || *ps->p == '.') {
    char *end;
    double v = strtod(ps->p, &end);
    if (end == ps->p)
      return uv__fail(ps, "expected a number");
    ps->p = end;
    return uv__node(ps, COND_NUM, -1, -1, v);
  }
  int dollar = *ps->p == '$';
  const char *start = ps->p + dollar;
  size_t len = 0;
  while (isalnum((unsigned char)start[len]) || start[len] == '_')
    len++;
  /* A breakpoint hit's own variables, with or without gdb's $. */
  for (int v = 0; v < COND_VAR_COUNT && len; v++)
    if (strlen(uv__var_names[v]) == len && strncmp(start, uv__var_names[v], len) == 0) {
      ps->p = start + len;
      return uv__node(ps, COND_VAR, v, -1, 0);
    }
  if (dollar && len) {
    ps->p = start + len;
    return uv__text_node(ps, COND_NAMED, start, len);
  }
  return uv__fail(ps, len ? "unknown variable (iteration, hits, duration_us, duration_ms, loop, or a $name)"
                          : "expected a number or a variable");
}

static int uv__unary(struct parser *ps) {
  uv__skip(ps);
  if (*ps->p == '!' || *ps->p == '-') {
    enum cond_op op = *ps->p++ == '!' ? COND_NOT : COND_NEG;
    int e = uv__unary(ps);
    return e < 0 ? -1 : uv__node(ps, op, e, -1, 0);
  }
  return uv__primary(ps);
}

/* Left-associative binary operators of one precedence level. */
struct binop {
  const char *tok;
  enum cond_op op;
};

static int uv__level(struct parser *ps, int (*operand)(struct parser *), const struct binop *ops, size_t nops) {
  int a = operand(ps);
  for (;;) {
    if (a < 0)
      return -1;
    uv__skip(ps);
    size_t i = 0;
    while (i < nops && strncmp(ps->p, ops[i].tok, strlen(ops[i].tok)) != 0)
      i++;
    if (i == nops)
      return a;
    ps->p += strlen(ops[i].tok);
    int b = operand(ps);
    a = b < 0 ? -1 : uv__node(ps, ops[i].op, a, b, 0);
  }
}

static int uv__mul(struct parser *ps) {
  static const struct binop ops[] = {{"*", COND_MUL}, {"/", COND_DIV}, {"%", COND_MOD}};
  return uv__level(ps, uv__unary, ops, 3);
}

static int uv__add(struct parser *ps) {
  static const struct binop ops[] = {{"+", COND_ADD}, {"-", COND_SUB}};
  return uv__level(ps, uv__mul, ops, 2);
}

/* One comparison at most: `a < b < c` is an error, not C's surprise. */
static int uv__cmp(struct parser *ps) {
  int a = uv__add(ps);
  if (a < 0)
    return -1;
  uv__skip(ps);
  static const struct binop ops[] = {{"<=", COND_LE}, {">=", COND_GE}, {"==", COND_EQ},
                                     {"!=", COND_NE}, {"<", COND_LT},  {">", COND_GT}};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strncmp(ps->p, ops[i].tok, strlen(ops[i].tok)) == 0) {
      ps->p += strlen(ops[i].tok);
      int b = uv__add(ps);
      return b < 0 ? -1 : uv__node(ps, ops[i].op, a, b, 0);
    }
  return a;
}

static int uv__and(struct parser *ps) {
  static const struct binop ops[] = {{"&&", COND_AND}};
  return uv__level(ps, uv__cmp, ops, 1);
}

static int uv__or(struct parser *ps) {
  static const struct binop ops[] = {{"||", COND_OR}};
  return uv__level(ps, uv__and, ops, 1);
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

/* ---- evaluation ---- */

struct evaluator {
  const struct cond *c;
  const struct cond_env *env;
  char *err;
  size_t errlen;
};

static int uv__eval(struct evaluator *ev, int i, struct cond_value *out);

static const char *uv__type_name(enum cond_type t) {
  return t == COND_VOID ? "void" : t == COND_STRING ? "a string" : "a number";
}

static int uv__lookup(struct evaluator *ev, const char *name, struct cond_value *out) {
  if (ev->env && ev->env->lookup && ev->env->lookup(ev->env->ctx, name, out) == 0)
    return 0;
  if (strncmp(name, "arg", 3) == 0)
    snprintf(ev->err, ev->errlen, "unknown variable $%s ($argc and $arg0...$arg9 exist in user commands only)",
             name);
  else
    snprintf(ev->err, ev->errlen, "unknown variable $%s (`show convenience` lists them; `set $%s = ...` makes one)",
             name, name);
  return -1;
}

static int uv__number(double v, struct cond_value *out) {
  out->type = COND_NUMBER, out->num = v, out->str = NULL;
  return 0;
}

static int uv__compare(struct evaluator *ev, enum cond_op op, const struct cond_value *a,
                       const struct cond_value *b, struct cond_value *out) {
  if (a->type != b->type || a->type == COND_VOID) {
    /* Values of different types are unequal, void equals void; only
     * numbers and strings have an order. */
    if (op == COND_EQ || op == COND_NE)
      return uv__number((a->type == b->type) == (op == COND_EQ), out);
    snprintf(ev->err, ev->errlen, "cannot order %s and %s%s", uv__type_name(a->type), uv__type_name(b->type),
             a->type == COND_VOID || b->type == COND_VOID ? " (void: no program, or no stopped loop?)" : "");
    return -1;
  }
  double d = a->type == COND_STRING ? (double)strcmp(a->str, b->str) : (a->num > b->num) - (a->num < b->num);
  switch (op) {
  case COND_LT: return uv__number(d < 0, out);
  case COND_LE: return uv__number(d <= 0, out);
  case COND_GT: return uv__number(d > 0, out);
  case COND_GE: return uv__number(d >= 0, out);
  case COND_EQ: return uv__number(a->type == COND_STRING ? d == 0 : a->num == b->num, out);
  default: return uv__number(a->type == COND_STRING ? d != 0 : a->num != b->num, out);
  }
}

static int uv__arith(struct evaluator *ev, enum cond_op op, const struct cond_value *a, const struct cond_value *b,
                     struct cond_value *out) {
  const struct cond_value *bad = a->type != COND_NUMBER ? a : b->type != COND_NUMBER ? b : NULL;
  if (bad) {
    snprintf(ev->err, ev->errlen, "arithmetic needs numbers, not %s%s", uv__type_name(bad->type),
             bad->type == COND_VOID ? " (void: no program, or no stopped loop?)" : "");
    return -1;
  }
  if ((op == COND_DIV || op == COND_MOD) && b->num == 0) {
    snprintf(ev->err, ev->errlen, "division by zero");
    return -1;
  }
  switch (op) {
  case COND_ADD: return uv__number(a->num + b->num, out);
  case COND_SUB: return uv__number(a->num - b->num, out);
  case COND_MUL: return uv__number(a->num * b->num, out);
  case COND_DIV: return uv__number(a->num / b->num, out);
  default: return uv__number(fmod(a->num, b->num), out);
  }
}

static int uv__eval(struct evaluator *ev, int i, struct cond_value *out) {
  const struct cond_node *n = &ev->c->node[i];
  struct cond_value a, b;
  switch (n->op) {
  case COND_NUM: return uv__number(n->num, out);
  case COND_STR:
    out->type = COND_STRING, out->num = 0, out->str = ev->c->pool + n->str;
    return 0;
  case COND_VAR:
    if (ev->env && ev->env->vars)
      return uv__number(ev->env->vars[n->a], out);
    return uv__lookup(ev, uv__var_names[n->a], out);
  case COND_NAMED: return uv__lookup(ev, ev->c->pool + n->str, out);
  case COND_NOT:
    if (uv__eval(ev, n->a, &a) < 0)
      return -1;
    return uv__number(!cond_truthy(&a), out);
  case COND_NEG:
    if (uv__eval(ev, n->a, &a) < 0)
      return -1;
    b = a, a.type = COND_NUMBER, a.num = 0;
    return uv__arith(ev, COND_SUB, &a, &b, out);
  case COND_AND:
  case COND_OR: /* short-circuit, as in C */
    if (uv__eval(ev, n->a, &a) < 0)
      return -1;
    if (cond_truthy(&a) == (n->op == COND_OR))
      return uv__number(n->op == COND_OR, out);
    if (uv__eval(ev, n->b, &b) < 0)
      return -1;
    return uv__number(cond_truthy(&b), out);
  default:
    if (uv__eval(ev, n->a, &a) < 0 || uv__eval(ev, n->b, &b) < 0)
      return -1;
    if (n->op >= COND_ADD)
      return uv__arith(ev, n->op, &a, &b, out);
    return uv__compare(ev, n->op, &a, &b, out);
  }
}

int cond_eval(const struct cond *c, const struct cond_env *env, struct cond_value *out, char *err, size_t errlen) {
  err[0] = '\0';
  if (c->n == 0) /* the empty condition */
    return uv__number(1, out);
  struct evaluator ev = {c, env, err, errlen};
  return uv__eval(&ev, c->root, out);
}

int cond_truthy(const struct cond_value *v) {
  return v->type == COND_NUMBER ? v->num != 0 : v->type == COND_STRING ? v->str[0] != '\0' : 0;
}

static cond_lookup_fn uv__default_lookup;
static void *uv__default_ctx;

void cond_set_lookup(cond_lookup_fn lookup, void *ctx) {
  uv__default_lookup = lookup, uv__default_ctx = ctx;
}

int cond_true(const struct cond *c, const double vars[COND_VAR_COUNT]) {
  struct cond_env env = {vars, uv__default_lookup, uv__default_ctx};
  struct cond_value v;
  char err[160];
  if (cond_eval(c, &env, &v, err, sizeof(err)) < 0)
    return 1;
  return cond_truthy(&v);
}

const char *cond_value_text(const struct cond_value *v, int quote, char *buf, size_t cap) {
  if (v->type == COND_VOID) {
    snprintf(buf, cap, "void");
  } else if (v->type == COND_NUMBER) {
    if (v->num == floor(v->num) && fabs(v->num) < 1e15)
      snprintf(buf, cap, "%.0f", v->num + 0.0); /* + 0.0: -0 prints as 0 */
    else
      snprintf(buf, cap, "%.15g", v->num);
  } else if (!quote) {
    snprintf(buf, cap, "%s", v->str);
  } else {
    size_t off = 0;
    if (cap < 3)
      return "";
    buf[off++] = '"';
    for (const char *p = v->str; *p && off + 4 < cap; p++) {
      const char *esc = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : NULL;
      if (esc)
        off += (size_t)snprintf(buf + off, cap - off, "%s", esc);
      else
        buf[off++] = *p;
    }
    buf[off++] = '"';
    buf[off] = '\0';
  }
  return buf;
}
