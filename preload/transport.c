/* Unix control socket shared by the probe and the debugger. */
#define _GNU_SOURCE
#include "transport.h"

#include "../probes/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int uvdb_private_dir(char *out, size_t cap) {
  const char *base = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  if (base && base[0] == '/' && stat(base, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
    snprintf(out, cap, "%s/uvdb", base);
  else
    snprintf(out, cap, "/tmp/uvdb-%u", (unsigned)getuid());
  if (mkdir(out, 0700) != 0 && errno != EEXIST)
    return -1;
  if (lstat(out, &st) != 0)
    return -1;
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
    errno = EPERM;
    return -1;
  }
  return 0;
}

static int uv__sockaddr(const char *path, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa->sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(sa->sun_path, path);
  return 0;
}

static int uv__peer_is_us(int fd) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == getuid();
}

int uvdb_listen(const char *path) {
  struct sockaddr_un sa;
  if (uv__sockaddr(path, &sa) != 0)
    return -1;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int uvdb_accept(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return -1;
  if (!uv__peer_is_us(fd)) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

/* Never blocks the target for long: a listener whose backlog is full is
 * retried for two seconds, then given up. */
int uvdb_connect(const char *path) {
  struct sockaddr_un sa;
  if (!path || uv__sockaddr(path, &sa) != 0)
    return -1;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  int r;
  for (int tries = 0; (r = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) != 0 && errno == EAGAIN && tries < 200;
       tries++)
    usleep(10 * 1000);
  if (r != 0 || !uv__peer_is_us(fd) || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int uvdb_msg_send(int fd, uint32_t type, const void *payload, size_t len, int pass_fd) {
  if (len > UVDB_MSG_MAX)
    return -1;
  struct uvdb_msg_header h = {type, (uint32_t)len};
  struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, len}};
  union {
    struct cmsghdr c;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
  if (pass_fd >= 0) {
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t n;
  do
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)(sizeof(h) + len) ? 0 : -1;
}

int uvdb_msg_recv(int fd, uint32_t *type, char *buf, size_t cap, size_t *len, int *recv_fd, int timeout_ms) {
  if (recv_fd)
    *recv_fd = -1;
  struct pollfd p = {fd, POLLIN, 0};
  int r;
  do
    r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return 0;
  if (r < 0)
    return -1;
  /* one receiving thread per process: the agent, or the debugger */
  static char frame[sizeof(struct uvdb_msg_header) + UVDB_MSG_MAX];
  union {
    struct cmsghdr c;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {frame, sizeof(frame)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
  ssize_t n;
  do
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      memcpy(&got, CMSG_DATA(c), sizeof(int));
      if (recv_fd)
        *recv_fd = got;
      else
        close(got);
    }
  if (n < (ssize_t)sizeof(struct uvdb_msg_header) || (msg.msg_flags & MSG_TRUNC))
    return -1;
  struct uvdb_msg_header h;
  memcpy(&h, frame, sizeof(h));
  size_t plen = (size_t)n - sizeof(h);
  if (h.len != plen)
    return -1;
  size_t copy = plen < cap - 1 ? plen : cap - 1;
  memcpy(buf, frame + sizeof(h), copy);
  buf[copy] = '\0';
  *type = h.type;
  if (len)
    *len = copy;
  return 1;
}
