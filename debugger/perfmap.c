/* JavaScript names: the perf map V8 writes for a node uvdb launched with
 * --perf-basic-prof-only-functions (/tmp/perf-PID.map: "START SIZE name" lines, JIT code
 * and interpreter frames), read as it grows and kept after the program
 * exits, when uvdb removes the file it caused. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct perf_entry {
  uint64_t start, size;
  char *name;
};

static struct {
  pid_t pid;
  struct perf_entry *e;
  size_t n, cap;
  off_t read_to;
  int sorted;
} uv__map;

static void uv__clear(void) {
  for (size_t i = 0; i < uv__map.n; i++)
    free(uv__map.e[i].name);
  free(uv__map.e);
  memset(&uv__map, 0, sizeof(uv__map));
}

static void uv__path(pid_t pid, char *buf, size_t cap) {
  snprintf(buf, cap, "/tmp/perf-%d.map", (int)pid);
}

/* Read what V8 added since last time; whole lines only. */
static void uv__load(pid_t pid) {
  if (uv__map.pid != pid) {
    uv__clear();
    uv__map.pid = pid;
  }
  char path[64];
  uv__path(pid, path, sizeof(path));
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size <= uv__map.read_to || fseeko(f, uv__map.read_to, SEEK_SET) != 0) {
    fclose(f);
    return;
  }
  char line[1024];
  while (fgets(line, sizeof(line), f)) {
    size_t len = strlen(line);
    if (!len || line[len - 1] != '\n')
      break; /* being written: next time */
    uv__map.read_to += (off_t)len;
    line[len - 1] = '\0';
    unsigned long long start, size;
    int at = 0;
    if (sscanf(line, "%llx %llx %n", &start, &size, &at) < 2 || !at)
      continue;
    if (uv__map.n == uv__map.cap) {
      size_t cap = uv__map.cap ? uv__map.cap * 2 : 4096;
      struct perf_entry *grown = realloc(uv__map.e, cap * sizeof(*grown));
      if (!grown)
        break;
      uv__map.e = grown, uv__map.cap = cap;
    }
    uv__map.e[uv__map.n++] = (struct perf_entry){start, size, strdup(line + at)};
    uv__map.sorted = 0;
  }
  fclose(f);
}

static int uv__by_start(const void *a, const void *b) {
  const struct perf_entry *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static const char *uv__find(uint64_t addr) {
  if (!uv__map.sorted && uv__map.n) { /* qsort of NULL, even for 0 entries, is undefined */
    qsort(uv__map.e, uv__map.n, sizeof(*uv__map.e), uv__by_start);
    uv__map.sorted = 1;
  }
  size_t lo = 0, hi = uv__map.n;
  while (lo < hi) { /* the first entry starting after addr */
    size_t mid = (lo + hi) / 2;
    if (uv__map.e[mid].start <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i-- > 0 && lo - i < 64;)
    if (addr < uv__map.e[i].start + uv__map.e[i].size)
      return uv__map.e[i].name;
  return NULL;
}

/* The name of the JIT code at addr, or NULL; the file is read again when
 * an address is not in it yet (new code). */
const char *perfmap_lookup(pid_t pid, uint64_t addr) {
  if (pid <= 0)
    return NULL;
  if (uv__map.pid != pid)
    uv__load(pid);
  const char *name = uv__find(addr);
  if (!name) {
    size_t before = uv__map.n;
    uv__load(pid);
    if (uv__map.n != before)
      name = uv__find(addr);
  }
  return name;
}

/* The program is gone: read the rest, then remove the file uvdb caused. */
void perfmap_finish(pid_t pid) {
  uv__load(pid);
  char path[64];
  uv__path(pid, path, sizeof(path));
  unlink(path);
}
