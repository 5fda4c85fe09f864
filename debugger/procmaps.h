/* A process's memory map (/proc/PID/maps) as the symbolizer's modules:
 * the mappings that make up each file's own layout, and the aliases. */
#ifndef UVDB_PROCMAPS_H
#define UVDB_PROCMAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* [start, end) shows the same bytes of a file as `to` onwards does. */
struct procmaps_alias {
  uint64_t start, end, to;
};

struct procmaps {
  char *kept; /* the maps text less the aliases' lines */
  size_t kept_len;
  struct procmaps_alias *aliases;
  size_t naliases;
  uint64_t vdso_start, vdso_end; /* 0, 0: none */
};

/* /proc/PID/maps whole, NUL-terminated (malloc'd); NULL if unreadable. */
char *procmaps_read(pid_t pid, size_t *len);

/* Sort a maps text's lines: 0, or -1 (out of memory, or not a maps text). */
int procmaps_parse(const char *text, size_t len, struct procmaps *pm);
void procmaps_free(struct procmaps *pm);

/* The address in its file's own layout that addr shows, or addr itself. */
uint64_t procmaps_resolve(const struct procmaps *pm, uint64_t addr);

#endif
