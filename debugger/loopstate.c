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
