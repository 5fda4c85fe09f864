/* Symbolization in the debugger, never in the target: addresses of the
 * target's code to function names (C++ demangled) or module+offset, through
 * elfutils' libdwfl over the process's maps. */
#define _GNU_SOURCE
#include "symbolize.h"

#include "../probes/wire.h"
#include "loopstate.h"
#include "procmaps.h"

const char *perfmap_lookup(pid_t pid, uint64_t addr); /* perfmap.c */

#include <ctype.h>
#include <elfutils/libdwfl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The C++ runtime's demangler; no other part of uvdb needs C++. */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

static const Dwfl_Callbacks uv__callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

struct symbolizer {
  Dwfl *dwfl;
  pid_t pid;
  struct procmaps maps; /* its aliases: code shown twice, named by the file's own layout */
  int attached; /* the process state below is attached to dwfl */
  pid_t tid;
  const struct uvdb_stop_stack *regs;
  const uint8_t *snap; /* a copy of the stack's top, read before the live process */
  uint64_t snap_base, snap_len;
};

/* libdwfl's unwinder over a stopped thread it does not ptrace: one thread,
 * registers from the probe, memory through process_vm_readv. */
static pid_t uv__next_thread(Dwfl *dwfl, void *arg, void **thread_arg) {
  (void)dwfl;
  struct symbolizer *sym = arg;
  if (*thread_arg)
    return 0;
  *thread_arg = sym;
  return sym->tid;
}

static bool uv__memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg) {
  (void)dwfl;
  struct symbolizer *sym = arg;
  /* Offsets, not ends: the base and length come from the target and
   * addr from its stack, so base + len or addr + 8 may wrap. */
  if (sym->snap && addr >= sym->snap_base && addr - sym->snap_base <= sym->snap_len &&
      sym->snap_len - (addr - sym->snap_base) >= sizeof(*result)) {
    memcpy(result, sym->snap + (addr - sym->snap_base), sizeof(*result));
    return true;
  }
  return target_read(sym->pid, addr, result, sizeof(*result)) == 0;
}

static bool uv__initial_registers(Dwfl_Thread *thread, void *arg) {
  const struct uvdb_stop_stack *r = ((struct symbolizer *)arg)->regs;
  /* DWARF numbering on x86-64: 3 rbx, 6 rbp, 7 rsp, 12-15 r12-r15 */
  Dwarf_Word rbx = r->rbx, bp_sp[2] = {r->rbp, r->rsp}, r12_15[4] = {r->r12, r->r13, r->r14, r->r15};
  if (!dwfl_thread_state_registers(thread, 3, 1, &rbx) || !dwfl_thread_state_registers(thread, 6, 2, bp_sp) ||
      !dwfl_thread_state_registers(thread, 12, 4, r12_15))
    return false;
  dwfl_thread_state_register_pc(thread, r->rip);
  return true;
}

static const Dwfl_Thread_Callbacks uv__thread_callbacks = {
    .next_thread = uv__next_thread,
    .memory_read = uv__memory_read,
    .set_initial_registers = uv__initial_registers,
};

struct uv__frames {
  uint64_t *pcs;
  int n, max;
};

static int uv__frame(Dwfl_Frame *frame, void *arg) {
  struct uv__frames *f = arg;
  Dwarf_Addr pc;
  bool activation;
  if (!dwfl_frame_pc(frame, &pc, &activation) || f->n >= f->max)
    return DWARF_CB_ABORT;
  f->pcs[f->n++] = pc;
  return DWARF_CB_OK;
}

/* A symbolizer over the modules just reported to dwfl (ok: they were). */
static struct symbolizer *uv__wrap(Dwfl *dwfl, int ok, pid_t pid) {
  struct symbolizer *sym = ok && dwfl_report_end(dwfl, NULL, NULL) == 0 ? calloc(1, sizeof(*sym)) : NULL;
  if (!sym) {
    dwfl_end(dwfl);
    return NULL;
  }
  sym->dwfl = dwfl;
  sym->pid = pid;
  return sym;
}

