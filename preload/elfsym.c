/* Reading ELF symbol tables of files mapped into the target.  Every offset
 * is checked against the file's size: the file may be anything. */
#define _GNU_SOURCE
#include "elfsym.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int uv__in_file(const struct uvdb_elf *e, uint64_t off, uint64_t len) {
  return off <= e->len && len <= e->len - off;
}

int uvdb_elf_open(struct uvdb_elf *e, const char *path) {
  memset(e, 0, sizeof(*e));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
    close(fd);
    return -1;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return -1;
  e->map = m;
  e->len = (size_t)st.st_size;
  const Elf64_Ehdr *eh = m;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % _Alignof(Elf64_Shdr) != 0 ||
      !uv__in_file(e, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))) {
    uvdb_elf_close(e);
    return -1;
  }
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(e->map + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
      continue;
    /* Tables are read in place: a misaligned one (no linker makes one) is skipped. */
    if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym) ||
        sh[i].sh_offset % _Alignof(Elf64_Sym) != 0)
      continue;
    const Elf64_Shdr *str = &sh[sh[i].sh_link];
    if (!uv__in_file(e, sh[i].sh_offset, sh[i].sh_size) || !uv__in_file(e, str->sh_offset, str->sh_size) ||
        str->sh_size == 0)
      continue;
    if (sh[i].sh_type == SHT_SYMTAB) {
      e->symtab = e->map + sh[i].sh_offset;
      e->nsymtab = sh[i].sh_size / sizeof(Elf64_Sym);
      e->symstr = (const char *)e->map + str->sh_offset;
      e->symstr_len = str->sh_size;
    } else {
      e->dynsym = e->map + sh[i].sh_offset;
      e->ndynsym = sh[i].sh_size / sizeof(Elf64_Sym);
      e->dynstr = (const char *)e->map + str->sh_offset;
      e->dynstr_len = str->sh_size;
    }
  }
  return 0;
}

/* Where the wanted names are in a string table, as whole strings: every
 * occurrence of "name\0" ends at a terminator, so the table is read once,
 * in order, looking only before each terminator.  Reading each symbol's
 * name instead jumps about node's 7 MB of strings, a cache miss a symbol:
 * 13 ms or more for its 110k symbols, against 3 ms. */
#define UV__SPOTS 64

struct uv__spots {
  uint32_t off[UV__SPOTS];
  uint16_t want[UV__SPOTS];
  size_t n;
  uint64_t filter[16]; /* a bit per hash of off: most symbols fail it */
};

static unsigned uv__hash32(uint32_t v, int bits) {
  return (v * 0x9e3779b1u) >> (32 - bits);
}

static int uv__bit(const uint64_t *set, unsigned i) {
  return (set[i / 64] >> (i % 64)) & 1;
}

/* The four bytes that end a string (nul: its terminator), hashed: a set
 * of the wanted names' endings fails almost every other string. */
static unsigned uv__end_hash(const char *nul) {
  uint32_t v;
  memcpy(&v, nul - 4, 4);
  return uv__hash32(v, 16);
}

/* 0, or -1 when the names occur too often to list (a table not deduplicated,
 * an empty name): then each symbol's name is compared. */
static int uv__find_spots(const char *str, size_t len, const struct uvdb_elf_want *want, size_t n,
                          struct uv__spots *sp) {
  size_t lens[n ? n : 1];
  uint64_t ends[65536 / 64] = {0};
  int short_name = 0; /* one shorter than four: every string is looked at */
  for (size_t w = 0; w < n; w++) {
    lens[w] = strlen(want[w].name);
    short_name |= lens[w] < 4;
    if (lens[w] >= 4)
      ends[uv__end_hash(want[w].name + lens[w]) / 64] |= 1ull << (uv__end_hash(want[w].name + lens[w]) % 64);
  }
  memset(sp, 0, sizeof(*sp));
  const char *end = str + (len > UINT32_MAX ? UINT32_MAX : len); /* st_name is 32 bits */
  for (const char *nul = str; (nul = memchr(nul, '\0', (size_t)(end - nul))) != NULL; nul++) {
    size_t at = (size_t)(nul - str);
    if (!short_name && (at < 4 || !uv__bit(ends, uv__end_hash(nul))))
      continue;
    for (size_t w = 0; w < n; w++) {
      if (lens[w] > at || memcmp(nul - lens[w], want[w].name, lens[w]) != 0)
        continue;
      if (sp->n == UV__SPOTS)
        return -1;
      uint32_t off = (uint32_t)(at - lens[w]);
      sp->off[sp->n] = off;
      sp->want[sp->n++] = (uint16_t)w;
      sp->filter[uv__hash32(off, 10) / 64] |= 1ull << (uv__hash32(off, 10) % 64);
    }
  }
  return 0;
}

