/* The locate cache: where one process of a session found libuv in a binary,
 * kept in the session's private directory for its other processes. */
#ifndef UVDB_LOCCACHE_H
#define UVDB_LOCCACHE_H

#include "locate.h"
#include <stddef.h>
#include <stdint.h>

#define UVDB_BUILD_ID_MAX 32

/* What a record is valid for: the binary (its build-id, read from its
 * loaded notes) and the probe that searched it (its own build-id: another
 * probe may look for other names, or in another way). */
struct uvdb_loccache_key {
  uint8_t obj[UVDB_BUILD_ID_MAX], probe[UVDB_BUILD_ID_MAX];
  uint8_t obj_len, probe_len;
};

/* An object's loaded segments, in its own addresses (p_vaddr), against
 * which every offset of a record is checked. */
struct uvdb_segments {
  size_t n;
  struct {
    uint64_t lo, hi;
    int exec;
  } s[16];
};

/* One function (or datum) as found: its offset from the object's load
 * bias, its size, and how it was found (enum uvdb_how; 0: not found). */
struct uvdb_loccache_fn {
  uint64_t off, size;
  uint32_t how, pad;
};

struct uvdb_loccache_record {
  uint32_t version, version_inferred;
  struct uvdb_loccache_fn fn[UVDB_FN_COUNT], pool[UVDB_POOL_COUNT];
};

/* 0 with the key (build-ids read from the objects' notes in memory) and the
 * segments of `info`, or -1: the object or the probe has no build-id. */
int uvdb_loccache_key(const struct dl_phdr_info *info, struct uvdb_loccache_key *key, struct uvdb_segments *segs);

/* The record's file: PREFIX.BUILDID.locate, where PREFIX (the session's
 * socket path) is in a directory of ours that no one else may enter.
 * 0, or -1 when the directory is not such, or the path too long. */
int uvdb_loccache_path(char *out, size_t cap, const char *prefix, const struct uvdb_loccache_key *key);

/* 0 with a record that is whole, for this key, and whose every offset lies
 * in a segment of the object (functions in executable ones); else -1. */
int uvdb_loccache_parse(const void *buf, size_t len, const struct uvdb_loccache_key *key,
                        const struct uvdb_segments *segs, struct uvdb_loccache_record *rec);
/* The file of a record: the bytes uvdb_loccache_parse accepts.  Its size. */
size_t uvdb_loccache_encode(const struct uvdb_loccache_key *key, const struct uvdb_loccache_record *rec, void *buf,
                            size_t cap);

/* Read and check a record's file: a regular file of ours, not a symlink.
 * 0 or -1 (absent, or not to be trusted: then the caller searches). */
int uvdb_loccache_read(const char *path, const struct uvdb_loccache_key *key, const struct uvdb_segments *segs,
                       struct uvdb_loccache_record *rec);
/* Publish a record: written to a file of its own, then renamed over the
 * path, so that a reader sees the whole record or none.  Best effort. */
void uvdb_loccache_write(const char *path, const struct uvdb_loccache_key *key, const struct uvdb_loccache_record *rec);

/* The debugger, as its session ends: every record of the session goes. */
void uvdb_loccache_remove_all(const char *prefix);

#endif