/* The vdso, which dwfl_linux_proc_find_elf reads from the process by this name. */
static int uv__report_vdso(Dwfl *dwfl, pid_t pid, const struct procmaps *pm) {
  char name[32];
  snprintf(name, sizeof(name), "[vdso: %d]", (int)pid);
  return !pm->vdso_end || dwfl_report_module(dwfl, name, pm->vdso_start, pm->vdso_end) != NULL;
}

struct symbolizer *symbolizer_open(pid_t pid) {
  size_t len = 0;
  char *text = procmaps_read(pid, &len);
  struct procmaps pm;
  int parsed = text && procmaps_parse(text, len, &pm) == 0;
  free(text);
  if (!parsed)
    return NULL;
  Dwfl *dwfl = dwfl_begin(&uv__callbacks);
  FILE *kept = dwfl && pm.kept_len ? fmemopen(pm.kept, pm.kept_len, "r") : NULL;
  int ok = kept && dwfl_linux_proc_maps_report(dwfl, kept) == 0 && uv__report_vdso(dwfl, pid, &pm);
  if (kept)
    fclose(kept);
  struct symbolizer *sym = dwfl ? uv__wrap(dwfl, ok, pid) : NULL;
  if (sym)
    sym->maps = pm;
  else
    procmaps_free(&pm);
  return sym;
}

int symbolizer_unwind(struct symbolizer *sym, pid_t tid, const struct uvdb_stop_stack *regs, uint64_t *pcs, int max) {
  return symbolizer_unwind_copy(sym, tid, regs, NULL, 0, 0, pcs, max);
}

int symbolizer_unwind_copy(struct symbolizer *sym, pid_t tid, const struct uvdb_stop_stack *regs,
                           const uint8_t *stack, uint64_t stack_base, uint64_t stack_len, uint64_t *pcs, int max) {
  if (!sym || !regs->valid)
    return -1;
  sym->tid = tid;
  sym->regs = regs;
  sym->snap = stack, sym->snap_base = stack_base, sym->snap_len = stack_len;
  if (!sym->attached && !dwfl_attach_state(sym->dwfl, NULL, sym->pid, &uv__thread_callbacks, sym))
    return -1;
  sym->attached = 1;
  struct uv__frames f = {pcs, 0, max};
  dwfl_getthread_frames(sym->dwfl, tid, uv__frame, &f); /* ends with an error at the outermost frame */
  return f.n;
}

/* A module's functions (and data: vtables name C++ objects) by address.  libdwfl's dwfl_module_addrinfo walks
 * the whole symbol table for each address, and node has some 100k symbols:
 * a profile's report took seconds.  Built once per module, then searched;
 * names are demangled once, when first shown. */
struct uv__fn {
  uint64_t start, size;
  const char *raw; /* libdwfl's string, alive as long as the module */
  char *shown;     /* demangled, or NULL until asked */
  int rank;        /* among aliases, lower is shown: global, default version */
  int index;
};

struct uv__fns {
  size_t n;
  struct uv__fn v[];
};

static int uv__fn_order(const void *a, const void *b) {
  const struct uv__fn *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  if (x->size != y->size)
    return x->size < y->size ? 1 : -1; /* a sized alias before a sizeless one */
  return x->rank != y->rank ? x->rank - y->rank : x->index - y->index;
}

/* An alias's rank: global before weak before local, and the default
 * version ("fn@@GLIBC_2.34", or none) before an old one ("fn@GLIBC_2.2.5"). */
static int uv__fn_rank(const GElf_Sym *s, const char *raw) {
  int bind = GELF_ST_BIND(s->st_info);
  const char *at = strchr(raw, '@');
  return 2 * (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2) + (at && at[1] != '@');
}

