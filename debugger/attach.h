/* Attach and detach by ptrace (debugger/attach.c). */
#ifndef UVDB_ATTACH_H
#define UVDB_ATTACH_H

#include <stddef.h>
#include <sys/types.h>

/* Load the probe into process pid and have it meet uvdb on sock_path; while
 * the probe says hello, service(arg) is called to answer it.  jit_names:
 * have V8 write its perf map (node); flags: uvdb_attach_prepare's
 * (UVDB_ATTACH_*).  0, or -1 with the reason in err; the process runs on
 * either way, its registers as they were. */
int attach_inject(pid_t pid, const char *probe, const char *sock_path, int jit_names, unsigned flags,
                  void (*service)(void *), void *arg, char *err, size_t err_cap);

/* Put the code of process pid back as it was (its probe's socket closed
 * first, so the probe's thread has ended).  0, or -1 with the reason in err. */
int attach_remove(pid_t pid, char *err, size_t err_cap);

#endif
