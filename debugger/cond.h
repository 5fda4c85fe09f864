/* The expression language of breakpoint conditions and scripts
 * (`break phase poll if iteration > 10 && duration_us > 500`,
 * `if $phase == "poll"`, `set $n = $n + 1`): numbers, strings and void. */
#ifndef UVDB_COND_H
#define UVDB_COND_H

#include <stddef.h>

/* The variables a breakpoint condition is given at a hit, by number (fast,
 * no lookup); elsewhere they are found by name, as `$iteration` and so on. */
enum cond_var { COND_ITERATION, COND_HITS, COND_DURATION_US, COND_DURATION_MS, COND_LOOP, COND_VAR_COUNT };

enum cond_op {
  COND_NUM, COND_VAR, COND_NOT, COND_AND, COND_OR, COND_LT, COND_LE, COND_GT, COND_GE, COND_EQ, COND_NE,
  COND_STR,   /* a string literal: str indexes the pool */
  COND_NAMED, /* $name: looked up when evaluated; str indexes the pool */
  COND_NEG, COND_ADD, COND_SUB, COND_MUL, COND_DIV, COND_MOD,
};

#define COND_MAX_NODES 32
#define COND_POOL 256

struct cond_node {
  enum cond_op op;
  int a, b; /* operands (node indexes), or the variable for COND_VAR */
  double num;
  int str; /* COND_STR, COND_NAMED: offset in the pool */
};

struct cond {
  int n, root; /* n == 0: always true */
  struct cond_node node[COND_MAX_NODES];
  char text[256];
  char pool[COND_POOL]; /* the string literals and $names, NUL-separated */
  int npool;
};

/* A value: void is what a variable holds when what it describes does not
 * exist (no stopped loop, no program). */
enum cond_type { COND_VOID, COND_NUMBER, COND_STRING };

struct cond_value {
  enum cond_type type;
  double num;
  const char *str; /* COND_STRING: lives as long as the expression or the variable it came from */
};

/* Looks up $name (without the $): 0 with *out set, -1 if there is no such
 * variable. */
typedef int (*cond_lookup_fn)(void *ctx, const char *name, struct cond_value *out);

struct cond_env {
  const double *vars; /* a breakpoint hit's variables, or NULL: then they are looked up by name */
  cond_lookup_fn lookup;
  void *ctx;
};

/* 0, or -1 with a message in err. */
int cond_parse(const char *src, struct cond *c, char *err, size_t errlen);
/* 0 with the value in *out, or -1 with a message in err (unknown variable,
 * arithmetic on a string or void, division by zero). */
int cond_eval(const struct cond *c, const struct cond_env *env, struct cond_value *out, char *err, size_t errlen);
int cond_truthy(const struct cond_value *v); /* a non-zero number, a non-empty string; void is false */
/* A breakpoint condition at a hit.  An expression that cannot be evaluated
 * is true: the program stops, as gdb does, rather than run past the place
 * the user asked to see. */
int cond_true(const struct cond *c, const double vars[COND_VAR_COUNT]);
/* Where cond_true looks up $names that are not a hit's variables (the
 * debugger's convenience variables); none by default. */
void cond_set_lookup(cond_lookup_fn lookup, void *ctx);
/* The value as `print` shows it: numbers without a needless fraction,
 * strings quoted (when quote is set) with their escapes, void as `void`. */
const char *cond_value_text(const struct cond_value *v, int quote, char *buf, size_t cap);

#endif
