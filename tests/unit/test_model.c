/* Unit tests of the event model (debugger/model.c): records in, per-loop
 * iterations, phase statistics, order and stops out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "uvdb.h"
#include <signal.h>
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

/* The file and arguments of a spawn, as the probe cuts them into records. */
static void spawn(uint16_t loop_id, int32_t pid, int result, uint64_t ts, const char *text, size_t len) {
  rec(UVDB_EV_SPAWN, loop_id, (uint32_t)pid, (uint64_t)(int64_t)result, ts, len);
  for (size_t off = 0; off < len; off += 16) {
    uint64_t w[2] = {0, 0};
    memcpy(w, text + off, len - off < 16 ? len - off : 16);
    rec(UVDB_EV_SPAWN_TEXT, loop_id, (uint32_t)off, w[0], ts, w[1]);
  }
}

static void test_children_and_signals(void **state) {
  (void)state;
  static const char sh[] = "/bin/sh\0/bin/sh\0-c\0exit 3 and some more words\0";
  spawn(1, 300, 0, 2000, sh, sizeof(sh) - 1);
  spawn(1, 0, -2, 2100, "/nope\0/nope\0", 12);
  spawn(2, 301, 0, 2200, "/bin/sleep\0", 11); /* no arguments */
  rec(UVDB_EV_PROCESS_EXIT, 1, 300, 3, 4000, 2000);
  rec(UVDB_EV_SIGNAL, 1, 17 | 1 << 8, 0x1234, 4100, 2);
  rec(UVDB_EV_SIGNAL, 1, 10, 0x5678, 4200, 1);
  rec(UVDB_EV_SIGNAL, 1, 10, 0x5678, 4300, 1);
  const struct process_model *p = &m.processes;
  assert_int_equal(p->n, 3);
  assert_int_equal(p->spawned, 2);
  assert_int_equal(p->failed, 1);
  assert_int_equal(p->exited, 1);
  assert_int_equal(p->killed, 0);
  char buf[PROCESS_TEXT + 1];
  const struct process_child *c = process_child_at(p, 0);
  assert_int_equal(c->pid, 300);
  assert_string_equal(process_file(c), "/bin/sh");
  assert_string_equal(process_command(c, buf, sizeof(buf)), "/bin/sh -c exit 3 and some more words");
  assert_true(c->exited);
  assert_int_equal(c->exit_status, 3);
  assert_int_equal(c->ended - c->spawned, 2000);
  c = process_child_at(p, 1);
  assert_int_equal(c->pid, 0);
  assert_int_equal(c->result, -2);
  assert_string_equal(process_error_name(c->result, buf, sizeof(buf)), "ENOENT");
  c = process_child_at(p, 2);
  assert_int_equal(c->loop_id, 2);
  assert_false(c->exited);
  assert_string_equal(process_command(c, buf, sizeof(buf)), "/bin/sleep");
  assert_ptr_equal(process_child_find(p, 301, 2200), c);
  assert_null(process_child_find(p, 301, 2201));
  assert_null(process_child_at(p, 3));
  assert_int_equal(p->nsignals, 2);
  assert_int_equal(p->signal[0].signum, 17);
  assert_true(p->signal[0].internal);
  assert_int_equal(p->signal[0].count, 2);
  assert_int_equal(p->signal[1].signum, 10);
  assert_int_equal(p->signal[1].count, 2);
  assert_int_equal(p->signal[1].last, 4300);
  assert_string_equal(process_signal_name(15, buf, sizeof(buf)), "SIGTERM");
  assert_string_equal(process_signal_name(SIGRTMIN + 2, buf, sizeof(buf)), "SIGRTMIN+2");
}

/* The rings are read in any order: an exit read first makes the child,
 * and its spawn, known by the time in the exit, fills it in. */
