/* Call-site hooks: the indirect calls by which libuv's phase functions run
 * callbacks pass through a stub that names the callback before it runs.
 * Install time only, like hook.c; the stubs run on the hot path. */
#define _GNU_SOURCE
#include "hook.h"

#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define JMP_LEN 5
#define HOP_LEN 2
#define STUB_ROOM 160
#define MAX_TABLE 1024  /* entries read from one jump table */
#define MAX_RIP_LEAS 64 /* candidate tables of position-independent switches */
#define SAVED_REGS 9    /* the caller-saved registers the stub keeps for the call */

struct uv__insn {
  uint32_t off;
  uint8_t len;
  uint8_t flow;    /* it branches, calls, returns or traps */
  uint8_t padding; /* nop or int3: what compilers align with */
  uint8_t ends;    /* control never falls through it (jmp, ret, ud2) */
  uint8_t icall;   /* an indirect call: a callback's call site, maybe */
};

/* What one pass over the function learns. */
struct uv__fn_map {
  const uint8_t *fn;
  size_t size;
  struct uv__insn *insn;
  size_t n;
  uint8_t *target;  /* [size]: 1 where a branch may land */
  uint8_t *gap_used; /* [size]: padding bytes a hop already took */
  uint64_t lea[MAX_RIP_LEAS];
  int nlea, indirect_jumps;
};

static int uv__why(char *why, size_t cap, const char *fmt, uint64_t v) {
  snprintf(why, cap, fmt, (unsigned long long)v);
  return -1;
}

/* Is [a, a+len) readable memory of this process?  Jump tables are read
 * only where /proc/self/maps says so. */
static int uv__readable(const char *maps, uintptr_t a, size_t len) {
  for (const char *line = maps; line && *line;) {
    uintptr_t lo, hi;
    char perm[5];
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &lo, &hi, perm) == 3 && a >= lo && a + len <= hi)
      return perm[0] == 'r';
    line = strchr(line, '\n');
    line = line ? line + 1 : NULL;
  }
  return 0;
}

/* /proc/self/maps, when a function first has a table to check (most have
 * none); the hooks' reading serves if there was one (a followed child's
 * start-up pays some 0.2 ms for each). */
static const char *uv__maps(const char **maps) {
  if (!*maps)
    *maps = uvdb_hook_maps_read();
  return *maps;
}

static int uv__inside(const struct uv__fn_map *m, uint64_t a) {
  return a >= (uintptr_t)m->fn && a < (uintptr_t)m->fn + m->size;
}

/* A switch's table of absolute addresses (jmp [table + index*8]): every
 * entry that lands in the function is a target.  Reading past the table's
 * end marks more targets than there are, which only refuses more sites. */
static int uv__absolute_table(struct uv__fn_map *m, const char **maps, uint64_t table) {
  int marked = 0;
  for (int k = 0; k < MAX_TABLE && uv__readable(uv__maps(maps), table + 8u * (unsigned)k, 8); k++) {
    uint64_t dest;
    memcpy(&dest, (const void *)(uintptr_t)(table + 8u * (unsigned)k), 8);
    if (!uv__inside(m, dest))
      break;
    m->target[dest - (uintptr_t)m->fn] = 1, marked++;
  }
  return marked;
}

/* Position-independent switches load a table of 32-bit offsets from its
 * own address (lea table(%rip)); any rip-relative address the function
 * takes outside itself is read as such a table. */
static int uv__relative_tables(struct uv__fn_map *m, const char **maps) {
  int marked = 0;
  for (int i = 0; i < m->nlea; i++)
    for (int k = 0; k < MAX_TABLE && uv__readable(uv__maps(maps), m->lea[i] + 4u * (unsigned)k, 4); k++) {
      int32_t rel;
      memcpy(&rel, (const void *)(uintptr_t)(m->lea[i] + 4u * (unsigned)k), 4);
      uint64_t dest = m->lea[i] + (uint64_t)(int64_t)rel;
      if (!uv__inside(m, dest))
        break;
      m->target[dest - (uintptr_t)m->fn] = 1, marked++;
    }
  return marked;
}

static int uv__is_indirect_call(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op) {
  if (insn->mnemonic != ZYDIS_MNEMONIC_CALL || op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
    return 0;
  if (op->type == ZYDIS_OPERAND_TYPE_REGISTER)
    return op->reg.value != ZYDIS_REGISTER_RSP;
  /* Through memory: a callback pointer in a handle or request.  Calls
   * through the GOT (rip-relative) or a fixed address are library calls. */
  return op->mem.base != ZYDIS_REGISTER_NONE && op->mem.base != ZYDIS_REGISTER_RIP &&
         !(insn->attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS));
}

