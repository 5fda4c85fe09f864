/* The hook engine: prologue relocation with Zydis, near stubs, patching.
 * Runs at install time only (constructor or a stopped process): it may
 * allocate and make syscalls; the code it writes runs on the hot path. */
#define _GNU_SOURCE
#include "hook.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NEAR_REGION_SIZE (64 * 1024)
#define NEAR_MAX_REGIONS 16
#define REL32_REACH ((int64_t)0x7fff0000)
#define SHORT_REACH (UVDB_HOOK_MAX_STOLEN + 130) /* where a rel8 branch into the prologue may sit */
#define ABS_JMP_LEN 14 /* jmp [rip+0]; .quad target */

struct near_region {
  uint8_t *base;
  size_t used;
};

static struct near_region uv__near_regions[NEAR_MAX_REGIONS];      /* code: R-X */
static struct near_region uv__near_data_regions[NEAR_MAX_REGIONS]; /* flags the code reads: RW- */

int uvdb_hook_within_rel32(const void *a, const void *b, size_t len) {
  int64_t d1 = (int64_t)((uintptr_t)a - (uintptr_t)b);
  int64_t d2 = (int64_t)((uintptr_t)a + len - (uintptr_t)b);
  return d1 > -REL32_REACH && d1 < REL32_REACH && d2 > -REL32_REACH && d2 < REL32_REACH;
}

int uvdb_hook_set_prot(void *addr, size_t len, int prot) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(page - 1);
  uintptr_t end = ((uintptr_t)addr + len + page - 1) & ~(uintptr_t)(page - 1);
  return mprotect((void *)start, end - start, prot);
}

static char uv__maps_buf[256 * 1024];
static pid_t uv__maps_pid; /* the process uv__maps_buf describes (fork) */

const char *uvdb_hook_self_maps(void) {
  size_t n = 0;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r;
    while (n < sizeof(uv__maps_buf) - 1 && (r = read(fd, uv__maps_buf + n, sizeof(uv__maps_buf) - 1 - n)) > 0)
      n += (size_t)r;
    close(fd);
  }
  uv__maps_buf[n] = '\0';
  uv__maps_pid = n ? getpid() : 0;
  return uv__maps_buf;
}

const char *uvdb_hook_maps_read(void) {
  return uv__maps_pid == getpid() ? uv__maps_buf : uvdb_hook_self_maps();
}

/* A fresh region at exactly `at`, if nothing is mapped there. */
static uint8_t *uv__map_at(uintptr_t at, int prot) {
  void *p = mmap((void *)at, NEAR_REGION_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  if (p != (void *)at) { /* an old kernel ignored the flag */
    munmap(p, NEAR_REGION_SIZE);
    return NULL;
  }
  return p;
}

struct uv__object_start {
  uintptr_t addr, start;
};

/* The lowest address of the loaded object that holds `addr` (dladdr would
 * also look for its symbol, through node's 75k exported ones). */
static int uv__object_start(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct uv__object_start *o = data;
  uintptr_t lo = UINTPTR_MAX;
  int holds = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t at = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type != PT_LOAD)
      continue;
    lo = at < lo ? at : lo;
    holds |= o->addr >= at && o->addr - at < ph->p_memsz;
  }
  if (holds)
    o->start = lo & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
  return holds;
}

/* Map a fresh region close to `near`: first just below the object that
 * holds it, which is where the search of the gaps lands for node, without
 * its reading of /proc/self/maps (0.2 ms of each followed child's start);
 * else in the nearest gap of /proc/self/maps. */
static uint8_t *uv__map_near(const void *near, int prot) {
  struct uv__object_start o = {(uintptr_t)near, 0};
  dl_iterate_phdr(uv__object_start, &o);
  uintptr_t below = o.start & ~(uintptr_t)(NEAR_REGION_SIZE - 1);
  below = below > NEAR_REGION_SIZE ? below - NEAR_REGION_SIZE : 0;
  uint8_t *region;
  if (below >= 0x10000 && uvdb_hook_within_rel32((void *)below, near, NEAR_REGION_SIZE) &&
      (region = uv__map_at(below, prot)) != NULL)
    return region;
  const char *buf = uvdb_hook_self_maps();
  uintptr_t target = (uintptr_t)near, best = 0, best_dist = UINTPTR_MAX;
  uintptr_t prev_end = 0x10000; /* stay above vm.mmap_min_addr */
  for (const char *line = buf; line && *line;) {
    const char *nl = strchr(line, '\n');
    uintptr_t lo, hi;
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {
      if (lo > prev_end && lo - prev_end >= NEAR_REGION_SIZE) {
        /* candidates: the top and the bottom of the gap */
        uintptr_t cand[2] = {lo - NEAR_REGION_SIZE, prev_end};
        for (int i = 0; i < 2; i++) {
          uintptr_t c = cand[i];
          uintptr_t dist = c > target ? c - target : target - c;
          if (uvdb_hook_within_rel32((void *)c, near, NEAR_REGION_SIZE) && dist < best_dist)
            best = c, best_dist = dist;
        }
      }
      if (hi > prev_end)
        prev_end = hi;
    }
    line = nl ? nl + 1 : NULL;
  }
  return best ? uv__map_at(best, prot) : NULL;
}

