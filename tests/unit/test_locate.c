/* Unit tests of the libuv locator (preload/locate.c, preload/elfsym.c).
 *
 * This executable links libuv 1.44.2 statically, so libuv's functions are in
 * its own .symtab, and the linker itself tells us where they are (&uv__io_poll
 * resolves to the hidden function in the static archive): an answer that does
 * not go through elfsym.c.  uvdb_match_uv144 is the stripped-library method;
 * uvdb_locate_in_object points the locator at Debian's stripped libuv.so.1. */
#define _GNU_SOURCE
#include "elfsym.h"
#include "locate.h"
#include <link.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* libuv 1.44.2's internal functions (src/uv-common.h, src/unix/internal.h).
 * Hidden visibility only keeps them out of a shared object's exports: in this
 * static link they resolve like any other symbol.  Only their addresses are
 * taken. */
void uv__run_timers(uv_loop_t *loop);
void uv__run_idle(uv_loop_t *loop);
void uv__run_prepare(uv_loop_t *loop);
void uv__run_check(uv_loop_t *loop);
void uv__io_poll(uv_loop_t *loop, int timeout);
uint64_t uv__hrtime(int type);
void uv__metrics_update_idle_time(uv_loop_t *loop);

typedef void (*any_fn)(void);

static uintptr_t linked_addr(enum uvdb_fn fn) {
  switch (fn) {
  case UVDB_FN_UV_RUN: return (uintptr_t)(any_fn)uv_run;
  case UVDB_FN_RUN_TIMERS: return (uintptr_t)(any_fn)uv__run_timers;
  case UVDB_FN_RUN_IDLE: return (uintptr_t)(any_fn)uv__run_idle;
  case UVDB_FN_RUN_PREPARE: return (uintptr_t)(any_fn)uv__run_prepare;
  case UVDB_FN_IO_POLL: return (uintptr_t)(any_fn)uv__io_poll;
  case UVDB_FN_RUN_CHECK: return (uintptr_t)(any_fn)uv__run_check;
  default: return 0;
  }
}

/* ---- .symtab of /proc/self/exe, read independently of the locator -------- */

struct self_syms {
  uintptr_t bias;
  struct uvdb_elf_want want[16];
  size_t n;
};

static int first_object(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  *(uintptr_t *)data = info->dlpi_addr;
  return 1; /* the executable comes first */
}

static void self_syms_load(struct self_syms *s, const char *const *names, size_t n) {
  assert_true(n <= 16);
  dl_iterate_phdr(first_object, &s->bias);
  struct uvdb_elf e;
  assert_int_equal(uvdb_elf_open(&e, "/proc/self/exe"), 0);
  assert_non_null(e.symtab);
  for (size_t i = 0; i < n; i++)
    s->want[i].name = names[i];
  s->n = n;
  uvdb_elf_find(&e, s->want, n);
  uvdb_elf_close(&e);
}

static uintptr_t self_addr(const struct self_syms *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->want[i].name, name) == 0) {
      assert_true(s->want[i].value != 0);
      return s->bias + s->want[i].value;
    }
  fail_msg("%s not looked up", name);
  return 0;
}

static size_t self_size(const struct self_syms *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->want[i].name, name) == 0)
      return s->want[i].size;
  fail_msg("%s not looked up", name);
  return 0;
}

/* ---- tests --------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  /* Make sure uv_run, and with it the whole loop, is linked and works. */
  uv_loop_t *loop = uv_default_loop();
  if (!loop || uv_run(loop, UV_RUN_DEFAULT) != 0 || uv_run(loop, UV_RUN_NOWAIT) != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return uv_loop_close(uv_default_loop()) == 0 ? 0 : -1;
}

