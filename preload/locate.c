/* Finds libuv among the loaded objects.  Named functions come from .symtab
 * (Node, static builds); a stripped libuv.so.1 is read through the order of
 * uv_run's direct calls, verified against the known pattern of its version. */
#define _GNU_SOURCE
#include "locate.h"

#include "elfsym.h"
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
  ev->how = "loaded by uv_signal_init (libuv 1.44 pattern)";
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
    const char *how;
  } map[] = {
      {UVDB_FN_RUN_TIMERS, 1, "call 2 of uv_run (libuv 1.44 pattern)"},
      {UVDB_FN_RUN_IDLE, 3, "call 4 of uv_run (libuv 1.44 pattern)"},
      {UVDB_FN_RUN_PREPARE, 4, "call 5 of uv_run (libuv 1.44 pattern)"},
      {UVDB_FN_IO_POLL, 6, "call 7 of uv_run (libuv 1.44 pattern)"},
      {UVDB_FN_RUN_CHECK, 9, "call 10 of uv_run (libuv 1.44 pattern)"},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    struct uvdb_located_fn *f = &lib->fn[map[i].fn];
    uintptr_t s, e;
    f->addr = c[map[i].call];
    f->how = map[i].how;
    f->size = uvdb_eh_function_bounds(lib->eh_frame_hdr, f->addr, &s, &e) == 0 && s == f->addr ? e - s : 0;
  }
  return 0;
}

struct uv__search {
  struct uvdb_libuv *lib;
  int found;
};

static const uint8_t *uv__eh_frame_hdr(struct dl_phdr_info *info) {
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
      return (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  return NULL;
}

int uvdb_locate_in_object(struct dl_phdr_info *info, struct uvdb_libuv *lib) {
  char path[512];
  if (info->dlpi_name && info->dlpi_name[0]) {
    if (strstr(info->dlpi_name, "libuvdb-probe") || strstr(info->dlpi_name, "linux-vdso"))
      return 0;
    snprintf(path, sizeof(path), "%s", info->dlpi_name);
  } else {
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
      return 0;
    path[n] = '\0';
  }
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

  snprintf(lib->path, sizeof(lib->path), "%s", path);
  lib->bias = info->dlpi_addr;
  lib->eh_frame_hdr = uv__eh_frame_hdr(info);
  const char *version_note = "";
  if (want[WANT_VERSION].value) {
    lib->version = ((unsigned (*)(void))(info->dlpi_addr + want[WANT_VERSION].value))();
  } else {
    /* A static link may leave version.o out; uv-common.o is always in, and
     * gained uv_metrics_info in 1.45, when timers moved to the iteration's end. */
    lib->version = want[WANT_METRICS_INFO].value ? 0x012d00 : 0x012c00;
    lib->version_inferred = 1;
    version_note = want[WANT_METRICS_INFO].value ? "; uv_version not linked, >= 1.45 inferred from uv_metrics_info"
                                                 : "; uv_version not linked, <= 1.44 inferred (no uv_metrics_info)";
  }
  int named = 0;
  for (int i = 0; i < UVDB_FN_COUNT; i++) {
    struct uvdb_located_fn *f = &lib->fn[i];
    f->name = uv__fn_names[i];
    if (want[i].value) {
      f->addr = info->dlpi_addr + want[i].value;
      f->size = want[i].size;
      f->how = want[i].from_symtab ? ".symtab" : ".dynsym";
      named += i != UVDB_FN_UV_RUN;
    }
  }
  for (int i = 0; i < UVDB_POOL_COUNT; i++) {
    struct uvdb_located_fn *f = &lib->pool[i];
    const struct uvdb_elf_want *w = &want[WANT_POOL + i];
    f->name = uv__pool_names[i];
    if (w->value) {
      f->addr = info->dlpi_addr + w->value;
      f->size = w->size;
      f->how = w->from_symtab ? ".symtab" : ".dynsym";
    }
  }
  if (!lib->pool[UVDB_SIGNAL_EVENT].addr && (lib->version >> 8) == 0x012c)
    uvdb_match_signal_event(lib); /* a stripped 1.44: unnamed, but uv_signal_init gives it */
  const char *kind = want[UVDB_FN_UV_RUN].from_symtab ? ".symtab" : ".dynsym";
  if (named == UVDB_FN_COUNT - 1) {
    snprintf(lib->how, sizeof(lib->how), "%s of %s%s", kind, path, version_note);
  } else if ((lib->version >> 8) == 0x012c && uvdb_match_uv144(lib) == 0) {
    snprintf(lib->how, sizeof(lib->how), "%s of %s; internal phase functions by uv_run's calls%s", kind, path,
             version_note);
  } else {
    snprintf(lib->how, sizeof(lib->how),
             "%s of %s; internal phase functions unnamed and libuv %u.%u.%u's call pattern unknown", kind, path,
             lib->version >> 16, (lib->version >> 8) & 0xff, lib->version & 0xff);
  }
  return 1;
}

static int uv__visit(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct uv__search *s = data;
  s->found = uvdb_locate_in_object(info, s->lib);
  return s->found;
}

int uvdb_locate_libuv(struct uvdb_libuv *lib) {
  memset(lib, 0, sizeof(*lib));
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    lib->fn[i].name = uv__fn_names[i];
  for (int i = 0; i < UVDB_POOL_COUNT; i++)
    lib->pool[i].name = uv__pool_names[i];
  struct uv__search s = {lib, 0};
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
