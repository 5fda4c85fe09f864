/* How long uvdb sleeps between looks at a running program: as long as the
 * records coming at the pace of the last looks fill at most 1/16 of a
 * ring, from 1 ms to FOLLOW_MAX_MS.  A look costs about 34 us of CPU here,
 * most of it waking (a program that does nothing: 1000 looks a second took
 * 3.4% of a CPU), and a flood that starts while uvdb sleeps still finds
 * room (at 25M records a second a ring fills in 5 ms). */
#include "follow.h"

unsigned follow_look(struct follow *f, uint64_t now, uint64_t taken, int child_starting, uint64_t ring_records) {
  f->taken += taken;
  if (!f->ms) { /* no record yet: a program starting may be fast at once */
    if (taken) {
      f->ms = 1;
      f->since = now;
      f->taken = 0;
    }
    return follow_wait_ms(f);
  }
  /* The pace, not one look's count: a look right after a long one finds
   * few records of a fast ring. */
  if (now - f->since < 1000000)
    return f->ms;
  uint64_t per_ms = f->taken * 1000000 / (now - f->since + 1);
  uint64_t ms = per_ms ? ring_records / 16 / per_ms : FOLLOW_MAX_MS;
  /* With looks up to 4 ms apart a child's start-up took 2 ms longer. */
  if (child_starting)
    ms = 1;
  /* Longer a millisecond at a time: a writer that paused for a moment (a
   * loop descheduled, between two bursts) is often back at full pace. */
  if (ms > f->ms + 1)
    ms = f->ms + 1;
  f->ms = ms < 1 ? 1 : ms > FOLLOW_MAX_MS ? FOLLOW_MAX_MS : (unsigned)ms;
  f->since = now;
  f->taken = 0;
  return f->ms;
}
