/* libFuzzer target: cond.c's expressions (breakpoint conditions, print,
 * if, while) parsed, evaluated and printed back. */
#include "../../debugger/cond.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* $names: "$s" a string, "$n" a number, the rest void, as convenience
 * variables can be. */
static int lookup(void *ctx, const char *name, struct cond_value *out) {
  (void)ctx;
  if (strcmp(name, "s") == 0)
    *out = (struct cond_value){COND_STRING, 0, "poll"};
  else if (strcmp(name, "n") == 0)
    *out = (struct cond_value){COND_NUMBER, 42, NULL};
  else
    *out = (struct cond_value){COND_VOID, 0, NULL};
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char src[1024];
  if (size >= sizeof(src))
    return 0;
  memcpy(src, data, size);
  src[size] = '\0';
  struct cond c;
  char err[128], buf[256];
  if (cond_parse(src, &c, err, sizeof(err)) != 0)
    return 0;
  double vars[COND_VAR_COUNT] = {3, 1, 1500, 1.5, 1};
  cond_true(&c, vars);
  struct cond_env env = {NULL, lookup, NULL};
  struct cond_value v;
  if (cond_eval(&c, &env, &v, err, sizeof(err)) == 0) {
    cond_truthy(&v);
    cond_value_text(&v, 1, buf, sizeof(buf));
    cond_value_text(&v, 0, buf, 8); /* a short buffer truncates, never overflows */
  }
  return 0;
}
