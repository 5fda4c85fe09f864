/* The loop's structures, read from the debugger while the loop thread is
 * parked.  Offsets come from the libuv headers uvdb is built with (1.44);
 * libuv 1.45 and 1.46 keep them (checked against Node 20's DWARF), and the
 * integration tests read real timers on both.  Every pointer read is checked:
 * a bad one ends the walk with an error, never a crash. */
#define _GNU_SOURCE
#include "loopstate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <uv.h>

int target_read(pid_t pid, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

int loopstate_layout_known(const char *version) {
  if (!version)
    return 0;
  if (strcmp(version, "<=1.44") == 0 || strcmp(version, ">=1.45") == 0)
    return 1;
  unsigned major, minor;
  return sscanf(version, "%u.%u", &major, &minor) == 2 && major == 1 && minor >= 44 && minor <= 46;
}

int loopstate_timers_open_iteration(const char *version) {
  unsigned major, minor;
  if (strcmp(version, "<=1.44") == 0)
    return 1;
  return sscanf(version, "%u.%u", &major, &minor) == 2 && major == 1 && minor < 45;
}

#define TIMER_NODE_OFFSET offsetof(uv_timer_t, heap_node)
#define MAX_TIMERS 100000

static int uv__by_due(const void *a, const void *b) {
  const struct uv_timer_view *x = a, *y = b;
  if (x->timeout != y->timeout)
    return x->timeout < y->timeout ? -1 : 1;
  return x->start_id < y->start_id ? -1 : x->start_id > y->start_id;
}

static int uv__read_timer(pid_t pid, uint64_t handle, struct uv_timer_view *v) {
  uv_timer_t t;
  if (target_read(pid, handle, &t, sizeof(t)) != 0 || t.type != UV_TIMER)
    return -1;
  v->handle = handle;
  v->callback = (uint64_t)(uintptr_t)t.timer_cb;
  v->data = (uint64_t)(uintptr_t)t.data;
  v->timeout = t.timeout;
  v->repeat = t.repeat;
  v->start_id = t.start_id;
  v->flags = t.flags;
  return 0;
}

int loopstate_timers(pid_t pid, uint64_t loop, uint64_t *now_ms, struct uv_timer_view *out, int max) {
  struct {
    uint64_t min;
    unsigned int nelts;
  } heap;
  if (target_read(pid, loop + offsetof(uv_loop_t, timer_heap), &heap, sizeof(heap)) != 0 ||
      target_read(pid, loop + offsetof(uv_loop_t, time), now_ms, sizeof(*now_ms)) != 0 || heap.nelts > MAX_TIMERS)
    return -1;
  /* The heap is a binary tree of nodes inside the timers: walk it breadth first. */
  uint64_t *queue = malloc(sizeof(uint64_t) * (heap.nelts + 1));
  if (!queue)
    return -1;
  int n = 0, head = 0, tail = 0, bad = 0;
  if (heap.min)
    queue[tail++] = heap.min;
  while (head < tail && !bad) {
    uint64_t node = queue[head++], links[3]; /* left, right, parent */
    struct uv_timer_view v;
    if (target_read(pid, node, links, sizeof(links)) != 0 || uv__read_timer(pid, node - TIMER_NODE_OFFSET, &v) != 0) {
      bad = 1;
      break;
    }
    if (n < max)
      out[n++] = v;
    for (int k = 0; k < 2; k++)
      if (links[k]) {
        if (tail > (int)heap.nelts) { /* more nodes than the heap says: corrupt */
          bad = 1;
          break;
        }
        queue[tail++] = links[k];
      }
  }
  free(queue);
  if (bad || tail != (int)heap.nelts)
    return -1;
  qsort(out, (size_t)n, sizeof(*out), uv__by_due);
  return n;
}

#define MAX_HANDLES 1000000

/* The parts of a handle worth showing; the union is only as large as the
 * biggest type read here. */
static int uv__read_handle(pid_t pid, uint64_t addr, struct uv_handle_view *v) {
  union {
    uv_handle_t h;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
    uv_udp_t udp;
    uv_poll_t poll;
    uv_idle_t idle;
    uv_signal_t signal;
    uv_process_t process;
    uv_timer_t timer;
    uv_async_t async;
  } u;
  if (target_read(pid, addr, &u.h, sizeof(u.h)) != 0 || u.h.type <= UV_UNKNOWN_HANDLE || u.h.type >= UV_HANDLE_TYPE_MAX)
    return -1;
  size_t size = uv_handle_size(u.h.type);
  if (size > sizeof(u) || target_read(pid, addr, &u, size) != 0)
    return -1;
  memset(v, 0, sizeof(*v));
  v->handle = addr;
  v->type = u.h.type;
  v->flags = u.h.flags;
  v->fd = -1;
  switch (u.h.type) {
  case UV_TCP: case UV_NAMED_PIPE: case UV_TTY: {
    const uv_stream_t *st = (const uv_stream_t *)&u;
    v->fd = u.h.type == UV_TCP ? u.tcp.io_watcher.fd : u.h.type == UV_NAMED_PIPE ? u.pipe.io_watcher.fd
                                                                                 : u.tty.io_watcher.fd;
    v->callback = (uint64_t)(uintptr_t)st->read_cb;
    v->connection_cb = (uint64_t)(uintptr_t)u.tcp.connection_cb; /* the same place in every stream */
    v->write_queue_size = st->write_queue_size;
    break;
  }
  case UV_UDP: v->fd = u.udp.io_watcher.fd; v->callback = (uint64_t)(uintptr_t)u.udp.recv_cb; break;
  case UV_POLL: v->fd = u.poll.io_watcher.fd; v->callback = (uint64_t)(uintptr_t)u.poll.poll_cb; break;
  case UV_IDLE: case UV_PREPARE: case UV_CHECK: v->callback = (uint64_t)(uintptr_t)u.idle.idle_cb; break;
  case UV_ASYNC: v->callback = (uint64_t)(uintptr_t)u.async.async_cb; break;
  case UV_TIMER: v->callback = (uint64_t)(uintptr_t)u.timer.timer_cb; break;
  case UV_SIGNAL: v->callback = (uint64_t)(uintptr_t)u.signal.signal_cb; v->signum = u.signal.signum; break;
  case UV_PROCESS: v->callback = (uint64_t)(uintptr_t)u.process.exit_cb; v->pid = u.process.pid; break;
  default: break;
  }
  return 0;
}

int loopstate_handles(pid_t pid, uint64_t loop, struct uv_handle_view *out, int max) {
  const uint64_t head = loop + offsetof(uv_loop_t, handle_queue);
  const uint64_t link = offsetof(uv_handle_t, handle_queue);
  uint64_t q;
  if (target_read(pid, head, &q, sizeof(q)) != 0)
    return -1;
  int n = 0;
  for (int steps = 0; q != head; steps++) {
    struct uv_handle_view v;
    if (steps > MAX_HANDLES || uv__read_handle(pid, q - link, &v) != 0)
      return -1; /* a cycle, or not a handle: stop rather than wander */
    if (n < max)
      out[n++] = v;
    if (target_read(pid, q, &q, sizeof(q)) != 0)
      return -1;
  }
  return n;
}

static int uv__read_io(pid_t pid, uint64_t addr, struct uv_io_view *v) {
  uv__io_t io;
  if (target_read(pid, addr, &io, sizeof(io)) != 0)
    return -1;
  v->io = addr;
  v->callback = (uint64_t)(uintptr_t)io.cb;
  v->fd = io.fd;
  v->pevents = io.pevents;
  v->events = io.events;
  return 0;
}

int loopstate_pending(pid_t pid, uint64_t loop, struct uv_io_view *out, int max) {
  const uint64_t head = loop + offsetof(uv_loop_t, pending_queue);
  uint64_t q;
  if (target_read(pid, head, &q, sizeof(q)) != 0)
    return -1;
  int n = 0;
  for (int steps = 0; q != head; steps++) {
    struct uv_io_view v;
    if (steps > MAX_HANDLES || uv__read_io(pid, q - offsetof(uv__io_t, pending_queue), &v) != 0)
      return -1;
    if (n < max)
      out[n++] = v;
    if (target_read(pid, q, &q, sizeof(q)) != 0)
      return -1;
  }
  return n;
}

int loopstate_watchers(pid_t pid, uint64_t loop, struct uv_io_view *out, int max) {
  uint64_t table;
  unsigned int nwatchers;
  if (target_read(pid, loop + offsetof(uv_loop_t, watchers), &table, sizeof(table)) != 0 ||
      target_read(pid, loop + offsetof(uv_loop_t, nwatchers), &nwatchers, sizeof(nwatchers)) != 0 ||
      nwatchers > MAX_HANDLES)
    return -1;
  int n = 0;
  for (unsigned int fd = 0; fd < nwatchers && n < max; fd++) {
    uint64_t io;
    if (target_read(pid, table + fd * sizeof(uint64_t), &io, sizeof(io)) != 0)
      return -1;
    if (io && uv__read_io(pid, io, &out[n]) == 0)
      n++;
  }
  return n;
}

int loopstate_closing(pid_t pid, uint64_t loop, struct uv_handle_view *out, uint64_t *close_cb, int max) {
  uint64_t h;
  if (target_read(pid, loop + offsetof(uv_loop_t, closing_handles), &h, sizeof(h)) != 0)
    return -1;
  int n = 0;
  for (int steps = 0; h; steps++) {
    uv_handle_t handle;
    if (steps > MAX_HANDLES || target_read(pid, h, &handle, sizeof(handle)) != 0)
      return -1;
    if (n < max && uv__read_handle(pid, h, &out[n]) == 0)
      close_cb[n++] = (uint64_t)(uintptr_t)handle.close_cb;
    h = (uint64_t)(uintptr_t)handle.next_closing;
  }
  return n;
}

#define MAX_BUFS 1024

static uint64_t uv__unwritten(pid_t pid, const uv_write_t *w) {
  uint64_t bytes = 0;
  if (w->nbufs > MAX_BUFS || w->write_index > w->nbufs)
    return 0;
  for (unsigned i = w->write_index; i < w->nbufs; i++) {
    uv_buf_t b;
    if (target_read(pid, (uint64_t)(uintptr_t)(w->bufs + i), &b, sizeof(b)) != 0)
      break;
    bytes += b.len;
  }
  return bytes;
}

int loopstate_stream_requests(pid_t pid, uint64_t loop, const struct uv_handle_view *handles, int nhandles,
                              struct uv_req_view *out, int max, unsigned *active_reqs) {
  uv_loop_t l;
  if (target_read(pid, loop, &l, offsetof(uv_loop_t, stop_flag)) != 0)
    return -1;
  *active_reqs = l.active_reqs.count;
  int n = 0;
  for (int h = 0; h < nhandles && n < max; h++) {
    const struct uv_handle_view *hv = &handles[h];
    if (hv->type != UV_TCP && hv->type != UV_NAMED_PIPE && hv->type != UV_TTY)
      continue;
    uv_tcp_t st; /* connect_req, shutdown_req and write_queue lie alike in every stream */
    if (target_read(pid, hv->handle, &st, sizeof(st)) != 0)
      return -1;
    if (st.connect_req && n < max) {
      uv_connect_t c;
      if (target_read(pid, (uint64_t)(uintptr_t)st.connect_req, &c, sizeof(c)) == 0)
        out[n++] = (struct uv_req_view){(uint64_t)(uintptr_t)st.connect_req, hv->handle,
                                        (uint64_t)(uintptr_t)c.cb, UV_CONNECT, hv->fd, 0};
    }
    if (st.shutdown_req && n < max) {
      uv_shutdown_t sd;
      if (target_read(pid, (uint64_t)(uintptr_t)st.shutdown_req, &sd, sizeof(sd)) == 0)
        out[n++] = (struct uv_req_view){(uint64_t)(uintptr_t)st.shutdown_req, hv->handle,
                                        (uint64_t)(uintptr_t)sd.cb, UV_SHUTDOWN, hv->fd, 0};
    }
    const uint64_t head = hv->handle + offsetof(uv_tcp_t, write_queue);
    uint64_t q;
    if (target_read(pid, head, &q, sizeof(q)) != 0)
      return -1;
    for (int steps = 0; q != head && n < max; steps++) {
      uv_write_t w;
      uint64_t req = q - offsetof(uv_write_t, queue);
      if (steps > MAX_HANDLES || target_read(pid, req, &w, sizeof(w)) != 0 || w.type != UV_WRITE)
        return -1;
      out[n++] = (struct uv_req_view){req, hv->handle, (uint64_t)(uintptr_t)w.cb, UV_WRITE, hv->fd,
                                      uv__unwritten(pid, &w)};
      q = (uint64_t)(uintptr_t)w.queue[0];
    }
  }
  return n;
}
