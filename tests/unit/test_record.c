/* The recording reader against truncated and corrupt files: it stops at the
 * byte offset where the file breaks, and every chunk before it reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/uvdb-test-record-XXXXXX";

/* A recording of four chunks: info, events (two records), symbols, end.
 * Returns its size; offsets[i] is where chunk i starts. */
static size_t uv__sample(const char *path, uint64_t offsets[4]) {
  char err[256];
  struct rec_writer *w = rec_create(path, 2, err, sizeof(err));
  assert_non_null(w);
  const char info[] = "record_pid=42\nlibuv=found\n";
  offsets[0] = rec_written(w);
  assert_int_equal(rec_write(w, REC_INFO, info, sizeof(info) - 1, NULL, 0), 0);
  struct {
    uint32_t tid, count;
    char thread[16];
  } head = {42, 2, "main"};
  uint8_t recs[64];
  for (int i = 0; i < 64; i++)
    recs[i] = (uint8_t)i;
  offsets[1] = rec_written(w);
  assert_int_equal(rec_write(w, REC_EVENTS, &head, sizeof(head), recs, sizeof(recs)), 0);
  offsets[2] = rec_written(w);
  assert_int_equal(rec_write(w, REC_SYMBOLS, "0123456789ab", 12, NULL, 0), 0);
  struct rec_end end = {2, 0, 0, 1000, 0, -1, REC_ENDED_EXIT, 0};
  offsets[3] = rec_written(w);
  assert_int_equal(rec_write(w, REC_END, &end, sizeof(end), NULL, 0), 0);
  size_t size = rec_written(w);
  assert_int_equal(rec_close(w), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, size);
  assert_int_equal(st.st_mode & 0777, 0600);
  return size;
}

/* Read every chunk: how many came before the result r (0 clean, -1 broken). */
static int uv__read_all(const char *path, struct rec_reader *rd, int *r) {
  int chunks = 0;
  struct rec_chunk c;
  if (rec_open(rd, path) != 0) {
    *r = -2;
    return 0;
  }
  while ((*r = rec_next(rd, &c)) == 1)
    chunks++;
  return chunks;
}

static void uv__truncate_copy(const char *from, const char *to, size_t keep) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char *buf = malloc(keep + 1);
  assert_int_equal(fread(buf, 1, keep, in), keep);
  assert_int_equal(fwrite(buf, 1, keep, out), keep);
  free(buf);
  fclose(in);
  fclose(out);
}

static void uv__path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", dir, name);
}

static void test_whole_file_reads(void **state) {
  (void)state;
  char path[256];
  uv__path(path, sizeof(path), "whole.uvrec");
  uint64_t off[4];
  uv__sample(path, off);
  struct rec_reader rd;
  assert_int_equal(rec_open(&rd, path), 0);
  assert_int_equal(rd.header.version, REC_FORMAT_VERSION);
  assert_int_equal(rd.header.protocol, 2);
  struct rec_chunk c;
  static const uint16_t types[] = {REC_INFO, REC_EVENTS, REC_SYMBOLS, REC_END};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(rec_next(&rd, &c), 1);
    assert_int_equal(c.type, types[i]);
    assert_int_equal(c.offset, off[i]);
  }
  assert_int_equal(c.length, sizeof(struct rec_end));
  assert_int_equal(rec_next(&rd, &c), 0);
  rec_close_reader(&rd);
  unlink(path);
}

/* Cut at every byte: the chunks wholly before the cut read, and the error
 * names the offset of the chunk the cut falls in. */
