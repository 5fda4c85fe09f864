/* pprof's profile.proto, written by hand (a few varints and strings) and
 * wrapped in gzip with stored deflate blocks: go tool pprof, Speedscope and
 * other readers decode it, and uvdb needs no compression library for it. */
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>

struct buf {
  uint8_t *p;
  size_t n, cap;
};

static void uv__put(struct buf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 256;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void uv__varint(struct buf *b, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  uv__put(b, tmp, (size_t)n);
}

static void uv__field_varint(struct buf *b, unsigned field, uint64_t v) {
  uv__varint(b, (uint64_t)field << 3 | 0);
  uv__varint(b, v);
}

static void uv__field_bytes(struct buf *b, unsigned field, const void *data, size_t n) {
  uv__varint(b, (uint64_t)field << 3 | 2);
  uv__varint(b, n);
  uv__put(b, data, n);
}

/* The string table: index of s, added if new (a linear search: a profile
 * names at most a few thousand functions). */
struct strings {
  char **s;
  size_t n;
};

static uint64_t uv__string(struct strings *t, const char *s) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->s[i], s) == 0)
      return i;
  t->s = realloc(t->s, sizeof(char *) * (t->n + 1));
  t->s[t->n] = strdup(s);
  return t->n++;
}

static uint32_t uv__crc32(const uint8_t *p, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* gzip around stored deflate blocks (RFC 1951 BTYPE 00, RFC 1952). */
static int uv__gzip(FILE *out, const uint8_t *p, size_t n) {
  static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  fwrite(header, 1, sizeof(header), out);
  size_t at = 0;
  do {
    size_t len = n - at > 65535 ? 65535 : n - at;
    uint8_t block[5] = {(uint8_t)(at + len == n), (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)~len,
                        (uint8_t)(~len >> 8)};
    fwrite(block, 1, sizeof(block), out);
    fwrite(p + at, 1, len, out);
    at += len;
  } while (at < n);
  uint32_t crc = uv__crc32(p, n), size = (uint32_t)n;
  uint8_t trailer[8] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24),
                        (uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16), (uint8_t)(size >> 24)};
  fwrite(trailer, 1, sizeof(trailer), out);
  return ferror(out) ? -1 : 0;
}

/* The samples as folded stacks (root first, `;` between frames) with their
 * counts; one function and one location per distinct name.  Functions are
 * numbered in a table of their own, not by their name's string index: a
 * frame may be named as a header string is ("count", "wall", ...). */
int pprof_write(FILE *out, char **lines, const uint64_t *counts, size_t n, uint64_t period_ns, int wall) {
  struct strings t = {NULL, 0}, fns = {NULL, 0};
  struct buf b = {NULL, 0, 0}, sub = {NULL, 0, 0};
  uv__string(&t, "");
  uint64_t s_samples = uv__string(&t, "samples"), s_count = uv__string(&t, "count");
  uint64_t s_time = uv__string(&t, wall ? "wall" : "cpu"), s_ns = uv__string(&t, "nanoseconds");
  /* sample_type: samples/count and cpu|wall/nanoseconds */
  uint64_t types[2][2] = {{s_samples, s_count}, {s_time, s_ns}};
  for (int i = 0; i < 2; i++) {
    sub.n = 0;
    uv__field_varint(&sub, 1, types[i][0]);
    uv__field_varint(&sub, 2, types[i][1]);
    uv__field_bytes(&b, 1, sub.p, sub.n);
  }
  /* samples; a location's and its function's id is the name's index in fns, plus 1 */
  struct buf ids = {NULL, 0, 0};
  for (size_t i = 0; i < n; i++) {
    uint64_t frames[256];
    int nf = 0;
    char *line = strdup(lines[i]), *save = NULL;
    for (char *name = strtok_r(line, ";", &save); name && nf < 256; name = strtok_r(NULL, ";", &save))
      frames[nf++] = uv__string(&fns, name) + 1;
    free(line);
    ids.n = 0; /* leaf first, as pprof wants */
    for (int k = nf - 1; k >= 0; k--)
      uv__varint(&ids, frames[k]);
    struct buf values = {NULL, 0, 0};
    uv__varint(&values, counts[i]);
    uv__varint(&values, counts[i] * period_ns);
    sub.n = 0;
    uv__field_bytes(&sub, 1, ids.p, ids.n);
    uv__field_bytes(&sub, 2, values.p, values.n);
    uv__field_bytes(&b, 2, sub.p, sub.n);
    free(values.p);
  }
  free(ids.p);
  /* locations and functions, one each per name */
  for (size_t i = 0; i < fns.n; i++) {
    uint64_t id = i + 1, name = uv__string(&t, fns.s[i]);
    struct buf lineb = {NULL, 0, 0};
    uv__field_varint(&lineb, 1, id);
    sub.n = 0;
    uv__field_varint(&sub, 1, id);
    uv__field_bytes(&sub, 4, lineb.p, lineb.n);
    uv__field_bytes(&b, 4, sub.p, sub.n);
    sub.n = 0;
    uv__field_varint(&sub, 1, id);
    uv__field_varint(&sub, 2, name);
    uv__field_varint(&sub, 3, name);
    uv__field_bytes(&b, 5, sub.p, sub.n);
    free(lineb.p);
  }
  for (size_t i = 0; i < t.n; i++)
    uv__field_bytes(&b, 6, t.s[i], strlen(t.s[i]));
  sub.n = 0; /* period_type and period */
  uv__field_varint(&sub, 1, s_time);
  uv__field_varint(&sub, 2, s_ns);
  uv__field_bytes(&b, 11, sub.p, sub.n);
  uv__field_varint(&b, 12, period_ns);
  int r = uv__gzip(out, b.p, b.n);
  for (size_t i = 0; i < t.n; i++)
    free(t.s[i]);
  free(t.s);
  for (size_t i = 0; i < fns.n; i++)
    free(fns.s[i]);
  free(fns.s);
  free(b.p);
  free(sub.p);
  return r;
}