static int uv__wanted_sym(const Elf64_Sym *sym, size_t strlen_) {
  return (ELF64_ST_TYPE(sym->st_info) == STT_FUNC || ELF64_ST_TYPE(sym->st_info) == STT_OBJECT) &&
         sym->st_shndx != SHN_UNDEF && sym->st_name < strlen_;
}

static void uv__take(struct uvdb_elf_want *w, const Elf64_Sym *sym, int is_symtab) {
  if (w->value)
    return; /* the first definition in the table's order */
  w->value = sym->st_value;
  w->size = sym->st_size;
  w->from_symtab = is_symtab;
}

static void uv__scan(const Elf64_Sym *syms, size_t nsym, const char *str, size_t strlen_, int is_symtab,
                     struct uvdb_elf_want *want, size_t n) {
  struct uv__spots sp;
  if (uv__find_spots(str, strlen_, want, n, &sp) != 0) {
    for (size_t s = 0; s < nsym; s++) {
      if (!uv__wanted_sym(&syms[s], strlen_))
        continue;
      const char *name = str + syms[s].st_name;
      size_t room = strlen_ - syms[s].st_name;
      for (size_t w = 0; w < n; w++) {
        size_t wl = strlen(want[w].name);
        if (wl < room && memcmp(name, want[w].name, wl + 1) == 0)
          uv__take(&want[w], &syms[s], is_symtab);
      }
    }
    return;
  }
  for (size_t s = 0; s < nsym && sp.n; s++) {
    uint32_t off = syms[s].st_name;
    if (!uv__bit(sp.filter, uv__hash32(off, 10)) || !uv__wanted_sym(&syms[s], strlen_))
      continue;
    for (size_t i = 0; i < sp.n; i++)
      if (sp.off[i] == off)
        uv__take(&want[sp.want[i]], &syms[s], is_symtab);
  }
}

static int uv__all_found(const struct uvdb_elf_want *want, size_t n) {
  for (size_t w = 0; w < n; w++)
    if (!want[w].value)
      return 0;
  return 1;
}

void uvdb_elf_find(const struct uvdb_elf *e, struct uvdb_elf_want *want, size_t n) {
  for (size_t w = 0; w < n; w++)
    want[w].value = want[w].size = 0;
  if (e->symtab)
    uv__scan(e->symtab, e->nsymtab, e->symstr, e->symstr_len, 1, want, n);
  if (e->dynsym && !uv__all_found(want, n))
    uv__scan(e->dynsym, e->ndynsym, e->dynstr, e->dynstr_len, 0, want, n);
}

void uvdb_elf_close(struct uvdb_elf *e) {
  if (e->map)
    munmap((void *)e->map, e->len);
  memset(e, 0, sizeof(*e));
}

/* Only the encoding every x86-64 toolchain emits is accepted: eh_frame_ptr
 * pcrel|sdata4, fde_count udata4, table datarel|sdata4.  FDEs are read with
 * pc_begin pcrel|sdata4, and checked against the table before use. */
int uvdb_eh_function_bounds(const uint8_t *hdr, uintptr_t pc, uintptr_t *start, uintptr_t *end) {
  if (!hdr || hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
    return -1;
  uint32_t count;
  memcpy(&count, hdr + 8, 4);
  const uint8_t *table = hdr + 12;
  uint32_t lo = 0, hi = count;
  int32_t loc, fde_off;
  while (lo < hi) { /* last entry with initial_loc <= pc */
    uint32_t mid = lo + (hi - lo) / 2;
    memcpy(&loc, table + (size_t)mid * 8, 4);
    if ((uintptr_t)(hdr + loc) <= pc)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return -1;
  memcpy(&loc, table + (size_t)(lo - 1) * 8, 4);
  memcpy(&fde_off, table + (size_t)(lo - 1) * 8 + 4, 4);
  const uint8_t *fde = hdr + fde_off;
  uint32_t len;
  memcpy(&len, fde, 4);
  if (len == 0xffffffffu || len < 16)
    return -1;
  int32_t pcrel;
  uint32_t range;
  memcpy(&pcrel, fde + 8, 4);
  memcpy(&range, fde + 12, 4);
  uintptr_t begin = (uintptr_t)(fde + 8) + pcrel;
  if (begin != (uintptr_t)(hdr + loc) || pc >= begin + range)
    return -1;
  *start = begin;
  *end = begin + range;
  return 0;
}
