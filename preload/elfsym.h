/* Symbol lookup in the target's own ELF files (.symtab, then .dynsym), and
 * function bounds from the in-memory .eh_frame_hdr for stripped code. */
#ifndef UVDB_ELFSYM_H
#define UVDB_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

struct uvdb_elf {
  const uint8_t *map;
  size_t len;
  const void *symtab, *dynsym; /* Elf64_Sym arrays */
  size_t nsymtab, ndynsym;
  const char *symstr, *dynstr;
  size_t symstr_len, dynstr_len;
};

struct uvdb_elf_want {
  const char *name;
  uint64_t value; /* st_value, 0 if not found or undefined */
  uint64_t size;
  int from_symtab; /* 1: .symtab, 0: .dynsym */
};

/* Map the file read-only and index its symbol tables.  0 or -1. */
int uvdb_elf_open(struct uvdb_elf *e, const char *path);
/* One pass over the tables, filling every wanted defined function. */
void uvdb_elf_find(const struct uvdb_elf *e, struct uvdb_elf_want *want, size_t n);
void uvdb_elf_close(struct uvdb_elf *e);

/* Bounds of the function containing `pc`, from a loaded object's
 * .eh_frame_hdr (its address in memory).  0 or -1 when unknown. */
int uvdb_eh_function_bounds(const uint8_t *eh_frame_hdr, uintptr_t pc, uintptr_t *start, uintptr_t *end);

#endif
