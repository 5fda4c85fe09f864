/* libFuzzer target: a locate cache record (preload/loccache.c), the file a
 * followed child reads before patching code at the offsets it holds.  The
 * first byte picks what the rest is: 0, the file's bytes as they are; 1, a
 * record, encoded whole for the right binary (so that the checks of its
 * offsets are reached); 2, bytes XORed over such a file. */
#include "../../preload/loccache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A made-up object: code, read-only data, and writable data. */
static const struct uvdb_segments segs = {
    3, {{0x400000, 0x800000, 1}, {0x800000, 0x900000, 0}, {0xa00000, 0xa10000, 0}}};

static struct uvdb_loccache_key key(void) {
  struct uvdb_loccache_key k;
  memset(&k, 0, sizeof(k));
  k.obj_len = k.probe_len = 20;
  for (int i = 0; i < 20; i++)
    k.obj[i] = (uint8_t)i, k.probe[i] = (uint8_t)(0xff - i);
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  struct uvdb_loccache_key k = key();
  struct uvdb_loccache_record rec, out;
  uint8_t file[1024];
  size_t len;
  switch (data[0] % 3) {
  case 0:
    uvdb_loccache_parse(data + 1, size - 1, &k, &segs, &out);
    break;
  case 1:
    memset(&rec, 0, sizeof(rec));
    memcpy(&rec, data + 1, size - 1 < sizeof(rec) ? size - 1 : sizeof(rec));
    len = uvdb_loccache_encode(&k, &rec, file, sizeof(file));
    if (uvdb_loccache_parse(file, len, &k, &segs, &out) == 0 && memcmp(&out, &rec, sizeof(rec)) != 0)
      abort(); /* accepted, but not as written */
    break;
  default:
    memset(&rec, 0, sizeof(rec));
    rec.fn[UVDB_FN_UV_RUN] = (struct uvdb_loccache_fn){0x400100, 0x200, UVDB_HOW_SYMTAB, 0};
    len = uvdb_loccache_encode(&k, &rec, file, sizeof(file));
    for (size_t i = 1; i < size && i - 1 < len; i++)
      file[i - 1] ^= data[i];
    uvdb_loccache_parse(file, len, &k, &segs, &out);
    break;
  }
  return 0;
}