static struct uv__fns *uv__fns_build(Dwfl_Module *mod) {
  int n = dwfl_module_getsymtab(mod);
  struct uv__fns *t = malloc(sizeof(*t) + (size_t)(n > 0 ? n : 0) * sizeof(struct uv__fn));
  if (!t)
    return NULL;
  t->n = 0;
  for (int i = 1; i < n; i++) {
    GElf_Sym s;
    GElf_Addr addr;
    const char *raw = dwfl_module_getsym_info(mod, i, &s, &addr, NULL, NULL, NULL);
    int type = raw ? GELF_ST_TYPE(s.st_info) : -1;
    if (!raw || !*raw || s.st_shndx == SHN_UNDEF || !addr ||
        (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE && type != STT_OBJECT))
      continue;
    t->v[t->n++] = (struct uv__fn){addr, s.st_size, raw, NULL, uv__fn_rank(&s, raw), i};
  }
  qsort(t->v, t->n, sizeof(t->v[0]), uv__fn_order);
  return t;
}

static struct uv__fns *uv__module_fns(Dwfl_Module *mod) {
  void **userdata = NULL;
  dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
  if (!userdata)
    return NULL;
  if (!*userdata)
    *userdata = uv__fns_build(mod);
  return *userdata;
}

/* The function holding addr: the last one starting at or before it that
 * covers it (a few back, for one nested in another), else a sizeless
 * symbol just before it (hand-written assembly, V8's builtins). */
static struct uv__fn *uv__fn_at(Dwfl_Module *mod, uint64_t addr) {
  struct uv__fns *t = uv__module_fns(mod);
  if (!t || !t->n || addr < t->v[0].start)
    return NULL;
  size_t lo = 0, hi = t->n; /* the first entry starting after addr */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->v[mid].start <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t first = lo - 1; /* the best of the aliases starting where it does (sorted first) */
  while (first > 0 && t->v[first - 1].start == t->v[first].start)
    first--;
  for (size_t i = first + 1, k = 0; i-- > 0 && k < 16; k++) {
    if (i < first && i > 0 && t->v[i - 1].start == t->v[i].start)
      continue; /* an outer function's lesser alias: its best comes next */
    if (t->v[i].size && addr < t->v[i].start + t->v[i].size)
      return &t->v[i];
  }
  return t->v[first].size ? NULL : &t->v[first];
}

static const char *uv__fn_shown(struct uv__fn *f) {
  if (!f->shown && f->raw[0] == '_' && f->raw[1] == 'Z') {
    int status = -1;
    char *plain = __cxa_demangle(f->raw, NULL, NULL, &status);
    if (status == 0 && plain)
      f->shown = plain;
    else
      free(plain);
  }
  return f->shown ? f->shown : f->raw;
}

static int uv__fns_free(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg) {
  (void)mod, (void)name, (void)start, (void)arg;
  struct uv__fns *t = *userdata;
  for (size_t i = 0; t && i < t->n; i++)
    free(t->v[i].shown);
  free(t);
  *userdata = NULL;
  return DWARF_CB_OK;
}

void symbolizer_close(struct symbolizer *sym) {
  if (!sym)
    return;
  dwfl_getmodules(sym->dwfl, uv__fns_free, NULL, 0);
  dwfl_end(sym->dwfl);
  procmaps_free(&sym->maps);
  free(sym);
}

/* The module holding *addr, or NULL; an alias's address becomes the one
 * it shows.  libdwfl's lookup can answer with a module that ends before the
 * address (seen: V8's JIT code some pages past the probe's .bss, taken for
 * the probe's and so dropped from profiles as its frames): the answer is
 * checked against the module's bounds. */
static Dwfl_Module *uv__module_at(struct symbolizer *sym, uint64_t *addr) {
  if (!sym)
    return NULL;
  *addr = procmaps_resolve(&sym->maps, *addr);
  Dwfl_Module *mod = dwfl_addrmodule(sym->dwfl, *addr);
  Dwarf_Addr start = 0, end = 0;
  if (mod && dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL) && (*addr < start || *addr >= end))
    return NULL;
  return mod;
}

