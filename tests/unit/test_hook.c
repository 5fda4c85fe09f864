/* Unit tests of the hook engine (preload/hook.c): small x86-64 functions are
 * written as machine code into an executable buffer, hooked with a C
 * replacement that calls the original through the trampoline, and called. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "code_page.h"
#include "hook.h"


static int64_t distance(const void *a, const void *b) {
  return (int64_t)((uintptr_t)a - (uintptr_t)b);
}

static int within_rel32(const void *p, size_t len, const void *near) {
  int64_t d1 = distance(p, near), d2 = distance((const uint8_t *)p + len, near);
  return d1 > INT32_MIN && d1 < INT32_MAX && d2 > INT32_MIN && d2 < INT32_MAX;
}

static void hook_init(struct uvdb_hook *h, const char *name, uint8_t *target, size_t size, void *replacement,
                      void **original) {
  memset(h, 0, sizeof(*h));
  h->name = name;
  h->target = target;
  h->size = size;
  h->replacement = replacement;
  h->original = original;
}

/* The entry must now be `jmp rel32`: straight to the replacement when it is
 * within reach, else to the stub, an absolute jmp to the replacement. */
static void assert_entry_patched(const struct uvdb_hook *h) {
  assert_int_equal(h->installed, 1);
  assert_int_equal(h->target[0], 0xe9);
  int32_t rel;
  memcpy(&rel, h->target + 1, 4);
  for (size_t i = 5; i < h->stolen; i++)
    assert_int_equal(h->target[i], 0xcc);
  assert_int_equal(h->stub[0], 0xff);
  assert_int_equal(h->stub[1], 0x25);
  uint64_t dest;
  memcpy(&dest, h->stub + 6, 8);
  assert_int_equal(dest, (uint64_t)(uintptr_t)h->replacement);
  int64_t reach = (int64_t)((uintptr_t)h->replacement - (uintptr_t)(h->target + 5));
  if (reach > -0x7fff0000ll && reach < 0x7fff0000ll)
    assert_ptr_equal(h->target + 5 + rel, h->replacement);
  else
    assert_ptr_equal(h->target + 5 + rel, h->stub);
}

/* The trampoline ends with a direct `jmp rel32` to target+stolen at `off`. */
static void assert_jmp_back(const struct uvdb_hook *h, size_t off) {
  assert_int_equal(h->trampoline[off], 0xe9);
  int32_t rel;
  memcpy(&rel, h->trampoline + off + 1, 4);
  assert_ptr_equal(h->trampoline + off + 5 + rel, h->target + h->stolen);
}

/* ---- RIP-relative operands in the prologue ------------------------------ */

static const uint64_t K = 0x1122334455667788ull;

typedef uint64_t (*fn0_t)(void);
typedef uint32_t (*fn1_t)(uint32_t);

static fn0_t orig_mov_rip;
static int calls_mov_rip;
static uint64_t repl_mov_rip(void) {
  calls_mov_rip++;
  return orig_mov_rip() + 1;
}

/* 0: mov rax, [rip+9]     ; the constant at 16
 * 7: ret
 * 16: .quad K */
