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
/* The address the first rip-relative mov among fn's first instructions reads. */
const void *uvdb_hook_first_rip_load(const void *fn, size_t max_insns);
/* Copy bytes over code (made writable for the copy, then R-X again). */
int uvdb_hook_write_code(uint8_t *at, const uint8_t *bytes, size_t len);

#endif
