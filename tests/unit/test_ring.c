/* Unit tests of the per-thread event ring (probes/ring.h): order, drops when
 * full, wraparound, partial pops, a corrupt head, and a concurrent pair. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

/* Every field is derived from arg, so a torn or misplaced record shows. */
static void push_n(struct uvdb_ring *r, uint64_t arg) {
  assert_int_equal(uvdb_ring_push(r, arg * 3 + 1, (uint16_t)(arg & 0xffff), (uint16_t)(arg >> 16),
                                  (uint32_t)arg ^ 0xa5a5a5a5u, arg ^ 0x7f7f7f7f7f7full, arg),
                   0);
}

static void assert_record(const struct uvdb_record *rec, uint64_t arg) {
  assert_int_equal(rec->y, arg);
  assert_int_equal(rec->ts, arg * 3 + 1);
  assert_int_equal(rec->type, (uint16_t)(arg & 0xffff));
  assert_int_equal(rec->loop_id, (uint16_t)(arg >> 16));
  assert_int_equal(rec->a32, (uint32_t)arg ^ 0xa5a5a5a5u);
  assert_int_equal(rec->x, arg ^ 0x7f7f7f7f7f7full);
}

static struct uvdb_ring *ring_new(void) {
  _Static_assert(sizeof(struct uvdb_record) == 32, "records are 32 bytes");
  _Static_assert(sizeof(struct uvdb_ring) % 64 == 0, "aligned_alloc needs a multiple of the alignment");
  struct uvdb_ring *r = aligned_alloc(64, sizeof(struct uvdb_ring));
  assert_non_null(r);
  memset(r, 0, sizeof(*r));
  return r;
}

static int setup(void **state) {
  *state = ring_new();
  return 0;
}

static int teardown(void **state) {
  free(*state);
  return 0;
}

static struct uvdb_record out[UVDB_RING_RECORDS + 16];

static void test_push_pop_in_order(void **state) {
  struct uvdb_ring *r = *state;
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS), 0); /* empty */
  for (uint64_t i = 0; i < 100; i++)
    push_n(r, i);
  assert_int_equal(atomic_load(&r->head), 100);
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS), 100);
  for (uint64_t i = 0; i < 100; i++)
    assert_record(&out[i], i);
  assert_int_equal(atomic_load(&r->tail), 100);
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS), 0);
  assert_int_equal(atomic_load(&r->dropped), 0);
}

static void test_full_then_drop(void **state) {
  struct uvdb_ring *r = *state;
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    push_n(r, i);
  assert_int_equal(atomic_load(&r->dropped), 0);
  assert_int_equal(uvdb_ring_push(r, 0, 0, 0, 0, 0, 999999), -1);
  assert_int_equal(atomic_load(&r->dropped), 1);
  assert_int_equal(atomic_load(&r->head), UVDB_RING_RECORDS); /* nothing written */
  assert_int_equal(uvdb_ring_push(r, 0, 0, 0, 0, 0, 999999), -1);
  assert_int_equal(atomic_load(&r->dropped), 2);

  /* The ring still holds the first RECORDS records, intact. */
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS + 16), UVDB_RING_RECORDS);
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    assert_record(&out[i], i);
}

static void test_wraparound(void **state) {
  struct uvdb_ring *r = *state;
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    push_n(r, i);
  assert_int_equal(uvdb_ring_push(r, 0, 0, 0, 0, 0, 0), -1);
  assert_int_equal(atomic_load(&r->dropped), 1);

  /* Free 100 slots: exactly 100 more pushes fit, written over slots 0..99. */
  assert_int_equal(uvdb_ring_pop(r, out, 100), 100);
  for (uint64_t i = 0; i < 100; i++)
    assert_record(&out[i], i);
  for (uint64_t i = 0; i < 100; i++)
    push_n(r, UVDB_RING_RECORDS + i);
  assert_int_equal(uvdb_ring_push(r, 0, 0, 0, 0, 0, 0), -1);
  assert_int_equal(atomic_load(&r->dropped), 2);

  /* In order across the wrap: 100 .. RECORDS+99. */
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS + 16), UVDB_RING_RECORDS);
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    assert_record(&out[i], 100 + i);
  assert_int_equal(atomic_load(&r->head), UVDB_RING_RECORDS + 100);
  assert_int_equal(atomic_load(&r->tail), UVDB_RING_RECORDS + 100);

  /* Many laps with an uneven stride keep order and content. */
  uint64_t next_push = UVDB_RING_RECORDS + 100, next_pop = next_push;
  for (int lap = 0; lap < 100; lap++) {
    for (int k = 0; k < 3001; k++)
      push_n(r, next_push++);
    unsigned n = uvdb_ring_pop(r, out, 3001);
    assert_int_equal(n, 3001);
    for (unsigned k = 0; k < n; k++)
      assert_record(&out[k], next_pop++);
  }
  assert_int_equal(atomic_load(&r->dropped), 2);
}

