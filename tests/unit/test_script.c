/* Unit tests of scripting's parts that need no target: the expression
 * language's values and errors (debugger/cond.c), the convenience variables
 * over a session set up by hand (convenience.c) and printf (format.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "format.h"
#include "uvdb.h"
#include <stdlib.h>
#include <string.h>

const char *uvdb_command_args = ""; /* commands.c's, for cmd_set */
uint64_t session_drain(struct session *s) { /* session.c's: no probe here, the model is set by hand */
  (void)s;
  return 0;
}
int session_send(struct session *s, uint32_t type, const void *payload, size_t len) {
  (void)s, (void)type, (void)payload, (void)len;
  return 0;
}
static struct session session;      /* large: not on the stack */

/* $x is 4, $name "poll"; everything else is unknown. */
static int stub_lookup(void *ctx, const char *name, struct cond_value *out) {
  (void)ctx;
  if (strcmp(name, "x") == 0) {
    out->type = COND_NUMBER, out->num = 4, out->str = NULL;
    return 0;
  }
  if (strcmp(name, "name") == 0) {
    out->type = COND_STRING, out->num = 0, out->str = "poll";
    return 0;
  }
  if (strcmp(name, "nothing") == 0) {
    out->type = COND_VOID, out->num = 0, out->str = NULL;
    return 0;
  }
  return -1;
}

static const struct cond_env stub_env = {NULL, stub_lookup, NULL};

/* Evaluates TEXT, which must succeed; returns its value as print shows it. */
static const char *value(const char *text) {
  static struct cond c;
  static char buf[256];
  struct cond_value v;
  char err[200];
  assert_int_equal(cond_parse(text, &c, err, sizeof(err)), 0);
  if (cond_eval(&c, &stub_env, &v, err, sizeof(err)) != 0)
    fail_msg("%s: %s", text, err);
  return cond_value_text(&v, 1, buf, sizeof(buf));
}

/* Evaluates TEXT, which must fail to parse (parse) or to evaluate; the error. */
static const char *error(const char *text, int parse) {
  static struct cond c;
  static char err[200];
  struct cond_value v;
  int p = cond_parse(text, &c, err, sizeof(err));
  assert_int_equal(p, parse ? -1 : 0);
  if (!parse)
    assert_int_equal(cond_eval(&c, &stub_env, &v, err, sizeof(err)), -1);
  return err;
}

static void test_arithmetic_and_precedence(void **state) {
  (void)state;
  assert_string_equal(value("1 + 2 * 3"), "7");
  assert_string_equal(value("(1 + 2) * 3"), "9");
  assert_string_equal(value("10 - 4 - 3"), "3"); /* left-associative */
  assert_string_equal(value("7 / 2"), "3.5");
  assert_string_equal(value("7 % 3"), "1");
  assert_string_equal(value("-$x + 1"), "-3");
  assert_string_equal(value("$x * 2 > 7 && $x < 5"), "1");
  assert_string_equal(value("!$x"), "0");
  assert_string_equal(value("0 * -1"), "0"); /* not -0 */
  assert_string_equal(value("1e15 + 0.5"), "1e+15");
  assert_string_equal(value("0.1"), "0.1");
}

static void test_strings_and_void(void **state) {
  (void)state;
  assert_string_equal(value("\"a \\\"q\\\"\\n\""), "\"a \\\"q\\\"\\n\"");
  assert_string_equal(value("$name == \"poll\""), "1");
  assert_string_equal(value("$name != \"timers\""), "1");
  assert_string_equal(value("$name < \"timers\""), "1"); /* strings order as strcmp */
  assert_string_equal(value("$name == 4"), "0");           /* different types: unequal */
  assert_string_equal(value("$nothing"), "void");
  assert_string_equal(value("$nothing == $nothing"), "1");
  assert_string_equal(value("$nothing != 0"), "1");
  assert_string_equal(value("$nothing || \"\""), "0"); /* void and "" are false */
  assert_string_equal(value("$nothing || \"x\""), "1");
  assert_string_equal(value("0 && $undefined"), "0"); /* short-circuit: never looked up */
}

