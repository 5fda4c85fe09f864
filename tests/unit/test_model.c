/* Unit tests of the event model (debugger/model.c): records in, per-loop
 * iterations, phase statistics, order and stops out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "uvdb.h"
#include <stdlib.h>
#include <string.h>

static struct uvdb_shm_header shm;
static struct uvdb_ring ring_meta; /* only tid and name are read */
static struct model m;

static void rec(uint16_t type, uint16_t loop_id, uint32_t a32, uint64_t x, uint64_t ts, uint64_t y) {
  struct uvdb_record r = {.ts = ts, .type = type, .loop_id = loop_id, .a32 = a32, .x = x, .y = y};
  model_apply(&m, &r, &ring_meta, &shm);
}

static void phase(int p, uint64_t iteration, uint64_t begin, uint64_t end) {
  rec(UVDB_EV_PHASE, 1, (uint32_t)p | UVDB_PHASE_IN_ITERATION, iteration, begin, end);
}

static int setup(void **state) {
  (void)state;
  memset(&shm, 0, sizeof(shm));
  shm.clock.tsc0 = 1000, shm.clock.ns0 = 0, shm.clock.tsc1 = 3000, shm.clock.ns1 = 1000; /* 2 ticks a ns */
  ring_meta.tid = 42;
  strcpy(ring_meta.thread_name, "loop-thread");
  model_reset(&m);
  return 0;
}

/* Two iterations as libuv 1.46 runs them, the opening timers outside. */
static void test_iterations_phases_and_order(void **state) {
  (void)state;
  static const int order[] = {UVDB_PHASE_PENDING, UVDB_PHASE_IDLE, UVDB_PHASE_PREPARE, UVDB_PHASE_POLL,
                              UVDB_PHASE_CHECK, UVDB_PHASE_CLOSING, UVDB_PHASE_TIMERS};
  rec(UVDB_EV_LOOP_SEEN, 1, 1, 0xabc0, 0, 42);
  rec(UVDB_EV_RUN_BEGIN, 1, 0, 0, 0, 0);
  rec(UVDB_EV_PHASE, 1, UVDB_PHASE_TIMERS, 0, 0, 10); /* before the first iteration: no flag */
  uint64_t t = 10;
  for (uint64_t it = 1; it <= 2; it++) {
    uint64_t begin = t;
    for (int k = 0; k < 7; k++, t += 20)
      phase(order[k], it, t, t + (order[k] == UVDB_PHASE_POLL ? 2000 : 20));
    rec(UVDB_EV_ITERATION, 1, 0, it, begin, t);
  }
  rec(UVDB_EV_RUN_END, 1, 0, 0, t, 0);

  const struct loop_model *l = &m.loops[0];
  assert_true(l->seen);
  assert_int_equal(l->addr, 0xabc0);
  assert_int_equal(l->tid, 42);
  assert_string_equal(l->thread, "loop-thread");
  assert_int_equal(l->iterations, 2);
  assert_int_equal(l->runs, 1);
  assert_false(l->running);
  assert_int_equal(l->phase[UVDB_PHASE_TIMERS].count, 3); /* 2 + the opening one */
  assert_int_equal(l->phase[UVDB_PHASE_POLL].count, 2);
  assert_int_equal(l->phase[UVDB_PHASE_POLL].total, 4000);
  assert_int_equal(l->phase[UVDB_PHASE_POLL].max, 2000);
  assert_int_equal(l->phase[UVDB_PHASE_CHECK].last, 20);
  assert_int_equal(l->nlast, 7); /* the opening timers are not part of an iteration */
  for (int k = 0; k < 7; k++)
    assert_int_equal(l->last_order[k], order[k]);
  assert_int_equal(m.events, 1 + 1 + 1 + 2 * 8 + 1);
  assert_int_equal((int64_t)ticks_to_ns(&shm, 2000), 1000);
  assert_int_equal(model_main_loop(&m), 1);
}

static void test_stop_is_recorded_and_clears_the_breakpoint(void **state) {
  (void)state;
  m.stop.bp_id = 7;
  rec(UVDB_EV_STOPPED, 1, UVDB_STOP_BREAKPOINT | (uint32_t)(UVDB_PHASE_POLL + 1) << 8, 12, 5, 0);
  assert_true(m.stopped);
  assert_int_equal(m.stop.loop_id, 1);
  assert_int_equal(m.stop.reason, UVDB_STOP_BREAKPOINT);
  assert_int_equal(m.stop.phase, UVDB_PHASE_POLL);
  assert_int_equal(m.stop.iteration, 12);
  assert_int_equal(m.stop.bp_id, 0); /* which breakpoint is for the debugger to decide again */
}

static void test_hostile_records_are_ignored(void **state) {
  (void)state;
  rec(UVDB_EV_PHASE, 0, UVDB_PHASE_POLL, 1, 0, 10);    /* loop 0 */
  rec(UVDB_EV_PHASE, 999, UVDB_PHASE_POLL, 1, 0, 10);  /* no such loop */
  rec(UVDB_EV_PHASE, 1, 0xff, 1, 0, 10);               /* no such phase */
  rec(UVDB_EV_PHASE, 1, UVDB_PHASE_POLL, 1, 100, 10);  /* ends before it begins */
  rec(0x7fff, 1, 0, 0, 0, 0);                          /* unknown type */
  assert_int_equal(m.loops[0].phase[UVDB_PHASE_POLL].count, 1);
  assert_int_equal(m.loops[0].phase[UVDB_PHASE_POLL].total, 0);
  assert_string_equal(phase_name(-1), "none");
  assert_string_equal(event_name(0x7fff), "unknown");
  assert_int_equal(phase_by_name("closing"), UVDB_PHASE_CLOSING);
  assert_int_equal(phase_by_name("nope"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_iterations_phases_and_order, setup),
      cmocka_unit_test_setup(test_stop_is_recorded_and_clears_the_breakpoint, setup),
      cmocka_unit_test_setup(test_hostile_records_are_ignored, setup),
  };
  return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
