/* How long uvdb sleeps between looks at a running program, from the pace
 * of its records (debugger/follow.c). */
#ifndef UVDB_FOLLOW_H
#define UVDB_FOLLOW_H

#include <stdint.h>

#define FOLLOW_MAX_MS 4

struct follow {
  unsigned ms;           /* the wait before the next look; 0: no record seen yet (1 ms) */
  uint64_t since, taken; /* the records taken since `since` (ns), for the pace */
};

/* A look at `now` (ns) took `taken` records; `child_starting`: a child the
 * program spawned may say hello, and waits for the look that answers.
 * Returns the wait before the next look, in ms. */
unsigned follow_look(struct follow *f, uint64_t now, uint64_t taken, int child_starting, uint64_t ring_records);

static inline unsigned follow_wait_ms(const struct follow *f) {
  return f->ms ? f->ms : 1;
}

#endif