static void test_pop_smaller_max(void **state) {
  struct uvdb_ring *r = *state;
  for (uint64_t i = 0; i < 50; i++)
    push_n(r, i);
  memset(out, 0xee, sizeof(out));
  assert_int_equal(uvdb_ring_pop(r, out, 7), 7);
  for (uint64_t i = 0; i < 7; i++)
    assert_record(&out[i], i);
  /* nothing written past max */
  static const uint8_t ee[sizeof(struct uvdb_record)] = {
      0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
      0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
  assert_memory_equal(&out[7], ee, sizeof(ee));
  assert_int_equal(atomic_load(&r->tail), 7);
  assert_int_equal(uvdb_ring_pop(r, out, 0), 0);
  assert_int_equal(atomic_load(&r->tail), 7);
  assert_int_equal(uvdb_ring_pop(r, out, 40), 40);
  for (uint64_t i = 0; i < 40; i++)
    assert_record(&out[i], 7 + i);
  assert_int_equal(uvdb_ring_pop(r, out, 40), 3);
  for (uint64_t i = 0; i < 3; i++)
    assert_record(&out[i], 47 + i);
}

/* The reader cannot trust the shared memory: a head more than a ring ahead
 * of the tail (or behind it) must not make it read past rec[]. */
static void test_corrupt_head_resync(void **state) {
  struct uvdb_ring *r = *state;
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    r->rec[i].y = i;

  /* head far ahead: the reader takes the last RECORDS records before head. */
  uint64_t head = 5 * (uint64_t)UVDB_RING_RECORDS + 123;
  atomic_store(&r->head, head);
  atomic_store(&r->tail, 0);
  assert_int_equal(uvdb_ring_pop(r, out, 10), 10);
  for (uint64_t i = 0; i < 10; i++)
    assert_int_equal(out[i].y, (head - UVDB_RING_RECORDS + i) & UVDB_RING_MASK);
  assert_int_equal(atomic_load(&r->tail), head - UVDB_RING_RECORDS + 10);
  /* Now consistent: the rest comes out, and the ring is empty. */
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS + 16), UVDB_RING_RECORDS - 10);
  for (uint64_t i = 0; i < UVDB_RING_RECORDS - 10; i++)
    assert_int_equal(out[i].y, (head - UVDB_RING_RECORDS + 10 + i) & UVDB_RING_MASK);
  assert_int_equal(atomic_load(&r->tail), head);
  assert_int_equal(uvdb_ring_pop(r, out, 16), 0);

  /* head behind tail (head - tail wraps to a huge number). */
  atomic_store(&r->head, 1000);
  atomic_store(&r->tail, 5000);
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS + 16), UVDB_RING_RECORDS);
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    assert_int_equal(out[i].y, (1000 - UVDB_RING_RECORDS + i) & UVDB_RING_MASK);
  assert_int_equal(atomic_load(&r->tail), 1000);

  /* Extreme values. */
  atomic_store(&r->head, UINT64_MAX);
  atomic_store(&r->tail, 0);
  assert_int_equal(uvdb_ring_pop(r, out, 3), 3);
  for (uint64_t i = 0; i < 3; i++)
    assert_int_equal(out[i].y, (UINT64_MAX - UVDB_RING_RECORDS + i) & UVDB_RING_MASK);
  assert_int_equal(atomic_load(&r->head) - atomic_load(&r->tail), UVDB_RING_RECORDS - 3);

  /* Exactly a full ring is not corrupt. */
  atomic_store(&r->head, 7 + (uint64_t)UVDB_RING_RECORDS);
  atomic_store(&r->tail, 7);
  assert_int_equal(uvdb_ring_pop(r, out, UVDB_RING_RECORDS + 16), UVDB_RING_RECORDS);
  for (uint64_t i = 0; i < UVDB_RING_RECORDS; i++)
    assert_int_equal(out[i].y, (7 + i) & UVDB_RING_MASK);
}

/* ---- one producer, one consumer ----------------------------------------- */

#define CONCURRENT_PUSHES 2000000u

struct pair {
  struct uvdb_ring *ring;
  _Atomic int done;
  uint64_t pushed, accepted, failed;
};

