/* The ring protocol, both ends: the probe's writer (hot path: no locks, no
 * syscalls, drop and count when full) and the debugger's reader. */
#ifndef UVDB_RING_H
#define UVDB_RING_H

#include "wire.h"

#define UVDB_RING_MASK (UVDB_RING_RECORDS - 1)

/* Writer: called only by the ring's own thread. Returns 0, or -1 if dropped. */
static inline int uvdb_ring_push(struct uvdb_ring *r, uint64_t ts, uint16_t type, uint16_t loop_id,
                                 uint32_t a32, uint64_t x, uint64_t y) {
  uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (head - r->tail_cache >= UVDB_RING_RECORDS) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - r->tail_cache >= UVDB_RING_RECORDS) {
      atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
      return -1;
    }
  }
  struct uvdb_record *rec = &r->rec[head & UVDB_RING_MASK];
  rec->ts = ts;
  rec->type = type;
  rec->loop_id = loop_id;
  rec->a32 = a32;
  rec->x = x;
  rec->y = y;
  atomic_store_explicit(&r->head, head + 1, memory_order_release);
  return 0;
}

/* Reader, in place: the records from tail up to head or the ring's end,
 * which stay put until uvdb_ring_release.  Returns how many. */
static inline unsigned uvdb_ring_peek(struct uvdb_ring *r, const struct uvdb_record **span) {
  uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  uint64_t n = head - tail;
  if (n > UVDB_RING_RECORDS) { /* a corrupt or hostile ring: resynchronise */
    tail = head - UVDB_RING_RECORDS;
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    n = UVDB_RING_RECORDS;
  }
  uint64_t to_end = UVDB_RING_RECORDS - (tail & UVDB_RING_MASK);
  *span = &r->rec[tail & UVDB_RING_MASK];
  return (unsigned)(n < to_end ? n : to_end);
}

static inline void uvdb_ring_release(struct uvdb_ring *r, unsigned n) {
  atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + n, memory_order_release);
}

/* Reader: copies up to max records out (across the ring's end), returns how many. */
static inline unsigned uvdb_ring_pop(struct uvdb_ring *r, struct uvdb_record *out, unsigned max) {
  unsigned taken = 0;
  const struct uvdb_record *span;
  unsigned n;
  while (taken < max && (n = uvdb_ring_peek(r, &span)) > 0) {
    if (n > max - taken)
      n = max - taken;
    for (unsigned i = 0; i < n; i++)
      out[taken + i] = span[i];
    uvdb_ring_release(r, n);
    taken += n;
  }
  return taken;
}

#endif
