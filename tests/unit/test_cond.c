/* Unit tests of breakpoint conditions (debugger/cond.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cond.h"
#include <string.h>

static int eval(const char *text, double iteration, double hits, double duration_us) {
  struct cond c;
  char err[128];
  assert_int_equal(cond_parse(text, &c, err, sizeof(err)), 0);
  double vars[COND_VAR_COUNT] = {[COND_ITERATION] = iteration, [COND_HITS] = hits,
                                 [COND_DURATION_US] = duration_us, [COND_DURATION_MS] = duration_us / 1000,
                                 [COND_LOOP] = 1};
  return cond_true(&c, vars);
}

static void test_comparisons(void **state) {
  (void)state;
  assert_true(eval("iteration > 10", 11, 0, 0));
  assert_false(eval("iteration > 10", 10, 0, 0));
  assert_true(eval("iteration >= 10", 10, 0, 0));
  assert_true(eval("iteration <= 10", 10, 0, 0));
  assert_true(eval("iteration < 10.5", 10, 0, 0));
  assert_true(eval("hits == 3", 0, 3, 0));
  assert_true(eval("hits != 3", 0, 4, 0));
  assert_true(eval("$iteration == 7", 7, 0, 0)); /* gdb's $ is accepted */
  assert_true(eval("duration_ms > 1.5", 0, 0, 1600));
  assert_true(eval("loop == 1", 0, 0, 0));
}

static void test_logic_and_precedence(void **state) {
  (void)state;
  assert_true(eval("iteration > 1 && hits < 2", 2, 1, 0));
  assert_false(eval("iteration > 1 && hits < 2", 2, 2, 0));
  assert_true(eval("iteration > 5 || hits == 0", 1, 0, 0));
  /* && binds tighter than ||: 1 || (0 && 0) */
  assert_true(eval("hits == 0 || iteration > 5 && iteration < 3", 1, 0, 0));
  assert_false(eval("(hits == 0 || iteration > 5) && iteration > 3", 1, 0, 0));
  assert_true(eval("!(iteration > 5)", 1, 0, 0));
  assert_true(eval("!hits", 0, 0, 0));
  assert_true(eval("  iteration>2&&duration_us>=100  ", 3, 0, 100)); /* spaces optional */
}

static void test_errors_name_the_problem(void **state) {
  (void)state;
  struct cond c;
  char err[128];
  assert_int_equal(cond_parse("iteraton > 2", &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unknown variable"));
  assert_int_equal(cond_parse("iteration >", &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "at the end"));
  assert_int_equal(cond_parse("(iteration > 2", &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "expected )"));
  assert_int_equal(cond_parse("iteration > 2 garbage", &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unexpected text"));
  /* too many nodes: an error, not an overflow */
  char longer[1024] = "";
  for (int i = 0; i < 40; i++)
    strcat(longer, i ? " && hits > 1" : "hits > 1");
  assert_int_equal(cond_parse(longer, &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "too long"));
}

static void test_empty_condition_is_true(void **state) {
  (void)state;
  struct cond c = {0};
  double vars[COND_VAR_COUNT] = {0};
  assert_true(cond_true(&c, vars));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_comparisons),
      cmocka_unit_test(test_logic_and_precedence),
      cmocka_unit_test(test_errors_name_the_problem),
      cmocka_unit_test(test_empty_condition_is_true),
  };
  return cmocka_run_group_tests_name("cond", tests, NULL, NULL);
}
