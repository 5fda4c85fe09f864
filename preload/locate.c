/* Finds libuv among the loaded objects.  Named functions come from .symtab
 * (Node, static builds); a stripped libuv.so.1 is read through the order of
 * uv_run's direct calls, verified against the known pattern of its version. */
#define _GNU_SOURCE
#include "locate.h"

#include "elfsym.h"
#include "loccache.h"
#include <Zydis/Zydis.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const uv__fn_names[UVDB_FN_COUNT] = {
    "uv_run", "uv__run_timers", "uv__run_idle", "uv__run_prepare", "uv__io_poll", "uv__run_check",
};

static const char *const uv__pool_names[UVDB_POOL_COUNT] = {
    "uv__work_submit",      "uv_queue_work",        "uv__fs_work",     "uv__queue_work",
    "uv__getaddrinfo_work", "uv__getnameinfo_work", "uv__random_work",
    "_ZN2v88internal4Heap14CollectGarbageENS0_15AllocationSpaceENS0_23GarbageCollectionReasonENS_15GCCallbackFlagsE",
    "_ZN2v88internal14MicrotaskQueue13RunMicrotasksEPNS0_7IsolateE",
    "uv_loop_close",
    "_ZN2v88internal14MicrotaskQueue11kSizeOffsetE",
    "uv_spawn", "uv__signal_event", "uv_signal_init",
};

static const char *const uv__how_names[UVDB_HOW_COUNT] = {
    NULL,
    ".symtab",
    ".dynsym",
    "call 2 of uv_run (libuv 1.44 pattern)",
    "call 4 of uv_run (libuv 1.44 pattern)",
    "call 5 of uv_run (libuv 1.44 pattern)",
    "call 7 of uv_run (libuv 1.44 pattern)",
    "call 10 of uv_run (libuv 1.44 pattern)",
    "loaded by uv_signal_init (libuv 1.44 pattern)",
};

static enum uvdb_how uv__how_of(const char *name) {
  for (int i = 1; i < UVDB_HOW_COUNT; i++)
    if (uv__how_names[i] == name)
      return (enum uvdb_how)i;
  return UVDB_HOW_NONE;
}

/* Each instruction of [start, start+size) to fn (what does not decode is
 * skipped a byte at a time), until fn returns non-zero. */
typedef int (*uv__insn_fn)(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops, const uint8_t *at,
                           void *arg);

static void uv__each_insn(const uint8_t *start, size_t size, uv__insn_fn fn, void *arg) {
  ZydisDecoder dec;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  for (size_t off = 0; off < size;) {
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, start + off, size - off, &insn, ops))) {
      off++;
      continue;
    }
    if (fn(&insn, ops, start + off, arg))
      return;
    off += insn.length;
  }
}

struct uv__calls {
  uintptr_t *out;
  size_t n, max;
};

static int uv__collect_call(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops, const uint8_t *at,
                            void *arg) {
  struct uv__calls *c = arg;
  if (c->n >= c->max)
    return 1;
  ZyanU64 dest;
  if (insn->mnemonic == ZYDIS_MNEMONIC_CALL && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
      ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(insn, &ops[0], (ZyanU64)(uintptr_t)at, &dest)))
    c->out[c->n++] = (uintptr_t)dest;
  return c->n >= c->max;
}

size_t uvdb_direct_calls(const uint8_t *start, size_t size, uintptr_t *out, size_t max) {
  struct uv__calls c = {out, 0, max};
  if (max)
    uv__each_insn(start, size, uv__collect_call, &c);
  return c.n;
}

/* A function's address loaded into rsi (`lea rsi, [rip+X]`): the second
 * argument of the call that follows.  Several different ones: no answer. */
struct uv__rsi_fn {
  const uint8_t *eh_frame_hdr;
  uintptr_t addr, end;
  int ambiguous;
};