static uint8_t *uv__alloc_near(struct near_region *regions, int prot, const void *near, size_t len) {
  len = (len + 15) & ~(size_t)15;
  for (int i = 0; i < NEAR_MAX_REGIONS; i++) {
    struct near_region *r = &regions[i];
    if (!r->base) {
      r->base = uv__map_near(near, prot);
      if (!r->base)
        return NULL;
    }
    if (r->used + len <= NEAR_REGION_SIZE && uvdb_hook_within_rel32(r->base + r->used, near, len)) {
      uint8_t *p = r->base + r->used;
      r->used += len;
      return p;
    }
  }
  return NULL;
}

uint8_t *uvdb_hook_alloc_near(const void *near, size_t len) {
  return uv__alloc_near(uv__near_regions, PROT_READ | PROT_EXEC, near, len);
}

uint8_t *uvdb_hook_alloc_near_data(const void *near, size_t len) {
  return uv__alloc_near(uv__near_data_regions, PROT_READ | PROT_WRITE, near, len);
}

void uvdb_hook_rel_jmp(uint8_t *buf, const uint8_t *at, const void *to) {
  int32_t rel = (int32_t)((intptr_t)to - (intptr_t)(at + 5));
  buf[0] = 0xe9;
  memcpy(buf + 1, &rel, sizeof(rel));
}

static void uv__emit_abs_jmp(uint8_t *at, const void *to) {
  static const uint8_t jmp_rip[6] = {0xff, 0x25, 0, 0, 0, 0};
  memcpy(at, jmp_rip, sizeof(jmp_rip));
  uint64_t dest = (uint64_t)(uintptr_t)to;
  memcpy(at + 6, &dest, sizeof(dest));
}

static int uv__refuse(struct uvdb_hook *h, const char *fmt, const char *detail) {
  snprintf(h->reason, sizeof(h->reason), fmt, detail);
  return -1;
}

/* Does any direct branch in [target, target+size) land strictly inside the
 * bytes we are about to replace?  Then patching would break that path. */
static int uv__lands_in(uintptr_t start, size_t stolen, uintptr_t dest) {
  return dest > start && dest < start + stolen;
}

static int uv__jumped_into(const struct uvdb_hook *h, size_t stolen) {
  uintptr_t start = (uintptr_t)h->target;
  /* A short branch reaches 128 bytes back at most: only the first bytes,
   * decoded one instruction after another, can hold one that lands here. */
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
  ZydisDecoderContext ctx;
  ZydisDecodedInstruction insn;
  size_t near = h->size < SHORT_REACH ? h->size : SHORT_REACH;
  for (size_t off = 0; off < near;) {
    if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, &ctx, h->target + off, h->size - off, &insn))) {
      off++;
      continue;
    }
    if (insn.raw.imm[0].is_relative &&
        uv__lands_in(start, stolen, start + off + insn.length + (uintptr_t)insn.raw.imm[0].value.s))
      return 1;
    off += insn.length;
  }
  /* Beyond, only a rel32 can: every byte that could begin one (call, jmp,
   * jcc, xbegin) is read as one, instruction boundary or not.  Decoding
   * each instruction was most of a followed child's hook preparation; a
   * false match needs 32 bits to agree, and would only refuse the hook. */
  const uint8_t *p = h->target;
  for (size_t off = 0; off + 5 <= h->size; off++) {
    int32_t rel;
    size_t end;
    if (p[off] == 0xe8 || p[off] == 0xe9)
      end = off + 5;
    else if (off + 6 <= h->size && ((p[off] == 0x0f && (p[off + 1] & 0xf0) == 0x80) ||
                                    (p[off] == 0xc7 && p[off + 1] == 0xf8)))
      end = off + 6;
    else
      continue;
    memcpy(&rel, p + end - 4, 4);
    if (uv__lands_in(start, stolen, start + end + (uintptr_t)(intptr_t)rel))
      return 1;
  }
  return 0;
}

