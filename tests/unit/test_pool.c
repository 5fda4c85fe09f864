/* Unit tests of the thread-pool model (debugger/pool.c) and its
 * histograms (debugger/histogram.c): job lifecycles whose events arrive
 * from two rings in either order, reused job addresses, cancellations,
 * and percentiles within the histogram's 3%. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../probes/wire.h"
#include "pool.h"
#include <stdlib.h>
#include <string.h>

static struct pool_model pool;
static struct uvdb_ring *worker_ring, *loop_ring;

static void ev(uint16_t type, uint64_t ts, uint64_t key, uint32_t a32, uint64_t y, struct uvdb_ring *ring) {
  struct uvdb_record r = {.ts = ts, .type = type, .loop_id = 1, .a32 = a32, .x = key, .y = y};
  pool_apply(&pool, &r, ring);
}

static void submit(uint64_t ts, uint64_t key) {
  ev(UVDB_EV_POOL_SUBMIT, ts, key, 1 /* fast I/O */ | UVDB_POOL_KIND_FS << 4 | 6 << 8 /* UV_FS_STAT */, 0x1234, loop_ring);
}
static void start(uint64_t ts, uint64_t key) { ev(UVDB_EV_POOL_START, ts, key, 0, 0, worker_ring); }
static void end(uint64_t ts, uint64_t key) { ev(UVDB_EV_POOL_END, ts, key, 0, 0, worker_ring); }
static void done(uint64_t ts, uint64_t key, int cancelled) {
  ev(UVDB_EV_POOL_DONE, ts, key, UVDB_PHASE_POLL | (cancelled ? 1u << 8 : 0), ts + 5, loop_ring);
}

static int setup(void **state) {
  (void)state;
  pool_reset(&pool);
  worker_ring = calloc(1, sizeof(*worker_ring)), loop_ring = calloc(1, sizeof(*loop_ring)); /* pages untouched */
  worker_ring->tid = 200, loop_ring->tid = 100;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pool_reset(&pool);
  free(worker_ring), free(loop_ring);
  return 0;
}

static void test_lifecycle_in_order(void **state) {
  (void)state;
  ev(UVDB_EV_POOL_INIT, 1, 0, 4, 0, loop_ring);
  assert_true(pool.started);
  assert_int_equal(pool.size, 4);
  submit(100, 0xa0);
  assert_int_equal(pool.active, 1);
  start(150, 0xa0);
  struct pool_worker *w = pool_worker(&pool, 200);
  assert_int_equal(w->job, 0xa0);
  end(450, 0xa0);
  assert_int_equal(w->job, 0);
  assert_int_equal(w->jobs, 1);
  assert_int_equal(w->busy, 300);
  done(500, 0xa0, 0);
  assert_int_equal(pool.active, 0);
  assert_int_equal(pool.done, 1);
  assert_int_equal(pool.wait.max, 50);
  assert_int_equal(pool.run.max, 300);
  assert_int_equal(pool.delay.max, 50);
  assert_int_equal(pool.done_by_kind[UVDB_POOL_KIND_FS], 1);
  const struct pool_job *r = &pool.recent[0];
  assert_int_equal(r->fs_type, 6);
  assert_string_equal(pool_fs_op_name(r->fs_type), "stat");
  assert_int_equal(r->worker_tid, 200);
  assert_int_equal(r->done_phase, UVDB_PHASE_POLL);
}

/* The worker's ring may be read before the loop's: a job is kept until
 * every event of it is in, and only then counted. */
static void test_events_out_of_order(void **state) {
  (void)state;
  start(150, 0xb0);
  end(450, 0xb0);
  assert_int_equal(pool.done, 0);
  done(500, 0xb0, 0);
  assert_int_equal(pool.done, 0); /* the submission is still missing */
  submit(100, 0xb0);
  assert_int_equal(pool.done, 1);
  assert_int_equal(pool.active, 0);
  assert_int_equal(pool.wait.max, 50);
}

/* libuv reuses a request's memory once its callback ran: the same key,
 * a new job; each event goes to the oldest job still missing it. */
static void test_reused_key(void **state) {
  (void)state;
  submit(100, 0xc0);
  done(500, 0xc0, 0); /* the loop's ring is ahead of the worker's ... */
  submit(600, 0xc0);  /* ... and the address serves again */
  start(150, 0xc0);
  end(450, 0xc0);
  assert_int_equal(pool.done, 1);
  assert_int_equal(pool.run.max, 300);
  start(700, 0xc0);
  end(900, 0xc0);
  done(950, 0xc0, 0);
  assert_int_equal(pool.done, 2);
  assert_int_equal(pool.wait.max, 100); /* 700 - 600: the second job's own */
  assert_int_equal(pool.active, 0);
}

static void test_cancelled_job_never_ran(void **state) {
  (void)state;
  submit(100, 0xd0);
  done(300, 0xd0, 1);
  assert_int_equal(pool.done, 1);
  assert_int_equal(pool.cancelled, 1);
  assert_int_equal(pool.wait.count, 0); /* no wait or run to count */
  assert_int_equal(pool.active, 0);
}

static void test_many_jobs_in_flight(void **state) {
  (void)state;
  for (uint64_t k = 1; k <= 20000; k++)
    submit(k, k * 64);
  assert_int_equal(pool.active, 20000);
  for (uint64_t k = 1; k <= 20000; k++) {
    start(100000 + k, k * 64);
    end(200000 + k, k * 64);
    done(300000 + k, k * 64, 0);
  }
  assert_int_equal(pool.active, 0);
  assert_int_equal(pool.done, 20000);
}

static void test_histogram_quantiles(void **state) {
  (void)state;
  struct histogram h;
  memset(&h, 0, sizeof(h));
  assert_int_equal(histogram_quantile(&h, 0.5), 0);
  for (uint64_t v = 1; v <= 100000; v++)
    histogram_add(&h, v * 1000); /* 1 us .. 100 ms */
  double p50 = (double)histogram_quantile(&h, 0.5), p99 = (double)histogram_quantile(&h, 0.99);
  assert_true(p50 > 50e6 * 0.97 && p50 < 50e6 * 1.03);
  assert_true(p99 > 99e6 * 0.97 && p99 < 99e6 * 1.03);
  assert_int_equal(histogram_quantile(&h, 1), 100000000);
  assert_int_equal(histogram_quantile(&h, 0), 1000);
  struct histogram small;
  memset(&small, 0, sizeof(small));
  for (uint64_t v = 0; v < 64; v++)
    histogram_add(&small, v); /* exact below 64 */
  assert_int_equal(histogram_quantile(&small, 0.5), 31);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lifecycle_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_events_out_of_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reused_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancelled_job_never_ran, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_jobs_in_flight, setup, teardown),
      cmocka_unit_test(test_histogram_quantiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
