/* Unit tests of the call-site hooks (preload/callsite.c): small functions
 * that call a callback through a register or memory are written as machine
 * code, their call sites patched, and run: the stub must name the callback
 * first, and the callback must run with its argument and return into the
 * function's own code. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>

#include "code_page.h"
#include "hook.h"


typedef void (*dispatch_fn)(void (*cb)(void *), void *arg);

/* What the stub told, and what the callback saw. */
static uint64_t entered_target;
static int entered, called;
static void *called_arg, *called_from;

static void enter(uint64_t target) {
  entered_target = target;
  entered++;
}

static __attribute__((noinline)) void callback(void *arg) {
  called++;
  called_arg = arg;
  called_from = __builtin_return_address(0);
}

static void run(uint8_t *fn, void *arg) {
  entered = called = 0;
  entered_target = 0;
  called_arg = called_from = NULL;
  ((dispatch_fn)(uintptr_t)fn)(callback, arg);
}

/* One site in fn: prepared as `mode`, installed, run (the stub names the
 * callback, which returns to call_end), removed (the bytes as they were,
 * nothing named any more). */
static void check_site(uint8_t *fn, size_t size, int mode, size_t call_off, size_t call_end) {
  uint8_t before[64];
  memcpy(before, fn, size);
  struct uvdb_callsite c[4];
  char why[120] = "";
  assert_int_equal(uvdb_callsites_prepare("dispatch", fn, size, enter, c, 4, why, sizeof(why)), 1);
  assert_ptr_equal(c[0].call, fn + call_off);
  assert_int_equal(c[0].mode, mode);
  assert_int_equal(uvdb_callsite_install(&c[0]), 0);
  assert_memory_not_equal(before, fn, size);
  int arg;
  run(fn, &arg);
  assert_int_equal(entered, 1);
  assert_int_equal(entered_target, (uint64_t)(uintptr_t)callback);
  assert_int_equal(called, 1);
  assert_ptr_equal(called_arg, &arg);
  assert_ptr_equal(called_from, fn + call_end); /* the function's own code, not the stub */
  assert_int_equal(uvdb_callsite_remove(&c[0]), 0);
  assert_memory_equal(before, fn, size);
  run(fn, &arg);
  assert_int_equal(entered, 0);
  assert_int_equal(called, 1);
}

/* push rbx; mov rax, rdi; mov rdi, rsi; call rax; pop rbx; ret: the mov
 * before the call moves to the stub with it. */
static void test_register_call_preceding(void **state) {
  (void)state;
  static const uint8_t code[] = {0x53, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0xff, 0xd0, 0x5b, 0xc3};
  uint8_t *fn = code_new(code, sizeof(code));
  check_site(fn, sizeof(code), UVDB_CALLSITE_PRECEDING, 7, 9);
  code_free(fn);
}

/* sub rsp, 24; mov [rsp+8], rdi; mov rdi, rsi; call [rsp+8]; add rsp, 24;
 * ret: the operand is read past the stub's pushes. */
static void test_rsp_memory_call(void **state) {
  (void)state;
  static const uint8_t code[] = {0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0x7c, 0x24, 0x08, 0x48, 0x89, 0xf7,
                                 0xff, 0x54, 0x24, 0x08, 0x48, 0x83, 0xc4, 0x18, 0xc3};
  uint8_t *fn = code_new(code, sizeof(code));
  check_site(fn, sizeof(code), UVDB_CALLSITE_PRECEDING, 12, 16);
  code_free(fn);
}

/* The call is a branch target (jmp over alignment padding): a jmp rel8 at
 * the call hops to the padding, which jumps to the stub.
 *   0 push rbx; 1 mov rax, rdi; 4 mov rdi, rsi; 7 jmp 0x11;
 *   9 nop dword [rax+rax] (8 bytes); 0x11 call rax; 0x13 pop rbx; 0x14 ret */
static void test_branch_target_hops(void **state) {
  (void)state;
  static const uint8_t code[] = {0x53, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0xeb, 0x08, 0x0f, 0x1f,
                                 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xd0, 0x5b, 0xc3};
  uint8_t *fn = code_new(code, sizeof(code));
  check_site(fn, sizeof(code), UVDB_CALLSITE_HOP, 0x11, 0x13);
  code_free(fn);
}

/* A branch lands inside what the jmp would cover, and there is no padding
 * to hop to: refused, with a reason, and never written.
 *   0 push rbx; 1 mov rax, rdi; 4 mov rdi, rsi; 7 test rdi, rdi; 0xa je 0xd;
 *   0xc nop; 0xd nop; 0xe call rax; 0x10 pop rbx; 0x11 ret */
