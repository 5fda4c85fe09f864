/* The recording file format: a versioned header, then framed chunks (sync
 * word, type, length, crc32), written buffered and read one chunk at a time
 * so that neither side's memory grows with the recording. */
#define _GNU_SOURCE
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

_Static_assert(sizeof(struct rec_header) == REC_HEADER_SIZE, "header layout");
_Static_assert(sizeof(struct rec_chunk_header) == REC_CHUNK_HEADER_SIZE, "chunk header layout");
_Static_assert(sizeof(struct rec_profile_sample) == 24, "profile sample layout");
_Static_assert(sizeof(struct rec_stack_sample) == 16, "stack sample layout");
_Static_assert(sizeof(struct rec_end) == 48, "end layout");

struct rec_writer {
  FILE *f;
  uint64_t written;
  int failed;
};

static const char *const uv__chunk_names[REC_CHUNK_TYPES] = {
    [REC_INFO] = "info",     [REC_CLOCK] = "clock",   [REC_EVENTS] = "events",   [REC_PROFILE_SAMPLE] = "profile_sample",
    [REC_STACK_SAMPLE] = "stack_sample", [REC_SYMBOLS] = "symbols", [REC_MAPS] = "maps", [REC_MODULE] = "module",
    [REC_PERFMAP] = "perfmap", [REC_END] = "end",
};

const char *rec_chunk_name(unsigned type) {
  return type > 0 && type < REC_CHUNK_TYPES ? uv__chunk_names[type] : "unknown";
}

/* O_TRUNC keeps an existing file's mode: fchmod makes a regular file 0600
 * whatever it was (a pipe or a device is written as it is, its mode left). */
struct rec_writer *rec_create(const char *path, uint32_t protocol, char *err, size_t errcap) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || (S_ISREG(st.st_mode) && fchmod(fd, 0600) != 0)) {
    snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  struct rec_writer *w = calloc(1, sizeof(*w));
  w->f = fdopen(fd, "w");
  setvbuf(w->f, NULL, _IOFBF, 1 << 20);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct rec_header h = {.version = REC_FORMAT_VERSION, .header_size = REC_HEADER_SIZE, .record_size = 32,
                         .protocol = protocol,
                         .created_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec};
  memcpy(h.magic, REC_MAGIC, sizeof(h.magic));
  w->failed = fwrite(&h, sizeof(h), 1, w->f) != 1;
  w->written = sizeof(h);
  return w;
}

int rec_write(struct rec_writer *w, uint16_t type, const void *head, size_t head_len, const void *body,
              size_t body_len) {
  uLong crc = crc32(0, Z_NULL, 0);
  if (head_len)
    crc = crc32(crc, head, (uInt)head_len);
  if (body_len)
    crc = crc32(crc, body, (uInt)body_len);
  struct rec_chunk_header h = {REC_CHUNK_SYNC, type, 0, (uint32_t)(head_len + body_len), (uint32_t)crc};
  if (fwrite(&h, sizeof(h), 1, w->f) != 1 || (head_len && fwrite(head, head_len, 1, w->f) != 1) ||
      (body_len && fwrite(body, body_len, 1, w->f) != 1))
    w->failed = 1;
  w->written += sizeof(h) + head_len + body_len;
  return w->failed ? -1 : 0;
}

uint64_t rec_written(const struct rec_writer *w) {
  return w->written;
}

int rec_failed(const struct rec_writer *w) {
  return w->failed;
}

int rec_close(struct rec_writer *w) {
  int failed = w->failed | (fflush(w->f) != 0) | (fsync(fileno(w->f)) != 0 && errno != EINVAL);
  failed |= fclose(w->f) != 0;
  free(w);
  return failed ? -1 : 0;
}

/* ---- reading ---- */

static int uv__fail(struct rec_reader *r, uint64_t offset, const char *fmt, const char *detail) {
  snprintf(r->error, sizeof(r->error), fmt, detail);
  r->error_offset = offset;
  return -1;
}

int rec_open(struct rec_reader *r, const char *path) {
  memset(r, 0, sizeof(*r));
  r->f = fopen(path, "rb");
  if (!r->f)
    return uv__fail(r, 0, "cannot open the recording: %s", strerror(errno));
  size_t got = fread(&r->header, 1, sizeof(r->header), r->f);
  if (got < 8 || memcmp(r->header.magic, REC_MAGIC, 8) != 0)
    return uv__fail(r, 0, "%s", "not a uvdb recording (no UVDBREC magic)");
  if (got < sizeof(r->header))
    return uv__fail(r, got, "%s", "truncated in the file header");
  if (r->header.version != REC_FORMAT_VERSION) {
    char v[32];
    snprintf(v, sizeof(v), "%u", r->header.version);
    return uv__fail(r, 8, "recording format version %s; this uvdb reads version 1", v);
  }
  if (r->header.header_size < REC_HEADER_SIZE || r->header.record_size != 32)
    return uv__fail(r, 10, "%s", "bad header size or record size");
  r->offset = r->header.header_size;
  if (fseeko(r->f, (off_t)r->offset, SEEK_SET) != 0)
    return uv__fail(r, r->offset, "%s", "truncated in the file header");
  return 0;
}

int rec_next(struct rec_reader *r, struct rec_chunk *c) {
  if (r->error[0])
    return -1;
  struct rec_chunk_header h;
  size_t got = fread(&h, 1, sizeof(h), r->f);
  if (got == 0 && feof(r->f))
    return r->ended ? 0 : uv__fail(r, r->offset, "%s", "the recording has no end chunk (uvdb was killed, or the file was cut)");
  if (r->ended)
    return uv__fail(r, r->offset, "%s", "data after the end chunk");
  if (got < sizeof(h))
    return uv__fail(r, r->offset, "%s", "truncated in a chunk header");
  if (h.sync != REC_CHUNK_SYNC)
    return uv__fail(r, r->offset, "%s", "no chunk starts here (bad sync word): the file is corrupt");
  if (h.length > REC_CHUNK_MAX)
    return uv__fail(r, r->offset, "%s", "a chunk claims more than 16 MiB: the file is corrupt");
  if (h.length > r->cap) {
    size_t cap = h.length + 4096;
    uint8_t *grown = realloc(r->payload, cap);
    if (!grown)
      return uv__fail(r, r->offset, "%s", "out of memory");
    r->payload = grown, r->cap = cap;
  }
  if (fread(r->payload, 1, h.length, r->f) != h.length)
    return uv__fail(r, r->offset, "truncated inside a chunk of type %s", rec_chunk_name(h.type));
  if ((uint32_t)crc32(crc32(0, Z_NULL, 0), r->payload, h.length) != h.crc32)
    return uv__fail(r, r->offset, "a chunk of type %s fails its checksum: the file is corrupt", rec_chunk_name(h.type));
  *c = (struct rec_chunk){h.type, h.length, r->payload, r->offset};
  r->offset += sizeof(h) + h.length;
  if (h.type == REC_END)
    r->ended = 1;
  return 1;
}

void rec_close_reader(struct rec_reader *r) {
  if (r->f)
    fclose(r->f);
  free(r->payload);
  r->f = NULL;
  r->payload = NULL;
}
