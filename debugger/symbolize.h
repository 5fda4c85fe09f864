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

/* The file name of the module holding addr ("libuv.so.1.0.0"), or "". */
const char *symbolize_module(struct symbolizer *sym, uint64_t addr);

/* "function", "function+0xOFF", "module+0xOFF", or "0xADDR"; never NULL. */
const char *symbolize(struct symbolizer *sym, uint64_t addr, char *buf, size_t cap);

#endif