/* Re-encode one instruction for `at`, its relative operands made absolute. */
static int uv__relocate(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops, uint64_t from,
                        uint8_t *at, size_t room, size_t *out_len) {
  if (!(insn->attributes & ZYDIS_ATTRIB_IS_RELATIVE)) {
    memcpy(at, (const void *)(uintptr_t)from, insn->length);
    *out_len = insn->length;
    return 0;
  }
  ZydisEncoderRequest req;
  if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(insn, ops, insn->operand_count_visible, &req)))
    return -1;
  for (ZyanU8 i = 0; i < req.operand_count; i++) {
    const ZydisDecodedOperand *op = &ops[i];
    ZyanU64 abs;
    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative) {
      if (ZYAN_FAILED(ZydisCalcAbsoluteAddress(insn, op, from, &abs)))
        return -1;
      req.operands[i].imm.u = abs;
    } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.base == ZYDIS_REGISTER_RIP) {
      if (ZYAN_FAILED(ZydisCalcAbsoluteAddress(insn, op, from, &abs)))
        return -1;
      req.operands[i].mem.displacement = (ZyanI64)abs;
    }
  }
  if (insn->meta.category == ZYDIS_CATEGORY_COND_BR || insn->meta.category == ZYDIS_CATEGORY_UNCOND_BR) {
    req.branch_type = ZYDIS_BRANCH_TYPE_NONE; /* let the encoder widen rel8 to rel32 */
    req.branch_width = ZYDIS_BRANCH_WIDTH_NONE;
  }
  ZyanUSize len = room;
  if (ZYAN_FAILED(ZydisEncoderEncodeInstructionAbsolute(&req, at, &len, (ZyanU64)(uintptr_t)at)))
    return -1;
  *out_len = len;
  return 0;
}

long uvdb_hook_relocate(const uint8_t *from, size_t len, uint8_t *at, size_t room) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  size_t in = 0, out = 0;
  while (in < len) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    size_t n;
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, from + in, len - in, &insn, ops)) ||
        uv__relocate(&insn, ops, (uint64_t)(uintptr_t)(from + in), at + out, room - out, &n) != 0)
      return -1;
    in += insn.length;
    out += n;
  }
  return (long)out;
}

int uvdb_hook_prepare(struct uvdb_hook *h) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  h->reason[0] = '\0';
  if (!h->target)
    return uv__refuse(h, "%s", "no address");
  if (h->size < 5)
    return uv__refuse(h, "function too short to patch (%s bytes < 5)", h->size ? "fewer" : "unknown size,");

  /* Decode whole instructions until a rel32 jmp fits. */
  ZydisDecodedInstruction insn[UVDB_HOOK_MAX_STOLEN];
  ZydisDecodedOperand ops[UVDB_HOOK_MAX_STOLEN][ZYDIS_MAX_OPERAND_COUNT];
  size_t n = 0, stolen = 0;
  while (stolen < 5) {
    if (stolen >= h->size)
      return uv__refuse(h, "function too short to patch (%s)", "ends within 5 bytes");
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, h->target + stolen, h->size - stolen, &insn[n], ops[n])))
      return uv__refuse(h, "cannot decode prologue%s", "");
    const ZydisDecodedInstruction *i = &insn[n];
    if (i->meta.category == ZYDIS_CATEGORY_RET || i->meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
        i->meta.category == ZYDIS_CATEGORY_INTERRUPT)
      return uv__refuse(h, "function too short to patch (%s within 5 bytes)", "control leaves");
    if ((i->attributes & ZYDIS_ATTRIB_IS_RELATIVE) &&
        (i->mnemonic == ZYDIS_MNEMONIC_LOOP || i->mnemonic == ZYDIS_MNEMONIC_LOOPE ||
         i->mnemonic == ZYDIS_MNEMONIC_LOOPNE || i->mnemonic == ZYDIS_MNEMONIC_JRCXZ ||
         i->mnemonic == ZYDIS_MNEMONIC_JECXZ || i->mnemonic == ZYDIS_MNEMONIC_XBEGIN))
      return uv__refuse(h, "prologue holds %s, which has no rel32 form", ZydisMnemonicGetString(i->mnemonic));
    stolen += i->length;
    n++;
  }
  if (stolen > UVDB_HOOK_MAX_STOLEN)
    return uv__refuse(h, "prologue too long%s", "");
  if (uv__jumped_into(h, stolen))
    return uv__refuse(h, "a branch in the function lands inside the first %s bytes", "5");

  /* stub: jmp to replacement; trampoline: relocated prologue, jmp back */
  size_t tramp_room = n * 16 + ABS_JMP_LEN;
  uint8_t *mem = uvdb_hook_alloc_near(h->target, ABS_JMP_LEN + tramp_room);
  if (!mem)
    return uv__refuse(h, "no executable memory within 2 GB of the function%s", "");
  if (uvdb_hook_set_prot(mem, ABS_JMP_LEN + tramp_room, PROT_READ | PROT_WRITE) != 0)
    return uv__refuse(h, "mprotect: %s", strerror(errno));
  uint8_t *stub = mem, *tramp = mem + 16;
  uv__emit_abs_jmp(stub, h->replacement);
  size_t out = 0, from = 0;
  for (size_t k = 0; k < n; k++) {
    size_t len;
    if (uv__relocate(&insn[k], ops[k], (uint64_t)(uintptr_t)(h->target + from), tramp + out, tramp_room - out,
                     &len) != 0) {
      uvdb_hook_set_prot(mem, ABS_JMP_LEN + tramp_room, PROT_READ | PROT_EXEC);
      return uv__refuse(h, "cannot relocate %s", ZydisMnemonicGetString(insn[k].mnemonic));
    }
    out += len;
    from += insn[k].length;
  }
  /* Back into the function: a direct jump (the trampoline is within reach by
   * construction); indirect ones are the first to be mispredicted in a
   * process with a large code footprint. */
  uvdb_hook_rel_jmp(tramp + out, tramp + out, h->target + stolen);
  uvdb_hook_set_prot(mem, ABS_JMP_LEN + tramp_room, PROT_READ | PROT_EXEC);

  memcpy(h->saved, h->target, stolen);
  h->stolen = stolen;
  h->stub = stub;
  h->trampoline = tramp;
  *h->original = tramp;
  return 0;
}