static void test_locate_self_by_symtab(void **state) {
  (void)state;
  struct uvdb_libuv lib;
  memset(&lib, 0xa5, sizeof(lib));
  assert_int_equal(uvdb_locate_libuv(&lib, NULL), 0);

  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  assert_true(n > 0);
  exe[n] = '\0';
  assert_string_equal(lib.path, exe);
  uintptr_t bias = 0;
  dl_iterate_phdr(first_object, &bias);
  assert_int_equal(lib.bias, bias);
  assert_non_null(lib.eh_frame_hdr);
  assert_int_equal(lib.version, uv_version());
  assert_int_equal(lib.version, 0x012c02); /* the pattern tests below are 1.44.2's */
  assert_int_equal(lib.version_inferred, 0);
  if (strncmp(lib.how, ".symtab of ", 11) != 0 || strstr(lib.how, "call"))
    fail_msg("how: %s", lib.how);

  static const char *const names[UVDB_FN_COUNT] = {
      "uv_run", "uv__run_timers", "uv__run_idle", "uv__run_prepare", "uv__io_poll", "uv__run_check",
  };
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *f = &lib.fn[i];
    print_message("      %-16s %#" PRIxPTR " size %zu (%s)\n", f->name, f->addr, f->size, f->how);
    assert_string_equal(f->name, names[i]);
    assert_int_equal(f->addr, linked_addr((enum uvdb_fn)i));
    assert_true(f->size > 0);
    assert_string_equal(f->how, ".symtab");
  }
}

/* libuv 1.44.2's uv_run, by its call targets in address order:
 *   0 uv__hrtime  1 uv__run_timers  2 uv__run_pending  3 uv__run_idle
 *   4 uv__run_prepare  5 uv__backend_timeout  6 uv__io_poll
 *   7 uv__run_pending  8 uv__metrics_update_idle_time  9 uv__run_check */
static void test_direct_calls_of_uv_run(void **state) {
  (void)state;
  struct uvdb_libuv lib;
  assert_int_equal(uvdb_locate_libuv(&lib, NULL), 0);
  const struct uvdb_located_fn *run = &lib.fn[UVDB_FN_UV_RUN];
  uintptr_t c[64];
  size_t n = uvdb_direct_calls((const uint8_t *)run->addr, run->size, c, 64);
  print_message("      uv_run: %zu direct calls\n", n);
  assert_true(n >= 10);

  assert_int_equal(c[1], lib.fn[UVDB_FN_RUN_TIMERS].addr);
  assert_int_equal(c[3], lib.fn[UVDB_FN_RUN_IDLE].addr);
  assert_int_equal(c[4], lib.fn[UVDB_FN_RUN_PREPARE].addr);
  assert_int_equal(c[6], lib.fn[UVDB_FN_IO_POLL].addr);
  assert_int_equal(c[9], lib.fn[UVDB_FN_RUN_CHECK].addr);
  assert_int_equal(c[2], c[7]);
  for (int i = 0; i < 10; i++)
    for (int j = i + 1; j < 10; j++)
      if (c[i] == c[j] && !(i == 2 && j == 7))
        fail_msg("calls %d and %d of uv_run have the same target", i, j);

  /* The others, by the linker and by name (static ones only by name). */
  static const char *const names[] = {"uv__run_pending", "uv__backend_timeout"};
  struct self_syms s;
  self_syms_load(&s, names, 2);
  assert_int_equal(c[0], (uintptr_t)(any_fn)uv__hrtime);
  assert_int_equal(c[2], self_addr(&s, "uv__run_pending"));
  assert_int_equal(c[5], self_addr(&s, "uv__backend_timeout"));
  assert_int_equal(c[8], (uintptr_t)(any_fn)uv__metrics_update_idle_time);

  /* max bounds the output. */
  uintptr_t few[3] = {0, 0, 0};
  assert_int_equal(uvdb_direct_calls((const uint8_t *)run->addr, run->size, few, 2), 2);
  assert_int_equal(few[0], c[0]);
  assert_int_equal(few[1], c[1]);
  assert_int_equal(few[2], 0);
  assert_int_equal(uvdb_direct_calls((const uint8_t *)run->addr, 0, few, 3), 0);
}

/* The stripped-library method, run on this executable with the internal
 * functions' names forgotten, finds what the names say, with the sizes the
 * .symtab gives (through .eh_frame_hdr). */
