/* Reading a parked loop's own data structures from the debugger
 * (process_vm_readv), with libuv's layout for the target's version. */
#ifndef UVDB_LOOPSTATE_H
#define UVDB_LOOPSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uv_timer_view {
  uint64_t handle, callback, data;
  uint64_t timeout, repeat, start_id; /* ms on the loop's clock */
  uint32_t flags;
};

/* Copy len bytes of the target's memory at addr.  0 or -1 (errno). */
int target_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Is this libuv version's layout one uvdb knows ("1.46.0", "<=1.44")? */
int loopstate_layout_known(const char *version);
/* Do timers open an iteration in this version (before 1.45), or close it? */
int loopstate_timers_open_iteration(const char *version);

/* The loop's clock (loop->time, ms) and its timers in due order; at most
 * max.  Count, or -1 when the memory cannot be read or looks corrupt. */
int loopstate_timers(pid_t pid, uint64_t loop, uint64_t *now_ms, struct uv_timer_view *out, int max);

struct uv_handle_view {
  uint64_t handle;
  int type; /* uv_handle_type */
  uint32_t flags;
  int fd;                     /* -1: none */
  uint64_t callback;          /* the handle's own callback (read_cb for streams) */
  uint64_t connection_cb;     /* streams that listen */
  uint64_t write_queue_size;  /* streams */
  int signum, pid;            /* signal, process handles */
};

/* Every handle of the loop, in the loop's order; at most max.  Count, or
 * -1 when the memory cannot be read or looks corrupt. */
int loopstate_handles(pid_t pid, uint64_t loop, struct uv_handle_view *out, int max);

/* An I/O watcher: the fd, the events asked for and those being polled now. */
struct uv_io_view {
  uint64_t io, callback;
  int fd;
  uint32_t pevents, events;
};

/* Watchers queued for the pending phase, in order; the watcher table
 * (every fd the loop polls); the handles closing, in the order their close
 * callbacks will run.  Count, or -1 when memory cannot be read. */
int loopstate_pending(pid_t pid, uint64_t loop, struct uv_io_view *out, int max);
int loopstate_watchers(pid_t pid, uint64_t loop, struct uv_io_view *out, int max);
int loopstate_closing(pid_t pid, uint64_t loop, struct uv_handle_view *out, uint64_t *close_cb, int max);

/* A request a stream holds: a connect, a shutdown, or a queued write. */
struct uv_req_view {
  uint64_t req, handle, callback;
  int type;       /* uv_req_type */
  int fd;         /* the stream's */
  uint64_t bytes; /* writes: bytes not yet written */
};

/* The requests the loop's streams hold, and libuv's count of every active
 * request of the loop (thread-pool ones included).  Count, or -1. */
int loopstate_stream_requests(pid_t pid, uint64_t loop, const struct uv_handle_view *handles, int nhandles,
                              struct uv_req_view *out, int max, unsigned *active_reqs);

/* Handle flags (libuv's uv-common.h, the same from 1.x to 1.46). */
#define UVDB_HANDLE_CLOSING 0x1u
#define UVDB_HANDLE_CLOSED 0x2u
#define UVDB_HANDLE_ACTIVE 0x4u
#define UVDB_HANDLE_REF 0x8u
#define UVDB_HANDLE_INTERNAL 0x10u

#endif
