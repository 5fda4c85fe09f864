/* Unit tests of name lookup for `break callback` (debugger/symbolize.c):
 * demangled names without their parameters, globs over this test's own
 * symbols, and the close names offered for a typo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "symbolize.h"
#include <stdio.h>
#include <string.h>

/* Functions of this executable for the lookups to find (kept out of line). */
__attribute__((noinline, used)) void uvdb_test_cb_alpha(void) { __asm__ volatile(""); }
__attribute__((noinline, used)) void uvdb_test_cb_beta(void) { __asm__ volatile(""); }

static void strip(const char *in, const char *want) {
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", in);
  assert_string_equal(symbol_strip_params(buf), want);
}

static void test_strip_params(void **state) {
  (void)state;
  strip("node::Environment::RunTimers(uv_timer_s*)", "node::Environment::RunTimers");
  strip("ns::C::size() const", "ns::C::size");
  strip("on_timer", "on_timer");
  strip("f<int (*)(int)>(int)", "f<int (*)(int)>");
  strip("node::Environment::StartProfilerIdleNotifier()::{lambda(uv_check_s*)#2}::_FUN(uv_check_s*)",
        "node::Environment::StartProfilerIdleNotifier()::{lambda(uv_check_s*)#2}::_FUN");
  strip("v8::internal::OperandGenerator::UseImmediate(int) [clone .isra.0]",
        "v8::internal::OperandGenerator::UseImmediate");
  strip("operator()(int)", "operator()");
}

struct found {
  char names[8][128];
  uint64_t addr[8], size[8];
  int n;
};

static int collect(void *arg, const char *name, uint64_t addr, uint64_t size) {
  struct found *f = arg;
  if (f->n < 8) {
    snprintf(f->names[f->n], sizeof(f->names[0]), "%s", name);
    f->addr[f->n] = addr, f->size[f->n] = size;
    f->n++;
  }
  return 0;
}

static struct symbolizer *self(void) {
  struct symbolizer *sym = symbolizer_open_file("/proc/self/exe");
  assert_non_null(sym);
  return sym;
}

static void test_find_exact_and_glob(void **state) {
  (void)state;
  struct symbolizer *sym = self();
  struct found f = {0};
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_alpha", collect, &f), 1);
  assert_string_equal(f.names[0], "uvdb_test_cb_alpha");
  assert_true(f.size[0] > 0);
  memset(&f, 0, sizeof(f));
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_*", collect, &f), 2);
  assert_int_equal(symbolizer_find(sym, "*_cb_[ab]*", NULL, NULL), 2);
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_gamma", NULL, NULL), 0);
  /* an address is named once, though .symtab and .dynsym both hold it */
  assert_true(f.addr[0] != f.addr[1]);
  symbolizer_close(sym);
}

static void test_suggestions_for_a_typo(void **state) {
  (void)state;
  struct symbolizer *sym = self();
  char hint[512];
  assert_true(symbolizer_suggest(sym, "uvdb_test_cb_alpah", hint, sizeof(hint)) >= 1);
  assert_non_null(strstr(hint, "uvdb_test_cb_alpha"));
  assert_int_equal(symbolizer_suggest(sym, "zz", hint, sizeof(hint)), 0); /* too short to guess from */
  symbolizer_close(sym);
}

static void test_function_size(void **state) {
  (void)state;
  struct symbolizer *sym = self();
  struct found f = {0};
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_beta", collect, &f), 1);
  /* offline, addresses are the file's: the size is known at the start only */
  assert_int_equal(symbolizer_function_size(sym, f.addr[0]), f.size[0]);
  assert_int_equal(symbolizer_function_size(sym, f.addr[0] + 1), 0);
  symbolizer_close(sym);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strip_params),
      cmocka_unit_test(test_find_exact_and_glob),
      cmocka_unit_test(test_suggestions_for_a_typo),
      cmocka_unit_test(test_function_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