static void test_errors_are_clear(void **state) {
  (void)state;
  assert_non_null(strstr(error("$undefined + 1", 0), "unknown variable $undefined"));
  assert_non_null(strstr(error("$arg0", 0), "user commands only"));
  assert_non_null(strstr(error("1 / 0", 0), "division by zero"));
  assert_non_null(strstr(error("5 % 0", 0), "division by zero"));
  assert_non_null(strstr(error("$name + 1", 0), "arithmetic needs numbers, not a string"));
  assert_non_null(strstr(error("-$nothing", 0), "not void"));
  assert_non_null(strstr(error("$nothing > 1", 0), "cannot order void and a number"));
  assert_non_null(strstr(error("$name < 2", 0), "cannot order a string and a number"));
  assert_non_null(strstr(error("\"abc", 1), "unterminated string"));
  assert_non_null(strstr(error("\"a\\qb\"", 1), "unknown escape"));
  assert_non_null(strstr(error("foo", 1), "unknown variable"));
  assert_non_null(strstr(error("$", 1), "expected a number"));
  assert_non_null(strstr(error("1 < 2 < 3", 1), "unexpected text"));
  /* the pool of strings is bounded: an error, not an overflow */
  char longer[600] = "\"";
  memset(longer + 1, 'a', 300);
  strcat(longer, "\"");
  assert_non_null(strstr(error(longer, 1), "too long"));
}

static int lookup_x(void *ctx, const char *name, struct cond_value *out) {
  (void)ctx;
  if (strcmp(name, "limit") != 0)
    return -1;
  out->type = COND_NUMBER, out->num = 3, out->str = NULL;
  return 0;
}

static void test_breakpoint_conditions_see_variables(void **state) {
  (void)state;
  struct cond c;
  char err[128];
  double vars[COND_VAR_COUNT] = {[COND_ITERATION] = 5};
  assert_int_equal(cond_parse("iteration > $limit", &c, err, sizeof(err)), 0);
  assert_true(cond_true(&c, vars)); /* no lookup yet: cannot be evaluated, so it stops */
  cond_set_lookup(lookup_x, NULL);
  assert_true(cond_true(&c, vars));
  vars[COND_ITERATION] = 2;
  assert_false(cond_true(&c, vars));
  cond_set_lookup(NULL, NULL);
}

/* ---- convenience variables over a session set up by hand ---- */

static const char *conv(const char *text) {
  static struct cond c;
  static char buf[256];
  struct cond_value v;
  assert_int_equal(convenience_eval(&session, text, &c, &v), 0);
  return cond_value_text(&v, 1, buf, sizeof(buf));
}

static void test_builtins_void_without_a_stop(void **state) {
  (void)state;
  memset(&session, 0, sizeof(session));
  session.state = TARGET_NONE;
  assert_string_equal(conv("$iteration"), "void");
  assert_string_equal(conv("$phase"), "void");
  assert_string_equal(conv("$pid"), "void");
  assert_string_equal(conv("$exit_code"), "void");
  assert_string_equal(conv("$state"), "\"none\"");
  assert_string_equal(conv("$events"), "0");
  assert_string_equal(conv("iteration"), "void"); /* condition names without $ mean the same */

  session.state = TARGET_RUNNING, session.pid = 42, session.model.events = 17;
  assert_string_equal(conv("$pid"), "42");
  assert_string_equal(conv("$events"), "17");
  assert_string_equal(conv("$hits"), "void");

  session.state = TARGET_EXITED, session.exit_code = 3, session.term_signal = -1;
  assert_string_equal(conv("$exit_code"), "3");
  assert_string_equal(conv("$signal"), "void");
  session.exit_code = -1, session.term_signal = 9;
  assert_string_equal(conv("$exit_code"), "void");
  assert_string_equal(conv("$signal"), "\"KILL\"");
}