static void test_match_144_agrees_with_names(void **state) {
  (void)state;
  struct uvdb_libuv named, stripped;
  assert_int_equal(uvdb_locate_libuv(&named, NULL), 0);
  stripped = named;
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    if (i != UVDB_FN_UV_RUN)
      stripped.fn[i].addr = 0, stripped.fn[i].size = 0, stripped.fn[i].how = NULL;
  assert_int_equal(uvdb_match_uv144(&stripped), 0);
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *f = &stripped.fn[i];
    assert_int_equal(f->addr, named.fn[i].addr);
    assert_int_equal(f->size, named.fn[i].size);
    if (i != UVDB_FN_UV_RUN && !strstr(f->how, "of uv_run (libuv 1.44 pattern)"))
      fail_msg("how: %s", f->how);
  }

  /* A uv_run with some other call pattern is not matched. */
  stripped.fn[UVDB_FN_UV_RUN].addr = named.fn[UVDB_FN_IO_POLL].addr;
  stripped.fn[UVDB_FN_UV_RUN].size = named.fn[UVDB_FN_IO_POLL].size;
  assert_int_equal(uvdb_match_uv144(&stripped), -1);
  stripped.fn[UVDB_FN_UV_RUN].addr = named.fn[UVDB_FN_RUN_TIMERS].addr;
  stripped.fn[UVDB_FN_UV_RUN].size = named.fn[UVDB_FN_RUN_TIMERS].size;
  assert_int_equal(uvdb_match_uv144(&stripped), -1);
}

static void test_eh_function_bounds(void **state) {
  (void)state;
  struct uvdb_libuv lib;
  assert_int_equal(uvdb_locate_libuv(&lib, NULL), 0);
  static const char *const names[] = {"uv__io_poll", "uv_run", "uv__run_timers", "uv__run_idle", "uv__run_prepare",
                                      "uv__run_check"};
  struct self_syms s;
  self_syms_load(&s, names, 6);

  uintptr_t poll = lib.fn[UVDB_FN_IO_POLL].addr, start = 0, end = 0;
  assert_int_equal(poll, (uintptr_t)(any_fn)uv__io_poll);
  assert_int_equal(uvdb_eh_function_bounds(lib.eh_frame_hdr, poll, &start, &end), 0);
  assert_int_equal(start, poll);
  assert_int_equal(start, self_addr(&s, "uv__io_poll"));
  assert_int_equal(end - start, self_size(&s, "uv__io_poll"));
  assert_int_equal(end - start, lib.fn[UVDB_FN_IO_POLL].size);
  /* any pc inside gives the same bounds; the end is outside */
  uintptr_t s2, e2;
  assert_int_equal(uvdb_eh_function_bounds(lib.eh_frame_hdr, end - 1, &s2, &e2), 0);
  assert_int_equal(s2, start);
  assert_int_equal(e2, end);
  if (uvdb_eh_function_bounds(lib.eh_frame_hdr, end, &s2, &e2) == 0)
    assert_int_equal(s2, end); /* the next function, if it starts right there */

  for (size_t i = 1; i < s.n; i++) {
    uintptr_t a = self_addr(&s, names[i]);
    assert_int_equal(uvdb_eh_function_bounds(lib.eh_frame_hdr, a + 1, &start, &end), 0);
    assert_int_equal(start, a);
    assert_int_equal(end - start, self_size(&s, names[i]));
  }

  /* Not a table, or a pc before every function: refused. */
  static const uint8_t bogus[16] = {0};
  assert_int_equal(uvdb_eh_function_bounds(bogus, poll, &start, &end), -1);
  assert_int_equal(uvdb_eh_function_bounds(NULL, poll, &start, &end), -1);
  assert_int_equal(uvdb_eh_function_bounds(lib.eh_frame_hdr, 1, &start, &end), -1);
}

/* uv__signal_event, which a stripped libuv does not name, from what
 * uv_signal_init loads: the same function as the .symtab's (and the
 * probe's hooks read it from there where named). */
