/* Symbolization in the debugger, never in the target: addresses of the
 * target's code to function names (C++ demangled) or module+offset, through
 * elfutils' libdwfl over the process's maps. */
#define _GNU_SOURCE
#include "symbolize.h"

#include "../probes/wire.h"
#include "loopstate.h"

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
  int attached; /* the process state below is attached to dwfl */
  pid_t tid;
  const struct uvdb_stop_stack *regs;
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

int symbolizer_unwind(struct symbolizer *sym, pid_t tid, const struct uvdb_stop_stack *regs, uint64_t *pcs, int max) {
  if (!sym || !regs->valid)
    return -1;
  sym->tid = tid;
  sym->regs = regs;
  if (!sym->attached && !dwfl_attach_state(sym->dwfl, NULL, sym->pid, &uv__thread_callbacks, sym))
    return -1;
  sym->attached = 1;
  struct uv__frames f = {pcs, 0, max};
  dwfl_getthread_frames(sym->dwfl, tid, uv__frame, &f); /* ends with an error at the outermost frame */
  return f.n;
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
