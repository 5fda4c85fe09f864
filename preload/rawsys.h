/* System calls without libc, for the agent thread: it is no pthread and has
 * no TLS of its own (its %fs is the creator's), so nothing may touch errno. */
#ifndef UVDB_RAWSYS_H
#define UVDB_RAWSYS_H

#include <stdint.h>
#include <sys/syscall.h>

static inline long uvdb_sys(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret; /* -errno on failure */
}

#define uvdb_sys0(n) uvdb_sys((n), 0, 0, 0, 0, 0, 0)
#define uvdb_sys1(n, a) uvdb_sys((n), (long)(a), 0, 0, 0, 0, 0)
#define uvdb_sys2(n, a, b) uvdb_sys((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define uvdb_sys3(n, a, b, c) uvdb_sys((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define uvdb_sys4(n, a, b, c, d) uvdb_sys((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#endif
