/* Entry hooks by code patching: the first instructions of a function are
 * replaced by a jmp to a replacement; its relocated prologue (the trampoline)
 * calls the original.  Relocation decodes and re-encodes with Zydis. */
#ifndef UVDB_HOOK_H
#define UVDB_HOOK_H

#include <stddef.h>
#include <stdint.h>

#define UVDB_HOOK_MAX_STOLEN 32

struct uvdb_hook {
  /* filled by the caller */
  const char *name;
  uint8_t *target;    /* function entry */
  size_t size;        /* function size in bytes: bounds the jumped-into scan */
  void *replacement;  /* same signature as the target */
  void **original;    /* receives the trampoline: call it to run the original */
  /* filled by the engine */
  int installed;
  size_t stolen;                         /* bytes replaced at the entry */
  uint8_t saved[UVDB_HOOK_MAX_STOLEN];   /* the original bytes */
  uint8_t *stub;                         /* near jump to the replacement */
  uint8_t *trampoline;                   /* relocated prologue + jmp back */
  char reason[160];                      /* why prepare/install refused */
};

/* Decode and relocate the prologue; refuse (return -1, reason set) when the
 * function is too short, a branch inside it lands within the patched bytes,
 * or an instruction cannot be moved.  Nothing in the target changes. */
int uvdb_hook_prepare(struct uvdb_hook *h);

/* Write the entry jmp.  Call with no other thread inside the patched bytes. */
int uvdb_hook_install(struct uvdb_hook *h);

/* Put the original bytes back. */
int uvdb_hook_remove(struct uvdb_hook *h);

/* Executable memory within a rel32 jump of `near`; NULL if none. */
uint8_t *uvdb_hook_alloc_near(const void *near, size_t len);
/* Writable memory within rel32 reach of `near`, for data code reads rip-relative. */
uint8_t *uvdb_hook_alloc_near_data(const void *near, size_t len);
/* /proc/self/maps, read into a static buffer (install time only). */
const char *uvdb_hook_self_maps(void);
/* The last reading of this process's, if any (else a fresh one): for what
 * stays as it was, the mappings of libuv's own code and tables. */
const char *uvdb_hook_maps_read(void);
/* The address the first rip-relative mov among fn's first instructions reads. */
const void *uvdb_hook_first_rip_load(const void *fn, size_t max_insns);
/* Copy bytes over code (made writable for the copy, then R-X again). */
int uvdb_hook_write_code(uint8_t *at, const uint8_t *bytes, size_t len);
/* The whole instructions of [from, from+len) re-encoded to run at `at`
 * (relative operands made absolute); bytes written, or -1. */
long uvdb_hook_relocate(const uint8_t *from, size_t len, uint8_t *at, size_t room);
/* A jmp rel32 in buf[0..5), to run at `at`. */
void uvdb_hook_rel_jmp(uint8_t *buf, const uint8_t *at, const void *to);
int uvdb_hook_within_rel32(const void *a, const void *b, size_t len);
int uvdb_hook_set_prot(void *addr, size_t len, int prot);

/* Call-site hooks (callsite.c): the indirect calls by which a function runs
 * callbacks, each made to pass through a stub that tells `enter` which
 * function it calls.  The callback returns to the function's own code, so
 * stacks, unwinding and exceptions see what they saw before. */
#define UVDB_CALLSITE_PATCH 16

enum uvdb_callsite_mode {
  UVDB_CALLSITE_PRECEDING = 1, /* the call and the instructions before it move to the stub */
  UVDB_CALLSITE_HOP,           /* a jmp rel8 at the call, to padding that jumps to the stub */
};

struct uvdb_callsite {
  const char *fn_name;  /* the function it is in */
  uint8_t *fn;          /* its entry */
  uint8_t *call;        /* the indirect call */
  int mode;             /* enum uvdb_callsite_mode; 0: refused */
  uint8_t *patch;       /* where the patch is written */
  size_t patch_len;
  uint8_t *gap;         /* HOP: the padding the hop lands in (5 bytes used) */
  uint8_t saved[UVDB_CALLSITE_PATCH], gap_saved[5];
  uint8_t *stub;
  int installed;
  char reason[120];
};

/* The call sites of fn (size bytes) that run a function through a register
 * or memory operand, each prepared to call enter(target) first; refused
 * ones have their reason.  Returns the count filled in out (at most max),
 * or -1 with why[] set when the function cannot be analysed at all. */
int uvdb_callsites_prepare(const char *name, uint8_t *fn, size_t size, void (*enter)(uint64_t target),
                           struct uvdb_callsite *out, int max, char *why, size_t why_cap);
/* Call with no other thread inside the patched bytes (patch, and gap). */
int uvdb_callsite_install(struct uvdb_callsite *c);
int uvdb_callsite_remove(struct uvdb_callsite *c);

#endif