static void test_signal_event_by_uv_signal_init(void **state) {
  (void)state;
  struct uvdb_libuv named, stripped;
  assert_int_equal(uvdb_locate_libuv(&named, NULL), 0);
  static const char *const names[] = {"uv__signal_event"};
  struct self_syms s;
  self_syms_load(&s, names, 1);
  const struct uvdb_located_fn *ev = &named.pool[UVDB_SIGNAL_EVENT];
  assert_int_equal(ev->addr, self_addr(&s, "uv__signal_event"));
  assert_string_equal(ev->how, ".symtab");
  assert_true(named.pool[UVDB_SIGNAL_INIT].addr == (uintptr_t)(any_fn)uv_signal_init);
  assert_true(named.pool[UVDB_PROC_SPAWN].addr == (uintptr_t)(any_fn)uv_spawn);

  stripped = named;
  stripped.pool[UVDB_SIGNAL_EVENT].addr = 0, stripped.pool[UVDB_SIGNAL_EVENT].size = 0;
  assert_int_equal(uvdb_match_signal_event(&stripped), 0);
  assert_int_equal(stripped.pool[UVDB_SIGNAL_EVENT].addr, ev->addr);
  assert_int_equal(stripped.pool[UVDB_SIGNAL_EVENT].size, self_size(&s, "uv__signal_event"));
  assert_non_null(strstr(stripped.pool[UVDB_SIGNAL_EVENT].how, "uv_signal_init (libuv 1.44 pattern)"));

  /* Another function in uv_signal_init's place loads none: no answer. */
  stripped.pool[UVDB_SIGNAL_EVENT].addr = 0;
  stripped.pool[UVDB_SIGNAL_INIT] = named.fn[UVDB_FN_RUN_TIMERS];
  assert_int_equal(uvdb_match_signal_event(&stripped), -1);
  assert_int_equal(stripped.pool[UVDB_SIGNAL_EVENT].addr, 0);
}

/* ---- Debian's stripped libuv.so.1 ---------------------------------------- */

struct find_so {
  const char *needle;
  struct uvdb_libuv *lib;
  int found;
  int visited;
  uintptr_t lo, hi; /* its loaded PT_LOAD extent */
};

static int visit_so(struct dl_phdr_info *info, size_t sz, void *data) {
  struct find_so *f = data;
  if (!info->dlpi_name || !strstr(info->dlpi_name, f->needle))
    return 0;
  f->visited = 1;
  f->lo = UINTPTR_MAX;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_LOAD) {
      uintptr_t a = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      if (a < f->lo)
        f->lo = a;
      if (a + info->dlpi_phdr[i].p_memsz > f->hi)
        f->hi = a + info->dlpi_phdr[i].p_memsz;
    }
  (void)sz;
  f->found = uvdb_locate_in_object(info, f->lib, NULL);
  return f->found;
}

static int so_has_symtab(const char *path) {
  struct uvdb_elf e;
  if (uvdb_elf_open(&e, path) != 0)
    return -1;
  int has = e.symtab != NULL;
  uvdb_elf_close(&e);
  return has;
}

