/* Target addresses to names, in the debugger (elfutils' libdwfl). */
#ifndef UVDB_SYMBOLIZE_H
#define UVDB_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

/* The modules mapped in process `pid` now; NULL if it cannot be read. */
struct symbolizer *symbolizer_open(pid_t pid);
void symbolizer_close(struct symbolizer *sym);

struct uvdb_stop_stack;

/* Unwind thread `tid` of the process from the registers it parked with,
 * reading its stack remotely; up to max return addresses, innermost first
 * (the first is the pc itself).  Count, or -1. */
int symbolizer_unwind(struct symbolizer *sym, pid_t tid, const struct uvdb_stop_stack *regs, uint64_t *pcs, int max);
/* The same for a thread that ran on: the top of its stack as copied when
 * sampled ([stack_base, +stack_len)), the rest read from the process. */
int symbolizer_unwind_copy(struct symbolizer *sym, pid_t tid, const struct uvdb_stop_stack *regs,
                           const uint8_t *stack, uint64_t stack_base, uint64_t stack_len, uint64_t *pcs, int max);

/* Without a process (sym NULL), names and modules come from these, when
 * set: a recording's table (uvdb report); NULL from them: not known. */
void symbolizer_set_offline(const char *(*name)(uint64_t addr), const char *(*module)(uint64_t addr));

/* The file name of the module holding addr ("libuv.so.1.0.0"), or "". */
const char *symbolize_module(struct symbolizer *sym, uint64_t addr);

/* "function", "function+0xOFF", "module+0xOFF", a JavaScript function
 * from V8's perf map, or "0xADDR"; never NULL. */
const char *symbolize(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap);

/* The address a stack's frame is named by: the innermost's pc; for a
 * caller, the byte before its return address (the call), or the return
 * address itself where that begins a function and the byte before is in
 * none (V8 returns into a builtin's first byte: InterpreterEnterAtBytecode).
 * Without a process: the byte before. */
uint64_t symbolizer_frame_addr(struct symbolizer *sym, uint64_t pc, int innermost);
/* symbolize() of that address. */
const char *symbolize_frame(struct symbolizer *sym, uint64_t pc, int innermost, char *buf, size_t cap);

/* "file.c:LINE" where the function holding addr begins, from its module's
 * DWARF line table (the program's own, or a debug file found by
 * build-id); NULL when there is none (stripped, JIT code). */
const char *symbolize_source(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap);

/* A symbol as stored ("_ZN2v8...") as a reader wants it ("v8::...::fn"). */
const char *symbol_demangle(const char *raw, char *buf, size_t cap);

/* Cut a demangled name's own parameter list, in place; returns name. */
char *symbol_strip_params(char *name);

/* The function starting at addr: its size.  0 if addr starts none. */
uint64_t symbolizer_function_size(struct symbolizer *sym, uint64_t addr);

/* The symbols of an ELF file not running (a program before `run`). */
struct symbolizer *symbolizer_open_file(const char *path);

/* Every function whose name matches the glob: as stored, demangled without
 * its parameters (with them when the glob has a '('), or (a glob naming no scope) its last component, so
 * "RunTimers" finds node::Environment::RunTimers.  cb returns non-zero to
 * stop.  Count of matches, or -1. */
typedef int (*symbolizer_match_cb)(void *arg, const char *name, uint64_t addr, uint64_t size);
int symbolizer_find(struct symbolizer *sym, const char *glob, symbolizer_match_cb cb, void *arg);

/* A few function names close to the glob's words, "a, b, c", for a glob
 * that matched nothing.  How many. */
int symbolizer_suggest(struct symbolizer *sym, const char *glob, char *out, size_t cap);

#endif