static void test_rip_relative_mov(void **state) {
  (void)state;
  uint8_t bytes[24] = {0x48, 0x8b, 0x05, 0x09, 0x00, 0x00, 0x00, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc};
  memcpy(bytes + 16, &K, 8);
  uint8_t *code = code_new(bytes, sizeof(bytes));
  fn0_t fn = (fn0_t)code;
  assert_int_equal(fn(), K);

  struct uvdb_hook h;
  hook_init(&h, "mov_rip", code, 8, (void *)repl_mov_rip, (void **)&orig_mov_rip);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_string_equal(h.reason, "");
  assert_int_equal(h.stolen, 7);
  assert_memory_equal(h.saved, bytes, 7);
  assert_ptr_equal((void *)orig_mov_rip, h.trampoline);
  assert_memory_equal(code, bytes, sizeof(bytes)); /* prepare changes nothing in the target */
  assert_true(within_rel32(h.stub, 16, code + 5));

  /* The relocated mov still reads code+16: the displacement is re-encoded
   * for the trampoline's address. */
  assert_memory_equal(h.trampoline, "\x48\x8b\x05", 3);
  int32_t disp;
  memcpy(&disp, h.trampoline + 3, 4);
  assert_ptr_equal(h.trampoline + 7 + disp, code + 16);
  assert_jmp_back(&h, 7);
  /* The original, through the trampoline, before installing. */
  assert_int_equal(orig_mov_rip(), K);

  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_entry_patched(&h);
  calls_mov_rip = 0;
  assert_int_equal(fn(), K + 1);
  assert_int_equal(fn(), K + 1);
  assert_int_equal(calls_mov_rip, 2);
  assert_int_equal(uvdb_hook_install(&h), 0); /* idempotent */
  assert_int_equal(fn(), K + 1);

  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_int_equal(h.installed, 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  code_free(code);
}

static fn0_t orig_lea_rip;
static int calls_lea_rip;
static uint64_t repl_lea_rip(void) {
  calls_lea_rip++;
  return orig_lea_rip();
}

/* 0: lea rax, [rip+0x1000-7] ; an address outside the code, in the next page
 * 7: ret */
static void test_rip_relative_lea(void **state) {
  (void)state;
  const uint8_t bytes[] = {0x48, 0x8d, 0x05, 0xf9, 0x0f, 0x00, 0x00, 0xc3};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  fn0_t fn = (fn0_t)code;
  assert_int_equal(fn(), (uint64_t)(uintptr_t)(code + 0x1000));

  struct uvdb_hook h;
  hook_init(&h, "lea_rip", code, sizeof(bytes), (void *)repl_lea_rip, (void **)&orig_lea_rip);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_entry_patched(&h);
  calls_lea_rip = 0;
  assert_int_equal(fn(), (uint64_t)(uintptr_t)(code + 0x1000));
  assert_int_equal(calls_lea_rip, 1);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  code_free(code);
}

static fn1_t orig_add_rip;
static int calls_add_rip;
static uint32_t repl_add_rip(uint32_t x) {
  calls_add_rip++;
  return orig_add_rip(x) * 2;
}

/* The RIP-relative instruction is the second one stolen:
 * 0: mov eax, edi
 * 2: add eax, [rip+8]     ; the dword at 16
 * 8: ret
 * 16: .long 1000 */
static void test_rip_relative_second_insn(void **state) {
  (void)state;
  const uint8_t bytes[20] = {0x89, 0xf8, 0x03, 0x05, 0x08, 0x00, 0x00, 0x00, 0xc3, 0xcc, 0xcc, 0xcc,
                             0xcc, 0xcc, 0xcc, 0xcc, 0xe8, 0x03, 0x00, 0x00};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  fn1_t fn = (fn1_t)code;
  assert_int_equal(fn(5), 1005);

  struct uvdb_hook h;
  hook_init(&h, "add_rip", code, 9, (void *)repl_add_rip, (void **)&orig_add_rip);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 8);
  assert_memory_equal(h.trampoline, "\x89\xf8\x03\x05", 4);
  int32_t disp;
  memcpy(&disp, h.trampoline + 4, 4);
  assert_ptr_equal(h.trampoline + 8 + disp, code + 16);
  assert_jmp_back(&h, 8);

  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_entry_patched(&h); /* byte 5..7 are int3 */
  calls_add_rip = 0;
  assert_int_equal(fn(5), 2010);
  assert_int_equal(fn(7), 2014);
  assert_int_equal(calls_add_rip, 2);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  assert_int_equal(fn(5), 1005);
  code_free(code);
}

static fn1_t orig_call;
static int calls_call;
static uint32_t repl_call(uint32_t x) {
  calls_call++;
  return orig_call(x) + 100;
}

/* A rel32 call in the prologue, to a helper in the same buffer:
 * 0: push rbx ; aligns the stack for the call
 * 1: call +26              ; helper at 32: eax = edi * 3
 * 6: pop rbx
 * 7: ret
 * 32: lea eax, [rdi+rdi*2]; ret */
