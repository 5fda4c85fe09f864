/* libFuzzer target: an ELF file's bytes, read by both symbol readers: the
 * probe's own (preload/elfsym.c, which maps the file and trusts no offset)
 * and the debugger's (symbolize.c over elfutils, for `break callback`
 * before `run`).  The file lives in a memfd, opened by its /proc path. */
#define _GNU_SOURCE
#include "memfd.h"
#include "../../debugger/symbolize.h"
#include "../../preload/elfsym.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int count(void *arg, const char *name, uint64_t addr, uint64_t size) {
  (void)addr, (void)size;
  (*(int *)arg) += (int)strlen(name) > 0;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  int fd = fuzz_memfd(data, size, path, sizeof(path));

  struct uvdb_elf e;
  if (uvdb_elf_open(&e, path) == 0) {
    struct uvdb_elf_want want[] = {{"uv_run", 0, 0, 0}, {"uv__io_poll", 0, 0, 0}, {"on_timer", 0, 0, 0},
                                   {"", 0, 0, 0}};
    uvdb_elf_find(&e, want, sizeof(want) / sizeof(want[0]));
    uvdb_elf_close(&e);
  }

  struct symbolizer *sym = symbolizer_open_file(path);
  if (sym) {
    int n = 0;
    symbolizer_find(sym, "on_*", count, &n);
    symbolizer_find(sym, "ns::Class::*", count, &n);
    char buf[256];
    symbolizer_suggest(sym, "on_timr", buf, sizeof(buf));
    for (uint64_t a = 0; a < 0x3000; a += 0x100) {
      symbolize(sym, a, buf, sizeof(buf));
      symbolize_module(sym, a);
      symbolizer_function_size(sym, a);
    }
    symbolizer_close(sym);
  }
  close(fd);
  return 0;
}
