/* Unit tests of the locate cache (preload/loccache.c): what a followed
 * child trusts of a file in the session's directory.  A record is taken
 * only whole, for the same binary and probe, with every offset inside the
 * object's segments, from a regular file of ours in a directory of ours;
 * anything else is refused (and the child searches as if there were none). */
#define _GNU_SOURCE
#include "loccache.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int first_object(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct uvdb_loccache_key *key = data;
  struct uvdb_segments segs;
  return uvdb_loccache_key(info, key, &segs) == 0 ? 1 : -1; /* the executable comes first */
}

/* The test's own key: this executable, which is also "the probe" here (the
 * object holding loccache.c's code). */
static void self_key(struct uvdb_loccache_key *key) {
  assert_int_equal(dl_iterate_phdr(first_object, key), 1);
}

/* A made-up object: code at [0x1000, 0x9000), data at [0x10000, 0x12000). */
static const struct uvdb_segments segs = {2, {{0x1000, 0x9000, 1}, {0x10000, 0x12000, 0}}};

static struct uvdb_loccache_record good_record(void) {
  struct uvdb_loccache_record r;
  memset(&r, 0, sizeof(r));
  r.version = 0x012e00;
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    r.fn[i] = (struct uvdb_loccache_fn){0x1000 + 0x100 * (uint64_t)i, 0x80, UVDB_HOW_SYMTAB, 0};
  r.pool[UVDB_POOL_WORK_SUBMIT] = (struct uvdb_loccache_fn){0x2000, 0x40, UVDB_HOW_SYMTAB, 0};
  r.pool[UVDB_V8_MICROTASK_SIZE_OFFSET] = (struct uvdb_loccache_fn){0x10008, 8, UVDB_HOW_SYMTAB, 0};
  return r;
}

static struct uvdb_loccache_key test_key(void) {
  struct uvdb_loccache_key k;
  memset(&k, 0, sizeof(k));
  k.obj_len = 20;
  k.probe_len = 20;
  for (int i = 0; i < 20; i++)
    k.obj[i] = (uint8_t)(0x10 + i), k.probe[i] = (uint8_t)(0x80 + i);
  return k;
}

static void test_build_id_of_self(void **state) {
  (void)state;
  struct uvdb_loccache_key key;
  self_key(&key);
  assert_true(key.obj_len == 20 || key.obj_len == 16 || key.obj_len == 8);
  /* the code of loccache.c is in this executable: it is "the probe" too */
  assert_int_equal(key.probe_len, key.obj_len);
  assert_memory_equal(key.probe, key.obj, key.obj_len);
}

static void test_round_trip(void **state) {
  (void)state;
  struct uvdb_loccache_key k = test_key();
  struct uvdb_loccache_record r = good_record(), out;
  uint8_t buf[1024];
  size_t len = uvdb_loccache_encode(&k, &r, buf, sizeof(buf));
  assert_true(len > sizeof(r));
  assert_int_equal(uvdb_loccache_encode(&k, &r, buf, len - 1), 0); /* no room: nothing */
  len = uvdb_loccache_encode(&k, &r, buf, sizeof(buf));
  assert_int_equal(uvdb_loccache_parse(buf, len, &k, &segs, &out), 0);
  assert_memory_equal(&out, &r, sizeof(r));
}

/* Torn, truncated, grown or flipped anywhere: refused. */
static void test_corrupt_or_truncated(void **state) {
  (void)state;
  struct uvdb_loccache_key k = test_key();
  struct uvdb_loccache_record r = good_record(), out;
  uint8_t buf[1024], bad[1024];
  size_t len = uvdb_loccache_encode(&k, &r, buf, sizeof(buf));
  for (size_t i = 0; i < len; i++) {
    memcpy(bad, buf, len);
    bad[i] ^= 0x01;
    if (uvdb_loccache_parse(bad, len, &k, &segs, &out) == 0)
      fail_msg("a flip of byte %zu was accepted", i);
  }
  for (size_t cut = 0; cut < len; cut += 7)
    assert_int_equal(uvdb_loccache_parse(buf, cut, &k, &segs, &out), -1);
  assert_int_equal(uvdb_loccache_parse(buf, len - 1, &k, &segs, &out), -1);
  memcpy(bad, buf, len);
  bad[len] = 0;
  assert_int_equal(uvdb_loccache_parse(bad, len + 1, &k, &segs, &out), -1);
}

/* Another binary, or another probe's search: refused. */
static void test_wrong_build_id(void **state) {
  (void)state;
  struct uvdb_loccache_key k = test_key(), other;
  struct uvdb_loccache_record r = good_record(), out;
  uint8_t buf[1024];
  size_t len = uvdb_loccache_encode(&k, &r, buf, sizeof(buf));
  other = k;
  other.obj[19] ^= 1;
  assert_int_equal(uvdb_loccache_parse(buf, len, &other, &segs, &out), -1);
  other = k;
  other.probe[0] ^= 1;
  assert_int_equal(uvdb_loccache_parse(buf, len, &other, &segs, &out), -1);
  other = k;
  other.obj_len = 16; /* a prefix of the same id */
  assert_int_equal(uvdb_loccache_parse(buf, len, &other, &segs, &out), -1);
  other = k;
  other.probe_len = 0;
  assert_int_equal(uvdb_loccache_parse(buf, len, &other, &segs, &out), -1);
}