int uvdb_hook_write_code(uint8_t *at, const uint8_t *bytes, size_t len) {
  if (uvdb_hook_set_prot(at, len, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
    return -1;
  memcpy(at, bytes, len);
  __builtin___clear_cache((char *)at, (char *)at + len);
  return uvdb_hook_set_prot(at, len, PROT_READ | PROT_EXEC);
}

int uvdb_hook_install(struct uvdb_hook *h) {
  if (h->installed)
    return 0;
  if (!h->stub) {
    snprintf(h->reason, sizeof(h->reason), "not prepared");
    return -1;
  }
  uint8_t patch[UVDB_HOOK_MAX_STOLEN];
  memset(patch, 0xcc, sizeof(patch)); /* int3 in the bytes no one may reach */
  /* Straight to the replacement when it is within reach, else by the stub. */
  const void *to = uvdb_hook_within_rel32(h->replacement, h->target + 5, 0) ? h->replacement : (const void *)h->stub;
  uvdb_hook_rel_jmp(patch, h->target, to);
  /* Within one aligned quadword, one store: a thread running the function
   * meanwhile sees the old prologue or the jmp, never half of each. */
  uintptr_t word = (uintptr_t)h->target & ~(uintptr_t)7, at = (uintptr_t)h->target - word;
  if (at + h->stolen <= 8) {
    uint64_t v;
    memcpy(&v, (const void *)word, 8);
    memcpy((uint8_t *)&v + at, patch, h->stolen);
    if (uvdb_hook_set_prot((void *)word, 8, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
      snprintf(h->reason, sizeof(h->reason), "cannot write code: %s", strerror(errno));
      return -1;
    }
    __atomic_store_n((uint64_t *)word, v, __ATOMIC_SEQ_CST);
    uvdb_hook_set_prot((void *)word, 8, PROT_READ | PROT_EXEC);
  } else if (uvdb_hook_write_code(h->target, patch, h->stolen) != 0) {
    snprintf(h->reason, sizeof(h->reason), "cannot write code: %s", strerror(errno));
    return -1;
  }
  h->installed = 1;
  return 0;
}

int uvdb_hook_remove(struct uvdb_hook *h) {
  if (!h->installed)
    return 0;
  if (uvdb_hook_write_code(h->target, h->saved, h->stolen) != 0)
    return -1;
  h->installed = 0;
  return 0;
}

/* The first load from rip-relative memory among a function's first few
 * instructions (uv_default_loop reads its default_loop_ptr so in every
 * build seen); NULL if there is none. */
const void *uvdb_hook_first_rip_load(const void *fn, size_t max_insns) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const uint8_t *p = fn;
  for (size_t i = 0, off = 0; p && i < max_insns; i++) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, p + off, 16, &insn, ops)))
      return NULL;
    if (insn.mnemonic == ZYDIS_MNEMONIC_MOV && insn.operand_count_visible == 2 &&
        ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[1].mem.base == ZYDIS_REGISTER_RIP) {
      ZyanU64 abs;
      if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[1], (ZyanU64)(uintptr_t)(p + off), &abs)))
        return (const void *)(uintptr_t)abs;
    }
    if (insn.meta.category == ZYDIS_CATEGORY_RET || insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
        insn.meta.category == ZYDIS_CATEGORY_COND_BR || insn.meta.category == ZYDIS_CATEGORY_CALL)
      return NULL;
    off += insn.length;
  }
  return NULL;
}