static void test_stripped_shared_libuv(void **state) {
  (void)state;
  void *so = dlopen("libuv.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!so)
    fail_msg("dlopen libuv.so.1: %s", dlerror());
  unsigned (*so_version)(void) = (unsigned (*)(void))dlsym(so, "uv_version");
  void *so_run = dlsym(so, "uv_run");
  assert_non_null(so_version);
  assert_non_null(so_run);
  assert_int_equal(so_version(), 0x012c02);

  struct uvdb_libuv lib;
  memset(&lib, 0, sizeof(lib));
  struct find_so f = {"libuv.so.1", &lib, 0, 0, 0, 0};
  dl_iterate_phdr(visit_so, &f);
  assert_true(f.visited);
  assert_true(f.found);
  assert_int_equal(so_has_symtab(lib.path), 0); /* really stripped */
  print_message("      %s\n", lib.how);
  assert_int_equal(lib.version, 0x012c02);
  assert_non_null(strstr(lib.how, ".dynsym of "));
  assert_non_null(strstr(lib.how, "internal phase functions by uv_run's calls"));
  assert_int_equal(lib.fn[UVDB_FN_UV_RUN].addr, (uintptr_t)so_run);
  assert_string_equal(lib.fn[UVDB_FN_UV_RUN].how, ".dynsym");

  uintptr_t c[16];
  size_t n = uvdb_direct_calls((const uint8_t *)so_run, lib.fn[UVDB_FN_UV_RUN].size, c, 16);
  assert_true(n >= 10);
  static const int call_of[UVDB_FN_COUNT] = {-1, 1, 3, 4, 6, 9};
  for (int i = 1; i < UVDB_FN_COUNT; i++) {
    const struct uvdb_located_fn *fn = &lib.fn[i];
    print_message("      %-16s +%#" PRIxPTR " size %zu (%s)\n", fn->name, fn->addr - lib.bias, fn->size, fn->how);
    assert_int_equal(fn->addr, c[call_of[i]]);
    assert_true(fn->addr >= f.lo && fn->addr < f.hi);
    assert_true(fn->size > 0);
    assert_non_null(strstr(fn->how, "of uv_run (libuv 1.44 pattern)"));
  }
  /* Each is a function of its own, none the same as another. */
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    for (int j = i + 1; j < UVDB_FN_COUNT; j++)
      assert_true(lib.fn[i].addr != lib.fn[j].addr);

  /* uv__signal_event: what a loop of this libuv made its signal watcher's callback. */
  const struct uvdb_located_fn *ev = &lib.pool[UVDB_SIGNAL_EVENT];
  print_message("      %-16s +%#" PRIxPTR " size %zu (%s)\n", ev->name, ev->addr - lib.bias, ev->size, ev->how);
  assert_non_null(strstr(ev->how, "uv_signal_init (libuv 1.44 pattern)"));
  assert_true(ev->size > 0);
  int (*so_loop_init)(uv_loop_t *) = (int (*)(uv_loop_t *))dlsym(so, "uv_loop_init");
  int (*so_loop_close)(uv_loop_t *) = (int (*)(uv_loop_t *))dlsym(so, "uv_loop_close");
  assert_non_null(so_loop_init);
  assert_non_null(so_loop_close);
  uv_loop_t loop;
  assert_int_equal(so_loop_init(&loop), 0);
  assert_int_equal((uintptr_t)loop.signal_io_watcher.cb, ev->addr);
  assert_int_equal(so_loop_close(&loop), 0);
  assert_int_equal(lib.pool[UVDB_PROC_SPAWN].addr, (uintptr_t)dlsym(so, "uv_spawn"));
  dlclose(so);
}

/* ---- the locate cache (loccache.c) under the locator ------------------------ */

static void assert_same_lib(const struct uvdb_libuv *a, const struct uvdb_libuv *b) {
  assert_string_equal(a->path, b->path);
  assert_int_equal(a->bias, b->bias);
  assert_ptr_equal(a->eh_frame_hdr, b->eh_frame_hdr);
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->version_inferred, b->version_inferred);
  assert_string_equal(a->how, b->how);
  for (int i = 0; i < UVDB_FN_COUNT + UVDB_POOL_COUNT; i++) {
    const struct uvdb_located_fn *x = i < UVDB_FN_COUNT ? &a->fn[i] : &a->pool[i - UVDB_FN_COUNT];
    const struct uvdb_located_fn *y = i < UVDB_FN_COUNT ? &b->fn[i] : &b->pool[i - UVDB_FN_COUNT];
    assert_string_equal(x->name, y->name);
    assert_int_equal(x->addr, y->addr);
    assert_int_equal(x->size, y->size);
    assert_ptr_equal(x->how, y->how); /* locate.c's strings, not copies */
  }
}

struct cache_dir {
  char dir[64], prefix[96];
};