static int parses(struct uvdb_loccache_record r) {
  struct uvdb_loccache_key k = test_key();
  struct uvdb_loccache_record out;
  uint8_t buf[1024];
  size_t len = uvdb_loccache_encode(&k, &r, buf, sizeof(buf));
  return uvdb_loccache_parse(buf, len, &k, &segs, &out) == 0;
}

/* Whole and of the right binary, but pointing where no code is: refused
 * (a file written by a buggy probe must not make the hooks patch data). */
static void test_offsets_checked(void **state) {
  (void)state;
  assert_true(parses(good_record()));
  struct uvdb_loccache_record r = good_record();
  r.fn[UVDB_FN_IO_POLL].off = 0x500; /* before every segment */
  assert_false(parses(r));
  r = good_record();
  r.fn[UVDB_FN_IO_POLL].off = 0x10000; /* in data */
  assert_false(parses(r));
  r = good_record();
  r.fn[UVDB_FN_IO_POLL].off = 0x8f00; /* runs past the code's end */
  r.fn[UVDB_FN_IO_POLL].size = 0x200;
  assert_false(parses(r));
  r.fn[UVDB_FN_IO_POLL].size = 0x100; /* ends exactly there */
  assert_true(parses(r));
  r = good_record();
  r.fn[UVDB_FN_IO_POLL].off = 0x1000;
  r.fn[UVDB_FN_IO_POLL].size = UINT64_MAX; /* wraps */
  assert_false(parses(r));
  r = good_record();
  r.pool[UVDB_V8_MICROTASK_SIZE_OFFSET].off = 0x12000; /* data, but past its segment */
  assert_false(parses(r));
  r = good_record();
  r.pool[UVDB_V8_MICROTASK_SIZE_OFFSET].off = 0x2000; /* a datum may be in any segment */
  assert_true(parses(r));
  r = good_record();
  r.fn[UVDB_FN_RUN_CHECK].how = UVDB_HOW_COUNT;
  assert_false(parses(r));
  r = good_record();
  r.fn[UVDB_FN_UV_RUN] = (struct uvdb_loccache_fn){0, 0, UVDB_HOW_NONE, 0}; /* no uv_run: no libuv */
  assert_false(parses(r));
  r = good_record();
  r.pool[UVDB_POOL_FS_WORK] = (struct uvdb_loccache_fn){0x3000, 0, UVDB_HOW_NONE, 0}; /* absent, yet placed */
  assert_false(parses(r));
  r = good_record();
  r.fn[UVDB_FN_RUN_IDLE].pad = 1;
  assert_false(parses(r));
  r = good_record();
  r.version_inferred = 2;
  assert_false(parses(r));
}

/* ---- the files ------------------------------------------------------------ */

struct dir {
  char path[64], prefix[96], file[512];
  struct uvdb_loccache_key key;
};

static int dir_setup(void **state) {
  struct dir *d = calloc(1, sizeof(*d));
  snprintf(d->path, sizeof(d->path), "/tmp/uvdb-loccache-test-XXXXXX");
  if (!d || !mkdtemp(d->path)) /* 0700 */
    return -1;
  snprintf(d->prefix, sizeof(d->prefix), "%s/uvdb-1.sock", d->path);
  d->key = test_key();
  if (uvdb_loccache_path(d->file, sizeof(d->file), d->prefix, &d->key) != 0)
    return -1;
  *state = d;
  return 0;
}

static int dir_teardown(void **state) {
  struct dir *d = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
  int r = system(cmd);
  free(d);
  return r == 0 ? 0 : -1;
}

static int entries(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (!p || fscanf(p, "%d", &n) != 1)
    n = -1;
  if (p)
    pclose(p);
  return n;
}

static void test_path_needs_a_private_directory(void **state) {
  struct dir *d = *state;
  char out[512];
  assert_non_null(strstr(d->file, "/uvdb-1.sock.1011121314"));
  assert_non_null(strstr(d->file, ".locate"));
  assert_int_equal(chmod(d->path, 0755), 0);
  assert_int_equal(uvdb_loccache_path(out, sizeof(out), d->prefix, &d->key), -1);
  assert_int_equal(chmod(d->path, 0700), 0);
  char link[128];
  snprintf(link, sizeof(link), "%s/linked", d->path);
  assert_int_equal(symlink(d->path, link), 0);
  snprintf(out, sizeof(out), "%s/uvdb-1.sock", link); /* its directory: a symlink */
  assert_int_equal(uvdb_loccache_path(out, sizeof(out), out, &d->key), -1);
  unlink(link);
  assert_int_equal(uvdb_loccache_path(out, sizeof(out), "no-directory.sock", &d->key), -1);
  assert_int_equal(uvdb_loccache_path(out, 20, d->prefix, &d->key), -1); /* too long */
  struct uvdb_loccache_key none = d->key;
  none.obj_len = 0;
  assert_int_equal(uvdb_loccache_path(out, sizeof(out), d->prefix, &none), -1);
}