static void *producer(void *arg) {
  struct pair *p = arg;
  for (uint64_t i = 0; i < CONCURRENT_PUSHES; i++) {
    if (uvdb_ring_push(p->ring, i * 3 + 1, (uint16_t)(i & 0xffff), (uint16_t)(i >> 16), (uint32_t)i ^ 0xa5a5a5a5u,
                       i ^ 0x7f7f7f7f7f7full, i) == 0)
      p->accepted++;
    p->pushed++;
  }
  atomic_store_explicit(&p->done, 1, memory_order_release);
  return NULL;
}

static void test_concurrent_spsc(void **state) {
  struct uvdb_ring *r = *state;
  struct pair p = {.ring = r};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, producer, &p), 0);

  static struct uvdb_record batch[4096];
  uint64_t popped = 0, last = 0, bad = 0, torn = 0, empty_polls = 0;
  int have_last = 0;
  for (;;) {
    int done = atomic_load_explicit(&p.done, memory_order_acquire);
    unsigned n = uvdb_ring_pop(r, batch, 4096);
    for (unsigned k = 0; k < n; k++) {
      const struct uvdb_record *rec = &batch[k];
      uint64_t a = rec->y;
      if (have_last && a <= last)
        bad++;
      if (rec->ts != a * 3 + 1 || rec->type != (uint16_t)(a & 0xffff) || rec->loop_id != (uint16_t)(a >> 16) ||
          rec->a32 != ((uint32_t)a ^ 0xa5a5a5a5u) || rec->x != (a ^ 0x7f7f7f7f7f7full) || a >= CONCURRENT_PUSHES)
        torn++;
      last = a, have_last = 1;
    }
    popped += n;
    if (n == 0) {
      if (done)
        break; /* done was seen before this pop: every push is visible */
      empty_polls++;
      sched_yield();
    }
  }
  assert_int_equal(pthread_join(t, NULL), 0);

  uint64_t dropped = atomic_load(&r->dropped);
  print_message("      popped %" PRIu64 ", dropped %" PRIu64 ", empty polls %" PRIu64 "\n", popped, dropped,
                empty_polls);
  assert_int_equal(bad, 0);
  assert_int_equal(torn, 0);
  assert_int_equal(p.pushed, CONCURRENT_PUSHES);
  assert_int_equal(popped, p.accepted);
  assert_int_equal(popped + dropped, CONCURRENT_PUSHES);
  assert_int_equal(atomic_load(&r->head), atomic_load(&r->tail));
  assert_int_equal(atomic_load(&r->head), popped);
}

/* The same pair, but the producer retries a dropped record until it fits:
 * nothing is lost, so the consumer must see exactly 0, 1, 2, ... in order,
 * while both ends chase each other around the ring. */
static void *producer_retry(void *arg) {
  struct pair *p = arg;
  for (uint64_t i = 0; i < CONCURRENT_PUSHES; i++) {
    while (uvdb_ring_push(p->ring, i * 3 + 1, (uint16_t)(i & 0xffff), (uint16_t)(i >> 16),
                          (uint32_t)i ^ 0xa5a5a5a5u, i ^ 0x7f7f7f7f7f7full, i) != 0)
      p->failed++;
    p->accepted++;
  }
  atomic_store_explicit(&p->done, 1, memory_order_release);
  return NULL;
}

static void test_concurrent_spsc_lossless(void **state) {
  struct uvdb_ring *r = *state;
  struct pair p = {.ring = r};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, producer_retry, &p), 0);

  static struct uvdb_record batch[1000];
  uint64_t next = 0, bad = 0, torn = 0;
  for (;;) {
    int done = atomic_load_explicit(&p.done, memory_order_acquire);
    unsigned n = uvdb_ring_pop(r, batch, 1000); /* not a divisor of the ring */
    for (unsigned k = 0; k < n; k++) {
      const struct uvdb_record *rec = &batch[k];
      uint64_t a = rec->y;
      if (a != next)
        bad++;
      if (rec->ts != a * 3 + 1 || rec->type != (uint16_t)(a & 0xffff) || rec->loop_id != (uint16_t)(a >> 16) ||
          rec->a32 != ((uint32_t)a ^ 0xa5a5a5a5u) || rec->x != (a ^ 0x7f7f7f7f7f7full))
        torn++;
      next = a + 1;
    }
    if (n == 0 && done)
      break;
  }
  assert_int_equal(pthread_join(t, NULL), 0);
  print_message("      %" PRIu64 " records, %" PRIu64 " failed attempts\n", next, p.failed);
  assert_int_equal(bad, 0);
  assert_int_equal(torn, 0);
  assert_int_equal(next, CONCURRENT_PUSHES);
  assert_int_equal(p.accepted, CONCURRENT_PUSHES);
  assert_int_equal(atomic_load(&r->dropped), p.failed); /* every failed attempt counted */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_push_pop_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_then_drop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pop_smaller_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_head_resync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_spsc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_spsc_lossless, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