static void test_builtins_at_a_breakpoint(void **state) {
  (void)state;
  memset(&session, 0, sizeof(session));
  session.state = TARGET_STOPPED, session.pid = 7;
  session.model.stop = (struct stop_info){.loop_id = 1, .bp_id = 2, .phase = phase_by_name("poll"), .iteration = 9};
  session.bp[5] = (struct breakpoint){.id = 2, .enabled = 1, .hits = 4};
  assert_string_equal(conv("$phase"), "\"poll\"");
  assert_string_equal(conv("$phase == \"poll\" && $iteration == 9 && $loop == 1"), "1");
  assert_string_equal(conv("$hits"), "4");
  assert_string_equal(conv("$breakpoint"), "2");
  assert_string_equal(conv("$duration_us"), "void"); /* no ring memory mapped */
  session.model.stop.bp_id = 0;                      /* a step: no breakpoint */
  assert_string_equal(conv("$hits"), "void");
  assert_string_equal(conv("$breakpoint"), "void");
}

static void pool_event(uint16_t type, uint64_t ts, uint64_t key, uint32_t tid) {
  struct uvdb_record r = {.ts = ts, .type = type, .loop_id = 1, .a32 = UVDB_POOL_KIND_WORK << 4, .x = key, .y = ts + 1};
  struct uvdb_ring *ring = calloc(1, sizeof(*ring)); /* its records' pages stay untouched */
  ring->tid = tid;
  pool_apply(&session.model.pool, &r, ring);
  free(ring);
}

static void test_pool_variables(void **state) {
  (void)state;
  memset(&session, 0, sizeof(session));
  session.state = TARGET_STOPPED;
  assert_string_equal(conv("$pool_queued + $pool_running + $pool_done"), "0");
  for (uint64_t k = 1; k <= 3; k++)
    pool_event(UVDB_EV_POOL_SUBMIT, 10 * k, k, 100);
  pool_event(UVDB_EV_POOL_START, 40, 1, 200);
  assert_string_equal(conv("$pool_queued"), "2");
  assert_string_equal(conv("$pool_running"), "1");
  pool_event(UVDB_EV_POOL_END, 50, 1, 200);
  pool_event(UVDB_EV_POOL_DONE, 60, 1, 100);
  assert_string_equal(conv("$pool_running == 0 && $pool_done == 1"), "1");
  pool_reset(&session.model.pool);
}

static int set(const char *args) {
  uvdb_command_args = args;
  int r = cmd_set(&session, 0, NULL);
  uvdb_command_args = "";
  return r;
}

static void test_user_variables(void **state) {
  (void)state;
  memset(&session, 0, sizeof(session));
  assert_int_equal(set("$n = 1"), 0);
  assert_int_equal(set("$n = $n + 41"), 0);
  assert_string_equal(conv("$n"), "42");
  assert_int_equal(set("var $s=\"first\""), 0);
  assert_int_equal(set("$s = $s"), 0); /* its own value: copied before the old one is freed */
  assert_string_equal(conv("$s"), "\"first\"");
  assert_int_equal(set("$s = 3"), 0); /* a string becomes a number */
  assert_string_equal(conv("$s"), "3");
  assert_int_equal(set("$v = $iteration"), 0); /* void is a value too */
  assert_string_equal(conv("$v"), "void");
  /* refused: uvdb's own, arguments, bad names, bad expressions */
  assert_int_equal(set("$pid = 1"), -1);
  assert_int_equal(set("$argc = 1"), -1);
  assert_int_equal(set("$arg3 = 1"), -1);
  assert_int_equal(set("$9lives = 1"), -1);
  assert_int_equal(set("$n == 1"), -1);
  assert_int_equal(set("n = 1"), -1);
  assert_int_equal(set("$n = "), -1);
  assert_int_equal(set("$n = $nope"), -1);
  assert_string_equal(conv("$n"), "42"); /* untouched by the failures */
  convenience_clear();
  struct cond c;
  struct cond_value v;
  assert_int_equal(convenience_eval(&session, "$n", &c, &v), -1);
}