static void test_write_then_read(void **state) {
  struct dir *d = *state;
  struct uvdb_loccache_record r = good_record(), out;
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1); /* none yet */
  uvdb_loccache_write(d->file, &d->key, &r);
  assert_int_equal(entries(d->path), 1); /* the record, no temporary file left */
  struct stat st;
  assert_int_equal(stat(d->file, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), 0);
  assert_memory_equal(&out, &r, sizeof(r));
  struct uvdb_loccache_key other = d->key;
  other.obj[0] ^= 1;
  assert_int_equal(uvdb_loccache_read(d->file, &other, &segs, &out), -1);
  r.version = 0x012c02; /* written again: replaced whole */
  uvdb_loccache_write(d->file, &d->key, &r);
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), 0);
  assert_int_equal(out.version, 0x012c02);
}

static void copy_file(const char *from, const char *to, size_t len) {
  char buf[2048];
  int in = open(from, O_RDONLY), o = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(in >= 0 && o >= 0);
  ssize_t n = read(in, buf, sizeof(buf));
  assert_true(n > 0 && (size_t)n >= len);
  assert_int_equal(write(o, buf, len), (ssize_t)len);
  close(in);
  close(o);
}

/* Only a regular file of ours, closed to others, of the record's size. */
static void test_untrusted_files_refused(void **state) {
  struct dir *d = *state;
  struct uvdb_loccache_record r = good_record(), out;
  char good[600];
  snprintf(good, sizeof(good), "%s/good", d->path);
  uvdb_loccache_write(d->file, &d->key, &r);
  assert_int_equal(rename(d->file, good), 0);
  struct stat st;
  assert_int_equal(stat(good, &st), 0);

  assert_int_equal(symlink(good, d->file), 0); /* a symlink to a good record */
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  unlink(d->file);

  copy_file(good, d->file, (size_t)st.st_size - 1); /* torn */
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  copy_file(good, d->file, (size_t)st.st_size);
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), 0);
  assert_int_equal(chmod(d->file, 0644), 0); /* readable by others: not as written */
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  assert_int_equal(chmod(d->file, 0600), 0);
  if (getuid() == 0) { /* someone else's */
    assert_int_equal(chown(d->file, 65534, 65534), 0);
    assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  }
  unlink(d->file);

  assert_int_equal(mkfifo(d->file, 0600), 0); /* would block a plain open() */
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  unlink(d->file);
  assert_int_equal(mkdir(d->file, 0700), 0);
  assert_int_equal(uvdb_loccache_read(d->file, &d->key, &segs, &out), -1);
  rmdir(d->file);
  unlink(good);
}

/* A file limit below the record's size: nothing written, and no SIGXFSZ. */
static void test_write_respects_rlimit_fsize(void **state) {
  struct dir *d = *state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit small = {100, 100};
    struct uvdb_loccache_record r = good_record();
    setrlimit(RLIMIT_FSIZE, &small);
    uvdb_loccache_write(d->file, &d->key, &r);
    _exit(access(d->file, F_OK) == 0 ? 1 : 0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_int_equal(entries(d->path), 0);
}

static void touch(const char *dir, const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  close(fd);
}

/* The session's records go as uvdb ends; nothing else does. */
static void test_remove_all(void **state) {
  struct dir *d = *state;
  struct uvdb_loccache_record r = good_record();
  uvdb_loccache_write(d->file, &d->key, &r);
  touch(d->path, "uvdb-1.sock");                       /* the socket's name */
  touch(d->path, "uvdb-1.sock.abcd.locate.tmp42");     /* a writer that died */
  touch(d->path, "uvdb-12.sock.abcd.locate");          /* another session's */
  touch(d->path, "uvdb-1.socket.abcd.locate");         /* not this prefix */
  assert_int_equal(entries(d->path), 5);
  uvdb_loccache_remove_all(d->prefix);
  assert_int_equal(entries(d->path), 3);
  assert_int_equal(access(d->file, F_OK), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_id_of_self),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_corrupt_or_truncated),
      cmocka_unit_test(test_wrong_build_id),
      cmocka_unit_test(test_offsets_checked),
      cmocka_unit_test_setup_teardown(test_path_needs_a_private_directory, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_write_then_read, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_files_refused, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_write_respects_rlimit_fsize, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_remove_all, dir_setup, dir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