/* A recording's names (uvdb report): asked when there is no process. */
static const char *(*uv__offline_name)(uint64_t addr);
static const char *(*uv__offline_module)(uint64_t addr);

void symbolizer_set_offline(const char *(*name)(uint64_t addr), const char *(*module)(uint64_t addr)) {
  uv__offline_name = name;
  uv__offline_module = module;
}

const char *symbolize_module(struct symbolizer *sym, uint64_t addr) {
  if (!sym && uv__offline_module) {
    const char *module = uv__offline_module(addr);
    return module ? module : "";
  }
  Dwfl_Module *mod = uv__module_at(sym, &addr);
  const char *name = mod ? dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL) : NULL;
  const char *slash = name ? strrchr(name, '/') : NULL;
  return slash ? slash + 1 : name ? name : "";
}

const char *symbolize(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap) {
  if (!addr) {
    snprintf(buf, cap, "(none)");
    return buf;
  }
  const char *recorded = !sym && uv__offline_name ? uv__offline_name(addr) : NULL;
  if (recorded) {
    snprintf(buf, cap, "%s", recorded);
    return buf;
  }
  Dwfl_Module *mod = uv__module_at(sym, &addr);
  if (!mod) { /* JIT code: V8's perf map names it */
    const char *js = sym ? perfmap_lookup(sym->pid, addr) : NULL;
    if (js)
      snprintf(buf, cap, "%s", js);
    else
      snprintf(buf, cap, "0x%llx", (unsigned long long)addr);
    return buf;
  }
  struct uv__fn *f = uv__fn_at(mod, addr);
  if (f) {
    uint64_t off = addr - f->start;
    if (off)
      snprintf(buf, cap, "%s+0x%llx", uv__fn_shown(f), (unsigned long long)off);
    else
      snprintf(buf, cap, "%s", uv__fn_shown(f));
    return buf;
  }
  Dwarf_Addr base;
  const char *module = dwfl_module_info(mod, NULL, &base, NULL, NULL, NULL, NULL, NULL);
  const char *slash = module ? strrchr(module, '/') : NULL;
  snprintf(buf, cap, "%s+0x%llx", slash ? slash + 1 : module ? module : "?", (unsigned long long)(addr - base));
  return buf;
}

uint64_t symbolizer_frame_addr(struct symbolizer *sym, uint64_t pc, int innermost) {
  uint64_t before = pc - 1, at = pc;
  if (innermost)
    return pc;
  Dwfl_Module *mod = uv__module_at(sym, &before);
  if (!mod || uv__fn_at(mod, before))
    return pc - 1;
  mod = uv__module_at(sym, &at);
  struct uv__fn *f = mod ? uv__fn_at(mod, at) : NULL;
  return f && f->start == at ? pc : pc - 1;
}

const char *symbolize_frame(struct symbolizer *sym, uint64_t pc, int innermost, char *buf, size_t cap) {
  return symbolize(sym, symbolizer_frame_addr(sym, pc, innermost), buf, cap);
}

const char *symbolize_source(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap) {
  Dwfl_Module *mod = uv__module_at(sym, &addr);
  struct uv__fn *f = mod ? uv__fn_at(mod, addr) : NULL;
  Dwfl_Line *line = f ? dwfl_module_getsrc(mod, f->start) : NULL; /* where the function begins */
  int lineno = 0;
  const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
  if (!file || lineno <= 0)
    return NULL;
  const char *slash = strrchr(file, '/');
  snprintf(buf, cap, "%s:%d", slash ? slash + 1 : file, lineno);
  return buf;
}