static void test_call_rel32_in_prologue(void **state) {
  (void)state;
  uint8_t bytes[36] = {0x53, 0xe8, 0x1a, 0x00, 0x00, 0x00, 0x5b, 0xc3};
  memset(bytes + 8, 0xcc, 24);
  memcpy(bytes + 32, "\x8d\x04\x7f\xc3", 4);
  uint8_t *code = code_new(bytes, sizeof(bytes));
  fn1_t fn = (fn1_t)code;
  assert_int_equal(fn(7), 21);

  struct uvdb_hook h;
  hook_init(&h, "call", code, 8, (void *)repl_call, (void **)&orig_call);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 6);
  assert_int_equal(h.trampoline[0], 0x53);
  assert_int_equal(h.trampoline[1], 0xe8);
  int32_t rel;
  memcpy(&rel, h.trampoline + 2, 4);
  assert_ptr_equal(h.trampoline + 6 + rel, code + 32);
  assert_jmp_back(&h, 6);

  assert_int_equal(uvdb_hook_install(&h), 0);
  calls_call = 0;
  assert_int_equal(fn(7), 121);
  assert_int_equal(calls_call, 1);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  code_free(code);
}

typedef uint32_t (*fnv_t)(void);
typedef double (*fnd_t)(void);

static fnv_t orig_cmp_rip;
static int calls_cmp_rip;
static uint32_t repl_cmp_rip(void) {
  calls_cmp_rip++;
  return orig_cmp_rip() + 10;
}

/* A RIP-relative operand followed by an immediate (the displacement is not
 * the instruction's last field), reading a variable in the RW data page:
 *  0: cmp dword [rip+0xff9], 42   ; 83 3d f9 0f 00 00 2a -> code+0x1000
 *  7: sete al
 * 10: movzx eax, al
 * 13: ret */
static void test_rip_relative_with_imm(void **state) {
  (void)state;
  static const uint8_t bytes[] = {0x83, 0x3d, 0xf9, 0x0f, 0x00, 0x00, 0x2a, 0x0f, 0x94, 0xc0, 0x0f, 0xb6, 0xc0, 0xc3};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  volatile uint32_t *var = (volatile uint32_t *)(code + 0x1000);
  fnv_t fn = (fnv_t)code;
  *var = 42;
  assert_int_equal(fn(), 1);
  *var = 43;
  assert_int_equal(fn(), 0);

  struct uvdb_hook h;
  hook_init(&h, "cmp_rip", code, sizeof(bytes), (void *)repl_cmp_rip, (void **)&orig_cmp_rip);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 7);
  assert_memory_equal(h.trampoline, "\x83\x3d", 2);
  int32_t disp;
  memcpy(&disp, h.trampoline + 2, 4);
  assert_ptr_equal(h.trampoline + 7 + disp, code + 0x1000);
  assert_int_equal(h.trampoline[6], 0x2a);
  assert_int_equal(uvdb_hook_install(&h), 0);
  calls_cmp_rip = 0;
  assert_int_equal(fn(), 10);
  *var = 42;
  assert_int_equal(fn(), 11);
  assert_int_equal(calls_cmp_rip, 2);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  code_free(code);
}

static fnd_t orig_movsd_rip;
static int calls_movsd_rip;
static double repl_movsd_rip(void) {
  calls_movsd_rip++;
  return orig_movsd_rip() + 0.5;
}

/* A prefixed SSE load, RIP-relative:
 *  0: movsd xmm0, [rip+0xff8]   ; f2 0f 10 05 f8 0f 00 00 -> code+0x1000
 *  8: addsd xmm0, xmm0          ; f2 0f 58 c0
 * 12: ret */
static void test_rip_relative_sse(void **state) {
  (void)state;
  static const uint8_t bytes[] = {0xf2, 0x0f, 0x10, 0x05, 0xf8, 0x0f, 0x00, 0x00, 0xf2, 0x0f, 0x58, 0xc0, 0xc3};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  volatile double *var = (volatile double *)(code + 0x1000);
  fnd_t fn = (fnd_t)code;
  *var = 1.25;
  assert_true(fn() == 2.5);

  struct uvdb_hook h;
  hook_init(&h, "movsd_rip", code, sizeof(bytes), (void *)repl_movsd_rip, (void **)&orig_movsd_rip);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 8);
  assert_memory_equal(h.trampoline, bytes, 4);
  int32_t disp;
  memcpy(&disp, h.trampoline + 4, 4);
  assert_ptr_equal(h.trampoline + 8 + disp, code + 0x1000);
  assert_int_equal(uvdb_hook_install(&h), 0);
  calls_movsd_rip = 0;
  assert_true(fn() == 3.0);
  *var = 3.0;
  assert_true(fn() == 6.5);
  assert_int_equal(calls_movsd_rip, 2);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  assert_true(fn() == 6.0);
  code_free(code);
}