/* ---- printf ---- */

static char *format(const char *text, char *err) {
  return format_printf(text, &stub_env, err, 200);
}

static void check_format(const char *text, const char *expected) {
  char err[200];
  char *out = format(text, err);
  if (!out)
    fail_msg("%s: %s", text, err);
  assert_string_equal(out, expected);
  free(out);
}

static void check_format_error(const char *text, const char *expected) {
  char err[200];
  char *out = format(text, err);
  if (out)
    fail_msg("%s: no error, gave \"%s\"", text, out);
  if (!strstr(err, expected))
    fail_msg("%s: \"%s\" does not say \"%s\"", text, err, expected);
}

static void test_printf_conversions(void **state) {
  (void)state;
  check_format("\"plain\\n\"", "plain\n");
  check_format("\"%d|%i|%u|%x|%X|%o\", 42, -3, 7, 255, 255, 8", "42|-3|7|ff|FF|10");
  check_format("\"%5d|%-5d|%05d|%+d\", 42, 42, 42, 42", "   42|42   |00042|+42");
  check_format("\"%f %.2f %e %g\", 1.5, 3.14159, 1000, 0.5", "1.500000 3.14 1.000000e+03 0.5");
  check_format("\"%s=%d\", $name, $x", "poll=4");
  check_format("\"%s %s\", \"a,b\", ($x + 1)", "a,b 5"); /* a comma in quotes is no separator */
  check_format("\"%-6s|%3s|\", \"ab\", \"abcd\"", "ab    |abcd|");
  check_format("\"%s\", $nothing", "void");
  check_format("\"%c%c\", 104, 105", "hi");
  check_format("\"100%%\\t\\\"q\\\"\\\\\"", "100%\t\"q\"\\");
  check_format("\"%ld %lu\", 5, 6", "5 6"); /* length modifiers accepted */
  check_format("\"%d\", 3.9", "3");
  check_format("\"%u\", -1", "18446744073709551615");
  check_format("  \"%d\" , $x * 2  ", "8");
}

static void test_printf_errors(void **state) {
  (void)state;
  check_format_error("%d, 1", "must be a \"quoted string\"");
  check_format_error("\"abc", "no closing quote");
  check_format_error("\"\\q\"", "unknown escape \\q");
  check_format_error("\"%d %d\", 1", "more conversions than the 1 argument");
  check_format_error("\"%d\", 1, 2", "2 arguments but the format has 1 conversion");
  check_format_error("\"%y\", 1", "unknown conversion %y");
  check_format_error("\"50%\"", "a lone %");
  check_format_error("\"%*d\", 1, 2", "(*) is not supported");
  check_format_error("\"%d\" 1", "expected a comma");
  check_format_error("\"%d\", \"s\"", "%d needs a number, but argument 1 is a string");
  check_format_error("\"%x\", $nothing", "argument 1 is void");
  check_format_error("\"%d\", 1e30", "does not fit %d");
  check_format_error("\"%d\", $undefined", "argument 1 ($undefined): unknown variable");
  check_format_error("\"%d\", 1 +", "argument 1 (1 +):");
  check_format_error("\"%d %d\", (1, 2)", "argument 1 ((1, 2)):"); /* nor in parentheses */
  check_format_error("\"%99999999999999999999999d\", 1", "too wide");
  char many[512] = "\"\"";
  for (int i = 0; i < 20; i++)
    strcat(many, ", 1");
  check_format_error(many, "too many arguments");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arithmetic_and_precedence),
      cmocka_unit_test(test_strings_and_void),
      cmocka_unit_test(test_errors_are_clear),
      cmocka_unit_test(test_breakpoint_conditions_see_variables),
      cmocka_unit_test(test_builtins_void_without_a_stop),
      cmocka_unit_test(test_builtins_at_a_breakpoint),
      cmocka_unit_test(test_user_variables),
      cmocka_unit_test(test_pool_variables),
      cmocka_unit_test(test_printf_conversions),
      cmocka_unit_test(test_printf_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