static void cache_dir_make(struct cache_dir *c) {
  snprintf(c->dir, sizeof(c->dir), "/tmp/uvdb-locate-test-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  snprintf(c->prefix, sizeof(c->prefix), "%s/uvdb-1.sock", c->dir);
}

/* The one record in the directory: its path and inode (0: none, or more). */
static ino_t cache_file(const struct cache_dir *c, char *path, size_t cap) {
  char cmd[160];
  snprintf(cmd, sizeof(cmd), "ls '%s'", c->dir);
  FILE *p = popen(cmd, "r");
  char name[256], more[256];
  int n = p && fgets(name, sizeof(name), p) ? 1 : 0;
  if (p && fgets(more, sizeof(more), p))
    n++;
  if (p)
    pclose(p);
  if (n != 1)
    return 0;
  name[strcspn(name, "\n")] = '\0';
  snprintf(path, cap, "%s/%s", c->dir, name);
  struct stat st;
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void cache_dir_remove(struct cache_dir *c) {
  char cmd[160];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
  assert_int_equal(system(cmd), 0);
}

/* A locate that searched and one that read what it published find the
 * same; a corrupt record is searched past (and published again). */
static void test_locate_through_cache(void **state) {
  (void)state;
  struct cache_dir c;
  cache_dir_make(&c);
  struct uvdb_libuv searched, cached, again;
  assert_int_equal(uvdb_locate_libuv(&searched, c.prefix), 0);
  char path[512];
  ino_t ino = cache_file(&c, path, sizeof(path));
  assert_true(ino != 0);
  assert_non_null(strstr(path, ".locate"));
  memset(&cached, 0x5a, sizeof(cached));
  assert_int_equal(uvdb_locate_libuv(&cached, c.prefix), 0);
  assert_int_equal(cache_file(&c, path, sizeof(path)), ino); /* read, not written again */
  assert_same_lib(&searched, &cached);

  /* garbage of the record's size in its place */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  int fd = open(path, O_WRONLY | O_TRUNC);
  assert_true(fd >= 0);
  for (off_t i = 0; i < st.st_size; i++)
    assert_int_equal(write(fd, "\x5a", 1), 1);
  close(fd);
  assert_int_equal(uvdb_locate_libuv(&again, c.prefix), 0);
  assert_same_lib(&searched, &again);
  ino_t rewritten = cache_file(&c, path, sizeof(path));
  assert_true(rewritten != 0 && rewritten != ino);
  assert_int_equal(uvdb_locate_libuv(&again, c.prefix), 0);
  assert_same_lib(&searched, &again);
  cache_dir_remove(&c);
}

struct find_so_cached {
  struct uvdb_libuv *lib;
  const char *cache;
  int found;
};

static int visit_so_cached(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct find_so_cached *f = data;
  if (!info->dlpi_name || !strstr(info->dlpi_name, "libuv.so.1"))
    return 0;
  f->found = uvdb_locate_in_object(info, f->lib, f->cache);
  return 1;
}

/* The stripped library's phase functions, found by uv_run's calls, come
 * back from the cache as found, with how they were found. */
static void test_stripped_through_cache(void **state) {
  (void)state;
  void *so = dlopen("libuv.so.1", RTLD_NOW | RTLD_LOCAL);
  assert_non_null(so);
  struct cache_dir c;
  cache_dir_make(&c);
  struct uvdb_libuv searched, cached;
  memset(&searched, 0, sizeof(searched));
  memset(&cached, 0, sizeof(cached));
  struct find_so_cached f = {&searched, c.prefix, 0};
  dl_iterate_phdr(visit_so_cached, &f);
  assert_true(f.found);
  char path[512];
  ino_t ino = cache_file(&c, path, sizeof(path));
  assert_true(ino != 0);
  f = (struct find_so_cached){&cached, c.prefix, 0};
  dl_iterate_phdr(visit_so_cached, &f);
  assert_true(f.found);
  assert_int_equal(cache_file(&c, path, sizeof(path)), ino);
  assert_same_lib(&searched, &cached);
  assert_non_null(strstr(cached.how, "internal phase functions by uv_run's calls"));
  assert_string_equal(cached.fn[UVDB_FN_IO_POLL].how, "call 7 of uv_run (libuv 1.44 pattern)");
  cache_dir_remove(&c);
  dlclose(so);
}

/* No directory of ours (or none at all): searched, nothing published. */
static void test_cache_needs_private_directory(void **state) {
  (void)state;
  struct cache_dir c;
  cache_dir_make(&c);
  assert_int_equal(chmod(c.dir, 0755), 0);
  struct uvdb_libuv lib;
  assert_int_equal(uvdb_locate_libuv(&lib, c.prefix), 0);
  char path[512];
  assert_int_equal(cache_file(&c, path, sizeof(path)), 0);
  assert_int_equal(uvdb_locate_libuv(&lib, "/nonexistent/uvdb-1.sock"), 0);
  cache_dir_remove(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locate_self_by_symtab),
      cmocka_unit_test(test_direct_calls_of_uv_run),
      cmocka_unit_test(test_match_144_agrees_with_names),
      cmocka_unit_test(test_eh_function_bounds),
      cmocka_unit_test(test_signal_event_by_uv_signal_init),
      cmocka_unit_test(test_stripped_shared_libuv),
      cmocka_unit_test(test_locate_through_cache),
      cmocka_unit_test(test_stripped_through_cache),
      cmocka_unit_test(test_cache_needs_private_directory),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