/* ---- a short conditional jump in the prologue --------------------------- */

static fn1_t orig_jcc;
static int calls_jcc;
static uint32_t repl_jcc(uint32_t x) {
  calls_jcc++;
  return orig_jcc(x) + 10;
}

/*  0: test edi, edi
 *  2: je +6          ; to 10, past the stolen bytes
 *  4: mov eax, 1
 *  9: ret
 * 10: mov eax, 2
 * 15: ret */
static const uint8_t jcc_bytes[16] = {0x85, 0xff, 0x74, 0x06, 0xb8, 0x01, 0x00, 0x00,
                                      0x00, 0xc3, 0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3};

static void test_jcc_rel8_widened(void **state) {
  (void)state;
  uint8_t *code = code_new(jcc_bytes, sizeof(jcc_bytes));
  fn1_t fn = (fn1_t)code;
  assert_int_equal(fn(0), 2);
  assert_int_equal(fn(1), 1);

  struct uvdb_hook h;
  hook_init(&h, "jcc", code, sizeof(jcc_bytes), (void *)repl_jcc, (void **)&orig_jcc);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 9);
  /* The trampoline is farther than a rel8 reaches: the je became 0f 84 rel32. */
  assert_true(distance(h.trampoline, code) > 127 || distance(h.trampoline, code) < -128);
  assert_memory_equal(h.trampoline, "\x85\xff\x0f\x84", 4);
  int32_t rel;
  memcpy(&rel, h.trampoline + 4, 4);
  assert_ptr_equal(h.trampoline + 8 + rel, code + 10);
  assert_memory_equal(h.trampoline + 8, jcc_bytes + 4, 5);
  assert_jmp_back(&h, 13);

  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_entry_patched(&h);
  calls_jcc = 0;
  assert_int_equal(fn(0), 12); /* je taken: through the widened jump */
  assert_int_equal(fn(1), 11); /* not taken: through the jmp back */
  assert_int_equal(fn(0), 12);
  assert_int_equal(calls_jcc, 3);

  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, jcc_bytes, sizeof(jcc_bytes));
  code_free(code);
}

/* ---- refusals ------------------------------------------------------------ */

static fn0_t orig_unused;
static uint64_t repl_unused(void) {
  fail_msg("the replacement of a refused hook ran");
  return 0;
}

static void assert_refused(const uint8_t *bytes, size_t len, size_t size, const char *reason_part) {
  uint8_t *code = code_new(bytes, len);
  struct uvdb_hook h;
  orig_unused = NULL;
  hook_init(&h, "refused", code, size, (void *)repl_unused, (void **)&orig_unused);
  assert_int_equal(uvdb_hook_prepare(&h), -1);
  assert_true(h.reason[0] != '\0');
  if (!strstr(h.reason, reason_part))
    fail_msg("reason \"%s\" does not mention \"%s\"", h.reason, reason_part);
  assert_null(h.stub);
  assert_null(h.trampoline);
  assert_null((void *)orig_unused);
  assert_memory_equal(code, bytes, len);
  /* Installing a refused hook is refused too, and writes nothing. */
  assert_int_equal(uvdb_hook_install(&h), -1);
  assert_true(h.reason[0] != '\0');
  assert_int_equal(h.installed, 0);
  assert_memory_equal(code, bytes, len);
  code_free(code);
}

static void test_refuse_too_short(void **state) {
  (void)state;
  static const uint8_t ret[] = {0xc3};
  assert_refused(ret, sizeof(ret), sizeof(ret), "too short");
  static const uint8_t xor_ret[] = {0x31, 0xc0, 0xc3};
  assert_refused(xor_ret, sizeof(xor_ret), sizeof(xor_ret), "too short");
  /* Size unknown (0): refused rather than guessed. */
  assert_refused(xor_ret, sizeof(xor_ret), 0, "too short");
  /* 6 bytes, but control leaves at byte 2: the rest is padding. */
  static const uint8_t xor_ret_pad[] = {0x31, 0xc0, 0xc3, 0x90, 0x90, 0x90};
  assert_refused(xor_ret_pad, sizeof(xor_ret_pad), sizeof(xor_ret_pad), "too short");
  /* An unconditional jmp within the first 5 bytes (a tail call stub). */
  static const uint8_t jmp_pad[] = {0xeb, 0x04, 0x90, 0x90, 0x90, 0x90, 0xc3};
  assert_refused(jmp_pad, sizeof(jmp_pad), sizeof(jmp_pad), "too short");
}