static int uv__rsi_function(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops, const uint8_t *at,
                            void *arg) {
  struct uv__rsi_fn *f = arg;
  ZyanU64 dest;
  uintptr_t s, e;
  if (insn->mnemonic != ZYDIS_MNEMONIC_LEA || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
      ops[0].reg.value != ZYDIS_REGISTER_RSI || ops[1].type != ZYDIS_OPERAND_TYPE_MEMORY ||
      ops[1].mem.base != ZYDIS_REGISTER_RIP ||
      ZYAN_FAILED(ZydisCalcAbsoluteAddress(insn, &ops[1], (ZyanU64)(uintptr_t)at, &dest)) ||
      uvdb_eh_function_bounds(f->eh_frame_hdr, (uintptr_t)dest, &s, &e) != 0 || s != (uintptr_t)dest)
    return 0; /* not a function's address: a string, a table */
  f->ambiguous |= f->addr && f->addr != s;
  f->addr = s, f->end = e;
  return f->ambiguous;
}

/* libuv 1.44's uv_signal_init inlines uv__signal_loop_once_init, whose
 * uv__io_init(&loop->signal_io_watcher, uv__signal_event, fd) is the only
 * function address it loads (measured on Debian's libuv.so.1 and
 * libuv_a.a, whose symbols name it; the probe's hook checks its arguments
 * too before it reads anything). */
int uvdb_match_signal_event(struct uvdb_libuv *lib) {
  const struct uvdb_located_fn *init = &lib->pool[UVDB_SIGNAL_INIT];
  struct uv__rsi_fn f = {lib->eh_frame_hdr, 0, 0, 0};
  if (!init->addr || !lib->eh_frame_hdr)
    return -1;
  uv__each_insn((const uint8_t *)init->addr, init->size, uv__rsi_function, &f);
  if (!f.addr || f.ambiguous)
    return -1;
  struct uvdb_located_fn *ev = &lib->pool[UVDB_SIGNAL_EVENT];
  ev->addr = f.addr;
  ev->size = f.end - f.addr;
  ev->how = uv__how_names[UVDB_HOW_SIGNAL_INIT];
  return 0;
}

/* libuv 1.44's uv_run calls, in order: uv__hrtime, uv__run_timers,
 * uv__run_pending, uv__run_idle, uv__run_prepare, uv__backend_timeout,
 * uv__io_poll, uv__run_pending, uv__metrics_update_idle_time, uv__run_check
 * (measured on Debian's libuv_a.a, whose symbols name them). */
int uvdb_match_uv144(struct uvdb_libuv *lib) {
  uintptr_t c[16];
  const struct uvdb_located_fn *run = &lib->fn[UVDB_FN_UV_RUN];
  size_t n = uvdb_direct_calls((const uint8_t *)run->addr, run->size, c, 16);
  if (n < 10 || c[2] != c[7])
    return -1;
  for (int i = 0; i < 10; i++)
    for (int j = i + 1; j < 10; j++)
      if (c[i] == c[j] && !(i == 2 && j == 7))
        return -1;
  static const struct {
    enum uvdb_fn fn;
    int call;
    enum uvdb_how how;
  } map[] = {
      {UVDB_FN_RUN_TIMERS, 1, UVDB_HOW_CALL2}, {UVDB_FN_RUN_IDLE, 3, UVDB_HOW_CALL4},
      {UVDB_FN_RUN_PREPARE, 4, UVDB_HOW_CALL5}, {UVDB_FN_IO_POLL, 6, UVDB_HOW_CALL7},
      {UVDB_FN_RUN_CHECK, 9, UVDB_HOW_CALL10},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    struct uvdb_located_fn *f = &lib->fn[map[i].fn];
    uintptr_t s, e;
    f->addr = c[map[i].call];
    f->how = uv__how_names[map[i].how];
    f->size = uvdb_eh_function_bounds(lib->eh_frame_hdr, f->addr, &s, &e) == 0 && s == f->addr ? e - s : 0;
  }
  return 0;
}

struct uv__search {
  struct uvdb_libuv *lib;
  const char *cache;
  int found;
};