/* Decode the function once: its instructions, where branches land. */
static int uv__map_function(struct uv__fn_map *m, char *why, size_t cap) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const char *maps = NULL;
  int abs_marked = 0;
  for (size_t off = 0; off < m->size;) {
    ZydisDecoderContext ctx;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, &ctx, m->fn + off, m->size - off, &insn)))
      return uv__why(why, cap, "cannot decode the instruction at +0x%llx", off);
    ZydisInstructionCategory cat = insn.meta.category;
    struct uv__insn *in = &m->insn[m->n++];
    *in = (struct uv__insn){.off = (uint32_t)off, .len = insn.length};
    in->flow = cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR || cat == ZYDIS_CATEGORY_CALL ||
               cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_INTERRUPT || cat == ZYDIS_CATEGORY_SYSTEM ||
               insn.mnemonic == ZYDIS_MNEMONIC_UD2 || insn.mnemonic == ZYDIS_MNEMONIC_HLT;
    in->padding = insn.mnemonic == ZYDIS_MNEMONIC_NOP || insn.mnemonic == ZYDIS_MNEMONIC_INT3;
    in->ends = cat == ZYDIS_CATEGORY_UNCOND_BR || cat == ZYDIS_CATEGORY_RET || insn.mnemonic == ZYDIS_MNEMONIC_UD2;
    /* Operands only where they matter (a fifth of the instructions): the
     * decoding is most of a followed child's start-up cost here. */
    if (!in->flow && insn.mnemonic != ZYDIS_MNEMONIC_LEA) {
      off += insn.length;
      continue;
    }
    if (ZYAN_FAILED(ZydisDecoderDecodeOperands(&dec, &ctx, &insn, ops, insn.operand_count)))
      return uv__why(why, cap, "cannot decode the operands at +0x%llx", off);
    in->icall = (uint8_t)uv__is_indirect_call(&insn, &ops[0]);
    ZyanU64 dest;
    if ((insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) && in->flow && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], (ZyanU64)(uintptr_t)(m->fn + off), &dest)) &&
        uv__inside(m, dest))
      m->target[dest - (uintptr_t)m->fn] = 1;
    if (cat == ZYDIS_CATEGORY_UNCOND_BR && ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      m->indirect_jumps++;
      if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].mem.base == ZYDIS_REGISTER_NONE &&
          ops[0].mem.index != ZYDIS_REGISTER_NONE && ops[0].mem.scale == 8)
        abs_marked += uv__absolute_table(m, &maps, (uint64_t)ops[0].mem.disp.value);
    }
    if (insn.mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].mem.base == ZYDIS_REGISTER_RIP && m->nlea < MAX_RIP_LEAS &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[1], (ZyanU64)(uintptr_t)(m->fn + off), &dest)) &&
        !uv__inside(m, dest))
      m->lea[m->nlea++] = dest;
    off += insn.length;
  }
  /* A jump whose targets are unknown could land anywhere: no site then. */
  if (m->indirect_jumps && !abs_marked && !uv__relative_tables(m, &maps))
    return uv__why(why, cap, "%llu indirect jumps whose tables uvdb cannot read", (uint64_t)m->indirect_jumps);
  return 0;
}

/* PRECEDING: the call and the instructions just before it, at least 5
 * bytes, none but the first a branch target and none a branch itself. */
static int uv__preceding(const struct uv__fn_map *m, size_t i, struct uvdb_callsite *c) {
  if (m->target[m->insn[i].off])
    return -1;
  size_t len = m->insn[i].len, k = i;
  while (len < JMP_LEN) {
    if (k == 0)
      return -1;
    k--;
    if (m->insn[k].flow)
      return -1;
    len += m->insn[k].len;
    if (len < JMP_LEN && m->target[m->insn[k].off])
      return -1; /* a branch lands inside what the jmp would cover */
  }
  if (len > UVDB_CALLSITE_PATCH)
    return -1;
  c->mode = UVDB_CALLSITE_PRECEDING;
  c->patch = (uint8_t *)m->fn + m->insn[k].off;
  c->patch_len = len;
  return 0;
}

/* Padding no path runs through: after a jmp, ret or ud2, no branch landing
 * on it, 5 bytes of it not taken yet, within a jmp rel8 of the call. */