/* 0: xor eax, eax
 * 2: inc eax         ; L, inside the 6 stolen bytes
 * 4: dec edi
 * 6: jne L           ; 75 fa
 * 8: ret
 * Returns edi for edi >= 1. */
static void test_refuse_jumped_into(void **state) {
  (void)state;
  static const uint8_t bytes[] = {0x31, 0xc0, 0xff, 0xc0, 0xff, 0xcf, 0x75, 0xfa, 0xc3};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  assert_int_equal(((fn1_t)code)(3), 3);
  code_free(code);
  assert_refused(bytes, sizeof(bytes), sizeof(bytes), "lands inside");

  /* The same with a rel32 jump back to byte 1..4, from farther away:
   * 0: xor eax,eax; 2: inc eax; 4: dec edi; 6: jne rel32 -> 2; 12: ret */
  static const uint8_t bytes32[] = {0x31, 0xc0, 0xff, 0xc0, 0xff, 0xcf, 0x0f, 0x85, 0xf6, 0xff, 0xff, 0xff, 0xc3};
  code = code_new(bytes32, sizeof(bytes32));
  assert_int_equal(((fn1_t)code)(4), 4);
  code_free(code);
  assert_refused(bytes32, sizeof(bytes32), sizeof(bytes32), "lands inside");
}

static fn1_t orig_loop_entry;
static int calls_loop_entry;
static uint32_t repl_loop_entry(uint32_t x) {
  calls_loop_entry++;
  return orig_loop_entry(x);
}

/* From beyond a short branch's reach (300 bytes of nops between), where
 * branches are found by their bytes: jne, jmp and call rel32 to byte 2
 * refuse; with a ret in the branch's place the hook is prepared. */
static void test_refuse_jumped_into_from_afar(void **state) {
  (void)state;
  static const uint8_t head[] = {0x31, 0xc0, 0xff, 0xc0, 0xff, 0xcf}; /* xor eax,eax; inc eax; dec edi */
  static const uint8_t tails[][6] = {{0x0f, 0x85}, {0xe9}, {0xe8}};
  static const size_t tail_len[] = {6, 5, 5};
  for (size_t t = 0; t < 3; t++) {
    uint8_t far[6 + 300 + 6 + 1];
    memcpy(far, head, 6);
    memset(far + 6, 0x90, 300);
    size_t at = 6 + 300;
    memcpy(far + at, tails[t], tail_len[t] - 4);
    int32_t rel = (int32_t)(2 - (int64_t)(at + tail_len[t]));
    memcpy(far + at + tail_len[t] - 4, &rel, 4);
    far[at + tail_len[t]] = 0xc3;
    size_t len = at + tail_len[t] + 1;
    assert_refused(far, len, len, "lands inside");
    far[at] = 0xc3; /* the branch gone: its bytes no longer begin one */
    memset(far + at + 1, 0x90, tail_len[t] - 1);
    struct uvdb_hook h;
    uint8_t *c = code_new(far, len);
    hook_init(&h, "far", c, len, (void *)repl_loop_entry, (void **)&orig_loop_entry);
    assert_int_equal(uvdb_hook_prepare(&h), 0);
    code_free(c);
  }
}

/* A branch back to the entry itself (byte 0) is not "jumped into": it lands
 * on the patched jmp, as a recursive call of the function would.
 * 0: mov eax, edi ; 2: dec edi ; 4: nop ; 5: jg 0 (7f f9) ; 7: ret
 * With the hook, each iteration enters the replacement again. */
