/* Breakpoint conditions (`break phase poll if iteration > 10 && duration_us > 500`). */
#ifndef UVDB_COND_H
#define UVDB_COND_H

#include <stddef.h>

enum cond_var { COND_ITERATION, COND_HITS, COND_DURATION_US, COND_DURATION_MS, COND_LOOP, COND_VAR_COUNT };

enum cond_op { COND_NUM, COND_VAR, COND_NOT, COND_AND, COND_OR, COND_LT, COND_LE, COND_GT, COND_GE, COND_EQ, COND_NE };

#define COND_MAX_NODES 32

struct cond_node {
  enum cond_op op;
  int a, b; /* operands (node indexes), or the variable for COND_VAR */
  double num;
};

struct cond {
  int n, root; /* n == 0: always true */
  struct cond_node node[COND_MAX_NODES];
  char text[256];
};

/* 0, or -1 with a message in err. */
int cond_parse(const char *src, struct cond *c, char *err, size_t errlen);
int cond_true(const struct cond *c, const double vars[COND_VAR_COUNT]);

#endif
