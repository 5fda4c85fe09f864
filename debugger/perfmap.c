/* JavaScript names: the perf map V8 writes for a node uvdb launched with
 * --perf-basic-prof-only-functions (/tmp/perf-PID.map: "START SIZE name" lines, JIT code
 * and interpreter frames), read as it grows and kept after the program
 * exits, when uvdb removes the file it caused. */
#define _GNU_SOURCE
#include "uvdb.h"
#include "../probes/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct perf_entry {
  uint64_t start, size;
  char *name;
};

/* One map a process: the program and each child followed (inferior.c)
 * keeps its names after it exits; past MAPS the oldest goes. */
#define MAPS 32
struct perf_map {
  pid_t pid;
  struct perf_entry *e;
  size_t n, cap;
  off_t read_to;
  int sorted;
};
static struct perf_map uv__maps[MAPS];
static unsigned uv__next;

static void uv__clear(struct perf_map *m) {
  for (size_t i = 0; i < m->n; i++)
    free(m->e[i].name);
  free(m->e);
  memset(m, 0, sizeof(*m));
}

static void uv__path(pid_t pid, char *buf, size_t cap) {
  snprintf(buf, cap, UVDB_PERF_MAP_PATH, (int)pid);
}

void perfmap_path(pid_t pid, char *buf, size_t cap) {
  uv__path(pid, buf, cap);
}

static struct perf_map *uv__map_of(pid_t pid) {
  for (unsigned i = 0; i < MAPS; i++)
    if (uv__maps[i].pid == pid)
      return &uv__maps[i];
  struct perf_map *m = &uv__maps[uv__next++ % MAPS];
  uv__clear(m);
  m->pid = pid;
  return m;
}

/* Read what V8 added since last time; whole lines only. */
static void uv__load(struct perf_map *m) {
  char path[64];
  uv__path(m->pid, path, sizeof(path));
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size <= m->read_to || fseeko(f, m->read_to, SEEK_SET) != 0) {
    fclose(f);
    return;
  }
  char line[1024];
  while (fgets(line, sizeof(line), f)) {
    size_t len = strlen(line);
    if (!len || line[len - 1] != '\n')
      break; /* being written: next time */
    m->read_to += (off_t)len;
    line[len - 1] = '\0';
    unsigned long long start, size;
    int at = 0;
    if (sscanf(line, "%llx %llx %n", &start, &size, &at) < 2 || !at)
      continue;
    if (m->n == m->cap) {
      size_t cap = m->cap ? m->cap * 2 : 4096;
      struct perf_entry *grown = realloc(m->e, cap * sizeof(*grown));
      if (!grown)
        break;
      m->e = grown, m->cap = cap;
    }
    m->e[m->n++] = (struct perf_entry){start, size, strdup(line + at)};
    m->sorted = 0;
  }
  fclose(f);
}

static int uv__by_start(const void *a, const void *b) {
  const struct perf_entry *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static const char *uv__find(struct perf_map *m, uint64_t addr) {
  if (!m->sorted && m->n) { /* qsort of NULL, even for 0 entries, is undefined */
    qsort(m->e, m->n, sizeof(*m->e), uv__by_start);
    m->sorted = 1;
  }
  size_t lo = 0, hi = m->n;
  while (lo < hi) { /* the first entry starting after addr */
    size_t mid = (lo + hi) / 2;
    if (m->e[mid].start <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i-- > 0 && lo - i < 64;)
    if (addr < m->e[i].start + m->e[i].size)
      return m->e[i].name;
  return NULL;
}

/* The name of the JIT code at addr, or NULL; the file is read again when
 * an address is not in it yet (new code). */
const char *perfmap_lookup(pid_t pid, uint64_t addr) {
  if (pid <= 0)
    return NULL;
  struct perf_map *m = uv__map_of(pid);
  if (!m->read_to)
    uv__load(m);
  const char *name = uv__find(m, addr);
  if (!name) {
    size_t before = m->n;
    uv__load(m);
    if (m->n != before)
      name = uv__find(m, addr);
  }
  return name;
}

/* The program is gone: read the rest, then remove the file uvdb caused. */
void perfmap_finish(pid_t pid) {
  uv__load(uv__map_of(pid));
  char path[64];
  uv__path(pid, path, sizeof(path));
  unlink(path);
}

int perfmap_exists(pid_t pid) {
  char path[64];
  uv__path(pid, path, sizeof(path));
  return access(path, F_OK) == 0;
}

/* When the process started, in seconds since the epoch (0: unknown):
 * /proc/PID/stat's start time after boot, plus /proc/stat's boot time. */
static double uv__process_started(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long long ticks = 0, btime = 0;
  for (int field = 2; p && *p && field < 22; field++)
    p = strchr(p + 1, ' ');
  if (!p || sscanf(p, " %llu", &ticks) != 1 || !(f = fopen("/proc/stat", "re")))
    return 0;
  char line[256];
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "btime %llu", &btime) == 1)
      break;
  fclose(f);
  return btime ? (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK) : 0;
}

/* A perf map older than its process is an earlier process's that had the
 * same PID: not this one's names.  One of the user's own goes. */
void perfmap_remove_stale(pid_t pid) {
  char path[64];
  uv__path(pid, path, sizeof(path));
  struct stat st;
  double started = uv__process_started(pid);
  if (stat(path, &st) == 0 && st.st_uid == geteuid() && started > 0 &&
      (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 < started - 1)
    unlink(path);
}
