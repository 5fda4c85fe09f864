/* libFuzzer target: the recording reader (debugger/record.c), as `uvdb
 * report` opens a file that may be truncated, corrupt or hostile: the
 * header, then every chunk up to the end or the first bad one. */
#define _GNU_SOURCE
#include "memfd.h"
#include "../../debugger/record.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  int fd = fuzz_memfd(data, size, path, sizeof(path));
  struct rec_reader r;
  if (rec_open(&r, path) == 0) {
    struct rec_chunk c;
    uint64_t sum = 0;
    while (rec_next(&r, &c) == 1) {
      /* every byte the reader says it holds is readable */
      for (uint32_t i = 0; i < c.length; i++)
        sum += c.payload[i];
      (void)rec_chunk_name(c.type);
    }
    (void)sum;
  }
  rec_close_reader(&r);
  close(fd);
  return 0;
}
