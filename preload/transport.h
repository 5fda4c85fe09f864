/* The control socket, both ends: a private 0700 directory, peer-uid checks,
 * and framed messages (SOCK_SEQPACKET keeps their boundaries). */
#ifndef UVDB_TRANSPORT_H
#define UVDB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* The per-user directory for sockets, created 0700 and checked: owned by us,
 * not a symlink, no access for others.  0 or -1 with errno. */
int uvdb_private_dir(char *out, size_t cap);

/* Debugger side: listen on `path` (replaced if stale).  fd or -1. */
int uvdb_listen(const char *path);
/* Accept one peer of our own uid; others are closed.  fd, or -1. */
int uvdb_accept(int lfd);

/* Probe side: connect and check the listener's uid.  fd or -1. */
int uvdb_connect(const char *path);

/* Send one message, optionally passing a file descriptor (pass_fd >= 0). */
int uvdb_msg_send(int fd, uint32_t type, const void *payload, size_t len, int pass_fd);

/* Wait up to timeout_ms (-1: forever) for one message.  The payload is
 * NUL-terminated in buf (truncated to cap - 1).  1: got one, 0: timeout,
 * -1: closed or error.  A passed descriptor lands in *recv_fd (else -1). */
int uvdb_msg_recv(int fd, uint32_t *type, char *buf, size_t cap, size_t *len, int *recv_fd, int timeout_ms);

#endif
