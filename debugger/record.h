/* Recordings (`uvdb record`, `uvdb report`): the file format's writer and
 * reader (record.c, no session needed), and the tee in the drain path. */
#ifndef UVDB_RECORD_H
#define UVDB_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The layout is documented field by field in docs/recording.md. */
#define REC_MAGIC "UVDBREC\0"
#define REC_FORMAT_VERSION 1u
#define REC_HEADER_SIZE 32u
#define REC_CHUNK_SYNC 0x4b4e4843u   /* "CHNK" little-endian */
#define REC_CHUNK_HEADER_SIZE 16u
#define REC_CHUNK_MAX (16u << 20) /* a longer chunk is corruption, not data */

enum rec_chunk_type {
  REC_INFO = 1,           /* text key=value lines: uvdb's own, then the probe's HELLO */
  REC_CLOCK = 2,          /* u64 tsc0, ns0, tsc1, ns1: TSC to CLOCK_MONOTONIC */
  REC_EVENTS = 3,         /* u32 tid, u32 count, char thread[16], count ring records */
  REC_PROFILE_SAMPLE = 4, /* struct rec_profile_sample, then n u64 pcs */
  REC_STACK_SAMPLE = 5,   /* struct rec_stack_sample, then n u64 pcs */
  REC_SYMBOLS = 6,        /* entries: u64 addr, u16 name_len, u16 module_len, name, module */
  REC_MAPS = 7,           /* u32 pid, then /proc/PID/maps as read */
  REC_MODULE = 8,         /* u16 path_len, u16 build_id_len, path, build-id bytes */
  REC_PERFMAP = 9,        /* u32 pid, then lines V8 appended to /tmp/perf-PID.map */
  REC_END = 10,           /* struct rec_end: the recording ended cleanly */
  REC_CHUNK_TYPES
};

struct rec_header {
  char magic[8];          /* REC_MAGIC */
  uint16_t version;       /* REC_FORMAT_VERSION */
  uint16_t header_size;   /* REC_HEADER_SIZE: later versions may grow it */
  uint32_t record_size;   /* sizeof(struct uvdb_record) */
  uint32_t protocol;      /* the probe protocol the records follow */
  uint32_t reserved;
  uint64_t created_ns;    /* CLOCK_REALTIME at the start */
};

struct rec_chunk_header {
  uint32_t sync;   /* REC_CHUNK_SYNC */
  uint16_t type;   /* enum rec_chunk_type */
  uint16_t flags;  /* 0 */
  uint32_t length; /* payload bytes that follow */
  uint32_t crc32;  /* zlib's crc32 of the payload */
};

struct rec_profile_sample {
  uint64_t ts;
  uint32_t tid;
  uint16_t loop_id;
  uint8_t phase, role, waiting, reserved;
  uint16_t npcs;
  uint32_t reserved2; /* 24 bytes in all, no padding */
};

struct rec_stack_sample {
  uint64_t episode;
  uint16_t loop_id, kind;
  uint32_t npcs;
};

struct rec_end {
  uint64_t events, dropped, profile_lost, duration_ns;
  int32_t exit_code, term_signal; /* -1 for the one not set, both -1 if still running */
  uint32_t ended_by;              /* enum rec_ended_by */
  uint32_t reserved;
};

enum rec_ended_by { REC_ENDED_EXIT = 1, REC_ENDED_INTERRUPT = 2, REC_ENDED_DURATION = 3, REC_ENDED_WRITE_FAILED = 4 };

/* ---- writing (mode 0600, buffered) ---- */
struct rec_writer;
struct rec_writer *rec_create(const char *path, uint32_t protocol, char *err, size_t errcap);
/* One chunk whose payload is head then body (either may be empty). 0, or -1 on a write error. */
int rec_write(struct rec_writer *w, uint16_t type, const void *head, size_t head_len, const void *body,
              size_t body_len);
uint64_t rec_written(const struct rec_writer *w); /* bytes so far */
int rec_failed(const struct rec_writer *w);      /* a write failed (disk full, ...) */
int rec_close(struct rec_writer *w);              /* 0, or -1 if any write failed */

/* ---- reading (streamed: one chunk in memory at a time) ---- */
struct rec_reader {
  FILE *f;
  struct rec_header header;
  uint64_t offset;      /* of the next chunk */
  uint8_t *payload;     /* the current chunk's */
  size_t cap;
  int ended;            /* the END chunk was read */
  char error[256];      /* why reading stopped early */
  uint64_t error_offset;
};

struct rec_chunk {
  uint16_t type;
  uint32_t length;
  const uint8_t *payload;
  uint64_t offset; /* of its header in the file */
};

/* 0, or -1 with r->error and r->error_offset set (the header is bad). */
int rec_open(struct rec_reader *r, const char *path);
/* 1: a chunk; 0: the end, after the END chunk; -1: the file breaks at
 * r->error_offset (truncated, corrupt, or no END chunk), r->error says how. */
int rec_next(struct rec_reader *r, struct rec_chunk *c);
void rec_close_reader(struct rec_reader *r);
const char *rec_chunk_name(unsigned type);

/* ---- the tee in the drain path (cmd_record.c): while `uvdb record` runs,
 * what the drain takes goes to the file, not into the model ---- */
struct session;
struct uvdb_ring;
struct uvdb_record;
struct prof_rec;
struct stack;
struct recorder;
extern struct recorder *uvdb_recorder;

/* The live drain and the replay both deliver through these three. */
void feed_events(struct session *s, const struct uvdb_ring *ring, const struct uvdb_record *recs, unsigned n);
void feed_profile_sample(struct session *s, const struct prof_rec *meta, uint64_t ts, uint32_t tid,
                         const uint64_t *pcs, int n);
void feed_stack_sample(struct session *s, int loop_id, int kind, uint64_t episode, const struct stack *st);

int cmd_record_main(int argc, char **argv); /* uvdb record ... */
int cmd_report_main(int argc, char **argv); /* uvdb report ... */

#endif