static const uint8_t *uv__eh_frame_hdr(struct dl_phdr_info *info) {
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
      return (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  return NULL;
}

/* The object's file, if it is one to look into. */
static int uv__object_path(struct dl_phdr_info *info, char *path, size_t cap) {
  if (info->dlpi_name && info->dlpi_name[0]) {
    if (strstr(info->dlpi_name, "libuvdb-probe") || strstr(info->dlpi_name, "linux-vdso"))
      return -1;
    snprintf(path, cap, "%s", info->dlpi_name);
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", path, cap - 1);
  if (n <= 0)
    return -1;
  path[n] = '\0';
  return 0;
}

static void uv__name_all(struct uvdb_libuv *lib) {
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    lib->fn[i].name = uv__fn_names[i];
  for (int i = 0; i < UVDB_POOL_COUNT; i++)
    lib->pool[i].name = uv__pool_names[i];
}

/* lib->how, from what was found: by name, by uv_run's calls, or neither. */
static void uv__describe(struct uvdb_libuv *lib) {
  const char *note = !lib->version_inferred ? ""
                     : lib->version >= 0x012d00 ? "; uv_version not linked, >= 1.45 inferred from uv_metrics_info"
                                                : "; uv_version not linked, <= 1.44 inferred (no uv_metrics_info)";
  int named = 0, by_calls = 0;
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    enum uvdb_how how = uv__how_of(lib->fn[i].how);
    named += i != UVDB_FN_UV_RUN && (how == UVDB_HOW_SYMTAB || how == UVDB_HOW_DYNSYM);
    by_calls |= how >= UVDB_HOW_CALL2 && how <= UVDB_HOW_CALL10;
  }
  const char *kind = lib->fn[UVDB_FN_UV_RUN].how;
  if (named == UVDB_FN_COUNT - 1)
    snprintf(lib->how, sizeof(lib->how), "%s of %s%s", kind, lib->path, note);
  else if (by_calls)
    snprintf(lib->how, sizeof(lib->how), "%s of %s; internal phase functions by uv_run's calls%s", kind, lib->path,
             note);
  else
    snprintf(lib->how, sizeof(lib->how),
             "%s of %s; internal phase functions unnamed and libuv %u.%u.%u's call pattern unknown", kind, lib->path,
             lib->version >> 16, (lib->version >> 8) & 0xff, lib->version & 0xff);
}

static void uv__found_fn(struct uvdb_located_fn *f, uintptr_t bias, uint64_t off, uint64_t size, enum uvdb_how how) {
  f->addr = bias + off;
  f->size = size;
  f->how = uv__how_names[how];
}

/* The search: the object's symbol tables, then uv_run's calls if need be. */
static int uv__search_object(struct dl_phdr_info *info, const char *path, struct uvdb_libuv *lib) {
  struct uvdb_elf elf;
  if (uvdb_elf_open(&elf, path) != 0)
    return 0;
  enum { WANT_VERSION = UVDB_FN_COUNT, WANT_METRICS_INFO, WANT_POOL, WANT_COUNT = WANT_POOL + UVDB_POOL_COUNT };
  struct uvdb_elf_want want[WANT_COUNT];
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    want[i].name = uv__fn_names[i];
  for (int i = 0; i < UVDB_POOL_COUNT; i++)
    want[WANT_POOL + i].name = uv__pool_names[i];
  want[WANT_VERSION].name = "uv_version";
  want[WANT_METRICS_INFO].name = "uv_metrics_info";
  uvdb_elf_find(&elf, want, WANT_COUNT);
  uvdb_elf_close(&elf);
  if (!want[UVDB_FN_UV_RUN].value)
    return 0;

  if (want[WANT_VERSION].value) {
    lib->version = ((unsigned (*)(void))(info->dlpi_addr + want[WANT_VERSION].value))();
  } else {
    /* A static link may leave version.o out; uv-common.o is always in, and
     * gained uv_metrics_info in 1.45, when timers moved to the iteration's end. */
    lib->version = want[WANT_METRICS_INFO].value ? 0x012d00 : 0x012c00;
    lib->version_inferred = 1;
  }
  int named = 0;
  for (int i = 0; i < UVDB_FN_COUNT + UVDB_POOL_COUNT; i++) {
    const struct uvdb_elf_want *w = &want[i < UVDB_FN_COUNT ? i : WANT_POOL + i - UVDB_FN_COUNT];
    struct uvdb_located_fn *f = i < UVDB_FN_COUNT ? &lib->fn[i] : &lib->pool[i - UVDB_FN_COUNT];
    if (w->value)
      uv__found_fn(f, info->dlpi_addr, w->value, w->size, w->from_symtab ? UVDB_HOW_SYMTAB : UVDB_HOW_DYNSYM);
    named += w->value && i > UVDB_FN_UV_RUN && i < UVDB_FN_COUNT;
  }
  if (named < UVDB_FN_COUNT - 1 && (lib->version >> 8) == 0x012c)
    uvdb_match_uv144(lib);
  if (!lib->pool[UVDB_SIGNAL_EVENT].addr && (lib->version >> 8) == 0x012c)
    uvdb_match_signal_event(lib); /* a stripped 1.44: unnamed, but uv_signal_init gives it */
  return 1;
}

/* What the search found, as the cache keeps it, and back. */
static void uv__to_record(const struct uvdb_libuv *lib, struct uvdb_loccache_record *rec) {
  memset(rec, 0, sizeof(*rec));
  rec->version = lib->version;
  rec->version_inferred = (uint32_t)lib->version_inferred;
  for (int i = 0; i < UVDB_FN_COUNT + UVDB_POOL_COUNT; i++) {
    const struct uvdb_located_fn *f = i < UVDB_FN_COUNT ? &lib->fn[i] : &lib->pool[i - UVDB_FN_COUNT];
    struct uvdb_loccache_fn *r = i < UVDB_FN_COUNT ? &rec->fn[i] : &rec->pool[i - UVDB_FN_COUNT];
    if (f->addr) {
      r->off = f->addr - lib->bias;
      r->size = f->size;
      r->how = uv__how_of(f->how);
    }
  }
}

static void uv__from_record(const struct uvdb_loccache_record *rec, struct uvdb_libuv *lib) {
  lib->version = rec->version;
  lib->version_inferred = (int)rec->version_inferred;
  for (int i = 0; i < UVDB_FN_COUNT + UVDB_POOL_COUNT; i++) {
    const struct uvdb_loccache_fn *r = i < UVDB_FN_COUNT ? &rec->fn[i] : &rec->pool[i - UVDB_FN_COUNT];
    if (r->how != UVDB_HOW_NONE)
      uv__found_fn(i < UVDB_FN_COUNT ? &lib->fn[i] : &lib->pool[i - UVDB_FN_COUNT], lib->bias, r->off, r->size,
                   (enum uvdb_how)r->how);
  }
}

int uvdb_locate_in_object(struct dl_phdr_info *info, struct uvdb_libuv *lib, const char *cache) {
  char path[512], file[4096];
  if (uv__object_path(info, path, sizeof(path)) != 0)
    return 0;
  struct uvdb_loccache_key key;
  struct uvdb_segments segs;
  struct uvdb_loccache_record rec;
  int cacheable = cache && uvdb_loccache_key(info, &key, &segs) == 0 &&
                  uvdb_loccache_path(file, sizeof(file), cache, &key) == 0;
  snprintf(lib->path, sizeof(lib->path), "%s", path);
  lib->bias = info->dlpi_addr;
  lib->eh_frame_hdr = uv__eh_frame_hdr(info);
  if (cacheable && uvdb_loccache_read(file, &key, &segs, &rec) == 0) {
    uv__from_record(&rec, lib);
  } else if (uv__search_object(info, path, lib)) {
    if (cacheable) {
      uv__to_record(lib, &rec);
      uvdb_loccache_write(file, &key, &rec);
    }
  } else {
    lib->path[0] = '\0';
    lib->bias = 0;
    lib->eh_frame_hdr = NULL;
    return 0;
  }
  uv__name_all(lib);
  uv__describe(lib);
  return 1;
}

static int uv__visit(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct uv__search *s = data;
  s->found = uvdb_locate_in_object(info, s->lib, s->cache);
  return s->found;
}

int uvdb_locate_libuv(struct uvdb_libuv *lib, const char *cache) {
  memset(lib, 0, sizeof(*lib));
  uv__name_all(lib);
  struct uv__search s = {lib, cache, 0};
  dl_iterate_phdr(uv__visit, &s);
  if (!s.found) {
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(lib->how, sizeof(lib->how), "no libuv found in %s or its libraries (no uv_run defined)", exe);
    return -1;
  }
  return 0;
}
