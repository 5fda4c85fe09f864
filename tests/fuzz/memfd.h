/* The fuzz targets' input as a file, for readers that open a path: a
 * memfd, named by its /proc/self/fd path (nothing on disk to clean up). */
#ifndef UVDB_FUZZ_MEMFD_H
#define UVDB_FUZZ_MEMFD_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The descriptor (close it after), its path in `path`. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap) {
  int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size)
    abort();
  snprintf(path, cap, "/proc/self/fd/%d", fd);
  return fd;
}

#endif
