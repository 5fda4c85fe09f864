/* Machine code under test, in a page of its own: written while RW then made
 * RX as a loader would, with a data page after it that stays RW.  Include
 * after cmocka.h. */
#ifndef UVDB_TEST_CODE_PAGE_H
#define UVDB_TEST_CODE_PAGE_H

#include <string.h>
#include <sys/mman.h>

#define CODE_LEN 4096

static inline uint8_t *code_new(const uint8_t *bytes, size_t len) {
  uint8_t *p = mmap(NULL, 2 * CODE_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  assert_true(len <= CODE_LEN);
  memset(p, 0xcc, CODE_LEN); /* int3 everywhere else */
  memcpy(p, bytes, len);
  assert_int_equal(mprotect(p, CODE_LEN, PROT_READ | PROT_EXEC), 0);
  __builtin___clear_cache((char *)p, (char *)p + len);
  return p;
}

static inline void code_free(uint8_t *p) {
  assert_int_equal(munmap(p, 2 * CODE_LEN), 0);
}

#endif