static void test_jumped_into_refused(void **state) {
  (void)state;
  static const uint8_t code[] = {0x53, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x85, 0xff,
                                 0x74, 0x01, 0x90, 0x90, 0xff, 0xd0, 0x5b, 0xc3};
  uint8_t *fn = code_new(code, sizeof(code));
  struct uvdb_callsite c[2];
  char why[120];
  assert_int_equal(uvdb_callsites_prepare("dispatch", fn, sizeof(code), enter, c, 2, why, sizeof(why)), 1);
  assert_int_equal(c[0].mode, 0);
  assert_non_null(strstr(c[0].reason, "branch"));
  assert_int_equal(uvdb_callsite_install(&c[0]), -1);
  assert_memory_equal(fn, code, sizeof(code));
  int arg;
  run(fn, &arg);
  assert_int_equal(entered, 0);
  assert_int_equal(called, 1);
  code_free(fn);
}

/* A call through the GOT (rip-relative memory) is a library call, not a
 * callback: no site.  call [rip+2]; ret; int3; .quad callback */
static void test_rip_relative_call_ignored(void **state) {
  (void)state;
  uint8_t code[17] = {0xff, 0x15, 0x02, 0x00, 0x00, 0x00, 0xc3, 0xcc};
  uint64_t cb = (uint64_t)(uintptr_t)callback;
  memcpy(code + 8, &cb, 8);
  uint8_t *fn = code_new(code, sizeof(code));
  struct uvdb_callsite c[2];
  char why[120];
  assert_int_equal(uvdb_callsites_prepare("got", fn, 8, enter, c, 2, why, sizeof(why)), 0); /* the code, not its data */
  code_free(fn);
}

/* A position-independent switch: lea rdx, [rip+table]; movsxd rax,
 * [rdx+rcx*4]; add rax, rdx; jmp rax.  The table (in the data page) is
 * read: where an entry lands on the call, the site cannot be patched.  The
 * callback is kept in r8, as the switch uses rax:
 *   0 push rbx; 1 mov r8, rdi; 4 mov rdi, rsi; 7 xor ecx, ecx;
 *   9 lea rdx, [rip+table]; 0x10 movsxd rax, [rdx+rcx*4]; 0x14 add rax, rdx;
 *   0x17 jmp rax; 0x19 mov r9, rdi (the case); 0x1c call r8; 0x1f pop rbx;
 *   0x20 ret */
static uint8_t *switch_function(int32_t case_off) {
  uint8_t code[0x21] = {0x53, 0x49, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x31, 0xc9, 0x48, 0x8d, 0x15, 0, 0, 0, 0, 0x48,
                        0x63, 0x04, 0x8a, 0x48, 0x01, 0xd0, 0xff, 0xe0, 0x49, 0x89, 0xf9, 0x41, 0xff, 0xd0, 0x5b, 0xc3};
  int32_t rel = CODE_LEN - 0x10; /* the table: the data page's start */
  memcpy(code + 12, &rel, 4);
  uint8_t *fn = code_new(code, sizeof(code));
  int32_t entry = (int32_t)(case_off - CODE_LEN); /* fn + case_off, from the table */
  memcpy(fn + CODE_LEN, &entry, 4);
  memset(fn + CODE_LEN + 4, 0x7f, 4); /* then an entry far outside: the table ends */
  return fn;
}

static void test_switch_table_read(void **state) {
  (void)state;
  /* The case begins at the mov before the call: the range may start there. */
  uint8_t *fn = switch_function(0x19);
  check_site(fn, 0x21, UVDB_CALLSITE_PRECEDING, 0x1c, 0x1f);
  code_free(fn);
  /* The case begins at the call itself: no site (no padding to hop to). */
  fn = switch_function(0x1c);
  struct uvdb_callsite c[2];
  char why[120];
  assert_int_equal(uvdb_callsites_prepare("switch", fn, 0x21, enter, c, 2, why, sizeof(why)), 1);
  assert_int_equal(c[0].mode, 0);
  code_free(fn);
}

/* An indirect jump with no table uvdb can read could land anywhere: the
 * whole function is refused.  push rbx; mov rax, rdi; call rax; jmp rdi */
static void test_unknown_indirect_jump_refused(void **state) {
  (void)state;
  static const uint8_t code[] = {0x53, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0xff, 0xd0, 0x5b, 0xff, 0xe7};
  uint8_t *fn = code_new(code, sizeof(code));
  struct uvdb_callsite c[2];
  char why[120] = "";
  assert_int_equal(uvdb_callsites_prepare("tail", fn, sizeof(code), enter, c, 2, why, sizeof(why)), -1);
  assert_non_null(strstr(why, "indirect jump"));
  code_free(fn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_call_preceding), cmocka_unit_test(test_rsp_memory_call),
      cmocka_unit_test(test_branch_target_hops),      cmocka_unit_test(test_jumped_into_refused),
      cmocka_unit_test(test_rip_relative_call_ignored), cmocka_unit_test(test_switch_table_read),
      cmocka_unit_test(test_unknown_indirect_jump_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