const char *symbol_demangle(const char *raw, char *buf, size_t cap) {
  int status = -1;
  char *plain = raw[0] == '_' && raw[1] == 'Z' ? __cxa_demangle(raw, NULL, NULL, &status) : NULL;
  snprintf(buf, cap, "%s", status == 0 && plain ? plain : raw);
  free(plain);
  return symbol_strip_params(buf);
}

/* ---- names to addresses: `break callback GLOB` ---- */

static const Dwfl_Callbacks uv__offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

struct symbolizer *symbolizer_open_file(const char *path) {
  Dwfl *dwfl = dwfl_begin(&uv__offline_callbacks);
  return dwfl ? uv__wrap(dwfl, dwfl_report_offline(dwfl, path, path, -1) != NULL, -1) : NULL;
}

/* The longest run of identifier characters in a glob: every name it
 * matches holds it, mangled or not, so it filters before demangling. */
static void uv__literal(const char *glob, char *out, size_t cap) {
  size_t best = 0, best_at = 0;
  for (size_t i = 0; glob[i];) {
    size_t j = i;
    while (glob[j] && (isalnum((unsigned char)glob[j]) || glob[j] == '_'))
      j++;
    if (j - i > best)
      best = j - i, best_at = i;
    i = j > i ? j : i + 1;
  }
  if (best >= cap)
    best = cap - 1;
  memcpy(out, glob + best_at, best);
  out[best] = '\0';
}

/* "ns::Class::fn(args) const" -> "ns::Class::fn": the name without its
 * own parameter list, the last balanced (...) at the end; the parameters of
 * a scope it is in stay ("f()::{lambda(uv_idle_s*)#1}::_FUN"). */
char *symbol_strip_params(char *name) {
  char *clone = strstr(name, " [clone ");
  if (clone)
    *clone = '\0';
  size_t len = strlen(name);
  if (len > 6 && strcmp(name + len - 6, " const") == 0)
    len -= 6;
  if (!len || name[len - 1] != ')')
    return name;
  int depth = 0;
  for (size_t i = len; i-- > 0;) {
    if (name[i] == ')')
      depth++;
    else if (name[i] == '(' && --depth == 0) {
      if (i > 0)
        name[i] = '\0';
      break;
    }
  }
  return name;
}

struct uv__sym_walk {
  const char *glob;
  char literal[128];
  int qualified; /* the glob names a scope: "a::b" */
  symbolizer_match_cb cb;
  void *arg;
  int count;
  uint64_t seen[1024]; /* .symtab and .dynsym name a function twice */
  int nseen;
};

static int uv__already(struct uv__sym_walk *w, uint64_t addr) {
  for (int i = 0; i < w->nseen; i++)
    if (w->seen[i] == addr)
      return 1;
  if (w->nseen < (int)(sizeof(w->seen) / sizeof(w->seen[0])))
    w->seen[w->nseen++] = addr;
  return 0;
}

/* Does `raw` (a symbol as stored) match?  Fills `shown` with the name to show. */
static int uv__matches(struct uv__sym_walk *w, const char *raw, char *shown, size_t cap) {
  snprintf(shown, cap, "%s", raw);
  int mangled = raw[0] == '_' && raw[1] == 'Z';
  if (fnmatch(w->glob, raw, 0) == 0 && (!mangled || !strchr("*?[", w->glob[0])))
    return 1; /* a glob that starts wild would match a mangled name's parameter types */
  if (!mangled || (w->literal[0] && !strstr(raw, w->literal)))
    return 0;
  int status = -1;
  char *full = __cxa_demangle(raw, NULL, NULL, &status);
  if (status != 0 || !full) {
    free(full);
    return 0;
  }
  char base[1024];
  snprintf(base, sizeof(base), "%s", full);
  symbol_strip_params(base);
  const char *last = base;
  for (const char *p = base; (p = strstr(p, "::")) != NULL; p += 2)
    last = p + 2;
  int ok = (strchr(w->glob, '(') && fnmatch(w->glob, full, 0) == 0) || fnmatch(w->glob, base, 0) == 0 ||
           (!w->qualified && fnmatch(w->glob, last, 0) == 0);
  if (ok)
    snprintf(shown, cap, "%s", base);
  free(full);
  return ok;
}

