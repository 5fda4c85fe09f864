/* Unit tests of uvdb's wait between looks at a running program
 * (debugger/follow.c): 1 ms until the first records, then from the pace
 * of the records over at least a millisecond, longer a millisecond at a
 * time, 1 ms while a child starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "follow.h"

#define RING 131072u /* records a ring holds: 1/16 of it is 8192 */
#define MS 1000000ull

/* Looks 1 ms apart from `t`, each finding `per_look` records; the last wait. */
static unsigned looks(struct follow *f, uint64_t *t, int n, uint64_t per_look, int child) {
  unsigned ms = 0;
  for (int i = 0; i < n; i++)
    ms = follow_look(f, *t += MS, per_look, child, RING);
  return ms;
}

static void test_starting_program_is_looked_at_every_millisecond(void **state) {
  (void)state;
  struct follow f = {0};
  uint64_t t = 0;
  /* the program starting: nothing to read for 10 ms, no backing off */
  assert_int_equal(looks(&f, &t, 10, 0, 0), 1);
  /* its first records set a pace window; a fast writer keeps 1 ms */
  assert_int_equal(follow_look(&f, t += MS, 30000, 0, RING), 1);
  assert_int_equal(looks(&f, &t, 5, 30000, 0), 1);
}

static void test_quiet_program_waits_longer_a_millisecond_at_a_time(void **state) {
  (void)state;
  struct follow f = {0};
  uint64_t t = 0;
  follow_look(&f, t += MS, 100, 0, RING);
  assert_int_equal(follow_look(&f, t += 2 * MS, 0, 0, RING), 2);
  assert_int_equal(follow_look(&f, t += 2 * MS, 0, 0, RING), 3);
  assert_int_equal(follow_look(&f, t += 3 * MS, 0, 0, RING), FOLLOW_MAX_MS);
  assert_int_equal(follow_look(&f, t += 4 * MS, 0, 0, RING), FOLLOW_MAX_MS);
  /* a burst: back to 1 ms at the next window */
  assert_int_equal(follow_look(&f, t += 4 * MS, 100000, 0, RING), 1);
}

static void test_pace_sets_the_wait_so_a_ring_fills_a_sixteenth(void **state) {
  (void)state;
  struct follow f = {0};
  uint64_t t = 0;
  follow_look(&f, t += MS, 1, 0, RING);
  /* 2048 records a ms: 8192 / 2048 = 4 ms, reached a ms at a time */
  assert_int_equal(looks(&f, &t, 1, 2048, 0), 2);
  assert_int_equal(follow_look(&f, t += 2 * MS, 4096, 0, RING), 3);
  assert_int_equal(follow_look(&f, t += 3 * MS, 6144, 0, RING), 4);
  /* 4096 a ms: 2 ms */
  assert_int_equal(follow_look(&f, t += 4 * MS, 16384, 0, RING), 2);
}

static void test_pace_is_taken_over_at_least_a_millisecond(void **state) {
  (void)state;
  struct follow f = {0};
  uint64_t t = 0;
  follow_look(&f, t += MS, 1, 0, RING);
  follow_look(&f, t += 2 * MS, 0, 0, RING); /* quiet: 2 ms */
  /* a long read of a fast ring, then a look 30 us later that finds few:
   * the second is inside the window, and the wait stays from the first */
  assert_int_equal(follow_look(&f, t += 2 * MS, 60000, 0, RING), 1);
  assert_int_equal(follow_look(&f, t += 30000, 700, 0, RING), 1);
}

static void test_starting_child_keeps_looks_a_millisecond_apart(void **state) {
  (void)state;
  struct follow f = {0};
  uint64_t t = 0;
  follow_look(&f, t += MS, 1, 0, RING);
  assert_int_equal(looks(&f, &t, 6, 0, 1), 1);
  assert_int_equal(looks(&f, &t, 1, 0, 0), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_starting_program_is_looked_at_every_millisecond),
      cmocka_unit_test(test_quiet_program_waits_longer_a_millisecond_at_a_time),
      cmocka_unit_test(test_pace_sets_the_wait_so_a_ring_fills_a_sixteenth),
      cmocka_unit_test(test_pace_is_taken_over_at_least_a_millisecond),
      cmocka_unit_test(test_starting_child_keeps_looks_a_millisecond_apart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