static void test_branch_to_entry_allowed(void **state) {
  (void)state;
  static const uint8_t bytes[] = {0x89, 0xf8, 0xff, 0xcf, 0x90, 0x7f, 0xf9, 0xc3};
  uint8_t *code = code_new(bytes, sizeof(bytes));
  fn1_t fn = (fn1_t)code;
  assert_int_equal(fn(3), 1);
  struct uvdb_hook h;
  hook_init(&h, "loop_entry", code, sizeof(bytes), (void *)repl_loop_entry, (void **)&orig_loop_entry);
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(h.stolen, 5);
  assert_int_equal(uvdb_hook_install(&h), 0);
  calls_loop_entry = 0;
  assert_int_equal(fn(3), 1);
  assert_int_equal(calls_loop_entry, 3);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, bytes, sizeof(bytes));
  code_free(code);
}

/* ---- remove -------------------------------------------------------------- */

static void test_remove_restores(void **state) {
  (void)state;
  uint8_t *code = code_new(jcc_bytes, sizeof(jcc_bytes));
  fn1_t fn = (fn1_t)code;
  struct uvdb_hook h;
  hook_init(&h, "jcc", code, sizeof(jcc_bytes), (void *)repl_jcc, (void **)&orig_jcc);
  assert_int_equal(uvdb_hook_remove(&h), 0); /* not installed: nothing to do */
  assert_memory_equal(code, jcc_bytes, sizeof(jcc_bytes));
  assert_int_equal(uvdb_hook_prepare(&h), 0);
  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_memory_not_equal(code, jcc_bytes, h.stolen);
  calls_jcc = 0;
  assert_int_equal(fn(0), 12);

  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_int_equal(h.installed, 0);
  assert_memory_equal(code, jcc_bytes, sizeof(jcc_bytes));
  assert_int_equal(fn(0), 2);
  assert_int_equal(fn(1), 1);
  assert_int_equal(calls_jcc, 1);
  assert_int_equal(uvdb_hook_remove(&h), 0); /* twice: still the original */
  assert_memory_equal(code, jcc_bytes, sizeof(jcc_bytes));
  /* The page is executable and not writable again. */
  assert_int_equal(fn(1), 1);

  /* Install again with the same preparation, remove again. */
  assert_int_equal(uvdb_hook_install(&h), 0);
  assert_int_equal(fn(1), 11);
  assert_int_equal(calls_jcc, 2);
  assert_int_equal(uvdb_hook_remove(&h), 0);
  assert_memory_equal(code, jcc_bytes, sizeof(jcc_bytes));
  assert_int_equal(fn(0), 2);
  code_free(code);
}

/* ---- alloc_near ---------------------------------------------------------- */

static int some_data;

static void check_alloc_near(const void *near) {
  for (size_t len = 1; len <= 4096; len *= 8) {
    uint8_t *p = uvdb_hook_alloc_near(near, len);
    assert_non_null(p);
    if (!within_rel32(p, len, near))
      fail_msg("alloc_near(%p, %zu) = %p, out of rel32 reach", near, len, (void *)p);
    assert_int_equal((uintptr_t)p % 16, 0);
    /* readable (mapped), and zero-filled as fresh anonymous memory */
    for (size_t i = 0; i < len; i++)
      assert_int_equal(p[i], 0);
    uint8_t *q = uvdb_hook_alloc_near(near, len);
    assert_non_null(q);
    assert_true(within_rel32(q, len, near));
    assert_true(q >= p + len || q + len <= p); /* no overlap */
  }
}

static void test_alloc_near(void **state) {
  (void)state;
  uint8_t *code = code_new(jcc_bytes, sizeof(jcc_bytes));
  check_alloc_near(code);
  check_alloc_near((const void *)test_alloc_near); /* the test's own text */
  check_alloc_near(&some_data);
  code_free(code);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rip_relative_mov),
      cmocka_unit_test(test_rip_relative_lea),
      cmocka_unit_test(test_rip_relative_second_insn),
      cmocka_unit_test(test_rip_relative_with_imm),
      cmocka_unit_test(test_rip_relative_sse),
      cmocka_unit_test(test_call_rel32_in_prologue),
      cmocka_unit_test(test_jcc_rel8_widened),
      cmocka_unit_test(test_refuse_too_short),
      cmocka_unit_test(test_refuse_jumped_into),
      cmocka_unit_test(test_refuse_jumped_into_from_afar),
      cmocka_unit_test(test_branch_to_entry_allowed),
      cmocka_unit_test(test_remove_restores),
      cmocka_unit_test(test_alloc_near),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