static int uv__walk_module(Dwfl_Module *mod, void **userdata, const char *mname, Dwarf_Addr start, void *arg) {
  (void)userdata, (void)mname, (void)start;
  struct uv__sym_walk *w = arg;
  int n = dwfl_module_getsymtab(mod);
  for (int i = 1; i < n; i++) {
    GElf_Sym s;
    GElf_Addr addr;
    const char *raw = dwfl_module_getsym_info(mod, i, &s, &addr, NULL, NULL, NULL);
    if (!raw || !*raw || s.st_shndx == SHN_UNDEF ||
        (GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
        strstr(raw, ".cold"))
      continue; /* a function's cold part is jumped to, never called */
    char shown[512];
    if (!uv__matches(w, raw, shown, sizeof(shown)) || uv__already(w, addr))
      continue;
    w->count++;
    if (w->cb && w->cb(w->arg, shown, addr, s.st_size) != 0)
      return DWARF_CB_ABORT;
  }
  return DWARF_CB_OK;
}

int symbolizer_find(struct symbolizer *sym, const char *glob, symbolizer_match_cb cb, void *arg) {
  if (!sym)
    return -1;
  struct uv__sym_walk *w = calloc(1, sizeof(*w));
  if (!w)
    return -1;
  w->glob = glob, w->cb = cb, w->arg = arg;
  w->qualified = strstr(glob, "::") != NULL;
  uv__literal(glob, w->literal, sizeof(w->literal));
  dwfl_getmodules(sym->dwfl, uv__walk_module, w, 0);
  int count = w->count;
  free(w);
  return count;
}

/* Edit distance, for "did you mean": small words only. */
static int uv__distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  int row[64];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int prev = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cur = row[j];
      int sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      prev = cur;
    }
  }
  return row[lb];
}

struct uv__suggest {
  const char *word;
  char *out;
  size_t cap;
  int n;
};

static int uv__suggest_module(Dwfl_Module *mod, void **userdata, const char *mname, Dwarf_Addr start, void *arg) {
  (void)userdata, (void)mname, (void)start;
  struct uv__suggest *g = arg;
  int n = dwfl_module_getsymtab(mod);
  for (int i = 1; i < n && g->n < 6; i++) {
    GElf_Sym s;
    GElf_Addr addr;
    const char *raw = dwfl_module_getsym_info(mod, i, &s, &addr, NULL, NULL, NULL);
    if (!raw || raw[0] == '_' || s.st_shndx == SHN_UNDEF || GELF_ST_TYPE(s.st_info) != STT_FUNC)
      continue;
    int close = strcasestr(raw, g->word) != NULL || uv__distance(raw, g->word) <= 2;
    if (!close || strstr(g->out, raw))
      continue;
    size_t len = strlen(g->out);
    snprintf(g->out + len, g->cap - len, "%s%s", g->n ? ", " : "", raw);
    g->n++;
  }
  return DWARF_CB_OK;
}

int symbolizer_suggest(struct symbolizer *sym, const char *glob, char *out, size_t cap) {
  out[0] = '\0';
  char word[128];
  uv__literal(glob, word, sizeof(word));
  if (!sym || strlen(word) < 3)
    return 0;
  struct uv__suggest g = {word, out, cap, 0};
  dwfl_getmodules(sym->dwfl, uv__suggest_module, &g, 0);
  return g.n;
}

uint64_t symbolizer_function_size(struct symbolizer *sym, uint64_t addr) {
  Dwfl_Module *mod = uv__module_at(sym, &addr);
  struct uv__fn *f = mod ? uv__fn_at(mod, addr) : NULL;
  return f && f->start == addr ? f->size : 0;
}