static uint8_t *uv__find_gap(struct uv__fn_map *m, size_t i) {
  const uint8_t *hop_end = m->fn + m->insn[i].off + HOP_LEN;
  for (size_t k = 1; k < m->n; k++) {
    if (!m->insn[k].padding || !m->insn[k - 1].ends)
      continue;
    size_t begin = m->insn[k].off, end = begin;
    for (size_t r = k; r < m->n && m->insn[r].padding && (r == k || !m->target[m->insn[r].off]); r++)
      end = m->insn[r].off + m->insn[r].len;
    if (m->target[begin])
      continue;
    for (size_t at = begin; at + JMP_LEN <= end; at++) {
      int taken = 0;
      for (size_t b = at; b < at + JMP_LEN; b++)
        taken |= m->gap_used[b] | m->target[b];
      int64_t rel = (int64_t)((uintptr_t)(m->fn + at) - (uintptr_t)hop_end);
      if (!taken && rel >= -128 && rel <= 127) {
        memset(m->gap_used + at, 1, JMP_LEN);
        return (uint8_t *)m->fn + at;
      }
    }
  }
  return NULL;
}

static size_t uv__put(uint8_t *at, const void *bytes, size_t n) {
  memcpy(at, bytes, n);
  return n;
}

/* The call's operand, re-encoded as `mnemonic` (mov %rdi, or jmp) with
 * rsp-relative displacements moved by `rsp_moved`: the stub's pushes. */
static long uv__encode_operand(const ZydisDecodedOperand *op, ZydisMnemonic mnemonic, int64_t rsp_moved, uint8_t *at,
                               size_t room) {
  ZydisEncoderRequest req;
  memset(&req, 0, sizeof(req));
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = mnemonic;
  ZydisEncoderOperand *o = &req.operands[0];
  if (mnemonic == ZYDIS_MNEMONIC_MOV) {
    o->type = ZYDIS_OPERAND_TYPE_REGISTER;
    o->reg.value = ZYDIS_REGISTER_RDI;
    o++;
  }
  req.operand_count = (ZyanU8)(o - req.operands + 1);
  if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    o->type = ZYDIS_OPERAND_TYPE_REGISTER;
    o->reg.value = op->reg.value;
  } else {
    o->type = ZYDIS_OPERAND_TYPE_MEMORY;
    o->mem.base = op->mem.base;
    o->mem.index = op->mem.index;
    o->mem.scale = op->mem.index != ZYDIS_REGISTER_NONE ? op->mem.scale : 0;
    o->mem.displacement = op->mem.disp.value + (op->mem.base == ZYDIS_REGISTER_RSP ? rsp_moved : 0);
    o->mem.size = 8;
  }
  ZyanUSize len = room;
  if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, at, &len)))
    return -1;
  return (long)len;
}

/* stub: [the relocated instructions before the call]; keep the caller-saved
 * registers; enter(target); restore them; push the call's own return
 * address; jmp to the target.  The callback returns into the function. */
static int uv__build_stub(struct uvdb_callsite *c, const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op,
                          void (*enter)(uint64_t), char *why, size_t cap) {
  static const uint8_t push[] = {0x50, 0x51, 0x52, 0x56, 0x57, 0x41, 0x50, 0x41, 0x51, 0x41, 0x52, 0x41, 0x53};
  static const uint8_t pop[] = {0x41, 0x5b, 0x41, 0x5a, 0x41, 0x59, 0x41, 0x58, 0x5f, 0x5e, 0x5a, 0x59, 0x58};
  static const uint8_t sub8[] = {0x48, 0x83, 0xec, 0x08}, add8[] = {0x48, 0x83, 0xc4, 0x08};
  static const uint8_t call_rax[] = {0xff, 0xd0};
  uint8_t *stub = uvdb_hook_alloc_near(c->call, STUB_ROOM);
  if (!stub)
    return uv__why(why, cap, "no executable memory within 2 GB%s", 0);
  if (uvdb_hook_set_prot(stub, STUB_ROOM, PROT_READ | PROT_WRITE) != 0)
    return uv__why(why, cap, "mprotect failed%s", 0);
  size_t o = 0;
  long n = 0;
  if (c->mode == UVDB_CALLSITE_PRECEDING &&
      (n = uvdb_hook_relocate(c->patch, (size_t)(c->call - c->patch), stub, 64)) < 0)
    goto refuse;
  o += (size_t)n;
  o += uv__put(stub + o, push, sizeof(push));
  /* At the call rsp is 16-byte aligned (the ABI): 9 pushes and 8 more keep it so. */
  if ((n = uv__encode_operand(op, ZYDIS_MNEMONIC_MOV, 8 * SAVED_REGS, stub + o, 16)) < 0)
    goto refuse;
  o += (size_t)n;
  o += uv__put(stub + o, sub8, sizeof(sub8));
  stub[o++] = 0x48, stub[o++] = 0xb8; /* movabs $enter, %rax */
  uint64_t fn = (uint64_t)(uintptr_t)enter;
  o += uv__put(stub + o, &fn, 8);
  o += uv__put(stub + o, call_rax, sizeof(call_rax));
  o += uv__put(stub + o, add8, sizeof(add8));
  o += uv__put(stub + o, pop, sizeof(pop));
  size_t push_ret = o; /* push qword [rip + slot] */
  stub[o++] = 0xff, stub[o++] = 0x35;
  o += 4;
  if ((n = uv__encode_operand(op, ZYDIS_MNEMONIC_JMP, 8, stub + o, 16)) < 0)
    goto refuse;
  o += (size_t)n;
  o = (o + 7) & ~(size_t)7;
  uint64_t ret = (uint64_t)(uintptr_t)(c->call + insn->length);
  memcpy(stub + o, &ret, 8);
  int32_t rel = (int32_t)(o - (push_ret + 6));
  memcpy(stub + push_ret + 2, &rel, 4);
  uvdb_hook_set_prot(stub, STUB_ROOM, PROT_READ | PROT_EXEC);
  c->stub = stub;
  return 0;
refuse:
  uvdb_hook_set_prot(stub, STUB_ROOM, PROT_READ | PROT_EXEC);
  return uv__why(why, cap, "cannot re-encode the call's operand or the code before it%s", 0);
}

