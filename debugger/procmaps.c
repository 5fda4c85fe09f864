/* A process's memory map as the symbolizer's modules.  libdwfl's own
 * reading of /proc/PID/maps makes one module of a file's mappings with only
 * anonymous memory between them.  node 20's V8 maps part of node's file a
 * second time (its embedded builtins, into the code range beside its JIT
 * code): node's module then stretched over the JIT code, whose addresses
 * were "node" instead of their perf-map names.  Here a mapping far from its
 * file's own layout is an alias, kept out of the modules and resolved
 * through the layout: a builtin run from the copy is named as in node. */
#define _GNU_SOURCE
#include "procmaps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far a mapping's address less its file offset may stray from the
 * file's first page's and still be the same layout: segments are aligned
 * to at most 2 MiB, so a layout's bias moves by less. */
#define UV__LAYOUT_SLACK (64ull << 20)

struct uv__line {
  uint64_t start, end, off, ino;
  unsigned major, minor;
  const char *text, *name; /* the whole line; its path or [tag] ("" anonymous) */
  size_t len;              /* with its newline */
  int alias;
};

char *procmaps_read(pid_t pid, size_t *len) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return NULL;
  size_t cap = 65536, n = 0, got;
  char *buf = malloc(cap + 1);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
    if ((n += got) == cap) {
      char *grown = realloc(buf, (cap *= 2) + 1);
      if (!grown)
        free(buf);
      buf = grown;
    }
  fclose(f);
  if (!buf)
    return NULL;
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int uv__is_file(const struct uv__line *l) {
  return l->name[0] == '/' && (l->ino || l->major || l->minor);
}

static int uv__same_file(const struct uv__line *a, const struct uv__line *b) {
  return a->ino == b->ino && a->major == b->major && a->minor == b->minor;
}

static size_t uv__split(const char *text, size_t len, struct uv__line **out) {
  size_t n = 0, cap = 0;
  struct uv__line *v = NULL;
  for (const char *p = text, *end = text + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t linelen = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    char line[4352];
    size_t copy = linelen < sizeof(line) - 1 ? linelen : sizeof(line) - 1;
    memcpy(line, p, copy);
    line[copy] = '\0';
    struct uv__line l = {.text = p, .len = linelen};
    int at = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %x:%x %" SCNu64 " %n", &l.start, &l.end, &l.off,
               &l.major, &l.minor, &l.ino, &at) < 6 ||
        at <= 0 || l.end < l.start) {
      free(v);
      return (size_t)-1;
    }
    l.name = p + at;
    if (n == cap) {
      struct uv__line *grown = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
      if (!grown) {
        free(v);
        return (size_t)-1;
      }
      v = grown;
    }
    v[n++] = l;
    p += linelen;
  }
  *out = v;
  return n;
}

/* The line mapping the file's first page, whose layout the others follow. */
static const struct uv__line *uv__layout_of(const struct uv__line *v, size_t n, const struct uv__line *l) {
  for (size_t i = 0; i < n; i++)
    if (v[i].off == 0 && uv__is_file(&v[i]) && uv__same_file(&v[i], l))
      return &v[i];
  return NULL;
}

static int uv__add_alias(struct procmaps *pm, uint64_t start, uint64_t end, uint64_t to) {
  struct procmaps_alias *grown = realloc(pm->aliases, (pm->naliases + 1) * sizeof(*grown));
  if (!grown)
    return -1;
  pm->aliases = grown;
  pm->aliases[pm->naliases++] = (struct procmaps_alias){start, end, to};
  return 0;
}

/* Each part of an alias that the file's own mappings show too. */
static int uv__resolve_alias(struct procmaps *pm, const struct uv__line *v, size_t n, const struct uv__line *a) {
  uint64_t a_end = a->off + (a->end - a->start);
  for (size_t i = 0; i < n; i++) {
    const struct uv__line *l = &v[i];
    if (l->alias || !uv__is_file(l) || !uv__same_file(l, a))
      continue;
    uint64_t lo = a->off > l->off ? a->off : l->off;
    uint64_t hi = a_end < l->off + (l->end - l->start) ? a_end : l->off + (l->end - l->start);
    if (lo < hi && uv__add_alias(pm, a->start + (lo - a->off), a->start + (hi - a->off), l->start + (lo - l->off)))
      return -1;
  }
  return 0;
}

int procmaps_parse(const char *text, size_t len, struct procmaps *pm) {
  memset(pm, 0, sizeof(*pm));
  struct uv__line *v = NULL;
  size_t n = uv__split(text, len, &v);
  if (n == (size_t)-1 || !(pm->kept = malloc(len + 1)))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    struct uv__line *l = &v[i];
    const struct uv__line *layout = uv__is_file(l) ? uv__layout_of(v, n, l) : NULL;
    uint64_t bias = l->start - l->off, layout_bias = layout ? layout->start : bias;
    l->alias = (bias > layout_bias ? bias - layout_bias : layout_bias - bias) > UV__LAYOUT_SLACK;
    if (!strncmp(l->name, "[vdso]", 6))
      pm->vdso_start = l->start, pm->vdso_end = l->end;
    if (!l->alias) {
      memcpy(pm->kept + pm->kept_len, l->text, l->len);
      pm->kept_len += l->len;
    }
  }
  pm->kept[pm->kept_len] = '\0';
  for (size_t i = 0; i < n; i++)
    if (v[i].alias && uv__resolve_alias(pm, v, n, &v[i]) != 0)
      goto fail;
  free(v);
  return 0;
fail:
  free(v);
  procmaps_free(pm);
  return -1;
}

void procmaps_free(struct procmaps *pm) {
  free(pm->kept);
  free(pm->aliases);
  memset(pm, 0, sizeof(*pm));
}

uint64_t procmaps_resolve(const struct procmaps *pm, uint64_t addr) {
  for (size_t i = 0; pm && i < pm->naliases; i++)
    if (addr >= pm->aliases[i].start && addr < pm->aliases[i].end)
      return pm->aliases[i].to + (addr - pm->aliases[i].start);
  return addr;
}