static void test_exit_read_before_its_spawn(void **state) {
  (void)state;
  rec(UVDB_EV_PROCESS_EXIT, 1, 77, (uint64_t)9 << 32, 5000, 3000);
  static const char sleep10[] = "/bin/sleep\0/bin/sleep\0" "10\0";
  spawn(1, 77, 0, 3000, sleep10, sizeof(sleep10) - 1);
  const struct process_model *p = &m.processes;
  assert_int_equal(p->n, 1);
  const struct process_child *c = process_child_at(p, 0);
  assert_true(c->exited);
  assert_int_equal(c->term_signal, 9);
  assert_int_equal(p->killed, 1);
  char buf[64];
  assert_string_equal(process_command(c, buf, sizeof(buf)), "/bin/sleep 10");
  /* the same pid again later: another child */
  spawn(1, 77, 0, 9000, "/bin/true\0", 10);
  assert_int_equal(p->n, 2);
  assert_false(process_child_at(p, 1)->exited);
}

static void test_hostile_process_records(void **state) {
  (void)state;
  rec(UVDB_EV_SPAWN_TEXT, 1, 0, 0x41414141, 10, 0);   /* text with no spawn */
  rec(UVDB_EV_SPAWN, 1, 5, 0, 20, 100000);            /* more text than the probe sends */
  rec(UVDB_EV_SPAWN_TEXT, 1, 4096, ~0ull, 20, ~0ull); /* past the text */
  rec(UVDB_EV_SPAWN_TEXT, 1, 152, ~0ull, 20, ~0ull);  /* its end */
  rec(UVDB_EV_SPAWN_TEXT, 1, 0, ~0ull, 20, ~0ull);    /* after its end: nowhere */
  const struct process_child *c = process_child_at(&m.processes, 0);
  assert_int_equal(c->text_len, PROCESS_TEXT);
  assert_int_equal((unsigned char)c->text[0], 0);
  for (int i = 0; i < 300; i++) /* the last PROCESS_CHILDREN are kept */
    rec(UVDB_EV_PROCESS_EXIT, 1, (uint32_t)(1000 + i), 0, 100 + (uint64_t)i, 0);
  assert_int_equal(m.processes.n, PROCESS_CHILDREN);
  assert_int_equal(process_child_at(&m.processes, 0)->pid, 1000 + 300 - PROCESS_CHILDREN);
  for (int i = 0; i < 100; i++)
    rec(UVDB_EV_SIGNAL, 1, (uint32_t)i & 0xff, 0, 50, 1);
  assert_int_equal(m.processes.nsignals, PROCESS_SIGNALS);
}

/* The slowest callbacks kept are the SLOWEST_KEPT longest of all, whatever
 * the order they came in (a long one late replaces the shortest kept). */
static void test_slowest_callbacks_kept(void **state) {
  (void)state;
  enum { CALLS = 5000 };
  for (uint64_t i = 0; i < CALLS; i++) {
    uint64_t d = (i * 7919) % CALLS + 1; /* every duration 1..CALLS once, shuffled */
    rec(UVDB_EV_CALLBACK, 1, UVDB_PHASE_TIMERS, 0x1000 + i % 3, 1000000 + i * 10000, 1000000 + i * 10000 + d);
  }
  assert_int_equal(m.blocking.nslowest, SLOWEST_KEPT);
  int seen[SLOWEST_KEPT] = {0};
  for (int i = 0; i < SLOWEST_KEPT; i++) {
    uint64_t d = m.blocking.slowest[i].end - m.blocking.slowest[i].begin;
    assert_true(d > CALLS - SLOWEST_KEPT && d <= CALLS);
    assert_int_equal(seen[CALLS - d], 0); /* each once */
    seen[CALLS - d] = 1;
  }
  assert_int_equal(m.loops[0].blocking.callbacks, CALLS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_iterations_phases_and_order, setup),
      cmocka_unit_test_setup(test_stop_is_recorded_and_clears_the_breakpoint, setup),
      cmocka_unit_test_setup(test_hostile_records_are_ignored, setup),
      cmocka_unit_test_setup(test_children_and_signals, setup),
      cmocka_unit_test_setup(test_exit_read_before_its_spawn, setup),
      cmocka_unit_test_setup(test_hostile_process_records, setup),
      cmocka_unit_test_setup(test_slowest_callbacks_kept, setup),
  };
  return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
