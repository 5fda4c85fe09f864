/* Symbolization in the debugger, never in the target: addresses of the
 * target's code to function names (C++ demangled) or module+offset, through
 * elfutils' libdwfl over the process's maps. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <elfutils/libdwfl.h>
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
};

struct symbolizer *symbolizer_open(pid_t pid) {
  Dwfl *dwfl = dwfl_begin(&uv__callbacks);
  if (!dwfl)
    return NULL;
  if (dwfl_linux_proc_report(dwfl, pid) != 0 || dwfl_report_end(dwfl, NULL, NULL) != 0) {
    dwfl_end(dwfl);
    return NULL;
  }
  struct symbolizer *sym = calloc(1, sizeof(*sym));
  if (!sym) {
    dwfl_end(dwfl);
    return NULL;
  }
  sym->dwfl = dwfl;
  sym->pid = pid;
  return sym;
}

void symbolizer_close(struct symbolizer *sym) {
  if (!sym)
    return;
  dwfl_end(sym->dwfl);
  free(sym);
}

const char *symbolize_module(struct symbolizer *sym, uint64_t addr) {
  Dwfl_Module *mod = sym ? dwfl_addrmodule(sym->dwfl, addr) : NULL;
  const char *name = mod ? dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL) : NULL;
  const char *slash = name ? strrchr(name, '/') : NULL;
  return slash ? slash + 1 : name ? name : "";
}

const char *symbolize(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap) {
  if (!addr) {
    snprintf(buf, cap, "(none)");
    return buf;
  }
  Dwfl_Module *mod = sym ? dwfl_addrmodule(sym->dwfl, addr) : NULL;
  if (!mod) {
    snprintf(buf, cap, "0x%llx", (unsigned long long)addr);
    return buf;
  }
  GElf_Off off = 0;
  GElf_Sym s;
  const char *name = dwfl_module_addrinfo(mod, addr, &off, &s, NULL, NULL, NULL);
  if (name) {
    int status = -1;
    char *plain = name[0] == '_' && name[1] == 'Z' ? __cxa_demangle(name, NULL, NULL, &status) : NULL;
    const char *shown = status == 0 && plain ? plain : name;
    if (off)
      snprintf(buf, cap, "%s+0x%llx", shown, (unsigned long long)off);
    else
      snprintf(buf, cap, "%s", shown);
    free(plain);
    return buf;
  }
  Dwarf_Addr base;
  const char *module = dwfl_module_info(mod, NULL, &base, NULL, NULL, NULL, NULL, NULL);
  const char *slash = module ? strrchr(module, '/') : NULL;
  snprintf(buf, cap, "%s+0x%llx", slash ? slash + 1 : module ? module : "?", (unsigned long long)(addr - base));
  return buf;
}
