/* Unit tests of name lookup for `break callback` (debugger/symbolize.c):
 * demangled names without their parameters, globs over this test's own
 * symbols, and the close names offered for a typo; and of a process's map
 * as modules (debugger/procmaps.c): code mapped twice, as V8 maps node's
 * builtins, named as in its file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "procmaps.h"
#include "symbolize.h"
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Functions of this executable for the lookups to find (kept out of line). */
__attribute__((noinline, used)) void uvdb_test_cb_alpha(void) { __asm__ volatile(""); }
/* aligned: the bytes before it are padding, in no function */
__attribute__((noinline, used, aligned(64))) void uvdb_test_cb_beta(void) { __asm__ volatile(""); }

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

/* node 20 as /proc/PID/maps shows it: its file from 0x400000, anonymous
 * memory (V8's JIT code among it), then V8's copy of node's builtins,
 * mapped from node's file at offset 0x14c4000 far from node's layout. */
static const char uv__node_maps[] =
    "00400000-00b6f000 r--p 00000000 fe:00 247823 /usr/bin/node\n"
    "00b72000-025fe000 r-xp 00772000 fe:00 247823 /usr/bin/node\n"
    "0563e000-0565d000 rw-p 0523d000 fe:00 247823 /usr/bin/node\n"
    "32953000-32c16000 rw-p 00000000 00:00 0 [heap]\n"
    "7fe28efc3000-7fe28efff000 rwxp 00000000 00:00 0 \n"
    "7fe2aee00000-7fe2aef92000 r-xp 014c4000 fe:00 247823 /usr/bin/node\n"
    "7fe2b4000000-7fe2b4200000 r-xp 00000000 fe:00 1000 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7ffd1a3f0000-7ffd1a3f2000 r-xp 00000000 00:00 0 [vdso]\n";

static void test_copy_of_a_file_is_an_alias(void **state) {
  (void)state;
  struct procmaps pm;
  assert_int_equal(procmaps_parse(uv__node_maps, sizeof(uv__node_maps) - 1, &pm), 0);
  assert_null(strstr(pm.kept, "7fe2aee00000")); /* out of node's module: the JIT code beside it is no part of it */
  assert_non_null(strstr(pm.kept, "0563e000-0565d000")); /* the data segment, a page off the text's bias, stays */
  assert_non_null(strstr(pm.kept, "libc.so.6"));
  assert_int_equal(pm.naliases, 1);
  /* the copy's first byte is node's offset 0x14c4000: 0xb72000 + (0x14c4000 - 0x772000) = 0x18c4000 */
  assert_int_equal(procmaps_resolve(&pm, 0x7fe2aee00000), 0x18c4000);
  assert_int_equal(procmaps_resolve(&pm, 0x7fe2aee00010), 0x18c4010);
  assert_int_equal(procmaps_resolve(&pm, 0x7fe28efc3000), 0x7fe28efc3000); /* JIT code: itself */
  assert_int_equal(pm.vdso_start, 0x7ffd1a3f0000);
  procmaps_free(&pm);
  assert_int_equal(procmaps_parse("not a map\n", 10, &pm), -1);
}

/* This process maps its own text a second time, far away: the copy's
 * addresses are named as the original's. */
static void test_live_copy_named_as_its_file(void **state) {
  (void)state;
  uint64_t fn = (uint64_t)(uintptr_t)&uvdb_test_cb_alpha, off = 0;
  size_t len = 0;
  char *maps = procmaps_read(getpid(), &len);
  assert_non_null(maps);
  for (char *line = maps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    uint64_t start, end, o;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &start, &end, &o) == 3 && fn >= start && fn < end)
      off = o + (fn - start);
  }
  free(maps);
  assert_true(off > 0);
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  uint64_t page = off & ~(uint64_t)4095;
  char *copy = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, (off_t)page);
  close(fd);
  assert_true(copy != MAP_FAILED);
  struct symbolizer *sym = symbolizer_open(getpid());
  assert_non_null(sym);
  char name[256];
  assert_string_equal(symbolize(sym, (uint64_t)(uintptr_t)copy + (off - page), name, sizeof(name)),
                      "uvdb_test_cb_alpha");
  symbolizer_close(sym);
  munmap(copy, 8192);
}

/* A caller's frame is named by its call, the byte before the return
 * address; a return address at a function's first byte with padding
 * before it (V8's InterpreterEnterAtBytecode) names that function. */
static void test_frame_named_by_call_or_by_function_returned_into(void **state) {
  (void)state;
  struct symbolizer *sym = self();
  struct found a = {0}, b = {0};
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_alpha", collect, &a), 1);
  assert_int_equal(symbolizer_find(sym, "uvdb_test_cb_beta", collect, &b), 1);
  char name[256];
  assert_int_equal(symbolizer_frame_addr(sym, b.addr[0], 0), b.addr[0]);
  assert_string_equal(symbolize_frame(sym, b.addr[0], 0, name, sizeof(name)), "uvdb_test_cb_beta");
  assert_int_equal(symbolizer_frame_addr(sym, b.addr[0] + 1, 0), b.addr[0]); /* returns within: the call */
  assert_int_equal(symbolizer_frame_addr(sym, a.addr[0] + 1, 0), a.addr[0]);
  assert_int_equal(symbolizer_frame_addr(sym, b.addr[0] + 1, 1), b.addr[0] + 1); /* the innermost: its pc */
  assert_int_equal(symbolizer_frame_addr(NULL, b.addr[0], 0), b.addr[0] - 1);   /* no process: the byte before */
  symbolizer_close(sym);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strip_params),
      cmocka_unit_test(test_find_exact_and_glob),
      cmocka_unit_test(test_suggestions_for_a_typo),
      cmocka_unit_test(test_function_size),
      cmocka_unit_test(test_copy_of_a_file_is_an_alias),
      cmocka_unit_test(test_live_copy_named_as_its_file),
      cmocka_unit_test(test_frame_named_by_call_or_by_function_returned_into),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