static void uv__prepare_site(struct uv__fn_map *m, size_t i, const ZydisDecodedInstruction *insn,
                             const ZydisDecodedOperand *op, void (*enter)(uint64_t), struct uvdb_callsite *c) {
  if (uv__preceding(m, i, c) != 0) {
    uint8_t *gap = uv__find_gap(m, i);
    if (!gap) {
      snprintf(c->reason, sizeof(c->reason), "a branch lands just before it and no padding is within a short jump");
      return;
    }
    c->mode = UVDB_CALLSITE_HOP;
    c->patch = c->call;
    c->patch_len = HOP_LEN;
    c->gap = gap;
  }
  if (uv__build_stub(c, insn, op, enter, c->reason, sizeof(c->reason)) != 0) {
    c->mode = 0;
    return;
  }
  memcpy(c->saved, c->patch, c->patch_len);
  if (c->gap)
    memcpy(c->gap_saved, c->gap, JMP_LEN);
}

int uvdb_callsites_prepare(const char *name, uint8_t *fn, size_t size, void (*enter)(uint64_t target),
                           struct uvdb_callsite *out, int max, char *why, size_t why_cap) {
  if (!fn || size < JMP_LEN)
    return uv__why(why, why_cap, "no function, or one of %llu bytes", size);
  struct uv__fn_map m = {.fn = fn, .size = size};
  m.insn = calloc(size, sizeof(*m.insn));
  m.target = calloc(size, 1);
  m.gap_used = calloc(size, 1);
  int n = -1;
  if (!m.insn || !m.target || !m.gap_used) {
    uv__why(why, why_cap, "out of memory%s", 0);
    goto done;
  }
  if (uv__map_function(&m, why, why_cap) != 0)
    goto done;
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  n = 0;
  for (size_t i = 0; i < m.n && n < max; i++) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!m.insn[i].icall || ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, fn + m.insn[i].off, m.insn[i].len, &insn, ops)))
      continue;
    struct uvdb_callsite *c = &out[n++];
    *c = (struct uvdb_callsite){.fn_name = name, .fn = fn, .call = fn + m.insn[i].off};
    uv__prepare_site(&m, i, &insn, &ops[0], enter, c);
  }
done:
  free(m.insn);
  free(m.target);
  free(m.gap_used);
  return n;
}

int uvdb_callsite_install(struct uvdb_callsite *c) {
  if (c->installed || !c->mode)
    return c->mode ? 0 : -1;
  uint8_t patch[UVDB_CALLSITE_PATCH];
  memset(patch, 0xcc, sizeof(patch)); /* int3 where no path goes */
  if (c->mode == UVDB_CALLSITE_HOP) {
    uint8_t jmp[JMP_LEN];
    uvdb_hook_rel_jmp(jmp, c->gap, c->stub);
    if (uvdb_hook_write_code(c->gap, jmp, JMP_LEN) != 0)
      return -1;
    patch[0] = 0xeb;
    patch[1] = (uint8_t)(int8_t)((intptr_t)c->gap - (intptr_t)(c->call + HOP_LEN));
  } else {
    uvdb_hook_rel_jmp(patch, c->patch, c->stub);
  }
  if (uvdb_hook_write_code(c->patch, patch, c->patch_len) != 0)
    return -1;
  c->installed = 1;
  return 0;
}

int uvdb_callsite_remove(struct uvdb_callsite *c) {
  if (!c->installed)
    return 0;
  if (uvdb_hook_write_code(c->patch, c->saved, c->patch_len) != 0 ||
      (c->gap && uvdb_hook_write_code(c->gap, c->gap_saved, JMP_LEN) != 0))
    return -1;
  c->installed = 0;
  return 0;
}