static void test_truncated_at_every_byte(void **state) {
  (void)state;
  char path[256], cut[256];
  uv__path(path, sizeof(path), "full.uvrec");
  uv__path(cut, sizeof(cut), "cut.uvrec");
  uint64_t off[4];
  size_t size = uv__sample(path, off);
  for (size_t keep = 0; keep < size; keep++) {
    uv__truncate_copy(path, cut, keep);
    struct rec_reader rd;
    int r;
    int chunks = uv__read_all(cut, &rd, &r);
    if (keep < REC_HEADER_SIZE) {
      assert_int_equal(r, -2); /* the header itself */
      assert_true(rd.error[0]);
    } else {
      int whole = 0;
      while (whole < 4 && (whole == 3 ? size : off[whole + 1]) <= keep)
        whole++;
      assert_int_equal(r, -1);
      assert_int_equal(chunks, whole);
      assert_int_equal(rd.error_offset, whole < 4 ? off[whole] : size);
      /* cut between chunks: whole chunks and no end; inside one: truncated */
      assert_non_null(strstr(rd.error, keep == off[whole] ? "no end chunk" : "truncated"));
    }
    rec_close_reader(&rd);
  }
  unlink(cut);
  unlink(path);
}

static void uv__flip(const char *path, size_t at) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, (long)at, SEEK_SET);
  int c = fgetc(f);
  fseek(f, (long)at, SEEK_SET);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

/* Reading path stops after `whole` chunks, at `offset`, saying `word`. */
static void uv__expect_break(const char *path, int whole, uint64_t offset, const char *word) {
  struct rec_reader rd;
  int r;
  assert_int_equal(uv__read_all(path, &rd, &r), whole);
  assert_int_equal(r, -1);
  assert_int_equal(rd.error_offset, offset);
  assert_non_null(strstr(rd.error, word));
  rec_close_reader(&rd);
}

static void test_corrupt_payload_fails_checksum(void **state) {
  (void)state;
  char path[256];
  uv__path(path, sizeof(path), "crc.uvrec");
  uint64_t off[4];
  uv__sample(path, off);
  uv__flip(path, off[1] + REC_CHUNK_HEADER_SIZE + 30); /* inside the events */
  uv__expect_break(path, 1, off[1], "type events fails its checksum");
  unlink(path);
}

static void test_bad_sync_and_huge_length(void **state) {
  (void)state;
  char path[256];
  uv__path(path, sizeof(path), "sync.uvrec");
  uint64_t off[4];
  uv__sample(path, off);
  uv__flip(path, off[2]); /* the symbols chunk's sync word */
  uv__expect_break(path, 2, off[2], "sync");
  uv__sample(path, off);
  uv__flip(path, off[1] + 11); /* the length's top byte: over 16 MiB */
  uv__expect_break(path, 1, off[1], "16 MiB");
  unlink(path);
}

static void test_bad_header(void **state) {
  (void)state;
  char path[256];
  uv__path(path, sizeof(path), "header.uvrec");
  uint64_t off[4];
  uv__sample(path, off);
  uv__flip(path, 8); /* the version */
  struct rec_reader rd;
  assert_int_equal(rec_open(&rd, path), -1);
  assert_int_equal(rd.error_offset, 8);
  assert_non_null(strstr(rd.error, "version"));
  rec_close_reader(&rd);
  uv__sample(path, off);
  uv__flip(path, 0);
  assert_int_equal(rec_open(&rd, path), -1);
  assert_non_null(strstr(rd.error, "not a uvdb recording"));
  rec_close_reader(&rd);
  unlink(path);
}

static void test_data_after_end(void **state) {
  (void)state;
  char path[256];
  uv__path(path, sizeof(path), "tail.uvrec");
  uint64_t off[4];
  size_t size = uv__sample(path, off);
  FILE *f = fopen(path, "ab");
  fputs("garbage", f);
  fclose(f);
  uv__expect_break(path, 4, size, "after the end");
  unlink(path);
}

int main(void) {
  if (!mkdtemp(dir))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole_file_reads),         cmocka_unit_test(test_truncated_at_every_byte),
      cmocka_unit_test(test_corrupt_payload_fails_checksum), cmocka_unit_test(test_bad_sync_and_huge_length),
      cmocka_unit_test(test_bad_header),               cmocka_unit_test(test_data_after_end),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(dir);
  return failed;
}
